"""Whether a RUNNING run still shows life, or its process probably died.

What counts is what the training wrote: its metric points (each store says when in
`Store.last_write`), never a file's time, which tuitrack's own tags, renames and undos, or a
fresh `git clone`, set to now. A parent counts its descendants' writes: a sweep's parent logs
nothing while its children train.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tuitrack.model import Run, RunStatus


def family_last_write(run_id: str, own_write: Callable[[str], int | None],
                      children_of: Callable[[str], Iterable[str]]) -> int | None:
    """The newest write (ms) of a run and all its descendants (parent links may loop: each run
    is counted once)."""
    newest: int | None = None
    seen: set[str] = set()
    pending = [run_id]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        written = own_write(current)
        if written is not None and (newest is None or written > newest):
            newest = written
        pending.extend(children_of(current))
    return newest


def is_stale(run: Run, written: int | None, now_ms: int, after_ms: int) -> bool:
    """A RUNNING run whose family wrote nothing for `after_ms` (unknown: not stale)."""
    return run.status is RunStatus.RUNNING and written is not None and now_ms - written > after_ms


def staleness_among(runs: Iterable[Run], last_write: Callable[[Run], int | None], now_ms: int,
                    after_ms: int) -> Callable[[Run], bool]:
    """`is_stale` for runs of a listing read once (`runs`, where their families are found), as
    the commands ask it (prune, delete; the app asks its index). `last_write`: `Store.last_write`."""
    by_id = {run.run_id: run for run in runs}
    children: dict[str, list[str]] = {}
    for run in by_id.values():
        if run.parent_run_id:
            children.setdefault(run.parent_run_id, []).append(run.run_id)

    def own_write(run_id: str) -> int | None:
        found = by_id.get(run_id)
        if found is None:
            return None
        return last_write(found) if found.status is RunStatus.RUNNING else found.end_time

    def stale(run: Run) -> bool:
        return is_stale(run, family_last_write(run.run_id, own_write, lambda rid: children.get(rid, ())),
                        now_ms, after_ms)

    return stale
