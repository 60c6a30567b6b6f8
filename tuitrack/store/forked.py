"""Spreading a listing over forked worker processes, for command-line use.

Listing a big store is bound by system calls on tens of thousands of small files; two processes
on two cores nearly halve it. Fork (not spawn) keeps start-up to a few milliseconds. Only the
CLI asks for workers: a process with threads (the app) must not fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS_PER_WORKER = 200  # below this, the fork and the pickling cost more than they save


MIN_CORES = 4  # on two cores, two workers cost 30-60 % more CPU than one process, and no wall time


def default_workers() -> int:
    """How many processes a big CLI listing forks: one per core, from MIN_CORES cores up."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return cores if cores >= MIN_CORES else 1


_task: Callable | None = None  # the function forked workers run: inherited, never pickled


def _run_task(chunk):
    assert _task is not None
    return _task(chunk)


def map_chunks(fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], workers: int) -> list[R]:
    """`fn` over `items` in contiguous chunks, in `workers` forked processes; results in order.

    `fn` may be a closure: workers inherit it through fork. Only chunks and results are pickled.
    Runs in this process when there is too little work, or fork is not available.
    """
    global _task
    workers = min(workers, len(items) // MIN_ITEMS_PER_WORKER)
    if workers <= 1 or not hasattr(os, "fork"):
        return fn(items)
    import multiprocessing  # only here: it costs ~15 ms to import
    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    _task = fn
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_run_task, chunks)
    finally:
        _task = None
    return [result for part in parts for result in part]
