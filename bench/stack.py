"""The servers a benchmark run talks to: the app and the sandbox portal, each its own gunicorn.

Everything lives in a temporary folder: two SQLite files (or PostgreSQL when BENCH_DATABASE_URL is
set), the servers' logs, a local CA and the certificate it signs for the TLS proxy. Both servers listen on the
loopback only. The app is reached as http://127.0.0.1:A/ and the portal as http://localhost:B/sandbox/
— two sites, as in production. The harness process itself is configured with the same
environment, so it can arrange data in the sandbox's database and count its request log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
APP_WORKERS = 2
APP_THREADS = 8
SANDBOX_WORKERS = 2
SANDBOX_THREADS = 8
# The app's cache key prefix (b24app.settings CACHES): only these keys are ever deleted from Redis.
CACHE_PREFIX = "dealdesk:"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_choice() -> tuple[str, str]:
    """Redis for the app's cache and limiter if one answers on the loopback; else ("", why not)."""
    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
    except Exception as exc:  # any failure means "no Redis": the run goes on without it
        return "", f"no Redis at {url} ({type(exc).__name__}): cache and limiter are per process"
    return url, f"Redis at {url}: cache and limiter shared by every worker"


@dataclass
class Config:
    root: Path
    app_port: int
    sandbox_port: int
    redis_url: str
    redis_note: str
    database_url: str
    sandbox_database_url: str

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}/"

    @property
    def sandbox_url(self) -> str:
        return f"http://localhost:{self.sandbox_port}/sandbox/"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of both servers and of the harness (limits off, pacing out of the way)."""
        env = {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": self.database_url,
            "SANDBOX_DATABASE_URL": self.sandbox_database_url,
            "SANDBOX_PORTAL_URL": self.sandbox_url,
            "APP_PUBLIC_URL": self.app_url,
            "SANDBOX_LIMITS_ENABLED": "0",
            "B24_RATE_LIMIT": "100000",
            "B24_RATE_BURST": "100000",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
            "PYTHONPATH": str(ROOT),
            # The harness drives Playwright's sync API beside the ORM (the browser benchmark).
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
        }
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(overrides)
        return env


def make_config() -> Config:
    root = Path(tempfile.mkdtemp(prefix="dealdesk-bench-"))
    redis_url, redis_note = redis_choice()
    server = os.environ.get("BENCH_DATABASE_URL", "")
    if server:
        database_url, sandbox_database_url = postgres_databases(server, tag=root.name.rsplit("-", 1)[-1])
    else:
        database_url, sandbox_database_url = (
            f"sqlite:///{root / 'app.sqlite3'}",
            f"sqlite:///{root / 'sandbox.sqlite3'}",
        )
    return Config(
        root=root,
        app_port=free_port(),
        sandbox_port=free_port(),
        redis_url=redis_url,
        redis_note=redis_note,
        database_url=database_url,
        sandbox_database_url=sandbox_database_url,
    )


# --- PostgreSQL (BENCH_DATABASE_URL) -------------------------------------------------------------------
# BENCH_DATABASE_URL names a PostgreSQL server and a database to connect to for administration,
# e.g. postgresql://postgres@127.0.0.1:5432/postgres. A run creates two databases of its own there
# (dealdesk_bench_<tag>_app and _sandbox) and drops them at the end; it touches no other database.

PG_PREFIX = "dealdesk_bench_"


def postgres_databases(server: str, *, tag: str) -> tuple[str, str]:
    import psycopg

    parts = urlsplit(server)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"BENCH_DATABASE_URL must be a postgresql:// URL, got {parts.scheme}://")
    names = [f"{PG_PREFIX}{tag.lower()}_app", f"{PG_PREFIX}{tag.lower()}_sandbox"]
    with psycopg.connect(server, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')
    return parts._replace(path=f"/{names[0]}").geturl(), parts._replace(path=f"/{names[1]}").geturl()


def postgres_drop(config: Config) -> None:
    server = os.environ.get("BENCH_DATABASE_URL", "")
    if not server:
        return
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(server, autocommit=True) as connection:
        for url in (config.database_url, config.sandbox_database_url):
            name = urlsplit(url).path.lstrip("/")
            if name.startswith(PG_PREFIX):
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_kind(config: Config) -> str:
    return "PostgreSQL" if config.database_url.startswith("postgres") else "SQLite"


def configure_harness(config: Config) -> None:
    """This process as one more client of the same databases (models, request log, tokens)."""
    os.environ.update(config.env())
    if not config.redis_url:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def prepare_databases() -> None:
    from django.core.management import call_command

    from sandbox.seed import seed_portal

    call_command("migrate", interactive=False, verbosity=0)
    call_command("migrate", database="sandbox", interactive=False, verbosity=0)
    seed_portal()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children (gunicorn's master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


@dataclass
class Server:
    name: str
    port: int
    ready_url: str
    workers: int
    threads: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [
            *(sys.executable, "-m", "gunicorn", "b24app.wsgi"),
            *("--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)),
            *("--threads", str(self.threads), "--worker-class", "gthread"),
            # Requests paced by the limiter may wait tens of seconds (the storm): not a hung worker.
            *("--timeout", "300", "--graceful-timeout", "5", "--backlog", "2048"),
            *("--log-level", "warning"),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.ready_url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {self.ready_url} within {timeout:.0f} s")

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid) if self.process else 0.0

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Stack:
    config: Config
    app: Server
    sandbox: Server

    @classmethod
    def create(cls, config: Config) -> Stack:
        env = {**os.environ, **config.env()}
        # The portal is another company's server: it shares nothing with the app but the network.
        portal_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
        sandbox = Server(
            "sandbox",
            config.sandbox_port,
            config.sandbox_url,
            SANDBOX_WORKERS,
            SANDBOX_THREADS,
            config.root / "sandbox.log",
            portal_env,
        )
        app = Server(
            "app",
            config.app_port,
            config.app_url + "b24/health/",
            APP_WORKERS,
            APP_THREADS,
            config.root / "app.log",
            env,
        )
        return cls(config, app, sandbox)

    def start(self) -> None:
        self.sandbox.start()
        self.app.start()

    def restart_app(self, **env: str) -> None:
        """The app again with other settings (the storm's pacing); the portal keeps running."""
        self.app.stop()
        self.app.env = {**os.environ, **self.config.env(**env)}
        self.app.start()

    def stop(self) -> None:
        self.app.stop()
        self.sandbox.stop()

    def cleanup(self, keep: bool = False) -> None:
        if not keep:
            postgres_drop(self.config)
            shutil.rmtree(self.config.root, ignore_errors=True)


def app_cache_clear() -> None:
    """The app's cache empty (reference data, limiter slots, read-only memory): a cold start."""
    from django.conf import settings
    from django.core.cache import cache

    if not settings.REDIS_URL:
        cache.clear()
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=CACHE_PREFIX + "*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


@dataclass
class Run:
    """What every benchmark gets: the running servers, and whether this is a quick run."""

    stack: Stack
    quick: bool = False

    @property
    def config(self) -> Config:
        return self.stack.config
