"""Plain-text tables for the CLI, fitted to the terminal width."""

from __future__ import annotations

from collections.abc import Sequence

from tuitrack.safe_text import visible


def print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], width: int, flex: int = 0
) -> None:
    """Columns as wide as their content; column `flex` shrinks (with `…`) to fit `width`.
    Cells are store text: line breaks and control characters show as escapes (`\\n`, `\\x1b`)."""
    header = [visible(h) for h in header]
    rows = [[visible(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    overflow = sum(widths) + 2 * (len(widths) - 1) - width
    if overflow > 0:
        widths[flex] = max(len(header[flex]), widths[flex] - overflow)
    for row in [header, *rows]:
        cells = [_fit(cell, w) for cell, w in zip(row, widths)]
        print("  ".join(cells).rstrip())


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)
