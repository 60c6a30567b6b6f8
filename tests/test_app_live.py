"""The app follows a store that changes under it, with nobody pressing a key."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys

import pytest

from tests.app_helpers import settle
from tests.conftest import fixed_clock
from tests.test_live import WRITER
from tuitrack.app.app import TuitrackApp
from tuitrack.live.options import LiveOptions
from tuitrack.app.widgets.run_tree import RunTree
from tuitrack.app.widgets.runs_table import RunsTable
from tuitrack.model import RunStatus
from tuitrack.store import open_store


async def eventually(pilot, predicate, timeout=5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "the screen did not follow the store"
        await pilot.pause(0.05)


@pytest.mark.parametrize("poll", [None, 0.2], ids=["inotify", "polling"])
async def test_app_follows_a_writer(reference_store, poll):
    root, ids = reference_store
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions(poll=poll))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert ("polling" in screen.watch_mode) == (poll is not None)
        running = ids.runs["running"]
        await screen.select_run(running)
        await settle(pilot)
        run_dir = root / ids.experiments["beta"] / running
        # Metric lines appended by another process: the table's value follows.
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", WRITER, str(run_dir / "metrics" / "m"), "50"], check=True)
        table = screen.query_one(RunsTable)
        await eventually(pilot, lambda: table.highlighted_run is not None
                         and table.highlighted_run.metrics["m"].step == 49)
        # The run finishes: its glyph in the tree and its status in the table change.
        meta = run_dir / "meta.yaml"
        meta.write_text(meta.read_text().replace("status: 1", "status: 3").replace("end_time: null", "end_time: 1795000099999"))
        tree = screen.query_one(RunTree)
        await eventually(pilot, lambda: str(tree.run_nodes[running].label).startswith("✓"))
        assert screen.index.run(running).status is RunStatus.FINISHED
        # A new run appears; a removed one disappears.
        new_run = root / ids.experiments["beta"] / ("d" * 32)
        shutil.copytree(root / ids.experiments["beta"] / ids.runs["killed"], new_run)
        (new_run / "meta.yaml").write_text((new_run / "meta.yaml").read_text().replace(ids.runs["killed"], "d" * 32))
        await eventually(pilot, lambda: "d" * 32 in tree.run_nodes)
        shutil.rmtree(new_run)
        await eventually(pilot, lambda: "d" * 32 not in tree.run_nodes)


@contextlib.asynccontextmanager
async def on_the_running_run(root, ids):
    """The app on the store's RUNNING run, unwatched, with a clock the test sets (`now[0]`)."""
    now = [fixed_clock()]
    app = TuitrackApp(open_store(str(root)), clock=lambda: now[0], live=LiveOptions(watch=False, stale_after=600))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.screen.select_run(ids.runs["running"])
        await settle(pilot)
        yield app.screen, now


async def test_silent_running_run_is_shown_stale(reference_store, monkeypatch):
    """Staleness comes with the clock: every 30 s the running runs are looked at again, in the
    tree and in their own table rows, not the whole table (2,500 rows at 50,000 runs: most of the
    idle CPU), and only those whose staleness changed are redrawn."""
    root, ids = reference_store
    running = ids.runs["running"]
    async with on_the_running_run(root, ids) as (screen, now):
        table = screen.query_one(RunsTable)
        row = next(i for i, r in enumerate(table.runs) if r.run_id == running)
        full_sets = []
        real_set_runs = table.set_runs
        monkeypatch.setattr(table, "set_runs", lambda *a, **k: (full_sets.append(1), real_set_runs(*a, **k)))
        written = screen.index.last_write(running)
        now[0] = written / 1000 + 601
        screen._refresh_stale()
        label = str(screen.query_one(RunTree).run_nodes[running].label)
        assert label.startswith("◔") and label.endswith("stale")
        assert "running (stale)" in table._cells[row]
        now[0] = written / 1000 + 10
        screen._refresh_stale()
        assert str(screen.query_one(RunTree).run_nodes[running].label).startswith("●")
        assert "running (stale)" not in table._cells[row] and not full_sets
        redrawn = []  # a look that finds nothing changed redraws nothing
        tree = screen.query_one(RunTree)
        monkeypatch.setattr(tree, "update_run", lambda run: redrawn.append(run.run_id))
        monkeypatch.setattr(table, "update_rows", lambda runs: redrawn.extend(r.run_id for r in runs) or True)
        now[0] = written / 1000 + 20
        screen._refresh_stale()
        assert redrawn == []
        running_runs = [r for r in screen.index.all_runs() if r.status is RunStatus.RUNNING]
        before = {r.run_id for r in running_runs if screen._is_stale(r)}
        now[0] = written / 1000 + 601
        after = {r.run_id for r in running_runs if screen._is_stale(r)}
        screen._refresh_stale()
        assert redrawn.count(running) == 2  # its label and its row
        assert set(redrawn) == before ^ after  # and only others that turned stale too


async def test_a_run_deleted_by_mlflow_while_watched_leaves_the_tree(reference_store):
    from tests.mlflow_stores import client_for

    root, ids = reference_store
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert ids.runs["killed"] in tree.run_nodes
        await asyncio.to_thread(client_for(root).delete_run, ids.runs["killed"])
        await eventually(pilot, lambda: ids.runs["killed"] not in tree.run_nodes)
        await asyncio.to_thread(client_for(root).restore_run, ids.runs["killed"])
        await eventually(pilot, lambda: ids.runs["killed"] in tree.run_nodes)


async def test_tree_and_table_agree_on_stale_from_the_start(reference_store):
    root, ids = reference_store
    import time

    app = TuitrackApp(open_store(str(root)), clock=lambda: time.time() + 86_400, live=LiveOptions(watch=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.screen.select_run(ids.runs["running"])
        await settle(pilot)
        label = str(app.screen.query_one(RunTree).run_nodes[ids.runs["running"]].label)
        table = app.screen.query_one(RunsTable)
        assert label.startswith("◔") and "running (stale)" in table._cells[table.cursor_row]


@pytest.mark.parametrize("poll", [None, 0.2], ids=["inotify", "polling"])
async def test_a_run_made_before_the_watch_began_appears(reference_store, poll, monkeypatch):
    """The window between listing the store and the first watch: a run made there used to stay
    invisible until a reload (1.5 s at 2,000 runs, 20 s at 50,000)."""
    import tuitrack.live.follow as follow

    root, ids = reference_store
    beta = root / ids.experiments["beta"]
    new_id = "e" * 32

    def make_run() -> None:
        shutil.copytree(beta / ids.runs["killed"], beta / new_id)
        meta = beta / new_id / "meta.yaml"
        meta.write_text(meta.read_text().replace(ids.runs["killed"], new_id))

    watchers = {None: "FolderWatcher", 0.2: "PollWatcher"}
    original = getattr(follow, watchers[poll])

    class LateWatcher(original):
        def start(self):
            make_run()  # after the listing, before any watch is in place
            super().start()

    monkeypatch.setattr(follow, watchers[poll], LateWatcher)
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions(poll=poll))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await eventually(pilot, lambda: app.screen.index.run(new_id) is not None)


async def test_nothing_changed_while_the_store_loads_is_missed(reference_store, monkeypatch):
    """A folder store is watched from before its runs are listed (live within a second at any
    size), its runs as they are listed: every change in the load window reaches the screen.
    Points logged after a run is listed but before its data is read, and after its data is read
    but before the load ends; a run renamed after the listing but before its watch (only the
    sweep can see that one); runs made before and after their experiment is listed."""
    from tuitrack.live.follow import Follower
    from tuitrack.live.index import RunIndex

    root, ids = reference_store
    beta = root / ids.experiments["beta"]
    running, killed = ids.runs["running"], ids.runs["killed"]
    points = beta / running / "metrics" / "m"
    alpha = root / ids.experiments["alpha"]

    def copy_run(into: Path, run_id: str) -> None:
        source = next(p for p in beta.iterdir() if p.name == killed)
        shutil.copytree(source, into / run_id)
        meta = into / run_id / "meta.yaml"
        meta.write_text(meta.read_text().replace(killed, run_id).replace(f"experiment_id: '{beta.name}'",
                                                                         f"experiment_id: '{into.name}'"))

    def log(step: int) -> None:
        with open(points, "a") as f:
            f.write(f"1795000009000 {step}.5 {step}\n")

    done: set[str] = set()
    real_listed, real_load_data = Follower.listed, RunIndex.load_data

    def listed(self, runs, cold_too=False):
        if any(r.run_id == killed for r in runs) and "renamed" not in done:
            done.add("renamed")
            meta = beta / killed / "meta.yaml"  # before the watch: the sweep must find it
            meta.write_text(meta.read_text().replace("run_name: killed", "run_name: renamed-in-the-window"))
            log(100)  # listed, data not read yet
            copy_run(beta, "a" * 32)  # its experiment is listed and watched already
            copy_run(alpha, "b" * 32)  # listed before or after (the order is the loader's): seen
        return real_listed(self, runs, cold_too)

    def load_data(self, runs):
        runs = list(runs)
        loaded = real_load_data(self, runs)
        if any(r.run_id == running for r in runs) and "logged" not in done:
            done.add("logged")
            log(101)  # its data is read: only its watch can see this
        return loaded

    monkeypatch.setattr(Follower, "listed", listed)
    monkeypatch.setattr(RunIndex, "load_data", load_data)
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert {"renamed", "logged"} <= done
        index = screen.index
        await eventually(pilot, lambda: index.run(running).metrics["m"].step == 101)
        await eventually(pilot, lambda: index.run(killed).run_name == "renamed-in-the-window")
        await eventually(pilot, lambda: index.run("a" * 32) is not None and index.run("b" * 32) is not None)
        tree = screen.query_one(RunTree)
        await eventually(pilot, lambda: {"a" * 32, "b" * 32} <= set(tree.run_nodes))
        assert "renamed-in-the-window" in str(tree.run_nodes[killed].label)


async def test_the_runs_of_an_experiment_moved_in_are_watched(reference_store, tmp_path):
    """An experiment moved into the store while it is watched (made elsewhere, never watched)
    brings its runs: they are watched as they are read, so what they log next is seen."""
    root, ids = reference_store
    beta, running = ids.experiments["beta"], ids.runs["running"]
    moved, run_id = "424242", "c" * 32
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        outside = tmp_path / "elsewhere" / moved
        outside.parent.mkdir()
        (outside / run_id).mkdir(parents=True)
        shutil.copytree(root / beta / running, outside / run_id, dirs_exist_ok=True)
        meta = outside / run_id / "meta.yaml"
        meta.write_text(meta.read_text().replace(running, run_id).replace(f"experiment_id: '{beta}'",
                                                                          f"experiment_id: '{moved}'"))
        (outside / "meta.yaml").write_text(f"experiment_id: '{moved}'\nname: moved-in\nlifecycle_stage: active\n")
        outside.rename(root / moved)
        index = app.screen.index
        await eventually(pilot, lambda: index.run(run_id) is not None)
        with open(root / moved / run_id / "metrics" / "m", "a") as f:
            f.write("1795000009000 77.5 77\n")
        await eventually(pilot, lambda: index.run(run_id).metrics["m"].step == 77)


async def test_the_filters_count_follows_deltas(reference_store):
    """With a filter on, the status bar's "filter: N of M" is kept by deltas (counting every run
    on every batch took 50 ms at 50,000 runs): a point that makes a run match and one that makes
    it stop, a run deleted and restored, a new run."""
    from tests.mlflow_stores import client_for

    root, ids = reference_store
    beta, running = root / ids.experiments["beta"], ids.runs["running"]
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"metrics.m > 5 or attributes.run_name LIKE 'still%'")
        await settle(pilot)

        def status() -> str:
            return str(screen.query_one("#status-bar").render())

        def expected() -> str:
            experiments = screen._visible_experiments()
            shown = sum(len(screen._visible_runs(e.experiment_id)) for e in experiments)
            return f"MLflow filter: {shown} of {screen.index.run_count()} "

        async def follows(change) -> None:
            before = status()
            await asyncio.to_thread(change)
            await eventually(pilot, lambda: status() != before)
            await settle(pilot)
            assert expected() in status()

        assert expected() in status()
        client = client_for(root)
        asked = []
        real_shows = screen._shows
        screen._shows = lambda run: (asked.append(run.run_id), real_shows(run))[1]
        await follows(lambda: client.log_metric(ids.runs["parent"], "m", 9.0, step=1000))  # matches now
        assert asked == [ids.runs["parent"]]  # the run that changed, not every run
        await follows(lambda: client.set_tag(running, "mlflow.runName", "renamed"))  # and this stops
        await follows(lambda: client.delete_run(ids.runs["parent"]))
        await follows(lambda: client.restore_run(ids.runs["parent"]))
        new = client.create_run(ids.experiments["beta"], run_name="still-new").info.run_id
        await eventually(pilot, lambda: screen.index.run(new) is not None)
        await settle(pilot)
        assert expected() in status()


async def test_a_new_experiment_opens_like_the_others(reference_store):
    from tests.mlflow_stores import client_for

    root, ids = reference_store
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert all(node.is_expanded for node in tree.experiment_nodes.values() if node.children)

        def write():
            client = client_for(root)
            experiment = client.create_experiment("brand-new")
            return experiment, client.create_run(experiment, run_name="first").info.run_id

        experiment, run_id = await asyncio.to_thread(write)
        await eventually(pilot, lambda: run_id in tree.run_nodes)
        assert tree.experiment_nodes[experiment].is_expanded


async def test_points_logged_repaint_only_the_rows_of_their_runs(reference_store, monkeypatch):
    """20 scripts writing to a store of thousands of runs: each batch touches a few runs, and the
    table computes just their rows (recomputing every row of 2,500 runs was most of the app's
    CPU under writers) and repaints just their lines (a screenful per batch was most of the
    rest). A sort by a column those values feed still sets the whole table."""
    root, ids = reference_store
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        running = ids.runs["running"]
        await screen.select_run(running)
        await settle(pilot)
        table = screen.query_one(RunsTable)
        assert len(table.runs) > 1  # other rows on screen that must not be painted again
        full_sets, painted = [], []
        real_set_runs, real_render_line = table.set_runs, table.render_line
        monkeypatch.setattr(table, "set_runs", lambda *a, **k: (full_sets.append(1), real_set_runs(*a, **k)))
        monkeypatch.setattr(table, "render_line", lambda y: (painted.append(y), real_render_line(y))[1])
        run_dir = root / ids.experiments["beta"] / running
        with open(run_dir / "metrics" / "m", "a") as f:
            f.write("1795000009000 7.5 40\n")  # no wider than the column's values: no new widths
        at = next(i for i, c in enumerate(table.columns) if c.key == "metric:m")
        row = next(i for i, r in enumerate(table.runs) if r.run_id == running)
        await eventually(pilot, lambda: table._cells[row][at] == "7.5")
        await settle(pilot)
        assert not full_sets  # only that row was computed...
        assert painted and set(painted) == {row + 1 - table.scroll_offset.y}  # ...and painted (0: the header)
        table.cursor_column = at
        table.action_sort()  # sorted by m: a new value may move the row
        full_sets.clear()
        with open(run_dir / "metrics" / "m", "a") as f:
            f.write("1795000009001 8.5 41\n")
        await eventually(pilot, lambda: any(r.run_id == running and r.metrics["m"].value == 8.5 for r in table.runs))
        assert full_sets


async def test_points_logged_in_a_collapsed_experiment_do_not_reshape_the_tree(reference_store, monkeypatch):
    """Large stores open with their experiments collapsed (their runs not in the tree yet): a run
    there that logs a point is no change of the tree's shape, and the table computes its row only
    (each point set the whole table again at 50,000 runs)."""
    import tuitrack.app.screens.main as main_screen

    monkeypatch.setattr(main_screen, "EXPAND_ALL_BELOW", 0)
    root, ids = reference_store
    app = TuitrackApp(open_store(str(root)), clock=fixed_clock, live=LiveOptions())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        current = ids.experiments["alpha"]
        screen._switch_experiment(current)  # the table shows it; the tree has not drawn its runs
        await settle(pilot)
        assert not screen._filled(current)
        table = screen.query_one(RunsTable)
        run = next(r for r in table.runs if r.metrics)
        key = next(iter(run.metrics))
        full_sets = []
        real_set_runs = table.set_runs
        monkeypatch.setattr(table, "set_runs", lambda *a, **k: (full_sets.append(1), real_set_runs(*a, **k)))
        path = root / current / run.run_id / "metrics" / key
        with open(path, "a") as f:
            f.write(f"1799000000000 123.5 {run.metrics[key].step + 1}\n")
        await eventually(pilot, lambda: any(r.run_id == run.run_id and r.metrics[key].value == 123.5 for r in table.runs))
        assert not full_sets and not screen._filled(current)


async def test_ages_are_redrawn_with_the_clock(reference_store):
    """Every minute the "5m ago" ages, running durations and staleness are computed again: only
    the columns the clock changes, and they come out as a whole new table would."""
    root, ids = reference_store
    async with on_the_running_run(root, ids) as (screen, now):
        table, tree = screen.query_one(RunsTable), screen.query_one(RunTree)
        ages_before = [row[:] for row in table._cells]
        label_before = str(tree.run_nodes[ids.runs["running"]].label)
        now[0] += 3 * 86_400
        screen._refresh_ages()
        partial = [row[:] for row in table._cells], table._widths[:], table._stale[:], table._styles[:]
        table._compute_cells()
        assert partial == (table._cells, table._widths, table._stale, table._styles)
        assert partial[0] != ages_before
        assert str(tree.run_nodes[ids.runs["running"]].label) != label_before
