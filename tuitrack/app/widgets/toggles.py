"""Checkboxes that read without colour.

Textual draws an on and an off checkbox with the same `X`, told apart by colour alone: under
NO_COLOR, or on a monochrome or 16-colour terminal, every box looks ticked. These show `✓` when on
and a blank when off.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets.selection_list import SelectionType
from textual.widgets._toggle_button import ToggleButton

ON, OFF = "✓", " "


class TickBox(Checkbox):
    """A Checkbox whose box holds a tick when it is on."""

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 (Textual's name for the box's inside)
        return ON if self.value else OFF


class TickList(SelectionList[SelectionType]):
    """A SelectionList whose boxes hold a tick for the selected options."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 3 or segments[1].text != ToggleButton.BUTTON_INNER:
            return strip
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except Exception:  # no option on this line
            return strip
        inner = ON if selection.value in self._selected else OFF
        segments[1] = Segment(inner, segments[1].style)
        return Strip(segments, strip.cell_length)
