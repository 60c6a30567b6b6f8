"""Everything a command prints goes through `safe_text.visible`: store text quoted anywhere
(tables, plans, messages that name a run) cannot send escape sequences to the terminal.

One-line fields also make their line breaks visible where they are formatted (print_table,
`show`); this is the net under all of it. JSON stays exact: json.dumps already escapes C0
controls, and the C1 and bidi characters it leaves raw become `\\u009b`-style escapes, which
JSON reads back as the same string.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tuitrack.safe_text import visible


class VisibleWriter:
    """A text stream whose writes have control characters (but line breaks) made visible."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(visible(text, newlines=True))
        return len(text)

    def __getattr__(self, name: str):  # flush, isatty, fileno, encoding, ...: the stream's own
        return getattr(self._stream, name)


@contextmanager
def visible_output() -> Iterator[None]:
    """sys.stdout and sys.stderr made visible-only for the duration of a command."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = VisibleWriter(out), VisibleWriter(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
