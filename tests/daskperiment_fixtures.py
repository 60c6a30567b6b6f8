"""Fixtures (a test module loads them with `pytest_plugins = ["tests.daskperiment_fixtures"]`):
stores the real daskperiment package wrote, and a Redis server to write them to.

Redis: $TUITRACK_TEST_REDIS (.ci/run starts one), else a `redis-server` found on PATH is started
on a free port for the session. With neither, Redis tests skip, except in CI (CI=true): they fail.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.daskperiment_stores import run_quickstart

# -- Redis ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping())
    except redis.exceptions.RedisError:
        return False


def _no_redis(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs a Redis server for these tests: {reason}")
    pytest.skip(f"no Redis server to test with: {reason}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """The base URL (no db) of a Redis server the tests may fill and flush."""
    url = os.environ.get("TUITRACK_TEST_REDIS")
    if url:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        if not _answers(base + "/0"):
            _no_redis(f"TUITRACK_TEST_REDIS={url} does not answer")
        yield base
        return
    binary = shutil.which("redis-server")
    if binary is None:
        _no_redis("set TUITRACK_TEST_REDIS=redis://host:port, or install redis-server (Debian: redis-server)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"redis://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not _answers(base + "/0"):
            if process.poll() is not None or time.monotonic() > deadline:
                _no_redis(f"{binary} did not start")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


_databases = itertools.cycle(range(1, 15))


@pytest.fixture
def redis_url(redis_server) -> str:
    """An empty database of the test server, for one test."""
    import redis

    url = f"{redis_server}/{next(_databases)}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="session")
def redis_quickstart(redis_server, tmp_path_factory) -> tuple[str, dict]:
    """Database 15, written once by the quickstart (read it, do not change it): (url, expected)."""
    import redis

    url = f"{redis_server}/15"
    redis.Redis.from_url(url).flushdb()
    return url, run_quickstart(tmp_path_factory.mktemp("daskperiment-redis"), url)


@pytest.fixture(scope="session")
def local_master(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("daskperiment")
    return folder / "daskperiment_cache", run_quickstart(folder, "local")


@pytest.fixture
def local_cache(local_master, tmp_path) -> tuple[Path, dict]:
    """A private copy of the quickstart's daskperiment_cache, free to change: (cache, expected)."""
    master, expected = local_master
    cache = tmp_path / "daskperiment_cache"
    shutil.copytree(master, cache)
    return cache, expected
