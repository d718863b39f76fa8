"""Several processes of Deal Desk on one PostgreSQL and one Redis, with one sandbox portal.

The layout of a small production deployment, on loopback: two gunicorn instances of the app
(A and B, each `--workers 2 --threads 4`) share a fresh PostgreSQL database and a dedicated Redis
database; one more gunicorn process serves the sandbox portal from its own SQLite file. Every
process gets the same environment (so the same SECRET_KEY, FERNET_KEYS and client secret, as
the sandbox's App row takes its credentials from settings), and the portal calls back instance A
(APP_PUBLIC_URL). Everything is started, waited for and stopped within bounded time.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
REDIS_DB = 15  # a database of its own: flushed before and after the run
# One access-log line per request, easy to scan: "<method> <path> <status>".
ACCESS_FORMAT = "ACCESS %(m)s %(U)s %(s)s"
_ACCESS = re.compile(r"^ACCESS (\S+) (\S+) (\d{3})$", re.M)


def multiprocess_unavailable() -> str:
    """Why the multi-process tests cannot run here, or "" when they can."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return "needs PostgreSQL: DATABASE_URL is not a postgres:// URL (.ci/run's second pass sets it)"
    if not os.environ.get("REDIS_URL"):
        return "needs Redis: REDIS_URL is not set (.ci/run's second pass sets it)"
    return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str


@dataclass
class Cluster:
    """The running processes, and direct access to their stores for arranging and asserting."""

    workdir: Path
    env: dict[str, str]
    sandbox_url: str  # http://localhost:S/sandbox/
    a: str  # http://127.0.0.1:A/ (also APP_PUBLIC_URL)
    b: str  # http://127.0.0.1:B/
    database_url: str
    redis_url: str
    sandbox_db: Path
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def apps(self) -> tuple[str, str]:
        return (self.a, self.b)

    # --- the stores ---------------------------------------------------------------------------------

    def sandbox_sql(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The sandbox portal's SQLite file, read (or arranged) directly."""
        with sqlite3.connect(self.sandbox_db, timeout=30) as db:
            rows = db.execute(sql, tuple(params)).fetchall()
        return list(rows)

    def app_sql(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The app's PostgreSQL database, as both instances share it."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as db:
            cursor = db.execute(sql, tuple(params))
            return list(cursor.fetchall()) if cursor.description else []

    def redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url)

    def fault(self, **body: Any) -> dict[str, Any]:
        """The sandbox's fault injection (POST <portal>faults.json)."""
        response = requests.post(f"{self.sandbox_url}faults.json", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def refreshes_spent(self) -> int:
        return int(self.sandbox_sql("SELECT COUNT(*) FROM sandbox_refreshtoken WHERE used_at IS NOT NULL")[0][0])

    def last_call_id(self) -> int:
        return int(self.sandbox_sql("SELECT COALESCE(MAX(id), 0) FROM sandbox_requestlog")[0][0])

    def calls_since(self, mark: int) -> list[tuple[str, int, str]]:
        """(method, http_status, error) of every REST call the portal answered after `mark`."""
        rows = self.sandbox_sql(
            "SELECT method, http_status, error FROM sandbox_requestlog WHERE id > ? ORDER BY id", [mark]
        )
        return [(str(m), int(s), str(e or "")) for m, s, e in rows]

    def manage(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """A management command run as the deployment runs it (a release step, a cron job)."""
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # --- the logs --------------------------------------------------------------------------------------

    def log_mark(self) -> dict[str, int]:
        return {name: p.log.stat().st_size for name, p in self.processes.items()}

    def logs_since(self, mark: dict[str, int]) -> dict[str, str]:
        out = {}
        for name, process in self.processes.items():
            with process.log.open("rb") as handle:
                handle.seek(mark.get(name, 0))
                out[name] = handle.read().decode("utf-8", "replace")
        return out

    def server_errors(self, mark: dict[str, int]) -> list[str]:
        """Tracebacks and 5xx answers of the app instances since `mark` (the portal may fail on purpose)."""
        problems = []
        for name, text in self.logs_since(mark).items():
            if name == "sandbox":
                continue
            if "Traceback" in text or "Internal Server Error" in text:
                problems.append(f"{name}: {text[text.find('Traceback') - 200 :][:3000]}")
            for method, path, status in _ACCESS.findall(text):
                if status.startswith("5"):
                    problems.append(f"{name}: {method} {path} answered {status}")
        return problems


# --- helpers of the scenarios -----------------------------------------------------------------------------


def together(count: int, work: Callable[[int], Any], *, timeout: float = 180) -> list[Any]:
    """work(0..count-1) in threads released at once; each result, or the exception it raised."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return work(index)
        except Exception as exc:  # collected so that the assertion shows every failure
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(run, i) for i in range(count)]
        return [f.result(timeout=timeout) for f in futures]


def deals_with_rows(cluster: Cluster, *, assigned_to: int | None = None) -> list[int]:
    sql = "SELECT DISTINCT d.id FROM sandbox_deal d JOIN sandbox_productrow r ON r.deal_id = d.id"
    params: list[Any] = []
    if assigned_to is not None:
        sql += " WHERE d.assigned_by_id = ?"
        params.append(assigned_to)
    return [int(row[0]) for row in cluster.sandbox_sql(sql + " ORDER BY d.id", params)]


# --- starting and stopping -------------------------------------------------------------------------------


def gunicorn(name: str, port: int, *, env: dict[str, str], workdir: Path, workers: int, threads: int) -> Process:
    """A gunicorn process of the app (with its log in workdir), started in its own process group."""
    log = workdir / f"{name}.log"
    handle = log.open("ab")
    command = [
        str(BIN / "gunicorn"),
        "b24app.wsgi",
        f"--workers={workers}",
        f"--threads={threads}",
        f"--bind=127.0.0.1:{port}",
        "--timeout=120",
        "--graceful-timeout=3",
        "--access-logfile=-",
        f"--access-logformat={ACCESS_FORMAT}",
        "--error-logfile=-",
    ]
    popen = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    host = "localhost" if name == "sandbox" else "127.0.0.1"
    return Process(name, popen, log, f"http://{host}:{port}/")


def wait_healthy(process: Process, *, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited: {process.log.read_text(errors='replace')[-3000:]}")
        try:
            response = requests.get(f"{process.url}b24/health/", timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not become healthy in {timeout:.0f} s ({last})")


def stop(process: Process) -> None:
    if process.popen.poll() is not None:
        return
    try:
        os.killpg(process.popen.pid, signal.SIGTERM)
        process.popen.wait(timeout=STOP_TIMEOUT)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(timeout=STOP_TIMEOUT)


def start_sandbox(cluster: Cluster, port: int) -> Process:
    process = gunicorn("sandbox", port, env=cluster.env, workdir=cluster.workdir, workers=2, threads=8)
    cluster.processes["sandbox"] = process
    wait_healthy(process)
    return process


def _create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/{path}"


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start the sandbox and two app instances; stop everything and drop the stores on the way out."""
    base_db_url = os.environ["DATABASE_URL"]
    db_name = f"dealdesk_rel_{os.getpid()}"
    admin_url = _with_path(base_db_url, "postgres")
    redis_url = _with_path(os.environ["REDIS_URL"], str(REDIS_DB))
    workdir = Path(tempfile.mkdtemp(prefix="dealdesk-rel-"))
    port_s, port_a, port_b = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "b24app.settings",
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "0",
        "PRODUCTION": "0",
        "B24_SANDBOX": "1",
        "LOG_FORMAT": "plain",
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": _with_path(base_db_url, db_name),
        "SANDBOX_DATABASE_URL": f"sqlite:///{workdir / 'sandbox.sqlite3'}",
        "REDIS_URL": redis_url,
        "SANDBOX_PORTAL_URL": f"http://localhost:{port_s}/sandbox/",
        "APP_PUBLIC_URL": f"http://127.0.0.1:{port_a}/",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        # The pacing of production: the portal allows 2/s with a burst of 50; the app keeps under it.
        "B24_RATE_LIMIT": "2",
        "B24_RATE_BURST": "40",
        "SANDBOX_RATE_LIMIT": "2",
        "SANDBOX_RATE_BURST": "50",
        "SANDBOX_LIMITS_ENABLED": "0",  # switched on by the one test that needs it (faults.json)
    }
    cluster = Cluster(
        workdir=workdir,
        env=env,
        sandbox_url=env["SANDBOX_PORTAL_URL"],
        a=f"http://127.0.0.1:{port_a}/",
        b=f"http://127.0.0.1:{port_b}/",
        database_url=env["DATABASE_URL"],
        redis_url=redis_url,
        sandbox_db=workdir / "sandbox.sqlite3",
    )
    _create_database(admin_url, db_name)
    cluster.redis().flushdb()
    try:
        for args in (["migrate", "--noinput"], ["migrate", "--noinput", "--database", "sandbox"], ["sandbox_seed"]):
            done = cluster.manage(*args)
            assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        start_sandbox(cluster, port_s)
        for name, port in (("a", port_a), ("b", port_b)):
            cluster.processes[name] = gunicorn(name, port, env=env, workdir=workdir, workers=2, threads=4)
        for name in ("a", "b"):
            wait_healthy(cluster.processes[name])
        yield cluster
    finally:
        for process in cluster.processes.values():
            stop(process)
        try:
            cluster.redis().flushdb()
        finally:
            _drop_database(admin_url, db_name)
            shutil.rmtree(workdir, ignore_errors=True)
