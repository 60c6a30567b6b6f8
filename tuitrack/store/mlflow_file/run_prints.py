"""A run folder's fingerprint for the sweep (live/sweep.py): the stamps of every file and folder
that a read of the run stamps (meta.yaml, and params/, tags/, metrics/ with all they hold).

The folders alone are not enough. MLflow writes a tag, a param and a metric point into the file
in place (truncate and write, or append), which changes the file and not its folder. So another
tool that re-tags a finished run, or logs one more point to it, would go unseen in a store too big
to be watched whole.

The names are remembered between sweeps, so an unchanged run costs a stat of each (in C-level
loops, as the read cache checks a run), not a walk. A new key changes its folder's stamp, and a
run whose stamps differ is walked again. The listing's stamps give the first names and hashes, so
the first sweep needs no walk.
"""

from __future__ import annotations

import os
from array import array

from tuitrack.store.base import stat_key
from tuitrack.store.mlflow_file.files import walk_keys
from tuitrack.store.mlflow_file.read_cache import MAX_STAMPS, stamps_now

META = "meta.yaml"
KINDS = ("params", "tags", "metrics")  # in the order a read stamps them (store._load_data_at)
MAX_SHAPES = 1_000  # distinct lists of names kept shared; past this, they are not shared


class RunPrints:
    """Fingerprints of run folders, and the names each was taken from (the last walk's)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, int]] = {}  # run folder -> (its names, its last hash)
        self._shapes: dict[str, str] = {}  # most runs have the same names: one string for them

    def recorded(self, run_path: str, names: str | list[str], numbers: bytes | array) -> int:
        """The fingerprint of a run from the stamps its read was made or checked by (the listing:
        taken before its files were read, so a change after them differs)."""
        joined = names if isinstance(names, str) else "\0".join(names)
        print_ = hash(numbers if isinstance(numbers, bytes) else numbers.tobytes())
        self._known[run_path] = (self._shared(joined), print_)
        return print_

    def sweep(self, run_paths: list[str]) -> dict[str, int]:
        """The fingerprint of each run folder now; the names of runs no longer there are let go."""
        known, self._known = self._known, {}
        return {path: self._now(path, known.get(path)) for path in run_paths}

    def _now(self, path: str, known: tuple[str, int] | None) -> int:
        if known is not None:
            now = stamps_now(path, known[0])
            if now is not None and hash(now) == known[1]:
                self._known[path] = known
                return known[1]
        names = self._walk(path)
        now = None if names is None else stamps_now(path, names)
        if now is None:  # too many files, or a time before 1970: its folders' stamps, walked each time
            return hash(tuple(stat_key(os.path.join(path, part)) for part in (META, *KINDS)))
        print_ = hash(now)
        self._known[path] = (self._shared(names), print_)
        return print_

    @staticmethod
    def _walk(path: str) -> str | None:
        """The names a read of the run stamps, as they are now; None past MAX_STAMPS."""
        names = [META]
        for kind in KINDS:
            walk = walk_keys(os.path.join(path, kind), [],
                             lambda sub, _st, kind=kind: names.append(kind + "/" + sub if sub else kind))
            for key, _fd, _name in walk:
                names.append(kind + "/" + key)
                if len(names) > MAX_STAMPS:
                    walk.close()  # its folders' descriptors closed now
                    return None
        return "\0".join(names)

    def _shared(self, names: str) -> str:
        shared = self._shapes.get(names)
        if shared is None:
            if len(self._shapes) >= MAX_SHAPES:
                return names
            shared = self._shapes[names] = names
        return shared
