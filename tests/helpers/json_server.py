"""A local HTTP server answering POSTs with JSON, for the fake APIs tests check SDKs against."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (path, headers, body) → (status, JSON answer, extra headers)
Answer = Callable[[str, dict[str, str], bytes], tuple[int, Any, dict[str, str]]]


def serve_json(answer: Answer) -> tuple[ThreadingHTTPServer, str]:
    """Serve `answer` on a free local port, in a daemon thread; returns the server (for
    `shutdown`) and its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, said, headers = answer(self.path, dict(self.headers), body)
            raw = json.dumps(said).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"
