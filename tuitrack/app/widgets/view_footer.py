"""The main screen's footer: Textual's, with the keys of the views under the table (`1 2 3 4`,
grouped as `1234 view`) and the key of the view shown in reverse, so the footer says which view
is shown, also without colour. `1234 view` takes about the room of the `p Plot` it replaces
(at 80 columns the footer is full): the group is drawn without Textual's outer margins, and
not at all in full screen.

The footer is composed again whenever the bindings are refreshed, which the screen does on
every change of view.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class ViewFooter(Footer):
    DEFAULT_CSS = """
    ViewFooter {
        KeyGroup.-compact { padding-left: 0; margin: 0 1 0 0; }
        FooterLabel { margin: 0; }
        FooterKey.-current-view .footer-key--key { text-style: bold reverse; }
        &.-full-screen KeyGroup.-compact, &.-full-screen FooterLabel { display: none; }
    }
    """

    def __init__(self, shown_action: Callable[[], str], **kwargs) -> None:
        """`shown_action()`: the action of the binding of the view shown, `show_view('plot')`."""
        super().__init__(**kwargs)
        self.shown_action = shown_action

    def compose(self):
        shown = self.shown_action()
        # Full screen shows one view: the footer keeps its room for the keys of that view (at 80
        # columns `? Help` did not fit beside `1234 view`). The digits still work.
        self.set_class(self.screen.maximized is not None, "-full-screen")
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action == shown:
                widget.add_class("-current-view")
            yield widget
