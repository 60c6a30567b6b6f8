"""The file store's persistent read cache: what it shows is what a read without it shows, after
every kind of change; a broken cache is ignored and rebuilt; it never lives in the store."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuitrack.cli import main
from tuitrack.export import FORMATS
from tuitrack.model import RunStatus
from tuitrack.store import open_store
from tuitrack.store.listing import list_runs, select_experiments
from tuitrack.store.mlflow_file import read_cache, read_helper
from tuitrack.store.mlflow_file.read_cache import ReadCache

WINDOW_NS = 50_000_000  # the racy window in these tests: files written 0.1 s before a read are settled


START_HELPER = ReadCache._start_helper


@pytest.fixture(params=["alone", "with a helper"])
def cache_home(tmp_path, monkeypatch, request) -> Path:
    """Each test twice: the listing checks every stamp itself, or a helper process checks them
    all first (read_helper.py; waited for here, so that every verdict is the helper's)."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(read_cache, "RACY_NS", WINDOW_NS)
    if request.param == "with a helper":
        monkeypatch.setattr(read_cache, "HELP_FROM", 1)
        monkeypatch.setattr(read_cache, "_cores", lambda: 2)
        def start_and_wait(cache):
            START_HELPER(cache)
            if cache._helper is not None:
                cache._helper.wait(timeout=60)  # a small store's verdicts fit in the pipe

        monkeypatch.setattr(ReadCache, "_start_helper", start_and_wait)
    return home


def settle() -> None:
    """Past the racy window: what was just written is old enough to be cached."""
    time.sleep(2 * WINDOW_NS / 1e9)


def listing(root: Path, cache: bool) -> tuple[str, ReadCache | None]:
    """`ls --all --json`'s text, and the cache the listing went through."""
    store = open_store(str(root), cache=cache)
    experiments = select_experiments(store, include_deleted=True)
    text = FORMATS["json"](list_runs(store, experiments, include_deleted=True))
    return text, store.cache


def assert_same(root: Path) -> ReadCache:
    """A listing through the cache is the listing without it (the second time too)."""
    truth, _ = listing(root, cache=False)
    first, cache = listing(root, cache=True)
    second, again = listing(root, cache=True)
    assert first == truth
    assert second == truth
    return again


def run_dir(root: Path, run_id: str) -> Path:
    return next(p for p in root.glob(f"*/{run_id}") if p.is_dir())


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"/"
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


def test_an_unchanged_store_is_read_from_the_cache(reference_store, cache_home):
    root, _ = reference_store
    settle()
    truth, _ = listing(root, cache=False)
    first, cache = listing(root, cache=True)
    assert cache.hits == 0 and cache.misses > 0
    helper = read_cache.HELP_FROM == 1
    running = sum(1 for r in json.loads(truth) if r["status"] == "RUNNING" and not r.get("problems"))
    with_problems = sum(1 for r in json.loads(truth) if r.get("problems"))
    assert running > 0
    # The helper reads (and then checks) every run but the RUNNING ones, which the listing reads
    # (or checks) itself just before it watches their files; and it leaves runs with problems.
    assert cache.read_by_helper == (len(json.loads(truth)) - running - with_problems if helper else 0)
    second, cache = listing(root, cache=True)
    assert first == second == truth
    assert cache.hits == len(json.loads(truth)) - with_problems  # runs with problems are read each time
    assert cache.helped == (cache.hits - running if helper else 0)


def test_a_helper_that_says_nothing_changes_nothing(reference_store, cache_home, monkeypatch):
    """A helper that fails to start, exits at once or writes nothing: the listing checks itself."""
    root, _ = reference_store
    settle()
    truth, _ = listing(root, cache=False)
    listing(root, cache=True)
    monkeypatch.setattr(read_cache, "HELP_FROM", 1)
    monkeypatch.setattr(read_cache, "_cores", lambda: 2)
    monkeypatch.setattr(ReadCache, "_start_helper", START_HELPER)  # not waited for: one of them sleeps
    for command in ([sys.executable, "-c", "pass"], [sys.executable, "-c", "import time; time.sleep(30)"],
                    ["/nonexistent/python"]):
        monkeypatch.setattr(read_helper, "helper_command", lambda *args, command=command: command)
        text, cache = listing(root, cache=True)
        assert text == truth and cache.hits > 0 and cache.helped == 0
        assert cache._helper is None  # stopped (killed) once the listing was done


def test_each_change_is_seen(reference_store, cache_home):
    root, ids = reference_store
    settle()
    assert_same(root)
    parent = run_dir(root, ids.runs["parent"])
    child = run_dir(root, ids.runs["child"])

    def change(what) -> None:
        what()
        settle()
        cache = assert_same(root)
        assert cache.hits > 0  # the other runs still come from the cache

    # A metric point appended (same inode, bigger).
    change(lambda: (parent / "metrics" / "loss").open("a").write(f"{10**12} 0.001 999\n"))
    # A tag rewritten in place, same size, its mtime put back: only ctime tells.
    tag = parent / "tags" / "custom.tag"
    before = tag.stat()

    def rewrite_tag() -> None:
        with tag.open("r+") as f:
            f.write("w")
        os.utime(tag, ns=(before.st_atime_ns, before.st_mtime_ns))

    change(rewrite_tag)
    assert tag.stat().st_mtime_ns == before.st_mtime_ns and tag.stat().st_size == before.st_size
    # A param added, a param removed (their folder changes).
    change(lambda: (parent / "params" / "added").write_text("1"))
    change(lambda: (parent / "params" / "added").unlink())
    # A nested metric key added.
    change(lambda: (parent / "metrics" / "train" / "new").write_text(f"{10**12} 1.0 0\n"))
    # The run's meta.yaml replaced (another inode), as MLflow's set_terminated does.

    def replace_meta() -> None:
        meta = child / "meta.yaml"
        text = meta.read_text().replace("status: 3", "status: 4").replace("status: 1", "status: 4")
        temp = child / ".meta.tmp"
        temp.write_text(text)
        os.replace(temp, meta)

    change(replace_meta)
    assert '"FAILED"' in listing(root, cache=True)[0]
    # A new run (a copy of another under a new id).
    new_id = "f" * 32
    new = child.parent / new_id

    def new_run() -> None:
        shutil.copytree(child, new)
        meta = new / "meta.yaml"
        meta.write_text(meta.read_text().replace(ids.runs["child"], new_id))

    change(new_run)
    assert new_id in listing(root, cache=True)[0]
    # A run deleted for good.
    change(lambda: shutil.rmtree(new))
    assert new_id not in listing(root, cache=True)[0]
    # An experiment (and so its runs) moved to .trash.
    beta = ids.experiments["beta"]
    store = open_store(str(root))
    change(lambda: store.delete_experiment(next(e for e in store.experiments() if e.experiment_id == beta)))
    # A metric file rewritten shorter (truncated and written again).
    change(lambda: (parent / "metrics" / "loss").write_text(f"{10**12} 5.0 0\n"))


def test_a_file_changed_within_the_racy_window_is_read_again(reference_store, cache_home, monkeypatch):
    root, ids = reference_store
    monkeypatch.setattr(read_cache, "RACY_NS", 3600 * 10**9)  # every file is "just written"
    _, cache = listing(root, cache=True)
    _, cache = listing(root, cache=True)
    assert cache.hits == 0  # nothing was kept: each run is read again
    monkeypatch.setattr(read_cache, "RACY_NS", WINDOW_NS)
    settle()
    listing(root, cache=True)
    tag = run_dir(root, ids.runs["parent"]) / "tags" / "custom.tag"
    tag.write_text("x")  # just now: the run is read again the next time too
    _, cache = listing(root, cache=True)
    misses = cache.misses
    text, cache = listing(root, cache=True)
    assert cache.misses == misses  # the racy run (and only what also was) is read each time
    assert '"custom.tag": "x"' in text


def test_a_run_with_problems_is_read_each_time(reference_store, cache_home):
    root, ids = reference_store
    metric = run_dir(root, ids.runs["child"]) / "metrics" / "broken"
    metric.parent.mkdir(exist_ok=True)
    metric.write_bytes(b"not a metric line\n")
    settle()
    assert_same(root)
    _, cache = listing(root, cache=True)
    key = str(run_dir(root, ids.runs["child"]).relative_to(root))
    assert key not in cache._new and cache.misses >= 1
    metric.write_bytes(b"still not one\n")
    settle()
    assert_same(root)


def cache_file(cache_home: Path) -> Path:
    files = list((cache_home / "tuitrack").glob("*.cache"))
    assert len(files) == 1
    return files[0]


def with_valid_digest(header: bytes, payload: bytes) -> bytes:
    return header + payload + hashlib.blake2b(payload, digest_size=32).digest()


def records_of(entries: dict[str, bytes]) -> bytes:
    return b"".join(read_cache.RECORD.pack(len(os.fsencode(key)), len(entry)) + os.fsencode(key) + entry
                    for key, entry in entries.items())


@pytest.mark.parametrize("breakage", [
    "truncated", "a flipped byte", "empty", "garbage", "another version", "another store",
    "not records", "a cut record", "malformed entries", "a folder",
])
def test_a_broken_cache_is_ignored_and_rebuilt(reference_store, cache_home, breakage):
    root, _ = reference_store
    settle()
    truth, _ = listing(root, cache=False)
    listing(root, cache=True)
    path = cache_file(cache_home)
    data = path.read_bytes()
    header = ReadCache(str(root)).header
    broken = {
        "truncated": lambda: data[: len(data) // 2],
        "a flipped byte": lambda: data[:-10] + bytes([data[-10] ^ 0x40]) + data[-9:],
        "empty": lambda: b"",
        "garbage": lambda: os.urandom(4096),
        "another version": lambda: data.replace(b"read cache\n%d " % read_cache.FORMAT,
                                                b"read cache\n%d " % (read_cache.FORMAT - 1), 1),
        "another store": lambda: data.replace(os.fsencode(os.path.realpath(root)), b"/elsewhere", 1),
        "not records": lambda: with_valid_digest(header, marshal.dumps([1, 2, 3])),
        "a cut record": lambda: with_valid_digest(header, data[len(header):-32 - 1]),
        "malformed entries": lambda: with_valid_digest(header, records_of(
            {key: value for key, value in zip(ReadCache(str(root))._entries(),
                                              [b"", b"x", marshal.dumps((1, 2)), marshal.dumps(None),
                                               marshal.dumps(("a", b"", 3, {}, {}, {}))] * 100)})),
    }
    if breakage == "a folder":
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(broken[breakage]())
    text, cache = listing(root, cache=True)
    assert text == truth
    if breakage == "a folder":
        assert cache.note is not None and cache.note.startswith("read cache ")
        return
    if breakage != "malformed entries":
        assert cache.note and "ignored and rebuilt" in cache.note
    again, cache = listing(root, cache=True)  # rebuilt: used again
    assert again == truth and cache.hits > 0 and cache.note is None


def test_random_damage_never_crashes(reference_store, cache_home):
    root, _ = reference_store
    settle()
    truth, _ = listing(root, cache=False)
    listing(root, cache=True)
    path = cache_file(cache_home)
    good = path.read_bytes()
    for seed in range(30):
        damaged = bytearray(good)
        for i in range(1 + seed % 5):
            damaged[(seed * 7919 + i * 104729) % len(damaged)] ^= 1 << (seed % 8)
        path.write_bytes(bytes(damaged[: len(damaged) - seed]))
        assert listing(root, cache=True)[0] == truth


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_cache_is_ignored(reference_store, cache_home):
    root, _ = reference_store
    listing(root, cache=True)
    path = cache_file(cache_home)
    path.chmod(0)
    text, cache = listing(root, cache=True)
    assert text == listing(root, cache=False)[0] and "cannot be read" in cache.note


def test_the_cache_is_private_and_outside_the_store(reference_store, cache_home):
    root, _ = reference_store
    (cache_home / "tuitrack").mkdir(parents=True)
    (cache_home / "tuitrack").chmod(0o755)
    before = tree(root)
    settle()
    listing(root, cache=True)
    assert tree(root) == before
    assert stat.S_IMODE((cache_home / "tuitrack").stat().st_mode) == 0o700
    assert stat.S_IMODE(cache_file(cache_home).stat().st_mode) == 0o600
    assert not [p for p in (cache_home / "tuitrack").iterdir() if p.name.startswith(".tmp")]


def test_a_cache_folder_inside_the_store_is_not_used(reference_store, monkeypatch):
    root, _ = reference_store
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache-here"))
    before = tree(root)
    text, cache = listing(root, cache=True)
    assert text == listing(root, cache=False)[0]
    assert "inside the store" in cache.note
    assert tree(root) == before


def test_the_cache_is_bounded(reference_store, cache_home, monkeypatch):
    root, _ = reference_store
    monkeypatch.setattr(read_cache, "MAX_FILE_BYTES", 2000)
    settle()
    truth, _ = listing(root, cache=False)
    assert listing(root, cache=True)[0] == truth
    assert cache_file(cache_home).stat().st_size <= 2000
    assert listing(root, cache=True)[0] == truth


def test_no_cache_on_the_command_line(reference_store, cache_home, capsys):
    root, _ = reference_store
    assert main(["ls", str(root), "--all", "--json", "--no-cache"]) == 0
    truth = capsys.readouterr().out
    assert not (cache_home / "tuitrack").exists()
    settle()
    assert main(["ls", str(root), "--all", "--json"]) == 0
    assert capsys.readouterr().out == truth
    written = cache_file(cache_home).read_bytes()
    (run_dir(root, reference_store[1].runs["parent"]) / "tags" / "custom.tag").write_text("changed")
    assert main(["ls", str(root), "--all", "--json", "--no-cache"]) == 0
    assert '"custom.tag": "changed"' in capsys.readouterr().out
    assert cache_file(cache_home).read_bytes() == written  # left as it was
    for command in (["prune", str(root), "--status", "failed", "--dry-run"], ["gc", str(root), "--dry-run"]):
        assert main([*command, "--no-cache"]) == 0
    assert cache_file(cache_home).read_bytes() == written
    capsys.readouterr()


def test_the_app_takes_no_cache_from_its_command_line(reference_store, cache_home):
    from tuitrack.cli import browse
    from tuitrack.cli.store_format import open_from

    root, _ = reference_store
    parser = browse.build_parser("")
    assert open_from(parser.parse_args([str(root), "--no-cache"]), str(root)).cache is None
    assert open_from(parser.parse_args([str(root)]), str(root)).cache is not None


async def test_the_app_saves_the_cache_once_loaded(reference_store, cache_home):
    from tests.app_helpers import settle as settle_app
    from tests.conftest import fixed_clock
    from tuitrack.app.app import TuitrackApp

    root, _ = reference_store
    settle()
    uncached = open_store(str(root))
    truth = {r.run_id: r for _, r in list_runs(uncached, select_experiments(uncached, include_deleted=True),
                                               include_deleted=True)}
    for _ in range(2):
        store = open_store(str(root), cache=True)
        app = TuitrackApp(store, clock=fixed_clock)
        async with app.run_test() as pilot:
            await settle_app(pilot)
            shown = {r.run_id: r for r in app.screen.index.all_runs()}
        assert cache_file(cache_home).exists()
    assert store.cache.hits > 0
    assert shown.keys() == truth.keys()
    for run_id, run in shown.items():
        expected = truth[run_id]
        assert (run.run_name, run.status, run.params, run.tags, run.metrics, run.problems) == (
            expected.run_name, expected.status, expected.params, expected.tags, expected.metrics, expected.problems)


async def test_the_app_says_when_the_cache_was_broken(reference_store, cache_home):
    from tests.app_helpers import settle as settle_app
    from tests.conftest import fixed_clock
    from tuitrack.app.app import TuitrackApp

    root, _ = reference_store
    listing(root, cache=True)
    cache_file(cache_home).write_bytes(b"tuitrack read cache\nnot really")
    app = TuitrackApp(open_store(str(root), cache=True), clock=fixed_clock)
    async with app.run_test() as pilot:
        await settle_app(pilot)
        await pilot.pause()
        assert "read cache is of another version or for another store; ignored and rebuilt" in app.screen._status_plain


def test_runs_share_their_keys_and_short_values_read_or_cached(reference_store, cache_home):
    """The index holds one copy of each key for all runs (shared_strings.py): the file store
    shares what it reads, and the cache gives the strings back shared (marshal keeps interning)."""
    root, _ = reference_store
    settle()
    for how in ("read", "cached"):
        store = open_store(str(root), cache=True)
        runs = [r for e in store.experiments() for r in store.runs(e)]
        assert (store.cache.hits > 0) == (how == "cached")
        keys = [k for r in runs for k in (*r.params, *r.tags, *r.metrics)]
        values = [v for r in runs for v in (*r.params.values(), *r.tags.values()) if len(v) <= 64]
        assert keys and values
        for text in keys + values:
            assert text is sys.intern(text), (how, text)
        store.save_cache()


@pytest.mark.parametrize("cores", [2, 4])
def test_commands_take_a_helper_only_from_four_cores(reference_store, cache_home, monkeypatch, capsys, cores):
    """`tuitrack ls` through the cache: its helper process, like its forked workers, only where a
    core is to spare (on two, the second process costs more CPU than it saves in wall time)."""
    root, _ = reference_store
    monkeypatch.setattr(read_cache, "HELP_FROM", 1)
    monkeypatch.setattr(read_cache, "_cores", lambda: cores)
    started = []
    monkeypatch.setattr(read_helper, "helper_command",
                        lambda *args: started.append(args) or [sys.executable, "-c", "pass"])
    main(["ls", "--all", "--json", str(root)])
    assert json.loads(capsys.readouterr().out)
    assert bool(started) == (cores >= 4)


def test_the_helper_stops_once_it_reaches_what_the_listing_did(tmp_path, monkeypatch):
    """Records of runs the listing already has are dropped; MET_AFTER of them in a row mean the two
    have met, and the helper is stopped (it would only read again what is done)."""
    monkeypatch.setattr(read_cache, "MET_AFTER", 3)
    (tmp_path / "store").mkdir()
    cache = ReadCache(str(tmp_path / "store"), folder=str(tmp_path / "cache"))
    cache._new = {f"e/{i}": b"done" for i in range(5)}
    records = [("e/new", True), ("e/0", True), ("e/1", b"x"), ("e/other", None), ("e/2", True), ("e/3", True),
               ("e/4", True), ("e/after", True)]
    out = b"".join(read_helper.LENGTH.pack(len(r)) + r for r in map(marshal.dumps, records))
    script = f"import os, sys; os.write(1, {out!r}); import time; time.sleep(30)"
    monkeypatch.setattr(read_cache, "HELP_FROM", 0)
    monkeypatch.setattr(read_cache, "_cores", lambda: 2)
    monkeypatch.setattr(read_helper, "helper_command", lambda *args: [sys.executable, "-c", script])
    cache._start_helper()
    deadline = time.monotonic() + 30
    while cache._helper is not None and time.monotonic() < deadline:
        cache._hear()
        time.sleep(0.01)
    assert cache._helper is None  # stopped (killed) at e/2, e/3, e/4: three in a row already done
    assert cache._news == {"e/new": True}  # done ones dropped, None not kept, nothing after the stop


def test_new_entries_go_to_disk_as_they_are_read_not_to_memory(tmp_path, monkeypatch):
    """A first open holds no copy of what it caches (50,000 runs' entries are 65 MB, which the
    allocator would keep after they are let go): each is in the new file once its run is read.
    Nor does the next open hold the old file: it is checked a block at a time, and each entry
    read from it when its run is asked for (before, the whole file was held until the save)."""
    import tracemalloc

    from tests.hostile_shapes import add_run, new_store

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(read_cache, "RACY_NS", WINDOW_NS)
    experiment = new_store(tmp_path / "store")
    runs = [add_run(experiment, i, f"run {i}") for i in range(60)]
    for i, run in enumerate(runs):
        (run / "tags" / "mlflow.note.content").write_text(f"{i} " + "x" * 100_000)
    settle()

    def held_after_listing(cache: bool) -> int:
        store = open_store(str(tmp_path / "store"), cache=cache)
        tracemalloc.start()
        runs = [run for e in store.experiments() for run in store.runs(e, with_data=True)]
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert len(runs) == 60
        if cache and store.cache.hits == 0:
            assert store.cache.misses == 60 and set(store.cache._new.values()) == {None}
            assert [p.name for p in (tmp_path / "xdg" / "tuitrack").iterdir()][0].startswith(".tmp-")
        if cache:
            store.save_cache()
        return held

    without = held_after_listing(cache=False)
    assert held_after_listing(cache=True) - without < 2 << 20  # the entries alone are 6 MB
    (runs[0] / "tags" / "changed").write_text("x")  # so the next open writes the file again
    settle()
    assert held_after_listing(cache=True) - without < 2 << 20  # the old file is 6 MB
    text, cache = listing(tmp_path / "store", cache=True)
    assert cache.hits == 60 and "changed" in text


def test_a_listing_that_stops_before_saving_leaves_the_cache_as_it_was(reference_store, cache_home):
    root, ids = reference_store
    settle()
    listing(root, cache=True)
    before = cache_file(cache_home).read_bytes()
    (run_dir(root, ids.runs["child"]) / "tags" / "custom.tag").write_text("changed")
    settle()
    store = open_store(str(root), cache=True)
    for experiment in store.experiments(include_deleted=True):
        store.runs(experiment, with_data=True)
    assert store.cache.misses + store.cache.read_by_helper >= 1
    store.cache.finish()  # a load cancelled (the app quit while loading)
    assert cache_file(cache_home).read_bytes() == before
    assert [p.name for p in (cache_home / "tuitrack").iterdir()] == [cache_file(cache_home).name]


def test_temp_files_of_killed_sessions_are_removed_and_others_kept(reference_store, cache_home):
    root, _ = reference_store
    folder = cache_home / "tuitrack"
    folder.mkdir(parents=True)
    killed, loading, other = folder / ".tmp-killed", folder / ".tmp-loading", folder / "0123.cache"
    for path in (killed, loading, other):
        path.write_bytes(b"x" * 100)
    hours_ago = time.time() - 2 * read_cache.STALE_SECONDS
    os.utime(killed, (hours_ago, hours_ago))
    os.utime(other, (hours_ago, hours_ago))
    settle()
    listing(root, cache=True)
    assert not killed.exists() and loading.exists() and other.exists()


def test_a_cache_that_cannot_be_written_is_not_saved_and_changes_nothing(reference_store, cache_home):
    root, _ = reference_store
    cache_home.mkdir()
    (cache_home / "tuitrack").write_bytes(b"a file where the cache folder would be")
    text, cache = listing(root, cache=True)
    assert text == listing(root, cache=False)[0]
    assert cache.note.startswith("read cache not saved (")
    assert (cache_home / "tuitrack").read_bytes() == b"a file where the cache folder would be"


def test_a_session_that_quits_while_it_loads_leaves_no_temp_file(reference_store, cache_home):
    """The new file is written as the listing goes; a process that ends before it is saved (the
    app quit while loading) removes it as Python exits."""
    root, _ = reference_store
    settle()
    script = ("import sys; from tuitrack.store import open_store; from tuitrack.store.mlflow_file import read_cache; "
              f"read_cache.RACY_NS = {WINDOW_NS}; store = open_store(sys.argv[1], cache=True); "
              "runs = [r for e in store.experiments() for r in store.runs(e, with_data=True)]; "
              "assert runs and store.cache._file._temp is not None; print('listed')")
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.stdout.strip() == "listed", done.stderr
    assert not (cache_home / "tuitrack").exists() or list((cache_home / "tuitrack").iterdir()) == []


def test_entries_asked_for_out_of_the_files_order_are_saved_whole(reference_store, cache_home):
    """A session that read some runs anew writes them first and the unchanged ones after, so the
    next listing asks for entries in another order than its file holds them. Each is still copied
    whole: a span of neighbours used to be taken from the listing's order, ran backwards, and the
    save failed ("the old cache file could not be read") in every session after (found in tmux)."""
    root, _ = reference_store
    settle()
    truth, cache = listing(root, cache=True)  # every run read anew, in the listing's order
    runs = [r for r in json.loads(truth) if not r.get("problems") and r["status"] != "RUNNING"
            and any(p.is_dir() for p in root.glob(f"*/{r['run_id']}"))]
    with_problems = sum(1 for r in json.loads(truth) if r.get("problems"))
    assert len(runs) >= 3
    for run in runs[1::2]:  # every other run changed: the next file holds them first
        (run_dir(root, run["run_id"]) / "tags" / "reordered").write_text("1")
    settle()
    _, cache = listing(root, cache=True)
    assert cache.note is None and cache.misses + cache.read_by_helper >= len(runs[1::2])
    for turn in range(2):  # one more change, so that the entries, out of the file's order, are copied
        (run_dir(root, runs[0]["run_id"]) / "tags" / "turn").write_text(str(turn))
        settle()
        _, cache = listing(root, cache=True)
        assert cache.note is None, cache.note
    again, cache = listing(root, cache=True)
    truth, _ = listing(root, cache=False)
    assert again == truth
    assert cache.misses == with_problems  # every entry copied whole, and taken as it was
