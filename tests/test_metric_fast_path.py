"""Metric files whose lines all have three fields are parsed all at once: the same points, the
same latest point and the same problems as parsing them line by line."""

from __future__ import annotations

import math
import random
import re

import pytest

from tuitrack.store.mlflow_file import metric_file
from tuitrack.store.mlflow_file.metric_file import parse_lines, read_latest

FIELDS = {
    "timestamp": ["1", "0", "-5", "1790360060000", "1_000", "\t7", "x", "1.5", ""],
    "value": ["0.5", "nan", "NaN", "inf", "-Infinity", "1e300", "-0.0", "5", "1_0.5", "abc", "\x0c2"],
    "step": ["0", "3", "-1", "2\r", "99999999999999999999", "x", "1.0", "\x1c4"],
}


def random_file(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.05:
            lines.append(rng.choice(["", "1 2", "1 2 3 4 5", "1  2 3", " 1 2 3", "1 2 3 "]))
            continue
        lines.append(" ".join(rng.choice(FIELDS[k]) for k in ("timestamp", "value", "step")))
    return ("\n".join(lines) + "\n").encode()


def same(a, b) -> bool:
    """Points equal, a NaN value equal to a NaN value."""
    if a is None or b is None:
        return a is b
    return (a.timestamp, a.step) == (b.timestamp, b.step) and (a.value == b.value or (
        math.isnan(a.value) and math.isnan(b.value)))


@pytest.fixture
def line_by_line(monkeypatch):
    """Parsing with the all-at-once path turned off."""
    def parse(data: bytes):
        with monkeypatch.context() as m:
            m.setattr(metric_file, "_THREE_FIELDS", re.compile(rb"(?!)"))
            return parse_lines(data), metric_file._latest_of_plain(data)
    return parse


def test_the_fast_path_agrees_with_line_by_line(line_by_line, tmp_path):
    rng = random.Random(16)
    path = tmp_path / "metric"
    taken = 0
    for _ in range(2000):
        data = random_file(rng)
        slow, none = line_by_line(data)
        assert none is None
        fast = parse_lines(data)
        assert fast.errors == slow.errors
        assert len(fast.points) == len(slow.points)
        assert all(same(a, b) for a, b in zip(fast.points, slow.points))
        path.write_bytes(data)
        latest = read_latest(path)
        expected = metric_file.latest_point(slow.points)
        assert same(latest.point, expected)
        taken += metric_file._latest_of_plain(data) is not None
    assert taken > 50  # the fast path was taken often (and declined the rest)
