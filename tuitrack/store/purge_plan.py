"""One purge step for every store: plan what goes (and what stays, and why), show it, execute it.

A purge must never reach past the runs it purges. An `artifact_uri` is untrusted text: it may name
the store root, an experiment folder, another run's folder or artifacts, a folder above any of
those, a path another run names too, or a relative path. So a store first builds a `PurgePlan`
from the whole store: each path that goes, with the exact bytes it frees (hard-linked files counted
once, and only when every link goes), and each path left in place with the reason. The plan is
shown, and executing it removes exactly those paths, each checked again just before: still the
same file, still reached without a symlink on the way (a symlink itself is unlinked, never
followed).

Format-neutral: the file store, the SQLite store, entrenar and fetch_ml each say what their runs'
own places are and what must be protected (a `Guard`); planning and removing are here.
"""

from __future__ import annotations

import bisect
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from tuitrack.store.base import PurgeResult

RELATIVE = "a relative URI: tuitrack resolves nothing against the working directory"


def local_path(uri: str | None) -> tuple[str | None, str | None]:
    """(absolute path, None) for a local artifact URI; (None, why not) otherwise; (None, None)
    when there is no URI at all."""
    if not uri:
        return None, None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None, f"names another machine ({parsed.netloc})"
        path = unquote(parsed.path)
    elif parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = uri
    else:
        return None, "not a local path"
    if "\x00" in path or not path:
        return None, "not a valid path"
    if not os.path.isabs(path):
        return None, RELATIVE
    return path, None


def canonical(path: str, cache: dict[str, str] | None = None) -> str:
    """Where `path` really is, without following its last part: the folders above it resolved
    (so a symlinked folder on the way cannot hide the store root), the last name kept, so that a
    symlink is seen as one. A trailing slash is dropped (it would make the OS follow a link).
    `cache` keeps resolved folders between calls: a plan resolves thousands of sibling paths."""
    path = path.rstrip(os.sep) or os.sep
    head, name = os.path.split(path)
    if name in ("", ".", ".."):
        return os.path.realpath(path)
    return os.path.join(_real_folder(head, {} if cache is None else cache), name)


def _real_folder(folder: str, cache: dict[str, str]) -> str:
    """os.path.realpath(folder), one lstat per folder not seen before."""
    real = cache.get(folder)
    if real is None:
        parent, name = os.path.split(folder)
        if name in ("", ".", ".."):
            real = os.path.realpath(folder)
        else:
            joined = os.path.join(_real_folder(parent, cache), name)
            real = os.path.realpath(joined) if os.path.islink(joined) else joined
        cache[folder] = real
    return real


def is_within(path: str, folder: str) -> bool:
    """`path` is `folder` or below it (both canonical)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def experiment_owner(experiment_id: str) -> str:
    """The owner a guard gives what belongs to an experiment (run ids own their runs' paths)."""
    return "experiment:" + experiment_id


class Guard:
    """Paths a purge must not take: each with what it is and whom it belongs to.

    A candidate is refused when it is a protected path or holds one (an ancestor), unless it
    belongs to the owner; `inner` paths also refuse what lies inside them (another run's folder:
    nothing in it is this run's to take).
    """

    def __init__(self, root: str):
        self.cache: dict[str, str] = {}  # resolved folders, shared by every path of the plan
        self.root = canonical(root, self.cache)
        self._labels: dict[str, list[tuple[str, str | None, bool]]] = {}
        self._sorted: list[str] | None = None

    def protect(self, path: str | None, label: str, owner: str | None = None, inner: bool = False) -> None:
        if not path:
            return
        self._labels.setdefault(self.canonical(path), []).append((label, owner, inner))
        self._sorted = None

    def canonical(self, path: str) -> str:
        return canonical(path, self.cache)

    def protect_uri(self, uri: str | None, label: str, owner: str | None = None, inner: bool = True) -> None:
        path, _ = local_path(uri)
        self.protect(path, label, owner, inner)

    def holds(self, path: str, owners: set[str]) -> str | None:
        """Why `path` (canonical) must stay because it is, or holds, something protected."""
        if self._sorted is None:
            self._sorted = sorted(self._labels)
        for label, owner, _ in self._labels.get(path, ()):
            if owner not in owners:
                return f"it is {label}"
        prefix = path.rstrip(os.sep) + os.sep
        start = bisect.bisect_left(self._sorted, prefix)
        for other in self._sorted[start:]:
            if not other.startswith(prefix):
                break
            for label, owner, _ in self._labels[other]:
                if owner not in owners:
                    return f"it holds {label}"
        return None

    def within(self, path: str, owners: set[str]) -> str | None:
        """Why `path` must stay because it lies inside something that is not the owner's."""
        folder = os.path.dirname(path)
        while True:
            for label, owner, inner in self._labels.get(folder, ()):
                if inner and owner not in owners:
                    return f"it is inside {label}"
            parent = os.path.dirname(folder)
            if parent == folder:
                return None
            folder = parent

    def refuse_artifacts(self, path: str, owners: set[str]) -> str | None:
        """Why a run's artifact location (canonical) stays, or None when it is the run's alone."""
        if not is_within(path, self.root):
            return "it is outside the store"
        if path == self.root:
            return "it is the store root"
        return self.holds(path, owners) or self.within(path, owners)


@dataclass
class Removal:
    """One path a purge removes: a folder (with all in it), a file, or a symlink (unlinked)."""

    path: str
    what: str  # "run folder", "artifacts", "experiment folder", "run record"
    is_link: bool
    identity: tuple[int, int]  # (st_dev, st_ino) when planned: removed only if still the same
    bytes: int = 0

    def to_json(self) -> dict:
        return {"path": self.path, "what": self.what, "symlink": self.is_link, "bytes": self.bytes}


@dataclass
class Kept:
    """A place the purge leaves where it is, and why."""

    place: str
    why: str

    def __str__(self) -> str:
        return f"{self.place} left in place: {self.why}"

    def to_json(self) -> dict:
        return {"path": self.place, "why": self.why}


@dataclass
class Target:
    """One run or experiment of a plan: what of it goes and what stays."""

    kind: str  # "run" or "experiment"
    id: str
    name: str
    experiment_id: str = ""
    run_ids: list[str] = field(default_factory=list)  # an experiment's runs, which go with it
    stays: bool = False  # its own place is kept (see `kept`): nothing of it is purged
    removals: list[Removal] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.removals)

    def to_json(self) -> dict:
        out = {"kind": self.kind, "id": self.id, "name": self.name, "purged": not self.stays}
        if self.kind == "run":
            out["experiment_id"] = self.experiment_id
        else:
            out["run_ids"] = self.run_ids
        out.update(bytes=self.bytes, removes=[r.to_json() for r in self.removals],
                   kept=[k.to_json() for k in self.kept])
        return out


@dataclass
class PurgePlan:
    """Everything a purge will do, computed before anyone is asked."""

    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # besides paths: e.g. "database rows"

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.targets)

    @property
    def kept(self) -> list[tuple[Target, Kept]]:
        return [(t, k) for t in self.targets for k in t.kept]

    def purged(self) -> list[Target]:
        """The targets that go (those whose own place is kept stay whole)."""
        return [t for t in self.targets if not t.stays]

    def runs(self) -> list[Target]:
        return [t for t in self.targets if t.kind == "run"]

    def experiments(self) -> list[Target]:
        return [t for t in self.targets if t.kind == "experiment"]

    def kept_lines(self) -> list[str]:
        """One line per place left in place, for the CLI and the app's dialog."""
        return [f"{t.kind} {t.name or t.id[:8]}: {k}" for t, k in self.kept]

    def to_json(self) -> dict:
        return {"bytes": self.bytes, "runs": [t.to_json() for t in self.runs()],
                "experiments": [t.to_json() for t in self.experiments()]}


# -- planning --------------------------------------------------------------------------------------


def plan_removal(target: Target, path: str, what: str) -> Removal | None:
    """Add `path` (canonical) to the target's removals if it exists; a symlink is a link."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    removal = Removal(path, what, stat.S_ISLNK(st.st_mode), (st.st_dev, st.st_ino))
    target.removals.append(removal)
    return removal


def plan_artifacts(guard: Guard, target: Target, run_id: str, uri: str | None, owners: set[str],
                   within: str | None = None) -> None:
    """A run's artifact location: removed when it is the run's alone, else kept with the reason.
    Nothing when it lies in `within` (a folder that goes anyway) or does not exist."""
    what = "artifacts" if target.id == run_id else f"artifacts of run {run_id}"
    path, why = local_path(uri)
    if path is None:
        if why:
            target.kept.append(Kept(uri or "", f"{what}: {why}"))
        return
    place = guard.canonical(path)
    if (within is not None and is_within(place, within)) or not os.path.lexists(place):
        return
    why = guard.refuse_artifacts(place, owners)
    if why:
        target.kept.append(Kept(place, f"{what}: {why}"))
    else:
        plan_removal(target, place, "artifacts")


def measure(plan: PurgePlan) -> None:
    """Fill in each removal's bytes: disk blocks freed, like `du`, symlinks not followed. A file
    with hard links is freed only if every link goes: its blocks count once, and only then."""
    seen: dict[tuple[int, int], list] = {}  # inode -> [links seen, nlink, blocks, first removal]
    for target in plan.targets:
        for removal in target.removals:
            removal.bytes = 0
            for st in _walk_lstat(removal.path):
                if stat.S_ISDIR(st.st_mode):
                    removal.bytes += st.st_blocks * 512
                    continue
                entry = seen.get((st.st_dev, st.st_ino))
                if entry is None:
                    seen[(st.st_dev, st.st_ino)] = [1, st.st_nlink, st.st_blocks * 512, removal]
                else:
                    entry[0] += 1
    for links, nlink, size, removal in seen.values():
        if links >= nlink:
            removal.bytes += size


def disk_bytes(path: str | os.PathLike[str]) -> int:
    """Disk blocks under `path`, like `du`: symlinks counted as themselves, never followed."""
    return sum(st.st_blocks * 512 for st in _walk_lstat(os.fspath(path)))


def _walk_lstat(path: str) -> Iterable[os.stat_result]:
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            st = os.lstat(current)
        except OSError:
            continue
        yield st
        if stat.S_ISDIR(st.st_mode):
            try:
                with os.scandir(current) as entries:
                    stack.extend(e.path for e in entries)
            except OSError:
                continue


# -- executing -------------------------------------------------------------------------------------


def remove(removal: Removal, result: PurgeResult) -> bool:
    """Remove exactly what was planned, checked again first: the same file (not replaced since,
    say by a symlink), reached through no symlink. Anything else is left and said."""
    head = os.path.dirname(removal.path)
    try:
        st = os.lstat(removal.path)
    except FileNotFoundError:
        return True  # gone meanwhile: nothing to free
    except OSError as exc:
        result.warnings.append(f"{removal.path}: cannot check it ({exc.strerror or exc}): left in place")
        return False
    if (st.st_dev, st.st_ino) != removal.identity or stat.S_ISLNK(st.st_mode) != removal.is_link:
        result.warnings.append(f"{removal.path} changed since the plan: left in place")
        return False
    if os.path.realpath(head) != head:
        result.warnings.append(f"{removal.path} is now reached through a symlink: left in place")
        return False
    try:
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(removal.path)  # unlinks symlinks inside, never follows them
        else:
            os.unlink(removal.path)
    except OSError as exc:
        result.warnings.append(f"{removal.path}: cannot remove it ({exc.strerror or exc})")
        return False
    result.bytes_freed += removal.bytes
    if removal.is_link:
        result.warnings.append(f"{removal.path} was a symlink: removed the link, not its target")
    return True


def execute(plan: PurgePlan, still_deleted: Callable[[Target], None],
            forget: Callable[[Target, PurgeResult], bool] | None = None) -> PurgeResult:
    """Carry out `plan`. `still_deleted` raises (ChangeRefused) for a target that is no longer
    deleted, checked for every target before anything is removed; `forget` removes what is not
    a path (database rows) after a target's paths, returning False when it could not."""
    for target in plan.targets:
        still_deleted(target)
    result = PurgeResult()
    result.warnings.extend(plan.kept_lines())
    for target in plan.targets:
        if target.stays:
            continue
        removed = all([remove(r, result) for r in target.removals])
        if removed and (forget is None or forget(target, result)):
            result.removed.append(target.id)
    return result


# -- stores where each run is one place of its own (entrenar's record, fetch_ml's commit folder) --


def plan_own_places(root: str, runs: Iterable, place_of: Callable, what: str) -> PurgePlan:
    """Each run's one file or folder, when it sits directly in the store's folder."""
    root = canonical(root)
    plan = PurgePlan()
    for run in runs:
        target = Target("run", run.run_id, run.run_name, run.experiment_id)
        place = place_of(run)
        path = canonical(place) if place else ""
        if not path or os.path.dirname(path) != root or os.path.basename(path).startswith("."):
            target.kept.append(Kept(place or repr(run.run_id), "it is not a run's place directly in the store"))
            target.stays = True
        else:
            plan_removal(target, path, what)
        plan.targets.append(target)
    measure(plan)
    return plan


def check_run_deleted(find_run: Callable, target: Target) -> None:
    """Read the run again: a purge goes ahead only for a run still deleted (or already gone)."""
    from tuitrack.store.base import RunNotFound
    from tuitrack.store.mlflow_rules import ChangeRefused

    try:
        run = find_run(target.id)
    except RunNotFound:
        return
    if not run.is_deleted:
        raise ChangeRefused(f"run {target.id} is not deleted; delete it first")
