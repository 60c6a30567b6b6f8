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


def loader_for(root, told: list[tuple], **hooks):
    """A StoreLoader over the store at `root` without a screen, that notes what it tells in `told`
    (and calls `hooks[name](*args)` after noting each, when given)."""
    from tuitrack.live.index import RunIndex
    from tuitrack.live.loading import LoadListener, StoreLoader
    from tuitrack.store import open_store

    def telling(name, shape=lambda *args: args):
        def tell(*args):
            told.append((name, *shape(*args)))
            if name in hooks:
                hooks[name](*args)
        return tell

    index = RunIndex(open_store(str(root)))
    loader = StoreLoader(index, None, LoadListener(
        experiments=telling("experiments"), runs=telling("runs"),
        data=telling("data", lambda eid, ids: (eid, len(ids))), done=telling("done", lambda s: ()),
        note=telling("note"), sizes=telling("sizes"),
    ))
    loader.painted.set()
    return loader, index


def a_third_experiment(root, name: str, runs: int) -> str:
    """Another experiment of `runs` runs, whose name sorts it after the others; returns its id."""
    from tests.hostile_shapes import EXPERIMENT_META, T0

    folder = root / "7"
    folder.mkdir()
    (folder / "meta.yaml").write_text(EXPERIMENT_META.format(uri=folder.as_uri(), t=T0, eid="7", name=name))
    for i in range(runs):
        add_run(folder, 20_000 + i, f"{name}-{i}")
    return "7"


@pytest.mark.parametrize("tell_every_s, told_sizes", [
    (0.0, [DATA_CHUNK, DATA_CHUNK, RUNS - 2 * DATA_CHUNK]),  # told of every chunk
    (3600.0, [DATA_CHUNK, RUNS - DATA_CHUNK]),  # of the first at once, of the rest at the end
])
def test_the_loader_tells_in_order_and_serves_the_experiment_asked_for_first(tmp_path, monkeypatch,
                                                                             tell_every_s, told_sizes):
    """live/loading.py without a screen: experiments; the experiment asked for is listed and has its
    data read before the others are listed; then the others' runs, then their data in chunks, then
    done, then the disk sizes. The screen is told of an experiment's first chunk at once, then at
    most every TELL_EVERY_S, and at its end."""
    import threading

    monkeypatch.setattr("tuitrack.live.loading.TELL_EVERY_S", tell_every_s)
    root = big_experiment(tmp_path / "store")
    third = a_third_experiment(root, "zeta", 3)
    told: list[tuple] = []
    collecting: list[bool] = []  # whether garbage collection ran while the runs were read
    loader, index = loader_for(root, told, data=lambda eid, ids: collecting.append(gc.isenabled()))
    big = next(e.experiment_id for e in index.store.experiments() if e.name == "big")
    loader.hurry(big)
    worker = threading.Thread(target=loader.run)
    worker.start()
    worker.join(timeout=60)
    listed = told.index(("runs", "0"))
    assert told[:3] == [("experiments",), ("runs", big), ("data", big, DATA_CHUNK)]
    assert [t for t in told[2:listed]] == [("data", big, n) for n in told_sizes]  # all of it, first
    assert told[listed:listed + 2] == [("runs", "0"), ("runs", third)]  # told together: quick to list
    data = [t for t in told if t[0] == "data"]
    assert data[len(told_sizes):] == [("data", third, 3)]  # Default has no runs: nothing to tell
    done = told.index(("done",))
    assert all(t[0] != "data" for t in told[done:]) and ("sizes", big) in told[done:]
    assert all(index.has_data(r) for r in index.all_runs())
    assert collecting and not any(collecting) and gc.isenabled()  # paused for the bulk read, then on again


def test_the_first_experiment_with_runs_has_its_data_before_the_others_are_listed(tmp_path, monkeypatch):
    """What the screen shows first (an empty Default: the first experiment with runs) has its table's
    metrics at once, not once every experiment is listed (seconds, at 50,000 runs). The screen is
    told of the experiments listed after it together, at most every LIST_TELL_EVERY_S."""
    monkeypatch.setattr("tuitrack.live.loading.LIST_TELL_EVERY_S", 3600.0)
    monkeypatch.setattr("tuitrack.live.loading.TELL_EVERY_S", 3600.0)  # the first chunk, then the rest
    root = big_experiment(tmp_path / "store")
    third = a_third_experiment(root, "zeta", 3)
    told: list[tuple] = []
    loader, index = loader_for(root, told)
    big = next(e.experiment_id for e in index.store.experiments() if e.name == "big")
    loader.run()
    assert [t[:2] for t in told[:6]] == [
        ("experiments",), ("runs", "0"), ("runs", big), ("data", big), ("data", big), ("runs", third)]
    assert told[3][2] + told[4][2] == RUNS
    assert told[6:8] == [("data", third, 3), ("done",)]


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
    before the loader turns to it (however long since the screen was last told), every run once,
    and the other is listed and read before the rest of the first."""
    monkeypatch.setattr("tuitrack.live.loading.TELL_EVERY_S", 3600.0)
    root = big_experiment(tmp_path / "store")
    for i in range(DATA_CHUNK + 10):  # the other experiment: Default's
        add_run(root / "0", 10_000 + i, f"other-{i}")
    told: list[tuple] = []

    def data_told(eid, run_ids):
        if len([t for t in told if t[0] == "data"]) == 1:
            loader.hurry(small)

    loader, index = loader_for(root, told, data=data_told)
    ids = {e.name: e.experiment_id for e in index.store.experiments()}
    big, small = ids["big"], ids["Default"]
    loader.hurry(big)
    loader.run()
    assert [t for t in told if t[0] in ("runs", "data")] == [
        ("runs", big), ("data", big, DATA_CHUNK),
        ("data", big, DATA_CHUNK),  # the second chunk told at once: the user moved
        ("runs", small), ("data", small, DATA_CHUNK), ("data", small, 10),  # its first chunk at once
        ("data", big, RUNS - 2 * DATA_CHUNK)]  # the rest of the first
    every = [r.run_id for r in index.runs_of(big, include_deleted=True) if index.has_data(r)]
    assert len(every) == RUNS
