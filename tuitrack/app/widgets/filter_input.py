"""The filter box: an Input whose tab completes MLflow filter text (keys, operators, values),
with the first candidate suggested inline as one types (`right` takes it, as in any Input).

A tab puts in the one candidate, or the longest prefix the candidates share; when that adds
nothing, it lists them (`CandidatesChanged`, shown by the screen under the box). Keys and values
come from the runs already in memory, gathered on a worker thread when the box gets the focus
(and again, in the background, when a tab finds them older than REFRESH_AFTER seconds): a key
press never reads the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input
from textual.worker import get_current_worker

from tuitrack.model import Run
from tuitrack.query.filter_completion import Completion, complete
from tuitrack.query.filter_vocabulary import Vocabulary, gather

REFRESH_AFTER = 10.0  # seconds: an older vocabulary is gathered again (runs come and change)


class _FirstCandidate(Suggester):
    """The first candidate for what is being typed at the end, when it extends it as typed."""

    def __init__(self, box: FilterInput) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.box = box

    async def get_suggestion(self, value: str) -> str | None:
        vocabulary = self.box.vocabulary
        found = complete(value, len(value), vocabulary) if vocabulary is not None else None
        if found is None or found.start == found.end:  # nothing typed yet: no suggestion
            return None
        suggestion = value[:found.start] + found.candidates[0]
        return suggestion if len(suggestion) > len(value) and suggestion.startswith(value) else None


def candidates_text(found: Completion) -> Text:
    """The candidates as plain text (store text is never markup), the count first so a long
    list cut at the box's width still says how many there are."""
    count = f"{found.total:,} candidates" if found.total == len(found.candidates) \
        else f"{len(found.candidates)} of {found.total:,} candidates"
    text = Text(count + ": ", style="dim")
    for i, candidate in enumerate(found.candidates):
        if i:
            text.append("  ")
        text.append(candidate)
    return text


class FilterInput(Input):
    BINDINGS = [Binding("tab", "complete", "Complete",
                        tooltip="Complete the key, operator or value (again: list the candidates)")]

    class CandidatesChanged(Message):
        """The candidates a tab listed (`None`: hide them: the text changed or the box lost focus)."""

        def __init__(self, box: FilterInput, candidates: Text | None) -> None:
            super().__init__()
            self.box = box
            self.candidates = candidates

    def __init__(self, runs: Callable[[], list[Run]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.suggester = _FirstCandidate(self)
        self.runs = runs  # the runs to complete from, a snapshot list (called on the UI thread)
        self.vocabulary: Vocabulary | None = None
        self._gathered_at = -REFRESH_AFTER

    def on_focus(self) -> None:
        self.gather_vocabulary()

    def on_blur(self) -> None:
        self.post_message(self.CandidatesChanged(self, None))

    def gather_vocabulary(self) -> None:
        self._gathered_at = time.monotonic()
        self._gather(self.runs())

    @work(thread=True, exclusive=True, group="filter-vocabulary", exit_on_error=False)
    def _gather(self, runs: list[Run]) -> None:
        vocabulary = gather(runs)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(setattr, self, "vocabulary", vocabulary)

    @on(Input.Changed)
    def _text_changed(self) -> None:  # the listed candidates were for the text before
        self.post_message(self.CandidatesChanged(self, None))

    def action_complete(self) -> None:
        if time.monotonic() - self._gathered_at > REFRESH_AFTER:
            self.gather_vocabulary()  # for the next tab; this one uses what is known
        found = complete(self.value, self.cursor_position, self.vocabulary) if self.vocabulary else None
        if found is None:
            self.app.bell()
        elif found.common is not None:
            self.value, self.cursor_position = found.applied(self.value)
        else:
            self.post_message(self.CandidatesChanged(self, candidates_text(found)))
