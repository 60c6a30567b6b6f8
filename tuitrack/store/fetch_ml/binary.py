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
from collections.abc import Callable
from dataclasses import dataclass, field

from tuitrack.model import MetricPoint
from tuitrack.store.mlflow_file.files import format_size, hole_end, open_regular

META_VERSION = 1
META_MIN_BYTES = 10
RECORD_HEAD = struct.Struct(">qIdB")  # timestamp, step, value, name length: 21 bytes
_NUL_HEAD = bytes(RECORD_HEAD.size)


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


MAX_REGIONS = 10  # unreadable regions described one by one per read; the rest are counted


@dataclass(slots=True)
class Unreadable:
    """Records fetch_ml never writes (no metric name: what a run of NUL bytes reads as), merged
    into regions, so a gigabyte of garbage is one problem, not fifty million."""

    regions: list[list[int]] = field(default_factory=list)  # [offset, size, records]
    more: int = 0
    more_bytes: int = 0
    bad_name: str | None = None  # the first metric name that is not UTF-8, described
    bad_names: int = 0  # how many there were

    def add(self, offset: int, size: int, records: int = 1) -> None:
        last = self.regions[-1] if self.regions else None
        if last is not None and last[0] + last[1] == offset:
            last[1] += size
            last[2] += records
        elif len(self.regions) < MAX_REGIONS:
            self.regions.append([offset, size, records])
        else:
            self.more += 1
            self.more_bytes += size

    def errors(self) -> list[str]:
        out = [f"{format_size(size)} of unreadable bytes at offset {offset:,} ({count:,} record(s) without a "
               "metric name)" for offset, size, count in self.regions]
        if self.more:
            out.append(f"and {self.more:,} more unreadable region(s), {format_size(self.more_bytes)} in all")
        if self.bad_name is not None:
            out.append(self.bad_name)
        if self.bad_names > 1:
            out.append(f"and {self.bad_names - 1:,} more metric name(s) that are not UTF-8")
        return out


def parse_records(data: bytes | memoryview, base: int = 0, unreadable: Unreadable | None = None) -> Chunk:
    """Every complete record at the start of `data` (at file offset `base`); an incomplete last
    one is left unused. Given `unreadable`, garbage is counted there (to be told once for many
    chunks) instead of in the errors."""
    chunk = Chunk()
    own = unreadable is None
    garbage = Unreadable() if unreadable is None else unreadable
    offset, size = 0, len(data)
    head = RECORD_HEAD.size
    while offset + head <= size:
        seconds, step, value, length = RECORD_HEAD.unpack_from(data, offset)
        end = offset + head + length
        if end > size:
            break
        if length == 0:
            if data[offset:offset + head] == _NUL_HEAD:  # a run of NULs: skipped at C speed
                nuls = (size - offset) - len(bytes(data[offset:]).lstrip(b"\0"))
                taken = nuls // head * head
                garbage.add(base + offset, taken, taken // head)
                offset += taken
                continue
            garbage.add(base + offset, end - offset)
            offset = end
            continue
        raw = bytes(data[offset + head: end])
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", "replace")
            shown = name if len(name) <= 40 else name[:40] + "…"
            garbage.bad_names += 1
            if garbage.bad_name is None:
                garbage.bad_name = f"a metric name is not UTF-8 ({len(raw)} bytes); shown as {shown!r}"
        chunk.records.append((name, MetricPoint(seconds * 1000, value, step)))
        offset = end
    chunk.used = offset
    if own:
        chunk.errors += garbage.errors()
    return chunk


READ_CHUNK = 1 << 20


class MetricsTail:
    """Reads metrics.bin from where the last read stopped, a chunk at a time: only complete
    records count, and the offset stays before an incomplete last record. A file that shrank or
    was replaced (another inode) is read again from the start, and `reset` says so."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.pending = 0  # bytes of an incomplete last record, after the last read

    def read_new(self, on_chunk: Callable[[Chunk], None] | None = None,
                 on_reset: Callable[[], None] | None = None) -> tuple[Chunk, bool]:
        """(new complete records, whether the file started over). With `on_chunk`, each chunk's
        records go to it as they are read and the result holds only the errors: memory stays that
        of one chunk, whatever the file's size (`on_reset` is called first when the file started
        over). Raises OSError, except for a missing file, which
        has no records; never reads through a symlink."""
        try:
            fd = open_regular(self.path)
        except FileNotFoundError:
            reset = self.offset > 0
            self.offset, self.inode, self.pending = 0, None, 0
            return Chunk(), reset
        result = Chunk()
        garbage = Unreadable()
        try:
            st = os.fstat(fd)
            reset = self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset)
            if reset:
                self.offset = 0
                if on_reset is not None:
                    on_reset()
            self.inode = st.st_ino
            carry = b""
            position = self.offset
            while position < st.st_size:
                hole = hole_end(fd, position, st.st_size) if not carry.strip(b"\0") else position
                if hole > position:  # NULs up to there, unread: empty-name records, and a rest
                    nuls = len(carry) + hole - position
                    taken = nuls // RECORD_HEAD.size * RECORD_HEAD.size
                    garbage.add(self.offset, taken, taken // RECORD_HEAD.size)
                    self.offset += taken
                    carry, position = bytes(nuls - taken), hole
                    continue
                data = os.pread(fd, min(READ_CHUNK, st.st_size - position), position)
                if not data:
                    break
                position += len(data)
                buffer = carry + data if carry else data
                chunk = parse_records(buffer, self.offset, garbage)
                self.offset += chunk.used
                carry = buffer[chunk.used:]
                if on_chunk is None:
                    result.records += chunk.records
                else:
                    on_chunk(chunk)
            self.pending = len(carry)
        finally:
            os.close(fd)
        result.errors += garbage.errors()
        return result, reset
