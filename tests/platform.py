"""A fake provisioning platform (the one part that is truly outside) on a real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Platform:
    """A provisioning platform: answers with the queued status codes, records what it got."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: a client may reuse its connection

            def do_POST(self) -> None:  # noqa: N802 - http.server hook
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["header_key"] = self.headers["Idempotency-Key"]
                body["client_port"] = self.client_address[1]  # one per connection
                platform.requests.append(body)
                status = platform.statuses.pop(0) if platform.statuses else 200
                answer = json.dumps({"confirmed": True, "reference": "PX-1"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/provision"


@pytest.fixture
def platform() -> Iterator[Platform]:
    platform = Platform()
    thread = threading.Thread(target=platform.server.serve_forever, daemon=True)
    thread.start()
    yield platform
    platform.server.shutdown()
