"""fetch_ml's two binary files, read as its Go experiment manager writes them (big-endian).

meta.bin:    [version=1:1][timestamp:8, Unix seconds][len:1][commit id][len:1][job name][len:1][user]
             fetch_ml requires 10 bytes at least and stops early, without error, when the job
             name or user is missing.
metrics.bin: records appended one `write` at a time, each
             [timestamp:8, Unix seconds][step:4, unsigned][value:8, float64][len:1][name]
             The file has no header and no framing: a reader can only tell that the last record
             is incomplete (a writer is appending it), so that record waits for the next read.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from tuitrack.model import MetricPoint

META_VERSION = 1
META_MIN_BYTES = 10
RECORD_HEAD = struct.Struct(">qIdB")  # timestamp, step, value, name length: 21 bytes


@dataclass(slots=True)
class Meta:
    commit_id: str = ""
    timestamp: int = 0  # Unix seconds
    job_name: str = ""
    user: str = ""
    problems: list[str] = field(default_factory=list)


def read_meta(data: bytes) -> tuple[Meta | None, str | None]:
    """(the metadata, None), or (None, why fetch_ml could not read it either)."""
    if len(data) < META_MIN_BYTES:
        return None, f"is too short ({len(data)} bytes; fetch_ml needs at least {META_MIN_BYTES})"
    if data[0] != META_VERSION:
        return None, f"has version {data[0]}; only version {META_VERSION} is known"
    meta = Meta(timestamp=int.from_bytes(data[1:9], "big", signed=True))
    offset = 9
    for name in ("commit_id", "job_name", "user"):
        if offset >= len(data):
            if name == "commit_id":
                return None, "ends before the commit id"
            break  # fetch_ml reads a missing job name or user as empty
        size = data[offset]
        text = data[offset + 1: offset + 1 + size]
        if len(text) < size:
            return None, f"is cut short in its {name.replace('_', ' ')} ({len(text)} of {size} bytes)"
        setattr(meta, name, _text(text, name, meta.problems))
        offset += 1 + size
    return meta, None


def _text(raw: bytes, what: str, problems: list[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"its {what.replace('_', ' ')} is not UTF-8; shown with replacement characters")
        return raw.decode("utf-8", "replace")


@dataclass(slots=True)
class Chunk:
    """Complete records parsed from some bytes of metrics.bin, and how many bytes they took."""

    records: list[tuple[str, MetricPoint]] = field(default_factory=list)
    used: int = 0
    errors: list[str] = field(default_factory=list)


def parse_records(data: bytes | memoryview) -> Chunk:
    """Every complete record at the start of `data`; an incomplete last one is left unused."""
    chunk = Chunk()
    offset, size = 0, len(data)
    head = RECORD_HEAD.size
    while offset + head <= size:
        seconds, step, value, length = RECORD_HEAD.unpack_from(data, offset)
        end = offset + head + length
        if end > size:
            break
        raw = bytes(data[offset + head: end])
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", "replace")
            shown = name if len(name) <= 40 else name[:40] + "…"
            chunk.errors.append(f"a metric name is not UTF-8 ({len(raw)} bytes); shown as {shown!r}")
        chunk.records.append((name, MetricPoint(seconds * 1000, value, step)))
        offset = end
    chunk.used = offset
    return chunk


class MetricsTail:
    """Reads metrics.bin from where the last read stopped: only complete records count, and the
    offset stays before an incomplete last record. A file that shrank or was replaced (another
    inode) is read again from the start, and `reset` says so."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.pending = 0  # bytes of an incomplete last record, after the last read

    def read_new(self) -> tuple[Chunk, bool]:
        """(new complete records, whether the file started over). Raises OSError, except for a
        missing file, which has no records."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            reset = self.offset > 0
            self.offset, self.inode, self.pending = 0, None, 0
            return Chunk(), reset
        try:
            st = os.fstat(fd)
            reset = self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset)
            if reset:
                self.offset = 0
            self.inode = st.st_ino
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = _read_all(fd)
        finally:
            os.close(fd)
        chunk = parse_records(data)
        self.offset += chunk.used
        self.pending = len(data) - chunk.used
        return chunk, reset


def _read_all(fd: int) -> bytes:
    parts = []
    while True:
        part = os.read(fd, 1 << 20)
        if not part:
            return b"".join(parts)
        parts.append(part)
