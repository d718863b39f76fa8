"""A stand-in portal that answers every REST request with one recorded answer, at once.

Used by the throughput benchmark to measure the app alone: the sandbox portal does real work per
request (tokens, permissions, its database, its request log), which is its cost, not ours. The
answer is the sandbox's own to the batch a tab open sends, recorded just before; the stand-in
listens on the sandbox's address, so the app's stored client_endpoint reaches it unchanged.

    python -m bench.replay_portal --port B --answer answer.json
"""

from __future__ import annotations

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def handler(answer: bytes) -> type[BaseHTTPRequestHandler]:
    class Replay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = answer if "/rest/" in self.path else b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(Path(args.answer).read_bytes()))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
