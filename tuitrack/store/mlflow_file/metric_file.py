"""MLflow metric files: `metrics/<key>`, one `<timestamp> <value> <step>` line per logged point.

Three ways to read one, from cheapest to dearest:

* `read_latest` reads a small window at the end of the file: what the run list needs.
* `MetricCursor.read_new` parses only the bytes appended since its last call: what the live view
  needs (the first call reads the whole history).
* `parse_history` parses everything (what `show` needs, through a cursor).

Only complete lines (ending in a newline) count: a writer may be in the middle of appending one.
Lines are parsed from bytes (`int(b"12")` and `float(b"0.5")` work) to skip decoding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tuitrack.model import MetricPoint, latest_point

TAIL_WINDOW = 512  # bytes read from the end of a metric file for its latest value


class MalformedLine(ValueError):
    pass


def parse_line(line: bytes) -> MetricPoint:
    """One metric line as MLflow reads it: 2, 3 or 5 space-separated fields.

    Unlike MLflow 3.17 (which reports step 0 for 5-field, dataset-tagged lines), the true step in
    the third field is kept: that is what the writer logged.
    """
    parts = line.strip().split(b" ")
    n = len(parts)
    if n not in (2, 3, 5):
        raise MalformedLine(f"expected 2, 3 or 5 fields, found {n}")
    try:
        timestamp = int(parts[0])
        value = float(parts[1])
        step = int(parts[2]) if n >= 3 else 0
    except ValueError:
        raise MalformedLine("a field is not a number") from None
    return MetricPoint(timestamp, value, step)


def _describe(line: bytes) -> str:
    shown = line[:40].decode("utf-8", "replace")
    return repr(shown + ("…" if len(line) > 40 else ""))


@dataclass(slots=True)
class ParseResult:
    points: list[MetricPoint]
    errors: list[str]  # one readable message per malformed complete line


def parse_lines(data: bytes, first_line_number: int = 1) -> ParseResult:
    """Parse complete lines (`data` must end just after a newline, or be empty)."""
    points: list[MetricPoint] = []
    errors: list[str] = []
    append = points.append
    lines = data.split(b"\n")
    lines.pop()  # the empty string after the final newline
    for index, line in enumerate(lines):
        try:
            append(parse_line(line))
        except MalformedLine as exc:
            errors.append(f"line {first_line_number + index}: {exc}: {_describe(line)}")
    return ParseResult(points, errors)


@dataclass(slots=True)
class Latest:
    point: MetricPoint | None
    errors: list[str]
    empty: bool = False


def read_latest(path: str | os.PathLike[str], window: int = TAIL_WINDOW) -> Latest:
    """The latest point of a metric file, read from its end.

    Lines are parsed backwards from the last complete one until `TAIL_LINES` lines and one
    strictly older (step, timestamp) than the last were seen; the max by (step, timestamp,
    value) of those is MLflow's answer whenever steps never decrease, which is what a training
    loop writes. When those lines show steps going backwards, the whole file is read instead, so
    an out-of-order file still gets MLflow's answer. Raises OSError.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return Latest(None, [], empty=True)
        while True:
            start = max(0, size - window)
            data = os.pread(fd, size - start, start)
            end = data.rfind(b"\n") + 1
            if start > 0:
                first = data.find(b"\n") + 1
                if first == 0 or first >= end:
                    # No complete line inside the window: widen it (very long lines, or garbage).
                    window *= 8
                    continue
                data = data[first:end]
            else:
                data = data[:end]
            break
        if start == 0:  # the whole file fits in the window: exact, and cheap
            result = parse_lines(data)
            return Latest(latest_point(result.points), result.errors)
        lines = data.split(b"\n")
        lines.pop()
        best, errors, ordered = _latest_of_tail(lines)
        if not ordered:
            whole = _read_range(fd, 0, size)
            result = parse_lines(whole[: whole.rfind(b"\n") + 1])
            return Latest(latest_point(result.points), result.errors)
        if errors:
            # Line numbers inside a window are meaningless: say where instead.
            errors = [f"{len(errors)} malformed line(s) near the end of the file"]
        return Latest(best, errors)
    finally:
        os.close(fd)


TAIL_LINES = 2


def _latest_of_tail(lines: list[bytes]) -> tuple[MetricPoint | None, list[str], bool]:
    """(latest, errors, ordered) from the last few lines; `ordered` is False if steps went back."""
    best: MetricPoint | None = None
    newer: tuple[int, int] | None = None  # (step, timestamp) of the line after this one
    seen = 0
    errors: list[str] = []
    for index in range(len(lines) - 1, -1, -1):
        try:
            point = parse_line(lines[index])
        except MalformedLine as exc:
            errors.append(f"{exc}: {_describe(lines[index])}")
            continue
        seen += 1
        key = (point.step, point.timestamp)
        if newer is not None and key > newer:
            return None, errors, False
        if best is None or point.sort_key() > best.sort_key():
            best = point
        older = newer is not None and key < newer
        newer = key
        if seen >= TAIL_LINES and (older or key < best.sort_key()[:2]):
            break
    return best, errors, True


def _read_range(fd: int, start: int, end: int) -> bytes:
    chunks = []
    while start < end:
        chunk = os.pread(fd, min(end - start, 1 << 24), start)
        if not chunk:
            break
        chunks.append(chunk)
        start += len(chunk)
    return b"".join(chunks)


@dataclass(slots=True)
class CursorRead:
    points: list[MetricPoint]
    errors: list[str]
    reset: bool  # the file was truncated or replaced: `points` is the whole history again


@dataclass(slots=True)
class MetricCursor:
    """Remembers how far a metric file has been parsed, so the next read parses only new bytes.

    `offset` always sits just after a newline. A file that shrinks or is replaced by another inode
    is read again from the start (and the read says `reset`).
    """

    path: str
    offset: int = 0
    inode: int | None = None
    lines_read: int = 0
    errors: list[str] = field(default_factory=list)
    size: int = 0  # the file's size at the last read: how far `offset` has to go

    def read_new(self, max_bytes: int | None = None) -> CursorRead:
        """Points in complete lines appended since the last call (about `max_bytes` of them at
        most, so that a huge file can be read in pieces). Raises OSError."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            reset = False
            if (self.inode is not None and st.st_ino != self.inode) or st.st_size < self.offset:
                self.offset = 0
                self.lines_read = 0
                self.errors = []
                reset = True
            self.inode = st.st_ino
            self.size = st.st_size
            if st.st_size == self.offset:
                return CursorRead([], [], reset)
            end = st.st_size if max_bytes is None else min(st.st_size, self.offset + max_bytes)
            data = _read_range(fd, self.offset, end)
            if end < st.st_size and b"\n" not in data:  # one line longer than a piece: all of it
                data += _read_range(fd, end, st.st_size)
        finally:
            os.close(fd)
        end = data.rfind(b"\n") + 1
        result = parse_lines(data[:end], first_line_number=self.lines_read + 1)
        self.offset += end
        self.lines_read += data.count(b"\n", 0, end)
        self.errors.extend(result.errors)
        return CursorRead(result.points, result.errors, reset)
