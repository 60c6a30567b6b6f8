"""Plain-text tables for the CLI, fitted to the terminal width."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], width: int, flex: int = 0
) -> None:
    """Columns as wide as their content; column `flex` shrinks (with `…`) to fit `width`."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    overflow = sum(widths) + 2 * (len(widths) - 1) - width
    if overflow > 0:
        widths[flex] = max(len(header[flex]), widths[flex] - overflow)
    for row in [header, *rows]:
        cells = [_fit(cell, w) for cell, w in zip(row, widths)]
        print("  ".join(cells).rstrip())


def _fit(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)
