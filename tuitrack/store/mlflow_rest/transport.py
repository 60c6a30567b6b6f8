"""One HTTP exchange with a tracking server, bounded in time and size.

urllib alone waits on each read with its own timeout, reads a body whole and follows redirects
(to any host, with every header), so a server that drips a byte every few seconds, sends
gigabytes or redirects elsewhere could hold tuitrack, exhaust its memory or collect its
credentials. Here:

- redirects are not followed: the answer, 3xx included, goes back to the caller (client.py
  decides what a redirect may do);
- the body is read in chunks, at most `max_bytes` of it;
- the exchange runs on a daemon thread and the caller waits for it only until the request's
  deadline (connecting, the headers and the whole body) or until `abandon` (the store is being
  closed: the app quits). The caller never waits on the network itself, so no DNS lookup,
  connect or slow body keeps it, and the thread it leaves behind has its socket shut down.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Callable

CHUNK = 64 * 1024


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes
    cut: bool = False  # the body stops at the exchange's max_bytes (asked for with `cut`)


class TooBig(Exception):
    """The answer is larger than the cap."""


class Dropped(Exception):
    """The server closed the connection before the whole answer arrived."""


class OutOfTime(Exception):
    """The deadline passed before the whole answer arrived."""


class Abandoned(Exception):
    """The caller stopped waiting: the store is being closed."""


class Exchange:
    """Sends `request` and reads its answer on a daemon thread; `wait` returns the Answer or raises
    what went wrong (the exceptions above, OSError, http.client.HTTPException)."""

    def __init__(self, request: urllib.request.Request, context, deadline: float, max_bytes: int,
                 cut: bool = False):
        self.request = request
        self.context = context
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.cut = cut  # a body over max_bytes is cut there (a bounded download), not TooBig
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stopped: type[Exception] | None = None  # why the caller stopped waiting
        self._answer: Answer | None = None
        self._error: BaseException | None = None

    def wait(self) -> Answer:
        threading.Thread(target=self._run, name="tuitrack-http", daemon=True).start()
        self._done.wait(max(0.0, self.deadline - time.monotonic()))
        with self._lock:
            if self._answer is None and self._error is None and self._stopped is None:
                self._stopped = OutOfTime
        if self._stopped is not None:
            self._shut_sockets()
            raise self._stopped()
        if self._error is not None:
            raise self._error
        assert self._answer is not None
        return self._answer

    def abandon(self) -> None:
        """From any thread: the caller stops waiting now (raising Abandoned), the connection is shut."""
        with self._lock:
            if self._stopped is None and self._answer is None and self._error is None:
                self._stopped = Abandoned
        self._done.set()
        self._shut_sockets()

    # -- on the exchange's own thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            answer = self._exchange()
        except BaseException as exc:  # handed to the caller, who raises it
            with self._lock:
                self._error = exc
        else:
            with self._lock:
                self._answer = answer
        self._done.set()

    def _exchange(self) -> Answer:
        opener = urllib.request.OpenerDirector()
        # No redirect handler and no error processor: every status comes back as an answer.
        for handler in (urllib.request.ProxyHandler(), _HttpHandler(self._remember),
                        _HttpsHandler(self._remember, self.context)):
            opener.add_handler(handler)
        timeout = self.deadline - time.monotonic()
        if timeout <= 0:
            raise OutOfTime()
        with opener.open(self.request, timeout=timeout) as response:
            length = response.headers.get("Content-Length", "").strip()
            if not self.cut and length.isdigit() and (len(length) > 18 or int(length) > self.max_bytes):
                raise TooBig()
            chunks, size = [], 0  # joined once complete: a growing buffer would be copied as it grows
            while chunk := response.read1(min(CHUNK, self.max_bytes + 1 - size)):
                size += len(chunk)
                if size > self.max_bytes:
                    if self.cut:
                        chunks.append(chunk[:len(chunk) - (size - self.max_bytes)])
                        return Answer(response.status, response.headers, b"".join(chunks), cut=True)
                    raise TooBig()
                chunks.append(chunk)
                if self._stopped is not None or time.monotonic() > self.deadline:
                    raise OutOfTime()  # nobody waits for it any more
            if response.length:  # fewer bytes than Content-Length said
                raise Dropped()
            return Answer(response.status, response.headers, b"".join(chunks))

    def _remember(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            stopped = self._stopped is not None
        if stopped:
            self._shut_sockets()

    def _shut_sockets(self) -> None:
        """Wakes the exchange's thread from any read or write: its socket ends."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# -- urllib's handlers, telling the exchange about each socket they connect -------------------------

OnSocket = Callable[[socket.socket], None]


class _TellsItsSocket:
    """A connection that hands its socket (after TLS, for https) to `on_socket` once connected."""

    def __init__(self, *args, on_socket: OnSocket, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_socket = on_socket

    def connect(self) -> None:
        super().connect()
        self._on_socket(self.sock)


class _HttpConnection(_TellsItsSocket, http.client.HTTPConnection):
    pass


class _HttpsConnection(_TellsItsSocket, http.client.HTTPSConnection):
    pass


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, on_socket: OnSocket):
        super().__init__()
        self.on_socket = on_socket

    def http_open(self, req):
        return self.do_open(_HttpConnection, req, on_socket=self.on_socket)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, on_socket: OnSocket, context):
        super().__init__(context=context)
        self.on_socket = on_socket

    def https_open(self, req):
        return self.do_open(_HttpsConnection, req, context=self._context, on_socket=self.on_socket)
