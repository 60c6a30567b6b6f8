"""What the plot draws for what is selected or marked: a run; for a sweep's parent that logged
no metrics itself, its child runs in its stead; for a group of runs (the grouped table), the
group, drawn as its mean curve and band.

The screens decide what is selected; this module only turns that into plot entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tuitrack.formatting import shown_name
from tuitrack.model import Run
from tuitrack.query.groups import RunGroup

MAX_CHILDREN = 64  # curves a sweep parent brings at most (its first children, as the tree orders them)


@dataclass
class Plotted:
    """One entry of the plot: `runs` is the one run, or the group's runs, whose histories it needs."""

    key: str  # the run id, or the group's id (what marks and colours are kept by)
    label: str  # store text, raw: the plot shows it as text
    runs: list[Run]
    is_group: bool = False
    start_ms: int | None = None


def for_run(run: Run, children_of: Callable[[str], list[Run]]) -> list[Plotted]:
    """The run itself, or, when it has no metrics but child runs (a sweep's parent), its
    children's curves (grandchildren too, for a child that also logged nothing), labelled so
    that the legend says whose they are: `sweep › lr=0.1`, then `› lr=0.3`, ..."""
    if run.metrics or not children_of(run.run_id):
        return [Plotted(run.run_id, shown_name(run), [run], start_ms=run.start_time)]
    out: list[Plotted] = []
    stack = list(reversed(children_of(run.run_id)))
    seen = {run.run_id}
    while stack and len(out) < MAX_CHILDREN:
        kid = stack.pop()
        if kid.run_id in seen:
            continue
        seen.add(kid.run_id)
        grandchildren = children_of(kid.run_id)
        if not kid.metrics and grandchildren:
            stack.extend(reversed(grandchildren))
            continue
        prefix = shown_name(run) + " › " if not out else "› "
        out.append(Plotted(kid.run_id, prefix + shown_name(kid), [kid], start_ms=kid.start_time))
    return out or [Plotted(run.run_id, shown_name(run), [run], start_ms=run.start_time)]


def for_group(group: RunGroup) -> Plotted:
    label = f"{group.label()} ({group.count} run{'' if group.count == 1 else 's'})"
    return Plotted(group.group_id, label, list(group.runs), is_group=True)
