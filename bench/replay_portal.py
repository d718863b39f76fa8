"""A stand-in portal that answers every REST request with one recorded answer, at once.

Used by the throughput benchmark to measure the app alone: the sandbox portal does real work per
request (tokens, permissions, its database, its request log), which is its cost, not ours. The
answer is the sandbox's own to the batch a tab open sends, recorded just before; the stand-in
listens on the sandbox's address, so the app's stored client_endpoint reaches it unchanged.

    python -m bench.replay_portal --port B --answer answer.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.local_http import LocalHandler, serve


def handler(answer: bytes) -> type[LocalHandler]:
    class Replay(LocalHandler):
        def do_POST(self) -> None:
            self.read_body()
            body = answer if "/rest/" in self.path else b"{}"
            self.answer(200, body, "application/json; charset=utf-8")

        do_GET = do_POST

    return Replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", required=True)
    args = parser.parse_args()
    serve(args.port, handler(Path(args.answer).read_bytes()))


if __name__ == "__main__":
    main()
