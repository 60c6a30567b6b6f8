"""A text artifact followed as it grows, like `tail -f`: a training log a script writes.

Each `poll` (called off the UI thread) reads what was appended since the last one, from a byte
offset and at most READ_BOUND of it, so a log that grows by gigabytes costs a bounded read each
time. Only whole lines are handed on (a line being written waits for its end, unless it grows
past the bound). A file that shrank (rewritten, truncated) or ran far ahead starts again from its
tail: what is shown is always the end of the file as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuitrack.store.artifacts import READ_BOUND, ArtifactSource
from tuitrack.store.artifacts.text import chunk_text

FAR_BEHIND = 4 * READ_BOUND  # further behind than this, skip to the tail


@dataclass(slots=True)
class TailNews:
    text: str  # whole lines appended (or, when `restarted`, the tail to show instead of all)
    restarted: bool = False
    size: int | None = None  # the file's size now


class ArtifactTail:
    def __init__(self, source: ArtifactSource, path: str, offset: int):
        self.source = source
        self.path = path
        self.offset = offset  # the next byte to read
        self._partial = b""  # the start of a line whose end has not been written yet

    def poll(self) -> TailNews | None:
        """What was appended since the last poll; None when nothing was. Raises ArtifactError."""
        chunk = self.source.read(self.path, self.offset, READ_BOUND)
        if chunk.size is not None and (chunk.size < self.offset or chunk.size - self.offset > FAR_BEHIND):
            return self._restart()
        if not chunk.data:
            return None
        self.offset = chunk.end
        data = self._partial + chunk.data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < READ_BOUND:
            self._partial = data
            return None
        if cut == 0:  # one line longer than the bound: shown as it is
            cut = len(data)
        self._partial = data[cut:]
        return TailNews(data[:cut].decode("utf-8", errors="replace"), size=chunk.size)

    def _restart(self) -> TailNews:
        chunk = self.source.read(self.path, -READ_BOUND, READ_BOUND)
        self.offset, self._partial = chunk.end, b""
        return TailNews(chunk_text(chunk), restarted=True, size=chunk.size)
