"""Watching a store: what a changed path means, how the index follows, and the watchers themselves
(inotify and polling) against a real folder that a real writer process changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tuitrack.live.index import RunIndex
from tuitrack.live.inotify import FolderWatcher
from tuitrack.live.watcher import Debouncer, PollWatcher, choose_mode, filesystem_type
from tuitrack.model import RunStatus
from tuitrack.store import open_store
from tuitrack.store.base import Change


def loaded_index(root: Path, cache: bool = False) -> RunIndex:
    index = RunIndex(open_store(str(root), cache=cache))
    for experiment in index.load_experiments():
        index.load_data(index.load_runs(experiment.experiment_id))
    return index


def changes(index: RunIndex, *paths: Path) -> list[Change]:
    return [c for c in (index.store.classify(str(p)) for p in paths) if c is not None]


def test_classify_paths(reference_store):
    root, ids = reference_store
    store = open_store(str(root))
    alpha, run = ids.experiments["alpha"], ids.runs["parent"]
    assert store.classify(str(root / alpha / run / "metrics" / "train" / "acc")) == Change("metric", alpha, run, "train/acc")
    assert store.classify(str(root / alpha / run / "meta.yaml")) == Change("run", alpha, run)
    assert store.classify(str(root / alpha / run / "tags" / "x")) == Change("run", alpha, run)
    assert store.classify(str(root / alpha / run)) == Change("run", alpha, run)
    assert store.classify(str(root / alpha / "meta.yaml")) == Change("experiments", alpha)
    assert store.classify(str(root / ".trash" / alpha)) == Change("experiments", alpha)
    assert store.classify(str(root)) == Change("experiments")
    assert store.classify(str(root / alpha / run / "artifacts" / "model.pkl")) is None
    assert store.classify(str(root / alpha / run / ".meta.yaml.tmp123")) is None
    assert store.classify(str(root / alpha / "datasets" / "x" / "meta.yaml")) is None
    assert store.classify("/elsewhere/file") is None


def test_apply_appended_metric(reference_store):
    root, ids = reference_store
    index = loaded_index(root)
    run_dir = root / ids.experiments["beta"] / ids.runs["running"]
    with open(run_dir / "metrics" / "m", "a") as f:
        f.write("1795000009000 9.5 5\n")
    delta = index.apply(changes(index, run_dir / "metrics" / "m"))
    assert delta.metrics == {(ids.runs["running"], "m")}
    assert index.run(ids.runs["running"]).metrics["m"].value == 9.5


def test_apply_several_metrics_of_one_run_in_one_batch(reference_store):
    """log_metrics writes several keys at once: each one's latest value follows (it once kept only
    the first, taking the run as re-read after it)."""
    root, ids = reference_store
    index = loaded_index(root)
    run_dir = root / ids.experiments["beta"] / ids.runs["running"]
    for key, value in (("m", 9.5), ("acc", 0.9), ("loss", 0.1)):
        with open(run_dir / "metrics" / key, "a") as f:
            f.write(f"1795000009000 {value} 5\n")
    paths = [run_dir / "metrics" / k for k in ("m", "acc", "loss")]
    delta = index.apply(changes(index, *paths))
    running = ids.runs["running"]
    assert delta.metrics == {(running, "m"), (running, "acc"), (running, "loss")}
    metrics = index.run(running).metrics
    assert (metrics["m"].value, metrics["acc"].value, metrics["loss"].value) == (9.5, 0.9, 0.1)


def test_apply_run_finished_renamed_and_removed(reference_store):
    root, ids = reference_store
    index = loaded_index(root)
    run_dir = root / ids.experiments["beta"] / ids.runs["running"]
    meta = run_dir / "meta.yaml"
    meta.write_text(meta.read_text().replace("status: 1", "status: 3").replace("end_time: null", "end_time: 1795000009999"))
    delta = index.apply(changes(index, meta))
    assert delta.runs_changed == {ids.runs["running"]}
    run = index.run(ids.runs["running"])
    assert run.status is RunStatus.FINISHED and run.end_time == 1795000009999
    assert run.params == {"p": "v"}  # data read again with the meta
    shutil.rmtree(run_dir)
    delta = index.apply(changes(index, run_dir))
    assert delta.runs_removed == {ids.runs["running"]} and index.run(ids.runs["running"]) is None


def test_apply_new_run_and_new_experiment(reference_store):
    root, ids = reference_store
    index = loaded_index(root)
    source = root / ids.experiments["beta"] / ids.runs["killed"]
    new_run = root / ids.experiments["beta"] / ("f" * 32)
    shutil.copytree(source, new_run)
    meta = new_run / "meta.yaml"
    meta.write_text(meta.read_text().replace(ids.runs["killed"], "f" * 32))
    delta = index.apply(changes(index, new_run, meta))
    assert delta.runs_added == {"f" * 32}
    new_exp = root / "123456"
    new_exp.mkdir()
    (new_exp / "meta.yaml").write_text("experiment_id: '123456'\nname: fresh\nlifecycle_stage: active\n")
    delta = index.apply(changes(index, new_exp, new_exp / "meta.yaml"))
    assert delta.experiments and index.experiments["123456"].name == "fresh"


def test_apply_experiment_moved_to_trash(reference_store):
    root, ids = reference_store
    index = loaded_index(root)
    beta = ids.experiments["beta"]
    meta = root / beta / "meta.yaml"
    meta.write_text(meta.read_text().replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
    os.rename(root / beta, root / ".trash" / beta)
    delta = index.apply(changes(index, root / beta, root / ".trash" / beta))
    assert delta.experiments and index.experiments[beta].is_deleted
    assert all(r.is_deleted for r in index.runs_of(beta, include_deleted=True))


def counted(index: RunIndex) -> tuple[int, int]:
    """The counts the status bar shows, as the index keeps them by deltas, next to a count of
    every run (what they must equal)."""
    return index.run_count(), index.run_count(include_deleted=True)


def recounted(index: RunIndex) -> tuple[int, int]:
    runs = index.all_runs()
    return sum(1 for r in runs if not r.is_deleted), len(runs)


def test_run_counts_follow_every_delta(reference_store):
    """The status bar's counts come from the index by deltas (counting every run on every batch
    cost a third of the UI thread under writers): a new run, a deleted and a restored one, a
    status change, points logged, a run removed, an experiment moved to the trash and back."""
    from tests.mlflow_stores import client_for

    root, ids = reference_store
    index = loaded_index(root)
    start = recounted(index)
    assert counted(index) == start and start[0] < start[1]  # the reference store has deleted runs
    beta = root / ids.experiments["beta"]
    new_run = beta / ("f" * 32)
    shutil.copytree(beta / ids.runs["killed"], new_run)
    (new_run / "meta.yaml").write_text((new_run / "meta.yaml").read_text().replace(ids.runs["killed"], "f" * 32))
    index.apply(changes(index, new_run, new_run / "meta.yaml"))
    assert counted(index) == recounted(index) == (start[0] + 1, start[1] + 1)
    client = client_for(root)
    client.delete_run("f" * 32)
    index.apply(changes(index, new_run / "meta.yaml"))
    assert counted(index) == recounted(index) == (start[0], start[1] + 1)
    client.restore_run("f" * 32)
    index.apply(changes(index, new_run / "meta.yaml"))
    assert counted(index) == recounted(index) == (start[0] + 1, start[1] + 1)
    client.set_terminated(ids.runs["running"], "FAILED")
    with open(beta / ids.runs["running"] / "metrics" / "m", "a") as f:
        f.write("1795000009000 9.5 5\n")
    running = beta / ids.runs["running"]
    index.apply(changes(index, running / "meta.yaml", running / "metrics" / "m"))
    assert index.run(ids.runs["running"]).status is RunStatus.FAILED
    assert counted(index) == recounted(index) == (start[0] + 1, start[1] + 1)
    client.delete_run(ids.runs["running"])
    shutil.rmtree(new_run)  # an active run removed, a deleted one in the same batch
    index.apply(changes(index, new_run, running / "meta.yaml"))
    assert counted(index) == recounted(index) == (start[0] - 1, start[1])
    meta = beta / "meta.yaml"
    meta.write_text(meta.read_text().replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
    os.rename(beta, root / ".trash" / beta.name)
    index.apply(changes(index, beta, root / ".trash" / beta.name))
    assert counted(index) == recounted(index) and counted(index)[0] < start[0] - 1
    os.rename(root / ".trash" / beta.name, beta)
    meta.write_text(meta.read_text().replace("lifecycle_stage: deleted", "lifecycle_stage: active"))
    index.apply(changes(index, beta, root / ".trash" / beta.name))
    assert counted(index) == recounted(index) == (start[0] - 1, start[1])
    shutil.rmtree(beta)  # an experiment gone altogether
    index.apply(changes(index, beta))
    assert counted(index) == recounted(index) and counted(index)[1] < start[1]


def test_runs_share_one_copy_of_each_key(reference_store):
    """50,000 runs logging the same keys hold one copy of each (60 MiB less at 50,000 runs):
    loaded, and read again after a change; long values stay their own."""
    root, ids = reference_store
    beta = root / ids.experiments["beta"]
    for name in ("e" * 32, "f" * 32):  # two runs with the same keys and values
        shutil.copytree(beta / ids.runs["running"], beta / name)
        (beta / name / "params" / "long").write_text("x" * 100)
    index = loaded_index(root)
    first, second = index.run("e" * 32), index.run("f" * 32)

    def same_objects(a, b) -> bool:
        return all(next(k for k in b if k == key) is key for key in a)

    for part in ("params", "tags", "metrics"):
        assert getattr(first, part) and same_objects(getattr(first, part), getattr(second, part))
    assert first.params["p"] is second.params["p"] and first.user_id is second.user_id
    assert first.params["long"] == second.params["long"] and first.params["long"] is not second.params["long"]
    (beta / ("f" * 32) / "tags" / "new").write_text("v")
    index.apply(changes(index, beta / ("f" * 32) / "tags" / "new"))
    again = index.run("f" * 32)
    assert again is not second and same_objects(first.tags, again.tags)


def test_debouncer_turns_a_burst_into_few_batches():
    batches: list[set[str]] = []
    debouncer = Debouncer(batches.append, delay=0.05, max_wait=0.25)
    try:
        for i in range(2000):
            debouncer.add([f"/p/{i % 3}"])
        time.sleep(0.3)
        assert len(batches) == 1 and batches[0] == {"/p/0", "/p/1", "/p/2"}
        # A steady writer still gets batches at least every max_wait.
        stop = time.monotonic() + 1.0
        while time.monotonic() < stop:
            debouncer.add(["/p/x"])
            time.sleep(0.01)
        time.sleep(0.3)
        assert 4 <= len(batches) - 1 <= 7
    finally:
        debouncer.stop()


WRITER = textwrap.dedent("""
    import sys, time
    path, count = sys.argv[1], int(sys.argv[2])
    for step in range(count):
        with open(path, "a") as f:  # as MLflow appends: open, write one line, close
            f.write(f"{int(time.time() * 1000)} {step * 0.5} {step}\\n")
        time.sleep(0.002)
""")


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("mode", ["inotify", "polling"])
def test_watcher_sees_a_writer_process(reference_store, mode):
    root, ids = reference_store
    index = loaded_index(root)
    run_id = ids.runs["running"]
    run_dir = root / ids.experiments["beta"] / run_id
    seen: list[int] = []
    lock = threading.Lock()

    def on_batch(paths: set[str]) -> None:
        delta = index.apply(changes(index, *map(Path, paths)))
        if (run_id, "m") in delta.metrics:
            with lock:
                seen.append(index.run(run_id).metrics["m"].step)

    debouncer = Debouncer(on_batch, delay=0.03)
    if mode == "inotify":
        watcher = FolderWatcher(str(root), debouncer.add, hot_runs=lambda: [str(run_dir)])
        watcher.start()
        watcher.watch_listed([(str(run_dir), True)])
    else:
        watcher = PollWatcher(str(root), debouncer, interval=0.1, hot_runs=lambda: [str(run_dir)],
                              all_runs=lambda: [str(run_dir)])
        watcher.start()
    try:
        subprocess.run([sys.executable, "-c", WRITER, str(run_dir / "metrics" / "m"), "300"], check=True)
        assert wait_until(lambda: seen and seen[-1] == 299), seen[-5:]
        assert len(seen) < 100  # batched, not one update per line
        # A new run appears, and a finished one changes status.
        new_run = root / ids.experiments["beta"] / ("e" * 32)
        shutil.copytree(root / ids.experiments["beta"] / ids.runs["killed"], new_run)
        meta = new_run / "meta.yaml"
        meta.write_text(meta.read_text().replace(ids.runs["killed"], "e" * 32))
        assert wait_until(lambda: index.run("e" * 32) is not None)
        shutil.rmtree(new_run)
        assert wait_until(lambda: index.run("e" * 32) is None)
    finally:
        watcher.stop()
        debouncer.stop()


def test_choose_mode(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(f"server:/export {tmp_path} nfs4 rw 0 0\n/dev/vda / ext4 rw 0 0\n")
    assert filesystem_type(str(tmp_path / "mlruns"), str(mounts)) == "nfs4"
    mode = choose_mode(str(tmp_path), mounts_file=str(mounts))
    assert mode.polling and "nfs4" in mode.reason
    limit = tmp_path / "limit"
    limit.write_text("10\n")
    mounts.write_text("/dev/vda / ext4 rw 0 0\n")
    mode = choose_mode(str(tmp_path), mounts_file=str(mounts), limit_file=str(limit))
    assert not mode.polling and mode.watch_budget == 5  # half the limit: other programs need watches
    limit.write_text("10000000\n")
    assert choose_mode(str(tmp_path), mounts_file=str(mounts), limit_file=str(limit)).watch_budget == 50_000
    assert choose_mode(str(tmp_path), poll=1.5).interval == 1.5


def test_a_growing_run_is_measured_again_now_and_then(reference_store):
    from tuitrack.live.index import DISK_EVERY_S

    root, ids = reference_store
    index = loaded_index(root)
    run_id = ids.runs["running"]
    index.load_disk_sizes(index.all_runs())
    before = index.run(run_id).disk_bytes
    run_dir = root / ids.experiments["beta"] / run_id
    with open(run_dir / "metrics" / "m", "a") as f:
        f.write("".join(f"1795000009000 {i}.5 {i + 5}\n" for i in range(2000)))  # a block or more
    delta = index.apply(changes(index, run_dir / "metrics" / "m"))
    assert index.run(run_id).disk_bytes == before  # an append keeps the old size...
    grown = index.remeasure_disk({r for r, _ in delta.metrics}, now=1000.0)
    assert [r.run_id for r in grown] == [run_id] and index.run(run_id).disk_bytes > before  # ...until measured
    assert index.remeasure_disk({run_id}, now=1000.0 + DISK_EVERY_S / 2) == []  # not on every append
    assert index.remeasure_disk({run_id}, now=1000.0 + DISK_EVERY_S) != []


def test_a_sweep_finds_what_no_watcher_saw(reference_store):
    """A run made between the listing and the first watch, a run removed, a meta rewritten: the
    sweep hands on exactly those paths, and the index follows them."""
    from tuitrack.live.sweep import Sweeper

    root, ids = reference_store
    index = loaded_index(root)
    handed: list[set[str]] = []
    sweeper = Sweeper(index.store, lambda paths: handed.append(set(paths)))
    sweeper.baseline()
    beta = root / ids.experiments["beta"]
    new_run = beta / ("f" * 32)
    shutil.copytree(beta / ids.runs["killed"], new_run)
    meta = (new_run / "meta.yaml").read_text().replace(ids.runs["killed"], "f" * 32)
    (new_run / "meta.yaml").write_text(meta)
    shutil.rmtree(beta / ids.runs["restored"])
    sweeper.sweep_and_hand_on()
    assert handed == [{str(new_run), str(beta / ids.runs["restored"])}]
    delta = index.apply([c for c in map(index.store.classify, handed[0]) if c])
    assert delta.runs_added == {"f" * 32} and delta.runs_removed == {ids.runs["restored"]}
    assert sweeper.sweep() == set()  # nothing new: nothing handed on


def test_a_sweep_finds_finished_runs_edited_in_place(reference_store):
    """Another tool re-tags a finished run, or logs one more point to one: a file changes in
    place, its folder does not (MLflow writes tags, params and metric points so). The sweep hands
    on exactly those runs, and the index then has what they hold now; a third run's metas are
    untouched, and a run whose files are all as they were is not handed on again."""
    from tuitrack.live.sweep import Sweeper

    root, ids = reference_store
    index = loaded_index(root)
    handed: list[set[str]] = []
    sweeper = Sweeper(index.store, lambda paths: handed.append(set(paths)))
    sweeper.baseline()
    tagged, logged = (Path(index.store.run_dir(index.run(ids.runs[name]))) for name in ("killed", "failed"))
    key = sorted(p.name for p in (tagged / "tags").iterdir() if p.is_file())[0]
    with open(tagged / "tags" / key, "w") as f:  # as MLflow's write_to: truncate, then write
        f.write("re-tagged by another tool")
    metric = sorted(p for p in (logged / "metrics").iterdir() if p.is_file())[0]
    with open(metric, "a") as f:
        f.write("1795000099000 42.5 999\n")
    sweeper.sweep_and_hand_on()
    assert handed == [{str(tagged), str(logged)}]
    index.apply([c for c in map(index.store.classify, handed[0]) if c])
    assert index.run(ids.runs["killed"]).tags[key] == "re-tagged by another tool"
    assert index.run(ids.runs["failed"]).metrics[metric.name].value == 42.5
    assert sweeper.sweep() == set()
    (tagged / "tags" / "new.key").write_text("1")  # a new key: the run is walked again...
    assert sweeper.sweep() == {str(tagged)}
    (tagged / "tags" / "new.key").write_text("22")  # ...so an edit of it in place is seen too
    assert sweeper.sweep() == {str(tagged)}


def test_a_run_of_too_many_files_is_swept_by_its_folders(reference_store, monkeypatch):
    """A run past MAX_STAMPS files is not stamped file by file: its walk stops there, and its
    folders' stamps stand for it (a new key is still found)."""
    from tuitrack.live.sweep import Sweeper
    from tuitrack.store.mlflow_file import run_prints

    monkeypatch.setattr(run_prints, "MAX_STAMPS", 5)
    root, ids = reference_store
    index = loaded_index(root)
    sweeper = Sweeper(index.store, lambda paths: None)
    sweeper.baseline()
    run = Path(index.store.run_dir(index.run(ids.runs["parent"])))
    assert len(list(run.rglob("*"))) > 5
    assert sweeper.sweep() == set()
    (run / "params" / "late").write_text("x")
    assert sweeper.sweep() == {str(run)}


def test_a_costly_sweep_runs_less_often(reference_store):
    """Sweeps keep their CPU under MAX_SHARE of a core: a sweep taking more CPU waits longer
    (a large store is swept every couple of minutes, not every 30 s)."""
    from tuitrack.live.sweep import MAX_SHARE, Sweeper

    root, _ = reference_store
    sweeper = Sweeper(open_store(str(root)), lambda paths: None, every=30.0)
    sweeper.baseline()
    sweeper.sweep()
    assert 0 < sweeper.last_cpu and sweeper.interval() == 30.0  # a small store: every 30 s
    sweeper.last_cpu = 1.0  # as a sweep of about 80,000 runs costs
    assert sweeper.interval() == 1.0 / MAX_SHARE > 30.0


def test_a_sweep_reports_experiments_the_listing_did_not_know(reference_store):
    from tuitrack.live.sweep import Sweeper

    root, ids = reference_store
    index = loaded_index(root)
    known = {ids.experiments["alpha"]}
    sweeper = Sweeper(index.store, lambda paths: None)
    sweeper.baseline(known=lambda p: (c := index.store.classify(p)) is not None and c.experiment_id in known)
    found = sweeper.sweep()
    assert str(root / ids.experiments["beta"]) in found and str(root / ids.experiments["alpha"]) not in found


def test_a_large_store_is_watched_where_it_changes(reference_store, monkeypatch):
    """Past its watch budget the watcher takes the top, the experiments and the hot runs; a new
    run is hot; a cold run is left to the sweep; watches the kernel refuses are counted."""
    import errno as errno_module

    import tuitrack.live.inotify as inotify

    root, ids = reference_store
    beta = root / ids.experiments["beta"]
    hot, cold = str(beta / ids.runs["running"]), str(beta / ids.runs["killed"])
    seen: set[str] = set()
    lock = threading.Lock()

    def hand_on(paths):
        with lock:
            seen.update(paths)

    watcher = FolderWatcher(str(root), hand_on, hot_runs=lambda: [hot], budget=0)
    watcher.start()
    watcher.watch_listed([(hot, True), (cold, False)])
    try:
        assert not watcher.whole and "1 active run(s), the rest swept" in watcher.describe()
        with open(Path(cold) / "metrics" / "x", "a") as f:  # seen by the next sweep only
            f.write("1795000000000 1.0 0\n")
        with open(Path(hot) / "metrics" / "m", "a") as f:
            f.write("1795000009000 9.5 5\n")
        assert wait_until(lambda: str(Path(hot) / "metrics" / "m") in seen)
        new_run = beta / ("e" * 32)
        (new_run / "metrics").mkdir(parents=True)
        assert wait_until(lambda: str(new_run / "metrics") in watcher._watched)
        (new_run / "metrics" / "loss").write_text("1795000000000 1.0 0\n")
        assert wait_until(lambda: str(new_run / "metrics" / "loss") in seen)
        with lock:
            assert not any(p.startswith(cold) for p in seen)
    finally:
        watcher.stop()

    calls = []
    real_add = inotify._add_watch

    def add_until_full(*args):
        calls.append(1)
        if len(calls) > 3:
            raise OSError(errno_module.ENOSPC, "No space left on device")
        return real_add(*args)

    monkeypatch.setattr(inotify, "_add_watch", add_until_full)
    full = FolderWatcher(str(root), hand_on, hot_runs=lambda: [hot])
    full.start()
    full.watch_listed([(hot, True), (cold, False)])
    try:
        assert full.refused > 0 and "not watched (inotify limit), swept" in full.describe()
    finally:
        full.stop()


def test_an_overflowed_queue_reads_every_watched_run_again(reference_store):
    """Events lost to a full kernel queue may be points appended to a watched run, which no sweep
    can see (an append changes no folder): every watched run is handed on, and the sweep runs."""
    import struct

    from watchdog.observers.inotify_c import InotifyConstants

    root, ids = reference_store
    beta = root / ids.experiments["beta"]
    hot, cold = str(beta / ids.runs["running"]), str(beta / ids.runs["killed"])
    handed: list[set[str]] = []
    swept: list[int] = []
    watcher = FolderWatcher(str(root), lambda paths: handed.append(set(paths)), budget=0,
                            on_overflow=lambda: swept.append(1))
    watcher.start()
    try:
        watcher.watch_listed([(hot, True), (cold, False)])
        watcher._handle(struct.pack("iIII", -1, InotifyConstants.IN_Q_OVERFLOW, 0, 0))
        assert handed == [{hot}] and swept == [1] and watcher.overflows == 1
    finally:
        watcher.stop()


@pytest.mark.parametrize("helper", [False, True], ids=["alone", "with a helper"])
@pytest.mark.parametrize("cached", [None, False, True], ids=["no cache", "read", "from the cache"])
def test_the_listing_records_the_baseline_a_sweep_of_its_own_would_take(reference_store, cached, helper,
                                                                          monkeypatch):
    """The sweep's first baseline is recorded as the listing reads each run (no walk of every run
    folder of its own): the same fingerprints, taken before the files were read, so a change after
    the read is found by the first sweep. With and without the read cache, and when the cache's
    helper process (read_helper.py) read or checked the runs, as the app loads them: all metas,
    then the data."""
    if cached is None and helper:
        pytest.skip("no cache, no helper")
    from tuitrack.live.sweep import Sweeper
    from tuitrack.store.mlflow_file import read_cache

    monkeypatch.setattr(read_cache, "RACY_NS", 50_000_000)
    if helper:
        monkeypatch.setattr(read_cache, "HELP_FROM", 1)
        monkeypatch.setattr(read_cache, "_cores", lambda: 2)
        start = read_cache.ReadCache._start_helper

        def start_and_wait(cache):  # every record is there before the listing asks (a small store's fit the pipe)
            start(cache)
            if cache._helper is not None:
                cache._helper.wait(timeout=60)

        monkeypatch.setattr(read_cache.ReadCache, "_start_helper", start_and_wait)
    root, ids = reference_store
    time.sleep(0.1)  # past the racy window: the runs can be cached
    if cached:
        loaded_index(root, cache=True).store.save_cache()
    store = open_store(str(root), cache=cached is not None)
    index = RunIndex(store)
    index.load_experiments()
    sweeper = Sweeper(store, lambda paths: None)
    sweeper.baseline(listing=True)
    assert sweeper._recording
    for experiment_id in index.experiments:
        index.load_data(index.load_runs(experiment_id))
    if cached is not None:
        assert (store.cache.hits > 0) == cached
        assert (store.cache.read_by_helper + store.cache.helped > 0) == helper
    store.save_cache()
    sweeper._recorded()  # as the first sweep does
    recorded = sweeper._last
    own_pass = store.fingerprints()
    runs = {store.run_dir(r) for r in index.all_runs()}
    experiments = {store.experiment_dir(e) for e in index.experiments}
    assert runs and recorded.keys() == runs | experiments
    assert recorded == {path: own_pass[path] for path in recorded}

    changed = root / ids.experiments["beta"] / ids.runs["killed"]
    (changed / "tags" / "added.after.the.read").write_text("x")
    not_runs = own_pass.keys() - recorded.keys()  # folders with no run to read: new to the first sweep
    assert sweeper.sweep() == {str(changed)} | not_runs


def test_runs_listed_before_the_helper_read_them_take_their_data_from_it(reference_store, monkeypatch):
    """The app lists every run's meta first, then reads the data: a run listed before the cache's
    helper process got to it takes the data the helper read since, and shows what a plain read shows."""
    from tuitrack.store.mlflow_file import read_cache
    from tuitrack.store.mlflow_file.read_cache import ReadCache

    monkeypatch.setattr(read_cache, "RACY_NS", 50_000_000)
    monkeypatch.setattr(read_cache, "HELP_FROM", 1)
    monkeypatch.setattr(read_cache, "_cores", lambda: 2)
    root, _ = reference_store
    time.sleep(0.1)  # past the racy window
    told, quiet = ReadCache._told, [True]
    monkeypatch.setattr(ReadCache, "_told", lambda cache, key: None if quiet[0] else told(cache, key))
    index = RunIndex(open_store(str(root), cache=True))
    listed = [run for e in index.load_experiments() for run in index.load_runs(e.experiment_id)]
    index.store.cache._helper.wait(timeout=60)
    quiet[0] = False
    index.load_data(listed)
    assert index.store.cache.read_by_helper > 0 and index.store.cache.hits == 0
    plain = loaded_index(root)
    for run in plain.all_runs():
        seen = index.run(run.run_id)
        assert (seen.params, seen.tags, seen.metrics, seen.run_name) == (run.params, run.tags, run.metrics, run.run_name)
