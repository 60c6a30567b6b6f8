"""A second process for a big listing through the read cache: it works through the run folders
from the other end while the listing works from its own, and tells what it found.

On two cores a listing bound by system calls on small files gains a core (a 50,000-run store's
first open reads 700,000 files; its next open makes 900,000 `lstat` calls). Threads cannot give
that (each call takes the GIL back); forked workers are not for a process with threads (the app).
So the read cache starts this module in a fresh interpreter (`helper_command`) when a listing
has HELP_FROM runs or more (read_cache.py). For each run folder, last first, it writes a record
to its stdout: the folder's key (relative to the root) and

- True: the cache's entry for it is unchanged (every stamp the same again);
- the bytes of a new entry: the run read now, stamped as the listing stamps it (read_cache.entry_of);
- None: left to the listing: a RUNNING run (checked or read just before its files are watched, so
  no point appended in between goes unseen), or one the cache does not keep (problems, racy files).

Each record is its length (4 bytes) and marshal data; the helper reads the same cache file (it
checks the digest the listing read is the one it reads). The listing uses a record that has
arrived and does the others itself: it never waits, and a helper that is slow, fails or is
killed (once the listing is done) costs nothing but its CPU.
"""

from __future__ import annotations

import json
import marshal
import os
import sys

from tuitrack.model import Experiment, Run, RunStatus
from tuitrack.store.mlflow_file import read_cache
from tuitrack.store.mlflow_file.read_cache import LENGTH, ReadCache, Stamps, entry_of, still_the_same

_BOOT = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
         "from tuitrack.store.mlflow_file.read_helper import main; main(sys.argv[2:])")


def helper_command(root: str, cache_path: str, digest: bytes | None) -> list[str]:
    """The command that starts a helper for the store at `root`, whose cache file at `cache_path`
    the listing read with this digest (None: it had none)."""
    # -I: no PYTHON* variables, no user site, not the current folder; this interpreter's own
    # sys.path instead, so that the helper imports this very tuitrack.
    return [sys.executable, "-I", "-c", _BOOT, json.dumps(sys.path), root, cache_path,
            "" if digest is None else digest.hex(), str(read_cache.RACY_NS)]


def main(argv: list[str]) -> None:
    try:
        read_cache.RACY_NS = int(argv[3])  # the listing's racy window (a test's is short)
        serve(argv[0], argv[1], bytes.fromhex(argv[2]) if argv[2] else None)
    except (OSError, ValueError, EOFError, TypeError, IndexError, KeyError):
        pass  # the listing does what it did not hear about itself
    finally:
        os._exit(0)  # no clean-up to wait for: a helper killed mid-write is fine too


def serve(root: str, cache_path: str, digest: bytes | None, out: int = 1) -> None:
    from tuitrack.store.mlflow_file.store import MlflowFileStore  # here: the module imports this one's parent

    cache = ReadCache(root, folder=os.path.dirname(cache_path), helper_cores=sys.maxsize)
    if digest is not None and (cache.path != cache_path or cache.loaded_digest() != digest):
        return  # not the file the listing read (replaced meanwhile): nothing to say
    entry = cache.entry if digest is not None else lambda key: None  # no cache: every run is read
    store = MlflowFileStore(root)
    # The reverse of the app's order (and of the runs in each): the two meet about half way.
    for experiment in sorted(store.experiments(include_deleted=True), key=Experiment.order, reverse=True):
        for name, path in reversed(store._run_folders(experiment)):
            key = store._rel(path)
            record = marshal.dumps((key, found(store, experiment, name, path, entry(key))))
            os.write(out, LENGTH.pack(len(record)) + record)  # a closed pipe (the listing is done) ends it here


def found(store, experiment, name: str, path: str, old: bytes | None):
    """What the helper tells of one run folder (the module's docstring)."""
    if old is not None:
        try:
            names, blob, fields = marshal.loads(old)[:3]
            if fields[1] == RunStatus.RUNNING.value:
                return None
            if still_the_same(path, names, blob):
                return True
        except (TypeError, ValueError, IndexError, EOFError):
            pass  # a malformed entry: read the run
    stamps = Stamps()
    run = store._read_run(experiment, path, name, stamps, with_data=True)
    if not isinstance(run, Run) or run.status is RunStatus.RUNNING:
        return None
    store._load_data_at(run, path, stamps)
    return entry_of(run, stamps)
