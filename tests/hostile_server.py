"""A pretend MLflow tracking server on 127.0.0.1 that answers as each test says, hostile answers
included: redirect tuitrack elsewhere, page for ever, drip bytes, send gigabytes or odd JSON, hang.

Each server runs `behave(request)` for every request it receives and records the request (method,
path, headers, body) in `seen`. `behave` writes the answer with the helpers of `Request`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EXPERIMENTS = {"experiments": [{"experiment_id": "1", "name": "exp", "lifecycle_stage": "active"}]}


def mlflow_run(run_id: str = "a" * 32, **info: Any) -> dict[str, Any]:
    return {"info": {"run_id": run_id, "experiment_id": "1", "status": "FINISHED", "lifecycle_stage": "active",
                     "start_time": 1_795_000_000_000, **info}, "data": {}}


@dataclass
class Request:
    handler: BaseHTTPRequestHandler
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    server: HostileServer

    @property
    def endpoint(self) -> str:
        return self.path.split("/api/2.0/mlflow/")[-1].split("?")[0]

    def json(self) -> dict[str, Any]:
        return json.loads(self.body or b"{}")

    def send(self, status: int = 200, body: bytes | dict | list = b"{}", headers: dict[str, str] | None = None,
             length: int | None = None) -> None:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        self.handler.send_response(status)
        for name, value in (headers or {}).items():
            self.handler.send_header(name, value)
        self.handler.send_header("Content-Length", str(len(data) if length is None else length))
        self.handler.end_headers()
        self.handler.wfile.write(data)

    def redirect(self, status: int, location: str) -> None:
        self.send(status, b"", {"Location": location})

    def stream(self, chunks, headers: bool = True) -> None:
        """An answer without Content-Length (its end is the connection's close), written as it comes."""
        if headers:
            self.handler.send_response(200)
            self.handler.send_header("Content-Type", "application/json")
            self.handler.send_header("Connection", "close")
            self.handler.end_headers()
        try:
            for chunk in chunks:
                if self.server.stopping.is_set():
                    return
                self.handler.wfile.write(chunk)
        except OSError:  # the client hung up: what it should do
            self.server.hung_up.set()

    def drip(self, every_s: float, in_headers: bool = False, give_up_s: float = 30.0) -> None:
        """A byte every `every_s` seconds, in the body or in a header; after `give_up_s`, the end of
        an answer that is not MLflow's (a JSON string), so that a client without an overall deadline
        ends with another error instead of hanging the test."""
        def dripping():
            ends = time.monotonic() + give_up_s
            while time.monotonic() < ends:
                yield b"x" if in_headers else b" "
                time.sleep(every_s)
            yield b"\r\n\r\n\"end\"" if in_headers else b'"end"'
        if in_headers:
            self.handler.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Slow: ")
        self.stream(dripping(), headers=not in_headers)

    def hang(self) -> None:
        """Says nothing until the test ends."""
        self.server.hanging.set()
        self.server.stopping.wait(60)


@dataclass
class HostileServer:
    behave: Callable[[Request], None]
    seen: list[Request] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)
    hung_up: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def start(self) -> HostileServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one_request(self):  # one request per connection: urllib closes each anyway
                self.close_connection = True
                super().handle_one_request()

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self, self.command, self.path, dict(self.headers), self.rfile.read(length), owner)
                owner.seen.append(request)
                try:
                    owner.behave(request)
                except (BrokenPipeError, ConnectionResetError):
                    owner.hung_up.set()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, endpoint: str) -> list[Request]:
        return [r for r in self.seen if r.endpoint == endpoint]


def experiments_then(behave: Callable[[Request], None]) -> Callable[[Request], None]:
    """A server that lists one experiment (so a store opens) and answers everything else with `behave`."""
    def answer(request: Request) -> None:
        if request.endpoint == "experiments/search":
            request.send(body=EXPERIMENTS)
        else:
            behave(request)
    return answer
