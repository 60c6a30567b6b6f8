"""Runs as families: a parent run and its nested runs, as a forest that can always be drawn.

A run names its parent in the `mlflow.parentRunId` tag, and nothing stops that tag from naming
the run itself, a run that names it back (a cycle), or a run that is not there. Every run still
has to be shown once: a run whose parent is missing is a root; a run that is its own parent is a
root; a cycle is broken at its oldest run, which becomes a root. Everything here is linear in the
number of runs and uses no recursion, so a 5,000-deep chain costs what 5,000 siblings do.

Plain Python over model objects: the app's index and tree, and prune, share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tuitrack.model import PARENT_RUN_TAG, Problem, Run


@dataclass
class Forest:
    """Runs arranged under their parents, in the order they were given."""

    roots: list[Run] = field(default_factory=list)
    children: dict[str, list[Run]] = field(default_factory=dict)  # parent run id -> its children
    parent: dict[str, str] = field(default_factory=dict)  # run id -> the parent it hangs under
    problems: dict[str, Problem] = field(default_factory=dict)  # run id -> what is wrong with its link

    def children_of(self, run: Run) -> list[Run]:
        return self.children.get(run.run_id, [])

    def root_of(self, run_id: str) -> str:
        """The root of the family `run_id` belongs to (linear overall: see `family_roots`)."""
        while run_id in self.parent:
            run_id = self.parent[run_id]
        return run_id

    def family_roots(self) -> dict[str, str]:
        """run id -> the id of its family's root, for every run, in one pass from the roots down."""
        found: dict[str, str] = {}
        for root in self.roots:
            stack = [root]
            while stack:
                run = stack.pop()
                found[run.run_id] = root.run_id
                stack.extend(self.children.get(run.run_id, ()))
        return found

    def in_order(self) -> list[Run]:
        """Every run once, each family together: a root, then its descendants depth first
        (the order the tree draws them in), so a table lists a sweep's runs under its parent."""
        out: list[Run] = []
        for root in self.roots:
            stack = [root]
            while stack:
                run = stack.pop()
                out.append(run)
                stack.extend(reversed(self.children.get(run.run_id, ())))
        return out

    def depths(self) -> dict[str, int]:
        """run id -> its depth (0 for a root), in one pass from the roots down."""
        found: dict[str, int] = {}
        for root in self.roots:
            stack = [(root, 0)]
            while stack:
                run, depth = stack.pop()
                found[run.run_id] = depth
                stack.extend((kid, depth + 1) for kid in self.children.get(run.run_id, ()))
        return found


def _age(run: Run) -> tuple[int, str]:
    return (run.start_time if run.start_time is not None else -1, run.run_id)


def _where(run: Run) -> str:
    return f"{run.experiment_id}/{run.run_id}/tags/{PARENT_RUN_TAG}"


def _name(run: Run) -> str:
    return run.run_name or run.run_id[:8]


def build_forest(runs: Iterable[Run], known_ids: set[str] | None = None) -> Forest:
    """Arrange `runs` (children keep the given order) so that every run is reachable once.

    `known_ids`: every run id of the experiment, hidden ones included. A parent outside it is
    a problem (it is gone, or in another experiment); a parent that is only hidden (deleted runs
    not shown, a filter) is not, and its children are simply shown as roots.
    """
    runs = list(runs)
    present = {r.run_id: r for r in runs}
    forest = Forest()
    linked: dict[str, str] = {}  # run id -> parent id, for parents that are present
    for run in runs:
        parent = run.parent_run_id
        if not parent:
            continue
        if parent == run.run_id:
            forest.problems[run.run_id] = Problem(
                _where(run), "names itself as its parent run; shown at the top of its experiment")
        elif parent in present:
            linked[run.run_id] = parent
        elif known_ids is not None and parent not in known_ids:
            forest.problems[run.run_id] = Problem(
                _where(run), f"its parent run {parent} is not in this experiment; shown at the top")
    # Break cycles: follow each chain of parents once, colouring runs as on the current path
    # (1) or done (2); meeting a run of the current path again closes a cycle.
    state: dict[str, int] = {}
    for run in runs:
        path: list[str] = []
        current: str | None = run.run_id
        while current is not None and state.get(current, 0) == 0:
            state[current] = 1
            path.append(current)
            current = linked.get(current)
        if current is not None and state[current] == 1:
            cycle = path[path.index(current):]
            oldest = min((present[i] for i in cycle), key=_age)
            del linked[oldest.run_id]
            names = " → ".join(_name(present[i]) for i in cycle[:6]) + (" → …" if len(cycle) > 6 else "")
            for member in cycle:
                forest.problems[member] = Problem(
                    _where(present[member]),
                    f"in a cycle of parent runs ({names} → {_name(present[cycle[0]])}); "
                    f"{_name(oldest)}, the oldest, is shown at the top")
        for member in path:
            state[member] = 2
    for run in runs:
        parent = linked.get(run.run_id)
        if parent is None:
            forest.roots.append(run)
        else:
            forest.children.setdefault(parent, []).append(run)
            forest.parent[run.run_id] = parent
    return forest
