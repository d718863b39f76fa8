"""`python -m bench [name ...] [--quick] [--keep]`: start the servers, run the benchmarks, report.

Each benchmark prints its table and writes bench/results/<name>.json and .md; the run ends with
bench/results/summary.md, which also replaces the figures block of docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from typing import Any

from bench import stack as stack_module

# In the order they run: the storm restarts the app with the portal's real pacing, so it is last.
BENCHMARKS = ["rest_requests", "server_time", "throughput", "bulk_read", "browser", "limiter", "storm"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="fewer runs: to check the harness, not for figures")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (databases, server logs)")
    args = parser.parse_args(argv)
    names = [name for name in BENCHMARKS if name in args.names] if args.names else BENCHMARKS
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    started = time.monotonic()
    config = stack_module.make_config()
    print(f"bench: servers and databases in {config.root}; {config.redis_note}", flush=True)
    stack = stack_module.Stack.create(config)
    failures: dict[str, str] = {}
    results: dict[str, Any] = {}
    try:
        stack_module.configure_harness(config)
        stack_module.prepare_databases()
        stack.start()
        from devtools.portal import install_over_http

        install_over_http(app_url=config.app_url, sandbox_url=config.sandbox_url)
        run = stack_module.Run(stack=stack, quick=args.quick)
        for name in names:
            print(f"\n== {name} ==", flush=True)
            begun = time.monotonic()
            try:
                module = importlib.import_module(f"bench.{name}")
                results[name] = module.run(run)
            except Exception:  # one benchmark failing must not hide the others' figures
                failures[name] = traceback.format_exc()
                print(failures[name], file=sys.stderr, flush=True)
            print(f"({name}: {time.monotonic() - begun:.0f} s)", flush=True)
    finally:
        stack.stop()
        stack.cleanup(keep=args.keep or bool(failures))
    from bench.summary import summarize

    publish = not args.quick and names == BENCHMARKS and stack_module.database_kind(config) == "SQLite"
    summarize(failures=failures, config=config, quick=args.quick, publish=publish)
    print(
        f"\nbench: done in {time.monotonic() - started:.0f} s"
        + (f"; FAILED: {', '.join(failures)}" if failures else "")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
