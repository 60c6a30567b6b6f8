"""Talking to an MLflow tracking server: JSON over HTTP with MLflow's own environment variables.

Authentication and TLS follow MLflow's client (mlflow/utils/rest_utils.py):
MLFLOW_TRACKING_TOKEN (a bearer token), MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD
(basic auth), MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH.
MLFLOW_HTTP_REQUEST_TIMEOUT and MLFLOW_HTTP_REQUEST_MAX_RETRIES are honoured too, but their defaults
here are short (10 s, 2 retries) rather than MLflow's two minutes and 7 retries: a terminal UI
should say "the server is down" in seconds, not hang.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from tuitrack.store.base import RunNotFound, StoreError

API = "/api/2.0/mlflow/"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # as MLflow's client retries
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
BACKOFF_S = 0.5


class ServerError(StoreError):
    """The server answered with an error; `code` is MLflow's error_code when it gave one."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class MlflowHttp:
    """Calls one server's REST API. Thread-safe: each call opens its own connection."""

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

    def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._call("GET", endpoint + (f"?{query}" if query else ""), None)

    def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", endpoint, json.dumps(body).encode())

    def _call(self, method: str, endpoint: str, data: bytes | None) -> dict[str, Any]:
        url = self.base_url + API + endpoint
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, method=method, headers=self.headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                    return _json(response.read(), self.base_url)
            except urllib.error.HTTPError as exc:
                if exc.code in RETRY_STATUSES and attempt < self.retries:
                    last = f"HTTP {exc.code}"
                    continue
                raise self._error(exc) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = _reason(exc)
        tries = self.retries + 1
        raise StoreError(f"{self.base_url}: cannot reach the MLflow tracking server ({last}; "
                         f"{tries} {'try' if tries == 1 else 'tries'}, {self.timeout:g}s timeout each)")

    def _error(self, exc: urllib.error.HTTPError) -> ServerError:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        code = body.get("error_code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        if exc.code in (401, 403) and not code:
            return ServerError(f"{self.base_url}: the server refused the credentials (HTTP {exc.code}); "
                               f"set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                               f"MLFLOW_TRACKING_PASSWORD", status=exc.code)
        text = f"{self.base_url}: {message or exc.reason} ({code or f'HTTP {exc.code}'})"
        if code == "RESOURCE_DOES_NOT_EXIST":
            return NotFoundOnServer(text, code, exc.code)
        return ServerError(text, code, exc.code)


class NotFoundOnServer(ServerError, RunNotFound):
    pass


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        raise StoreError(f"{where}: the server's answer is not JSON; is this an MLflow tracking server?") from None
    if not isinstance(value, dict):
        raise StoreError(f"{where}: unexpected answer from the server")
    return value


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, BaseException):
        return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return str(reason)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env[name])
    except (KeyError, ValueError):
        return default
