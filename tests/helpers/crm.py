"""A local CRM webhook that records the hand-offs posted to it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class CrmWebhook:
    """A local CRM endpoint that records each POST (body, headers) and answers `status`,
    after `delay` seconds."""

    def __init__(self, status: int = 204, delay: float = 0.0) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.status = status  # a test may change it: the CRM comes back
        self.answered: list[int] = []  # the status each call got, in order
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                crm.calls.append((body, dict(self.headers)))
                time.sleep(delay)
                status = crm.status
                crm.answered.append(status)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/handoff"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
