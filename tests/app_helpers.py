"""Opening the app in tests: a fixed clock, and waiting until the store is loaded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.worker import WorkerState

from tests.conftest import SAMPLE, fixed_clock
from tuitrack.app.app import TuitrackApp
from tuitrack.store import open_store


def make_app(root: Path = SAMPLE) -> TuitrackApp:
    return TuitrackApp(open_store(str(root)), clock=fixed_clock)


async def settle(pilot, timeout: float = 10.0) -> None:
    """Wait until no worker runs and their messages are handled. A worker that failed fails
    the test (cancelled ones are fine: a newer one replaced them)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for _ in range(2):
        while any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers):
            assert loop.time() < deadline, "workers did not finish"
            await asyncio.sleep(0.01)
        await pilot.pause()
    failed = [w for w in pilot.app.workers if w.state is WorkerState.ERROR]
    assert not failed, [w.error for w in failed]


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (modal screens over the ones behind)."""
    import io

    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
