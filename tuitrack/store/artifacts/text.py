"""An artifact's bytes as text to show: decoded, a line cut at the start of a tail dropped."""

from __future__ import annotations

from tuitrack.store.artifacts.source import Chunk


def chunk_text(chunk: Chunk) -> str:
    """The chunk decoded (bad UTF-8 as U+FFFD); when it starts inside the file, from its first
    whole line (the bytes before the first line break belong to a line it does not hold whole)."""
    data = chunk.data
    if chunk.start > 0:
        cut = data.find(b"\n")
        data = data[cut + 1:] if cut >= 0 else data
    return data.decode("utf-8", errors="replace")


def last_lines(text: str, count: int) -> str:
    """The last `count` lines of `text` (a final line break does not start another line)."""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-count:]) if count > 0 else ""
