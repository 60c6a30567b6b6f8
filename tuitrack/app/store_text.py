"""Store text for Textual and Rich: never markup, control characters made visible.

Rich and Textual read a plain `str` as markup in most places (Static, Label, Table cells,
DataTable cells, OptionList prompts, border titles, the palette's help): `[/]` in a run name
would crash the app, `[@click=...]` would make it a live link. Everything that shows store
text builds it with these instead.
"""

from __future__ import annotations

from rich.markdown import Markdown
from rich.style import Style
from rich.text import Text
from textual.content import Content

from tuitrack.safe_text import visible


def store_text(text: str, style: str | Style = "", newlines: bool = False) -> Text:
    """A Rich `Text` of `text` as typed (escapes made visible; real newlines kept if asked)."""
    return Text(visible(text, newlines), style=style)


def store_content(text: str) -> Content:
    """The same as Textual `Content`, for the places that take only Content or markup."""
    return Content(visible(text))


def store_markdown(text: str) -> Markdown:
    """A note as MLflow's UI shows it, rendered Markdown: headings, lists, emphasis, code. Its
    escapes are made visible first, and a link shows its address instead of becoming a live
    one (the terminal would open whatever the store says)."""
    return Markdown(visible(text, newlines=True), hyperlinks=False)
