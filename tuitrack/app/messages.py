"""Messages from the loading worker thread to the screen (post_message is thread-safe)."""

from __future__ import annotations

from textual.message import Message


class ExperimentsLoaded(Message):
    pass


class RunsLoaded(Message):
    def __init__(self, experiment_id: str) -> None:
        super().__init__()
        self.experiment_id = experiment_id


class RunDataLoaded(Message):
    def __init__(self, experiment_id: str, run_ids: list[str]) -> None:
        super().__init__()
        self.experiment_id = experiment_id
        self.run_ids = run_ids


class LoadingDone(Message):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds


class StatusNote(Message):
    """A line for the status bar from the loader (the read cache was broken, say). A message,
    not a call: it arrives after LoadingDone, which clears the note of loading."""

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note


class StoreChanged(Message):
    """The watcher applied a batch of changes to the index (see live.index.Delta)."""

    def __init__(self, delta) -> None:
        super().__init__()
        self.delta = delta


class WatchStarted(Message):
    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description


class WatchTrouble(Message):
    """Asking the store what changed failed (a server went down, a database stayed locked), or
    works again (`problem` None). Watching goes on either way."""

    def __init__(self, problem: str | None) -> None:
        super().__init__()
        self.problem = problem


class StoreGone(Message):
    """The store's folder or database is no longer there (`path`), or is there again (None)."""

    def __init__(self, path: str | None) -> None:
        super().__init__()
        self.path = path


class PlotLoaded(Message):
    """The histories for the plot are read (they are in the screen's history cache)."""

    def __init__(self, runs, available: list[str], metrics: list[str]) -> None:
        super().__init__()
        self.runs = runs
        self.available = available
        self.metrics = metrics


class SizesLoaded(Message):
    """Disk sizes of (some of) an experiment's runs are measured: `run_ids` when it says which."""

    def __init__(self, experiment_id: str, run_ids: list[str] | None = None) -> None:
        super().__init__()
        self.experiment_id = experiment_id
        self.run_ids = run_ids
