"""Talking to an MLflow tracking server: JSON over HTTP with MLflow's own environment variables.

Authentication and TLS follow MLflow's client (mlflow/utils/rest_utils.py):
MLFLOW_TRACKING_TOKEN (a bearer token), MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD
(basic auth), MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH.
MLFLOW_HTTP_REQUEST_TIMEOUT and MLFLOW_HTTP_REQUEST_MAX_RETRIES are honoured too, but their defaults
here are short (10 s, 2 retries) rather than MLflow's two minutes and 7 retries: a terminal UI
should say "the server is down" in seconds, not hang.

The server is untrusted: the timeout is a deadline for the whole answer (transport.py), an answer
is at most MAX_ANSWER_BYTES, and redirects are followed only within the server's own origin
(scheme, host and port), keeping the method and body, so credentials never reach another server
and a change is never silently turned into a bodiless GET.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from tuitrack.store.base import RunNotFound, StoreError
from tuitrack.store.mlflow_rest.transport import Abandoned, Answer, Dropped, Exchange, OutOfTime, TooBig

API = "/api/2.0/mlflow/"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # as MLflow's client retries
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
BACKOFF_S = 0.5
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a page of 1,000 wide runs is a few MB
MAX_REDIRECTS = 5
MESSAGE_CHARS = 300  # of a server's error message


class ServerError(StoreError):
    """The server answered with an error; `code` is MLflow's error_code when it gave one."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class NotFoundOnServer(ServerError, RunNotFound):
    pass


class _Unreachable(Exception):
    """No answer this time (refused, reset, cut short): worth another try."""


class MlflowHttp:
    """Calls one server's REST API. Thread-safe: each call opens its own connection. `close`
    (from any thread) makes calls in flight, and every later one, fail at once."""

    def __init__(self, base_url: str, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self.base_url = base_url.rstrip("/")
        self.timeout = _number(env, "MLFLOW_HTTP_REQUEST_TIMEOUT", DEFAULT_TIMEOUT_S)
        self.retries = int(_number(env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES", DEFAULT_RETRIES))
        self.headers = {"Content-Type": "application/json", "User-Agent": "tuitrack"}
        if env.get("MLFLOW_TRACKING_TOKEN"):
            self.headers["Authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
        elif env.get("MLFLOW_TRACKING_USERNAME") or env.get("MLFLOW_TRACKING_PASSWORD"):
            pair = f"{env.get('MLFLOW_TRACKING_USERNAME', '')}:{env.get('MLFLOW_TRACKING_PASSWORD', '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self.context: ssl.SSLContext | None = None
        if base_url.startswith("https:"):
            if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
                self.context = ssl._create_unverified_context()
            elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
                self.context = ssl.create_default_context(cafile=env["MLFLOW_TRACKING_SERVER_CERT_PATH"])
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[Exchange] = set()

    def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._call("GET", endpoint + (f"?{query}" if query else ""), None)

    def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", endpoint, json.dumps(body).encode())

    def get_bytes(self, path: str, params: Mapping[str, str], max_bytes: int,
                  byte_range: str | None = None) -> Answer:
        """A file from a path outside the JSON API (`/get-artifact`), its body cut at `max_bytes`;
        `byte_range` is an HTTP Range (`bytes=-4096`), which a server may ignore (status 200).
        One try within one deadline, redirects only within the server's origin, as every call."""
        url = self.base_url + path + "?" + urllib.parse.urlencode(params)
        headers = {"Range": byte_range} if byte_range else {}
        try:
            answer = self._follow("GET", url, None, path, headers, max_bytes)
        except _Unreachable as exc:
            raise StoreError(f"{self.base_url}: cannot reach the MLflow tracking server ({exc})") from None
        if not 200 <= answer.status < 300 and answer.status != 416:  # 416: nothing past the end
            raise self._error(answer)
        return answer

    def close(self) -> None:
        """Stop waiting for the server: the app is quitting."""
        with self._lock:
            self._closed.set()
            in_flight = list(self._in_flight)
        for exchange in in_flight:
            exchange.abandon()

    def _call(self, method: str, endpoint: str, data: bytes | None) -> dict[str, Any]:
        name = endpoint.split("?")[0]
        last = ""
        for attempt in range(self.retries + 1):
            if attempt and self._closed.wait(BACKOFF_S * 2 ** (attempt - 1)):
                break
            try:
                answer = self._follow(method, self.base_url + API + endpoint, data, name)
            except _Unreachable as exc:
                last = str(exc)
                continue
            if answer.status in RETRY_STATUSES and attempt < self.retries:
                last = f"HTTP {answer.status}"
                continue
            if 200 <= answer.status < 300:
                return _json(answer.body, f"{self.base_url} ({name})")
            raise self._error(answer)
        if self._closed.is_set():
            raise self._closing()
        tries = self.retries + 1
        raise StoreError(f"{self.base_url}: cannot reach the MLflow tracking server ({last}; "
                         f"{tries} {'try' if tries == 1 else 'tries'}, {self.timeout:g}s timeout each)")

    def _follow(self, method: str, url: str, data: bytes | None, name: str,
                headers: Mapping[str, str] | None = None, cut_at: int | None = None) -> Answer:
        """One request within one deadline, following redirects that stay on the server's origin.
        `cut_at`: read at most that many bytes of the body (a bounded download) instead of failing."""
        deadline = time.monotonic() + self.timeout
        for _ in range(MAX_REDIRECTS + 1):
            request = urllib.request.Request(url, data=data, method=method, headers={**self.headers, **(headers or {})})
            answer = self._exchange(request, deadline, name, cut_at)
            if answer.status not in REDIRECTS:
                return answer
            location = answer.headers.get("Location")
            if not location:
                raise StoreError(f"{self.base_url}: the server redirected {name} (HTTP {answer.status}) "
                                 f"without saying where")
            target = urllib.parse.urljoin(url, location)
            if origin(target) != origin(self.base_url):
                raise StoreError(f"{self.base_url}: the server redirects {name} to another server, "
                                 f"{_shown_origin(target)}; tuitrack does not follow it (your credentials "
                                 f"would go there); open that address instead if you trust it")
            if method == "POST" and answer.status == 303:
                raise StoreError(f"{self.base_url}: the server answered {name} with a redirect (HTTP 303) "
                                 f"instead of MLflow's answer; the change may not have been made")
            url = target  # same origin: the same method, body and headers again
        raise StoreError(f"{self.base_url}: the server redirects {name} more than {MAX_REDIRECTS} times")

    def _exchange(self, request: urllib.request.Request, deadline: float, name: str,
                  cut_at: int | None = None) -> Answer:
        exchange = Exchange(request, self.context, deadline, MAX_ANSWER_BYTES if cut_at is None else cut_at,
                            cut=cut_at is not None)
        with self._lock:
            if self._closed.is_set():
                raise self._closing()
            self._in_flight.add(exchange)
        try:
            return exchange.wait()
        except Abandoned:
            raise self._closing() from None
        except OutOfTime:
            raise StoreError(f"{self.base_url}: no complete answer to {name} within {self.timeout:g}s "
                             f"(MLFLOW_HTTP_REQUEST_TIMEOUT); the server is too slow or stalled") from None
        except TooBig:
            raise StoreError(f"{self.base_url}: the answer to {name} is over {MAX_ANSWER_BYTES // 2**20} MiB, "
                             f"the most tuitrack reads of one answer") from None
        except (Dropped, http.client.RemoteDisconnected, http.client.IncompleteRead):
            raise _Unreachable("the server closed the connection in the middle of its answer") from None
        except (http.client.InvalidURL, ValueError) as exc:  # a URL http.client will not send: a redirect to "/a b"
            raise StoreError(f"{self.base_url}: cannot send {name} ({str(exc)[:MESSAGE_CHARS]})") from None
        except http.client.HTTPException as exc:
            raise StoreError(f"{self.base_url}: not a valid HTTP answer to {name} ({type(exc).__name__}); "
                             f"is this an MLflow tracking server?") from None
        except (urllib.error.URLError, OSError) as exc:
            raise _Unreachable(_reason(exc)) from None
        finally:
            with self._lock:
                self._in_flight.discard(exchange)

    def _closing(self) -> StoreError:
        return StoreError(f"{self.base_url}: closed (tuitrack is quitting)")

    def _error(self, answer: Answer) -> ServerError:
        try:
            body = json.loads(answer.body or b"{}")
        except (ValueError, RecursionError):
            body = {}
        code = body.get("error_code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        code = code if isinstance(code, str) and code else None
        message = message[:MESSAGE_CHARS] if isinstance(message, str) and message else None
        status = answer.status
        if status in (401, 403) and not code:
            return ServerError(f"{self.base_url}: the server refused the credentials (HTTP {status}); "
                               f"set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                               f"MLFLOW_TRACKING_PASSWORD", status=status)
        reason = http.client.responses.get(status, "error")
        text = f"{self.base_url}: {message or reason} ({code or f'HTTP {status}'})"
        if code == "RESOURCE_DOES_NOT_EXIST":
            return NotFoundOnServer(text, code, status)
        return ServerError(text, code, status)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port: what "the same server" means on the web."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # not a port: matches no origin
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _shown_origin(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"[:200]


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise StoreError(f"{where}: the server's answer is not JSON; is this an MLflow tracking server?") from None
    if not isinstance(value, dict):
        raise StoreError(f"{where}: the server answered with a JSON {type(value).__name__}, not an object; "
                         f"is this an MLflow tracking server?")
    return value


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, BaseException):
        return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return str(reason)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive finite number from the environment, else the default."""
    try:
        value = float(env[name])
    except (KeyError, ValueError):
        return default
    return value if 0 <= value < 1e6 else default
