"""The runs table: one row per run, a column per attribute, param and metric; sortable.

Built on Textual's Line API (`render_line` draws only the rows on screen) because the built-in
DataTable measures every cell on first paint: seconds for a few thousand runs
(shared/reference/textual-notes.md §2.2). Cell texts are computed once per data change; a key
press repaints a screenful of rows from that cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuitrack.app.columns import MAX_WIDTH, Column, cell, sort_runs
from tuitrack.app.status_look import glyph, status_component_classes, status_css, style_class
from tuitrack.model import Run
from tuitrack.safe_text import visible

GAP = 2
MAX_COLUMNS = 100  # shown at most: a run with 100,000 metrics would make each row 100,000 cells


class RunsTable(ScrollView, can_focus=True):
    """Runs of one experiment. Posts RunHighlighted as the cursor moves, RunOpened on enter."""

    HELP_TITLE = "Runs table"  # its section of `?` help

    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False),
        Binding("k,up", "cursor_up", "Up", show=False),
        Binding("h,left", "column_left", "Column left", show=False),
        Binding("l,right", "column_right", "Column right", show=False),
        Binding("g,home", "first", "First run", show=False),
        Binding("G,end", "last", "Last run", show=False),
        Binding("pagedown,ctrl+d", "page_down", "Page down", show=False),
        Binding("pageup,ctrl+u", "page_up", "Page up", show=False),
        Binding("enter", "open", "Open", group=Binding.Group("Runs")),
        Binding("s", "sort", "Sort", id="sort",
                tooltip="Sort by the highlighted column; again reverses; a third time: newest first"),
        Binding("C", "screen.choose_columns", "Columns", id="choose-columns", tooltip="Choose which columns to show"),
    ]

    COMPONENT_CLASSES = {
        "runs-table--header",
        "runs-table--header-cursor",
        "runs-table--cursor",
        "runs-table--empty",
    } | status_component_classes("runs-table")

    DEFAULT_CSS = """
    RunsTable {
        background: $surface;
        &:focus .runs-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
        .runs-table--cursor { background: $block-cursor-blurred-background; }
        .runs-table--header { color: $text-accent; text-style: bold; background: $panel; }
        .runs-table--header-cursor { color: $text-accent; text-style: bold reverse; background: $panel; }
        .runs-table--empty { color: $text-muted; }
    }
    """ + status_css("RunsTable", "runs-table")

    cursor_row: reactive[int] = reactive(0, always_update=True)
    cursor_column: reactive[int] = reactive(0)

    class RunHighlighted(Message):
        def __init__(self, run: Run | None) -> None:
            super().__init__()
            self.run = run

    class RunOpened(Message):
        def __init__(self, run: Run) -> None:
            super().__init__()
            self.run = run

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.is_stale: Callable[[Run], bool] = lambda run: False  # set by the screen
        self.is_marked: Callable[[Run], bool] = lambda run: False  # set by the screen
        self.cell_of: Callable[[Run, Column, int], str] = cell  # a grouped table's rows differ (group_rows.py)
        self.glyph_of: Callable[[Run, bool], str] = glyph
        self.leaves_out: Callable[[str], bool] = lambda metric: False  # metrics without a column by choice
        self.sort_value_of: Callable[[Run, Column, int], float | str | None] | None = None  # None: sort_value
        self.all_columns: list[Column] = []
        self._column_keys: set[str] = set()
        self.hidden: set[str] = set()
        self.columns: list[Column] = []
        self.more_columns = 0
        self.runs: list[Run] = []
        self.sort_key: str | None = None
        self.sort_descending = False
        self.empty_text = "No runs"
        self._cells: list[list[str]] = []
        self._widths: list[int] = []
        self._styles: list[str] = []
        self._stale: list[bool] = []
        self._repaint_style: Style | None = None  # the widget's style while a repaint is on

    # -- data ---------------------------------------------------------------------------------

    def set_runs(self, runs: list[Run], columns: list[Column], keep_run_id: str | None = None) -> None:
        """Show `runs` (in their given order unless a sort is set) with `columns` (minus hidden)."""
        keep = keep_run_id or (self.highlighted_run.run_id if self.highlighted_run else None)
        self.all_columns = columns
        self._column_keys = {c.key for c in columns}  # what update_rows can show without a new column
        shown = [c for c in columns if c.key not in self.hidden]
        self.columns = shown[:MAX_COLUMNS]
        self.more_columns = len(shown) - len(self.columns)  # said in the header: C chooses
        if self.sort_key and not any(c.key == self.sort_key for c in self.columns):
            self.sort_key = None
        before = self.runs[0].experiment_id if self.runs else None
        self.runs = list(runs)
        self._apply_sort()
        self._compute_cells()
        self.cursor_column = min(self.cursor_column, max(0, len(self.columns) - 1))
        index = next((i for i, r in enumerate(self.runs) if r.run_id == keep), None)
        if index is None and before != (self.runs[0].experiment_id if self.runs else None):
            index = 0  # another experiment's runs: from the top, not at the row the last one was on
        self.cursor_row = index if index is not None else min(self.cursor_row, max(0, len(self.runs) - 1))
        self.refresh()

    def update_rows(self, runs: list[Run]) -> bool:
        """Show new copies of runs the table shows (a training run logged points), computing
        only their rows. False when the whole table has to be set again instead: a run it does
        not show, a key it has no column for, or a sort their new values could change. A
        store that 20 scripts write to changes a few runs per batch; the table has thousands."""
        if self.sort_key is not None:
            return False
        rows = {r.run_id: i for i, r in enumerate(self.runs)}
        keys = self._column_keys
        if any(r.run_id not in rows or any(f"metric:{k}" not in keys and not self.leaves_out(k) for k in r.metrics)
               or any(f"param:{k}" not in keys for k in r.params) for r in runs):
            return False
        now = int(self.clock() * 1000)
        status_at = next((i for i, c in enumerate(self.columns) if c.key == "status"), None)
        widened, changed = False, []
        for run in runs:
            row = rows[run.run_id]
            self.runs[row] = run
            cells = [visible(self.cell_of(run, c, now)) for c in self.columns]
            stale = self.is_stale(run)
            if stale and status_at is not None:
                cells[status_at] = "running (stale)"
            self._cells[row], self._stale[row], self._styles[row] = cells, stale, style_class(run, stale)
            changed.append(row)
            for index, text in enumerate(cells):  # columns widen for a longer value, never narrow here
                wanted = min(MAX_WIDTH, len(text)) + (3 if index == 0 else 0)
                if wanted > self._widths[index]:
                    self._widths[index] = wanted
                    widened = True
        total = sum(self._widths) + GAP * len(self._widths) + (len(self._more_note()) if self.more_columns else 0)
        if total != self.virtual_size.width:
            self.virtual_size = Size(total, len(self.runs) + 1)
        if widened:
            self.refresh()  # every row's cells move
        else:
            self._refresh_rows(changed)
        return True

    def stale_changed(self, runs: list[Run]) -> list[Run]:
        """Those of `runs` the table shows whose row does not say what their staleness is now."""
        rows = {r.run_id: i for i, r in enumerate(self.runs)}
        return [r for r in runs if r.run_id in rows and self._stale[rows[r.run_id]] != self.is_stale(r)]

    def _refresh_rows(self, rows: list[int]) -> None:
        """Repaint only these rows, if on screen: a batch of points changes a row or two, and
        painting every row of the screen each batch was most of the UI thread's CPU."""
        top, height = self.scroll_offset.y, self.size.height - 1  # the header takes the first line
        for row in rows:
            if top <= row < top + height:
                self.refresh_line(row + 1)

    def recompute(self, keys: frozenset[str] | None = None) -> None:
        """Compute the cells again (of the columns with these `keys`, e.g. CLOCK_COLUMNS: ages,
        running durations, staleness) without changing rows or order."""
        self._compute_cells(None if keys is None else [i for i, c in enumerate(self.columns) if c.key in keys])
        self.refresh()

    def set_hidden(self, hidden: set[str]) -> None:
        self.hidden = set(hidden)
        self.set_runs(self.runs, self.all_columns)

    def _apply_sort(self) -> None:
        column = next((c for c in self.columns if c.key == self.sort_key), None)
        if column is not None:
            self.runs = sort_runs(self.runs, column, self.sort_descending, int(self.clock() * 1000),
                                  self.sort_value_of)

    def _compute_cells(self, only: list[int] | None = None) -> None:
        """Every cell, or the cells of the columns at `only` (the others are as they were)."""
        now = int(self.clock() * 1000)
        columns = self.columns
        if only is None:
            self._cells = [[visible(self.cell_of(run, c, now)) for c in columns] for run in self.runs]
        else:
            for run, row in zip(self.runs, self._cells):
                for index in only:
                    row[index] = visible(self.cell_of(run, columns[index], now))
        stale = [self.is_stale(run) for run in self.runs]
        status_at = next((i for i, c in enumerate(columns) if c.key == "status"), None)
        if status_at is not None:
            for row, is_stale in zip(self._cells, stale):
                if is_stale:
                    row[status_at] = "running (stale)"
        self._stale = stale
        self._styles = [style_class(run, s) for run, s in zip(self.runs, stale)]
        widths = self._widths if only is not None else [0] * len(columns)
        for index in range(len(columns)) if only is None else only:
            longest = max((len(row[index]) for row in self._cells), default=0)
            widths[index] = min(MAX_WIDTH, max(len(visible(columns[index].label)) + 2, longest))
            if index == 0:
                widths[0] += 3  # the mark and the status glyph before the name
        self._widths = widths
        total = sum(widths) + GAP * len(widths) + (len(self._more_note()) if self.more_columns else 0)
        self.virtual_size = Size(total, len(self.runs) + 1)

    @property
    def highlighted_run(self) -> Run | None:
        if 0 <= self.cursor_row < len(self.runs):
            return self.runs[self.cursor_row]
        return None

    def select_run_id(self, run_id: str) -> bool:
        for index, run in enumerate(self.runs):
            if run.run_id == run_id:
                if index != self.cursor_row:
                    self.cursor_row = index
                return True
        return False

    # -- cursor -------------------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.RunHighlighted(self.highlighted_run))

    def _frozen_width(self) -> int:
        """Cells the first column (the name) keeps at the left however far the table scrolls."""
        if not self._widths:
            return 0
        return min(self._widths[0] + GAP, self.size.width // 2)

    def _column_starts(self) -> list[int]:
        """Where each column starts in a drawn line (its gap follows it)."""
        starts, at = [], 0
        for width in self._widths:
            starts.append(at)
            at += width + GAP
        return starts

    def watch_cursor_column(self) -> None:
        if self.cursor_column == 0 or not self._widths:
            self.scroll_to(x=0, animate=False)
        else:
            # The scrolled part of a line begins at the frozen width plus scroll_x: it is scrolled
            # so that a column starts there, never to the middle of one (a number cut on its left,
            # 0.98988 as "988", reads as another number).
            frozen = self._frozen_width()
            offsets = [start - frozen for start in self._column_starts()[1:]]  # column i + 1 at the edge
            left, width = offsets[self.cursor_column - 1], self._widths[self.cursor_column]
            visible = max(1, self.size.width - frozen)
            x = self.scroll_x
            if left < x:
                x = left
            elif left + width > x + visible:
                x = next(o for o in offsets if o >= min(left, left + width - visible))
            self.scroll_to(x=max(0, x), animate=False)
        self.refresh()

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.size.height - 1)  # minus the header
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def _move(self, delta: int) -> None:
        if self.runs:
            self.cursor_row = max(0, min(len(self.runs) - 1, self.cursor_row + delta))

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_page_down(self) -> None:
        self._move(max(1, self.size.height - 2))

    def action_page_up(self) -> None:
        self._move(-max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._move(-len(self.runs))

    def action_last(self) -> None:
        self._move(len(self.runs))

    def action_column_left(self) -> None:
        self.cursor_column = max(0, self.cursor_column - 1)

    def action_column_right(self) -> None:
        self.cursor_column = min(max(0, len(self.columns) - 1), self.cursor_column + 1)

    def action_open(self) -> None:
        run = self.highlighted_run
        if run is not None:
            self.post_message(self.RunOpened(run))

    def action_sort(self) -> None:
        """Sort by the highlighted column; again reverses; a third time goes back to newest first."""
        if not self.columns:
            return
        key = self.columns[self.cursor_column].key
        if self.sort_key != key:
            self.sort_key, self.sort_descending = key, self.columns[self.cursor_column].numeric
        elif self.sort_descending == self.columns[self.cursor_column].numeric:
            self.sort_descending = not self.sort_descending
        else:
            self.sort_key = None
        self.set_runs(sorted(self.runs, key=lambda r: (r.start_time or 0, r.run_id), reverse=True), self.all_columns)
        label = self.columns[self.cursor_column].label
        if self.sort_key is None:
            self.notify("Sorted by start time, newest first", timeout=2)
        else:
            self.notify(f"Sorted by {label}, {'descending' if self.sort_descending else 'ascending'}", timeout=2)

    # -- drawing ------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's style walks every ancestor's styles: once per repaint, not twice per row.
        self._repaint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._repaint_style = None

    def _base_style(self) -> Style:
        return self._repaint_style if self._repaint_style is not None else self.rich_style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if not self.columns:
            return Strip.blank(width, self._base_style())
        if y == 0:
            header = self.get_component_rich_style("runs-table--header")
            return self._scrolled(self._header(), scroll_x, width, header).extend_cell_length(width, header)
        index = scroll_y + y - 1
        if index >= len(self.runs):
            if index == 0:
                style = self.get_component_rich_style("runs-table--empty")
                return Strip([Segment(" " + self.empty_text, style)]).extend_cell_length(width, self._base_style())
            return Strip.blank(width, self._base_style())
        base = self._row_base_style(index)
        return self._scrolled(self._row(index), scroll_x, width, base).extend_cell_length(width, base)

    def _scrolled(self, line: Strip, scroll_x: int, width: int, style: Style) -> Strip:
        """The name column where it is, the rest of the line scrolled: `l` never hides the name.
        A column the edges cut (scrolled by the mouse, or the last one on screen) is left blank:
        part of a value is another value."""
        frozen = self._frozen_width()
        low, high = frozen + scroll_x, scroll_x + width  # the part of the line shown right of the name
        parts = [line.crop(0, frozen)]
        at = low
        for start, column_width in zip(self._column_starts()[1:], self._widths[1:]):
            end = start + column_width
            if end <= low or start >= high:
                continue
            if start < low or end > high:  # cut: what is shown of it, blank
                parts.append(line.crop(at, max(at, start)))
                cut_end = min(end, high)
                parts.append(Strip.blank(cut_end - max(start, low), style))
                at = cut_end
        parts.append(line.crop(at, high))
        return Strip.join(parts)

    def _row_base_style(self, index: int) -> Style:
        if index == self.cursor_row:
            return self.get_component_rich_style("runs-table--cursor")
        return self._base_style()

    def _header(self) -> Strip:
        base = self.get_component_rich_style("runs-table--header")
        current = self.get_component_rich_style("runs-table--header-cursor")
        segments = []
        for i, (column, width) in enumerate(zip(self.columns, self._widths)):
            label = visible(column.label)
            if column.key == self.sort_key:
                label += " ▼" if self.sort_descending else " ▲"
            text = _fit(label, width, column.numeric)
            segments.append(Segment(text, current if i == self.cursor_column and self.has_focus else base))
            segments.append(Segment(" " * GAP, base))
        if self.more_columns:
            segments.append(Segment(self._more_note(), base + Style(italic=True)))
        return Strip(segments)

    def _more_note(self) -> str:
        return f"+{self.more_columns:,} more columns (C chooses)"

    def _row(self, index: int) -> Strip:
        run = self.runs[index]
        base = self._row_base_style(index)
        # On the cursor row the cursor's colours win: status colours on the cursor background
        # are unreadable. The glyph still says the status.
        status = base if index == self.cursor_row else base + self._status_colour(self._styles[index])
        mark = "▌" if self.is_marked(run) else " "
        segments = [Segment(mark, base + Style(reverse=True, bold=True) if mark != " " else base),
                    Segment(self.glyph_of(run, self._stale[index]) + " ", status)]
        for i, (text, width) in enumerate(zip(self._cells[index], self._widths)):
            column = self.columns[i]
            if i == 0:
                width -= 3
            style = status if column.key == "status" or (i == 0 and run.is_deleted) else base
            segments.append(Segment(_fit(text, width, column.numeric), style))
            segments.append(Segment(" " * GAP, base))
        return Strip(segments)


    def _status_colour(self, name: str) -> Style:
        """Only the foreground of a status class (resolved against this widget's background)."""
        style = self.get_component_rich_style(f"runs-table--{name}")
        return Style(color=style.color, bold=style.bold)


def _fit(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.rjust(width) if right else text.ljust(width)
