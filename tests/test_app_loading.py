"""Loading a store larger than one chunk of the loader (live/loading.DATA_CHUNK runs): the table of the
experiment on screen is filled chunk by chunk, each chunk's rows only, and ends with every run's
data as a full refresh would show it."""

from __future__ import annotations

import gc

import pytest

from tests.app_helpers import make_app, settle
from tests.hostile_shapes import add_run, new_store
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.live.loading import DATA_CHUNK

RUNS = DATA_CHUNK * 2 + 50


def big_experiment(root):
    experiment = new_store(root, "big")
    for i in range(RUNS):
        run = add_run(experiment, i, f"run-{i}")
        (run / "params" / "width").write_text(str(i))
        (run / "metrics" / "acc").write_text(f"{1_790_000_000_000 + i} {i + 0.5} 0\n")
    return root


async def test_every_row_has_its_data_once_loaded_chunk_by_chunk(tmp_path, monkeypatch):
    incremental = []
    update_rows = RunsTable.update_rows

    def spy(table, runs):
        done = update_rows(table, runs)
        incremental.append(done)
        return done

    monkeypatch.setattr(RunsTable, "update_rows", spy)
    monkeypatch.setattr("tuitrack.live.loading.TELL_EVERY_S", 0.0)  # told of every chunk
    app = make_app(big_experiment(tmp_path / "store"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunsTable)
        shown = table._cells
        full = [list(row) for row in shown]
        widths = list(table._widths)
        table.set_runs(table.runs, table.all_columns)  # what one full refresh computes
        assert len(full) == RUNS
        assert incremental.count(True) >= 2  # the chunks after the first (which brings the columns)
        assert full == table._cells
        assert widths == table._widths  # the widest value (the last chunk's) widened its column
        keys = [c.key for c in table.columns]
        acc, width = keys.index("metric:acc"), keys.index("param:width")
        by_name = {row[0]: row for row in full}
        assert by_name[f"run-{RUNS - 1}"][width] == str(RUNS - 1)
        assert by_name[f"run-{RUNS - 1}"][acc] == f"{RUNS - 1}.5"


@pytest.mark.parametrize("tell_every_s, told_sizes", [
    (0.0, [DATA_CHUNK, DATA_CHUNK, RUNS - 2 * DATA_CHUNK]),  # told of every chunk
    (3600.0, [DATA_CHUNK, RUNS - DATA_CHUNK]),  # of the first at once, of the rest at the end
])
def test_the_loader_tells_in_order_and_serves_the_experiment_asked_for_first(tmp_path, monkeypatch,
                                                                             tell_every_s, told_sizes):
    """live/loading.py without a screen: experiments, then each experiment's runs, then their data
    in chunks (the experiment asked for first), then done, then the disk sizes. The screen is told
    of an experiment's first chunk at once, then at most every TELL_EVERY_S, and at its end."""
    import threading

    from tuitrack.live.index import RunIndex
    from tuitrack.live.loading import LoadListener, StoreLoader
    from tuitrack.store import open_store

    monkeypatch.setattr("tuitrack.live.loading.TELL_EVERY_S", tell_every_s)
    root = big_experiment(tmp_path / "store")
    told: list[tuple] = []
    collecting: list[bool] = []  # whether garbage collection ran while the runs were read
    index = RunIndex(open_store(str(root)))
    loader = StoreLoader(index, None, LoadListener(
        experiments=lambda: (told.append(("experiments",)), loader.painted.set()),
        runs=lambda eid: told.append(("runs", eid)),
        data=lambda eid, ids: (told.append(("data", eid, len(ids))), collecting.append(gc.isenabled())),
        done=lambda seconds: told.append(("done",)),
        note=lambda note: told.append(("note", note)),
        sizes=lambda eid: told.append(("sizes", eid)),
    ))
    big = next(e.experiment_id for e in index.store.experiments() if e.name == "big")
    loader.hurry(big)
    worker = threading.Thread(target=loader.run)
    worker.start()
    worker.join(timeout=60)
    assert told[:3] == [("experiments",), ("runs", big), ("runs", "0")]
    data = [t for t in told if t[0] == "data"]
    assert data[0] == ("data", big, DATA_CHUNK)  # the experiment asked for first, chunk by chunk
    assert [n for _, eid, n in data if eid == big] == told_sizes
    assert sum(n for _, eid, n in data if eid == big) == RUNS
    done = told.index(("done",))
    assert all(t[0] != "data" for t in told[done:]) and ("sizes", big) in told[done:]
    assert all(index.has_data(r) for r in index.all_runs())
    assert collecting and not any(collecting) and gc.isenabled()  # paused for the bulk read, then on again


def test_a_cancelled_load_says_it_is_not_done(tmp_path):
    from tuitrack.live.index import RunIndex
    from tuitrack.live.loading import LoadListener, StoreLoader
    from tuitrack.store import open_store

    index = RunIndex(open_store(str(big_experiment(tmp_path / "store"))))
    told: list[str] = []
    chunks = [0]

    def data(eid, ids):
        chunks[0] += 1

    loader = StoreLoader(index, None, LoadListener(lambda: None, lambda eid: None, data,
                                                   lambda s: told.append("done"), told.append, told.append))
    loader.painted.set()
    loader.run(cancelled=lambda: chunks[0] >= 1)
    assert chunks[0] == 1 and told == []  # stopped after the first chunk: no "done", no sizes


def test_a_hurry_between_chunks_tells_what_was_read_and_serves_the_other_first(tmp_path, monkeypatch):
    """The user moves to another experiment while one's data is read: the runs read so far are told
    before the loader turns to it (however long since the screen was last told), every run once."""
    from tuitrack.live.index import RunIndex
    from tuitrack.live.loading import LoadListener, StoreLoader
    from tuitrack.store import open_store

    monkeypatch.setattr("tuitrack.live.loading.TELL_EVERY_S", 3600.0)
    root = big_experiment(tmp_path / "store")
    for i in range(DATA_CHUNK + 10):  # the other experiment: Default's
        add_run(root / "0", 10_000 + i, f"other-{i}")
    index = RunIndex(open_store(str(root)))
    ids = {e.name: e.experiment_id for e in index.store.experiments()}
    big, small = ids["big"], ids["Default"]
    data: list[tuple[str, list[str]]] = []

    def told(eid, run_ids):
        data.append((eid, run_ids))
        if len(data) == 1:
            loader.hurry(small)

    listed: list[str] = []

    def runs_listed(eid):
        listed.append(eid)
        if len(listed) == 2:  # the data next: the big experiment's first
            loader.hurry(big)

    loader = StoreLoader(index, None, LoadListener(lambda: None, runs_listed, told,
                                                   lambda s: None, lambda n: None, lambda eid: None))
    loader.painted.set()
    loader.run()
    assert [(eid, len(run_ids)) for eid, run_ids in data] == [
        (big, DATA_CHUNK), (big, DATA_CHUNK),  # the second chunk told at once: the user moved
        (small, DATA_CHUNK), (small, 10),  # the other: its first chunk at once, the rest at its end
        (big, RUNS - 2 * DATA_CHUNK)]
    every = [run_id for eid, run_ids in data if eid == big for run_id in run_ids]
    assert sorted(every) == sorted(r.run_id for r in index.runs_of(big, include_deleted=True))
