"""One copy of each key and short value for all runs.

50,000 runs with the same dozen params, tags and metrics would otherwise hold 50,000 copies of
each key (about 60 MiB of the index's 190 at 50,000 runs): strings read from files, or decoded
from a server's answer, are new objects each time. Interned strings also come back interned from
`marshal` (the read cache), so a run taken from the cache costs nothing here.
"""

from __future__ import annotations

import sys

from tuitrack.model import Run

SHARED_UP_TO = 64  # param and tag values this short are shared between runs (most repeat)


def shared(text):
    """The one copy of a short string (anything else as it is)."""
    return sys.intern(text) if type(text) is str and len(text) <= SHARED_UP_TO else text


def share_strings(run: Run) -> Run:
    """Share the run's ids, keys and short values in place; returns the run."""
    run.experiment_id, run.user_id = shared(run.experiment_id), shared(run.user_id)
    run.params, run.tags = _shared_values(run.params), _shared_values(run.tags)
    run.metrics = {(sys.intern(k) if type(k) is str else k): point for k, point in run.metrics.items()}
    return run


def _shared_values(values: dict) -> dict:
    # Keys are file names (at most 255 bytes) or a server's keys: interned whatever their length.
    intern, limit = sys.intern, SHARED_UP_TO
    return {(intern(k) if type(k) is str else k): (intern(v) if type(v) is str and len(v) <= limit else v)
            for k, v in values.items()}
