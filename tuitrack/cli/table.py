"""Plain-text tables for the CLI, fitted to the terminal width.

Widths are terminal cells, as Rich measures them: a CJK character takes two, a combining accent
none, so columns stay aligned whatever the store's text holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len, set_cell_size

from tuitrack.safe_text import visible


def print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], width: int, flex: int = 0
) -> None:
    """Columns as wide as their content (in terminal cells); column `flex` shrinks (with `…`) to
    fit `width`. Cells are store text: line breaks and control characters show as escapes."""
    header = [visible(h) for h in header]
    rows = [[visible(cell) for cell in row] for row in rows]
    widths = [max([cell_len(h)] + [cell_len(r[i]) for r in rows]) for i, h in enumerate(header)]
    overflow = sum(widths) + 2 * (len(widths) - 1) - width
    if overflow > 0:
        widths[flex] = max(cell_len(header[flex]), widths[flex] - overflow)
    for row in [header, *rows]:
        cells = [_fit(cell, w) for cell, w in zip(row, widths)]
        print("  ".join(cells).rstrip())


def _fit(text: str, width: int) -> str:
    """`text` in exactly `width` cells: padded, or cut with `…`."""
    if cell_len(text) > width:
        return set_cell_size(text, max(0, width - 1)) + "…"
    return set_cell_size(text, width)
