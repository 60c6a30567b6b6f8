"""MLflow metric files: `metrics/<key>`, one `<timestamp> <value> <step>` line per logged point.

Three ways to read one, from cheapest to dearest:

* `read_latest` reads a small window at the end of the file: what the run list needs.
* `MetricCursor.read_new` parses only the bytes appended since its last call: what the live view
  needs (the first call reads the whole history).
* `MetricCursor.iter_new` does the same a chunk at a time, never holding the whole history: what
  `show` needs.

Only complete lines (ending in a newline) count: a writer may be in the middle of appending one.
Lines are parsed from bytes (`int(b"12")` and `float(b"0.5")` work) to skip decoding. Every read
is bounded (`LineReader`): a file of garbage, however large, is one problem and one chunk of memory.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from tuitrack.model import MetricPoint, latest_point
from tuitrack.store.mlflow_file.files import (
    READ_FLAGS,
    KiB,
    MiB,
    NotRegularFile,
    format_size,
    hole_end,
    open_beneath,
    open_regular,
    said_plainly,
)

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
    errors: list[str]  # one readable message per region of malformed lines


def parse_lines(data: bytes, first_line_number: int = 1) -> ParseResult:
    """Parse complete lines (`data` must end just after a newline, or be empty)."""
    reader = LineReader(line_number=first_line_number)
    points = reader.parse_block(data, 0)
    return ParseResult(points, reader.errors())


_THREE_FIELDS = re.compile(rb"(?:[^ \n]+ [^ \n]+ [^ \n]+\n)+")  # lines of `<timestamp> <value> <step>`
MAX_LINE = 8 * KiB  # a longer "line" is garbage: MLflow's lines are under 100 bytes (dataset ones a few hundred)
READ_CHUNK = 1 * MiB
_TOO_LONG = "a line longer than " + format_size(MAX_LINE)
MAX_REGIONS = 10  # unreadable regions described one by one per read; the rest are counted


@dataclass(slots=True)
class _Region:
    """Consecutive malformed lines (or one overlong one): reported once, not once per line."""

    offset: int
    size: int
    first_line: int
    lines: int
    first_error: str
    ended: bool = True  # False: the file ends inside it, with no line end

    def message(self) -> str:
        if self.lines == 1 and self.ended and self.size <= MAX_LINE:
            return f"line {self.first_line}: {self.first_error}"
        if self.lines == 1:
            where = f"line {self.first_line}" + ("" if self.ended else " with no line end")
        else:
            where = f"lines {self.first_line}-{self.first_line + self.lines - 1}"
            where += "" if self.ended else ", the last with no line end"
        return f"{format_size(self.size)} of unreadable bytes at offset {self.offset:,} ({where}; {self.first_error})"


@dataclass(slots=True)
class LineReader:
    """Parses a metric file's complete lines from `offset`, a chunk at a time, in bounded memory.

    Lines that do not parse become unreadable regions (consecutive bad lines merge into one), and
    a line longer than MAX_LINE is skipped to its end without being held, so a gigabyte of NULs
    costs one chunk of memory and one problem. `offset` ends just after a newline, or inside an
    overlong line being skipped (`skipping`), never inside a line still being written.
    """

    offset: int = 0
    line_number: int = 1  # of the next line
    skipping: bool = False
    regions: list[_Region] = field(default_factory=list)
    more_regions: int = 0
    more_bytes: int = 0

    def _bad(self, offset: int, size: int, error: str, ended: bool = True, new_line: bool = True) -> None:
        """Count `size` unreadable bytes at `offset`: a bad line (`ended` by a newline), or part of
        an overlong one (`new_line` False once it started)."""
        last = self.regions[-1] if self.regions else None
        if last is not None and last.offset + last.size == offset:
            last.size += size
            last.lines += 1 if last.ended else 0
            last.ended = ended
        elif len(self.regions) < MAX_REGIONS:
            self.regions.append(_Region(offset, size, self.line_number, 1, error, ended))
        else:
            self.more_regions += 1 if new_line else 0
            self.more_bytes += size
        if ended:
            self.line_number += 1

    def parse_block(self, data: bytes, base: int) -> list[MetricPoint]:
        """Points of `data`, complete lines starting at file offset `base`."""
        if _THREE_FIELDS.fullmatch(data):
            # Every line has MLflow's three fields: parsed all at once (in C), with the very
            # conversions parse_line makes (int and float ignore the spaces strip() would remove).
            fields = data.replace(b"\n", b" ").split(b" ")
            fields.pop()  # after the last line's end
            try:
                points = list(map(MetricPoint._make, zip(map(int, fields[0::3]), map(float, fields[1::3]),
                                                         map(int, fields[2::3]))))
            except ValueError:
                pass  # a field is not a number: line by line, to say which
            else:
                self.line_number += len(points)
                return points
        points: list[MetricPoint] = []
        append = points.append
        lines = data.split(b"\n")
        lines.pop()  # the empty string after the final newline
        good = 0
        offset = base
        for line in lines:
            try:
                append(parse_line(line))
                good += 1
            except MalformedLine as exc:
                self.line_number += good
                good = 0
                error = _TOO_LONG if len(line) > MAX_LINE else f"{exc}: {_describe(line)}"
                self._bad(offset, len(line) + 1, error)
            offset += len(line) + 1
        self.line_number += good
        return points

    def read(self, fd: int, end: int) -> Iterator[list[MetricPoint]]:
        """Points of the complete lines between `offset` and `end`, a chunk's worth at a time."""
        carry = b""
        position = self.offset
        while position < end:
            if self.skipping:  # a hole of a sparse file is NULs, no newline: skipped unread
                hole = hole_end(fd, position, end)
                if hole > position:
                    self._bad(position, hole - position, _TOO_LONG, False, new_line=False)
                    self.offset = position = hole
                    continue
            chunk = os.pread(fd, min(READ_CHUNK, end - position), position)
            if not chunk:
                break
            base = position - len(carry)
            buffer = carry + chunk if carry else chunk
            position += len(chunk)
            start = 0
            if self.skipping:
                newline = buffer.find(b"\n")
                taken = len(buffer) if newline < 0 else newline + 1
                self._bad(base, taken, _TOO_LONG, newline >= 0, new_line=False)
                self.skipping = newline < 0
                start = taken
                self.offset = base + taken
            last = buffer.rfind(b"\n", start) + 1
            if last > start:
                points = self.parse_block(buffer[start:last] if start or last < len(buffer) else buffer, base + start)
                self.offset = base + last
                if points:
                    yield points
                start = last
            rest = len(buffer) - start
            if rest > MAX_LINE:  # no line is this long: skip it to its end
                self._bad(base + start, rest, _TOO_LONG, ended=False)
                self.skipping = True
                self.offset = base + len(buffer)
                carry = b""
            else:
                carry = buffer[start:]

    def errors(self) -> list[str]:
        out = [region.message() for region in self.regions]
        if self.more_regions:
            out.append(f"and {self.more_regions:,} more unreadable region(s), {format_size(self.more_bytes)} in all")
        return out


@dataclass(slots=True)
class Latest:
    point: MetricPoint | None
    errors: list[str]
    empty: bool = False


MAX_WINDOW = 64 * KiB  # the tail window grows up to this (long lines); beyond it, a streaming read


def read_latest(path: str | os.PathLike[str], window: int = TAIL_WINDOW, dir_fd: int | None = None) -> Latest:
    """The latest point of a metric file, read from its end.

    Lines are parsed backwards from the last complete one until `TAIL_LINES` lines and one
    strictly older (step, timestamp) than the last were seen; the max by (step, timestamp,
    value) of those is MLflow's answer whenever steps never decrease, which is what a training
    loop writes. When those lines show steps going backwards, or the end of the file holds no
    line at all (garbage, overlong lines), the whole file is read instead, a chunk at a time, so
    an out-of-order file still gets MLflow's answer. Raises OSError (not through a symlink).
    """
    try:  # not open_regular: latest_of_fd's fstat checks what it is (the run list's hot path)
        fd = os.open(path, READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise said_plainly(exc, os.fspath(path), dir_fd) from None
    try:
        return latest_of_fd(fd, window)
    finally:
        os.close(fd)


def latest_of_fd(fd: int, window: int = TAIL_WINDOW, st: os.stat_result | None = None) -> Latest:
    """`read_latest` of an open metric file (`st`: its fstat, when the caller made it). Raises
    OSError for anything but a regular file."""
    if st is None:
        st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder") if stat.S_ISDIR(st.st_mode) else NotRegularFile()
    size = st.st_size
    if size == 0:
        return Latest(None, [], empty=True)
    while True:
        start = max(0, size - window)
        data = os.pread(fd, size - start, start)
        end = data.rfind(b"\n") + 1
        if len(data) - end > MAX_LINE:
            return _latest_of_whole(fd, size)  # the file ends in garbage: say where it starts
        if start > 0:
            first = data.find(b"\n") + 1
            if first == 0 or first >= end:
                # No complete line inside the window: widen it (very long lines, or garbage).
                if window >= MAX_WINDOW:
                    return _latest_of_whole(fd, size)
                window = min(window * 8, MAX_WINDOW)
                continue
            data = data[first:end]
        else:
            data = data[:end]
        break
    if start == 0:  # the whole file fits in the window: exact, and cheap
        plain = _latest_of_plain(data)
        if plain is not None:
            return Latest(plain, [])
        result = parse_lines(data)
        return Latest(latest_point(result.points), result.errors)
    lines = data.split(b"\n")
    lines.pop()
    best, errors, ordered = _latest_of_tail(lines)
    if not ordered:
        return _latest_of_whole(fd, size)
    if errors:
        # Line numbers inside a window are meaningless: say where instead.
        errors = [f"{len(errors)} malformed line(s) near the end of the file"]
    return Latest(best, errors)


def _latest_of_plain(data: bytes) -> MetricPoint | None:
    """The latest point of complete lines that all have MLflow's three fields, found without a
    MetricPoint per line: `max` over (step, timestamp, value) tuples compares exactly as
    `latest_point` does (NaN included). None when a line is anything else: parse it line by line."""
    if not _THREE_FIELDS.fullmatch(data):
        return None
    fields = data.replace(b"\n", b" ").split(b" ")
    fields.pop()
    try:
        step, timestamp, value = max(zip(map(int, fields[2::3]), map(int, fields[0::3]), map(float, fields[1::3])))
    except ValueError:
        return None
    return MetricPoint(timestamp, value, step)


def _latest_of_whole(fd: int, size: int) -> Latest:
    """MLflow's latest point of the whole file, streamed: only the best point so far is kept."""
    reader = LineReader()
    best: MetricPoint | None = None
    for points in reader.read(fd, size):
        candidate = latest_point(points)
        if candidate is not None and (best is None or candidate.sort_key() > best.sort_key()):
            best = candidate
    return Latest(best, reader.errors())


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


@dataclass(slots=True)
class CursorRead:
    points: list[MetricPoint]
    errors: list[str]
    reset: bool  # the file was truncated or replaced: `points` is the whole history again


MIN_PIECE = 64 * 1024  # a piece holds whole lines: longer ones are skipped as unreadable anyway


@dataclass(slots=True)
class MetricCursor:
    """Remembers how far a metric file has been parsed, so the next read parses only new bytes.

    `offset` sits just after a newline (or inside an overlong line being skipped). A file that
    shrinks or is replaced by another inode is read again from the start (and the read says
    `reset`). `base` set: `path` is relative to it and no folder below it may be a symlink.
    """

    path: str
    offset: int = 0
    inode: int | None = None
    lines_read: int = 0
    errors: list[str] = field(default_factory=list)
    base: str | None = None
    skipping: bool = False
    last_errors: list[str] = field(default_factory=list)  # of the last read
    size: int = 0  # the file's size at the last read: how far `offset` has to go

    def read_new(self, max_bytes: int | None = None) -> CursorRead:
        """Points in complete lines appended since the last call (about `max_bytes` of the file
        at most, so that a huge file can be read in pieces). Raises OSError."""
        batches = self.iter_new(max_bytes)
        reset = next(batches)
        points: list[MetricPoint] = []
        for batch in batches:
            points.extend(batch)
        return CursorRead(points, self.last_errors, reset)

    def iter_new(self, max_bytes: int | None = None) -> Iterator:
        """First whether the file started over, then lists of new points, a chunk's worth at a
        time (memory bounded by a chunk, not the file); `last_errors` once exhausted. Raises
        OSError on the first `next`."""
        fd = open_beneath(self.base, self.path) if self.base is not None else open_regular(self.path)
        try:
            st = os.fstat(fd)
            reset = False
            if (self.inode is not None and st.st_ino != self.inode) or st.st_size < self.offset:
                self.offset = 0
                self.lines_read = 0
                self.errors = []
                self.skipping = False
                reset = True
            self.inode = st.st_ino
            self.last_errors = []
            self.size = st.st_size
            yield reset
            end = st.st_size if max_bytes is None else min(st.st_size, self.offset + max(max_bytes, MIN_PIECE))
            reader = LineReader(self.offset, self.lines_read + 1, self.skipping)
            yield from reader.read(fd, end)
            self.offset, self.lines_read, self.skipping = reader.offset, reader.line_number - 1, reader.skipping
            self.last_errors = reader.errors()
            self.errors.extend(self.last_errors)
        finally:
            os.close(fd)
