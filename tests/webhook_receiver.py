"""A webhook receiver for tests: an HTTP server on 127.0.0.1 (``http.server`` in a
thread) that keeps every request it is sent and answers the statuses it is told."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)["data"]


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that keeps what it is sent and answers ``statuses``
    in turn (then 200)."""

    url: str
    received: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [d.event for d in self.received]


@contextmanager
def receiving() -> Iterator[Receiver]:
    """Start a receiver; stop it on exit."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = box["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            target.received.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
            status = target.statuses.pop(0) if target.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_port}/hooks/coursepack")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["receiver"]
    finally:
        server.shutdown()
        server.server_close()
