"""The metric file reader: tail reads, full reads, incremental reads, and bad lines."""

from __future__ import annotations

import os

import pytest

from tuitrack.model import MetricPoint, latest_point
from tuitrack.store.mlflow_file.metric_file import (
    MalformedLine,
    MetricCursor,
    parse_line,
    parse_lines,
    read_latest,
)


def write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "line, point",
    [
        (b"1700 0.5 3", MetricPoint(1700, 0.5, 3)),
        (b"1700 0.5", MetricPoint(1700, 0.5, 0)),  # legacy 2-field lines are step 0
        (b"1700 0.77 4 toy ad126910", MetricPoint(1700, 0.77, 4)),  # dataset lines keep their step
        (b"1700 1e+300 0", MetricPoint(1700, 1e300, 0)),
        (b"1700 -inf 2\r", MetricPoint(1700, float("-inf"), 2)),
    ],
)
def test_parse_line(line, point):
    assert parse_line(line) == point


def test_parse_nan():
    assert str(parse_line(b"1 nan 0").value) == "nan"


@pytest.mark.parametrize("line", [b"", b"17000000", b"1 2 3 4", b"1 x 0", b"1.5 2 0", b"\x00\xff junk 1"])
def test_malformed_lines(line):
    with pytest.raises(MalformedLine):
        parse_line(line)


def test_parse_lines_reports_line_numbers():
    result = parse_lines(b"1 1.0 0\ngarbage\n3 3.0 2\n")
    assert [p.step for p in result.points] == [0, 2]
    assert result.errors == ["line 2: expected 2, 3 or 5 fields, found 1: 'garbage'"]


def test_latest_ignores_incomplete_last_line(tmp_path):
    path = write(tmp_path / "m", b"1 1.0 0\n2 2.0 1\n3 3.")
    assert read_latest(path).point == MetricPoint(2, 2.0, 1)


def test_latest_of_long_file_reads_only_the_tail(tmp_path):
    lines = b"".join(b"%d %f %d\n" % (1000 + s, s / 7, s) for s in range(100_000))
    path = write(tmp_path / "m", lines)
    assert read_latest(path).point == MetricPoint(1000 + 99_999, float("%f" % (99_999 / 7)), 99_999)


def test_latest_same_step_prefers_later_timestamp_then_value(tmp_path):
    path = write(tmp_path / "m", b"5 1.0 3\n6 0.5 3\n6 0.7 3\n")
    assert read_latest(path).point == MetricPoint(6, 0.7, 3)


def test_out_of_order_steps_in_tail_fall_back_to_a_full_read(tmp_path):
    # A long history whose maximum step sits at the very start, and a tail that goes backwards.
    head = b"1 99.0 100000\n"
    body = b"".join(b"%d %d.0 %d\n" % (10 + s, s, s) for s in range(2000))
    tail = b"5000 1.0 1\n"
    path = write(tmp_path / "m", head + body + tail)
    assert read_latest(path).point == MetricPoint(1, 99.0, 100000)
    points = parse_lines(head + body + tail).points
    assert read_latest(path).point == latest_point(points)


def test_empty_file(tmp_path):
    latest = read_latest(write(tmp_path / "m", b""))
    assert latest.empty and latest.point is None


def test_very_long_line_widens_the_window(tmp_path):
    # A 4-field line longer than the tail window: the window grows to the whole file.
    path = write(tmp_path / "m", b"1 1.0 0\n" + b"2 2.0 1 " + b"x" * 5000 + b"\n")
    latest = read_latest(path)
    assert latest.point == MetricPoint(1, 1.0, 0)
    assert latest.errors == ["line 2: expected 2, 3 or 5 fields, found 4: " + repr("2 2.0 1 " + "x" * 32 + "…")]


def test_garbage_tail_is_reported_not_raised(tmp_path):
    path = write(tmp_path / "m", b"1 1.0 0\n" + os.urandom(64).replace(b"\n", b"") + b"\n")
    latest = read_latest(path)
    assert latest.point == MetricPoint(1, 1.0, 0)
    assert latest.errors


def test_cursor_reads_only_appended_complete_lines(tmp_path):
    path = write(tmp_path / "m", b"1 1.0 0\n2 2.0 1\n3 3.")
    cursor = MetricCursor(str(path))
    first = cursor.read_new()
    assert [p.step for p in first.points] == [0, 1] and not first.reset
    assert cursor.offset == len(b"1 1.0 0\n2 2.0 1\n")
    with open(path, "ab") as f:
        f.write(b"0 2\n4 4.0 3\n")
    second = cursor.read_new()
    assert second.points == [MetricPoint(3, 3.0, 2), MetricPoint(4, 4.0, 3)]
    assert cursor.read_new().points == []


def test_cursor_numbers_bad_lines_across_reads(tmp_path):
    path = write(tmp_path / "m", b"1 1.0 0\n")
    cursor = MetricCursor(str(path))
    cursor.read_new()
    with open(path, "ab") as f:
        f.write(b"oops\n")
    assert cursor.read_new().errors == ["line 2: expected 2, 3 or 5 fields, found 1: 'oops'"]


def test_cursor_restarts_after_truncation_or_replacement(tmp_path):
    path = write(tmp_path / "m", b"1 1.0 0\n2 2.0 1\n")
    cursor = MetricCursor(str(path))
    cursor.read_new()
    write(path, b"9 9.0 0\n")  # shorter: truncated and rewritten
    again = cursor.read_new()
    assert again.reset and again.points == [MetricPoint(9, 9.0, 0)]
    other = write(tmp_path / "n", b"7 7.0 0\n8 8.0 1\n5 5.0 2\n")
    os.replace(other, path)  # same size or longer, but another file
    again = cursor.read_new()
    assert again.reset and [p.step for p in again.points] == [0, 1, 2]
