"""No input makes tuitrack crash, hang, or grow its memory with a bad file's size (issue 14), and
nothing is read or written through a symlinked part of a run (issue 13, section 5).

The hostile stores come from tests/hostile_sizes.py. The CLI runs in a subprocess under an
address-space limit (RLIMIT_AS) and a timeout: reading a 2 GiB meta.yaml or expanding an alias
bomb would exceed either, so these tests fail on a reader that trusts sizes.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.hostile_sizes import (
    CANARY_TEXT,
    GiB,
    MLFLOW_CASES,
    Canary,
    alias_bomb,
    deep_json,
    make_entrenar_hostile,
    make_mlflow_hostile,
    sparse,
)
from tests.other_trackers import write_entrenar_store, write_fetch_ml_store
from tuitrack.cli import main
from tuitrack.cli.table import print_table
from tuitrack.export import run_with_histories, write_run_with_histories
from tuitrack.query import mlflow_filter
from tuitrack.store import StoreError, open_store
from tuitrack.store.mlflow_file import metric_file
from tuitrack.store.mlflow_file.meta_yaml import MetaYamlError, load_meta
from tuitrack.store.mlflow_file.metric_file import LineReader, MetricCursor, parse_lines, read_latest

MEMORY_LIMIT = 1 * GiB
TIME_LIMIT_S = 120  # generous for a loaded 2-core machine: a hang is what this catches


def limited(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_limited(*argv: str, limit: int = MEMORY_LIMIT) -> subprocess.CompletedProcess:
    """`tuitrack ARGV` in a subprocess that may use at most `limit` bytes of address space."""
    return subprocess.run([sys.executable, "-m", "tuitrack", *argv], capture_output=True, text=True,
                          timeout=TIME_LIMIT_S, preexec_fn=limited(limit))


def problems_by_run(ls_json: str) -> dict[str, list[str]]:
    return {r["run_id"]: r["problems"] for r in json.loads(ls_json)}


@pytest.fixture(scope="module")
def hostile(reference_store_master, tmp_path_factory):
    """The reference store with one hostile copy of the 'failed' run per case, and its `ls`."""
    master, ids = reference_store_master
    base = tmp_path_factory.mktemp("hostile")
    root = base / "mlruns"
    shutil.copytree(master, root, symlinks=True)
    source = root / ids.experiments["alpha"] / ids.runs["failed"]
    store = make_mlflow_hostile(root, source, base / "outside")
    before = store.canary.snapshot()
    done = run_limited("ls", str(root), "--all", "--json")
    return store, ids, done, before


def test_the_listing_survives_every_hostile_run(hostile):
    store, ids, done, _ = hostile
    assert done.returncode == 0, done.stderr
    problems = problems_by_run(done.stdout)
    assert set(store.runs.values()) <= set(problems)
    for name in ("parent", "child", "failed", "running", "killed", "dataset"):
        assert problems[ids.runs[name]] == [], name  # every other run intact
    assert CANARY_TEXT not in done.stdout + done.stderr


@pytest.mark.parametrize("case", list(MLFLOW_CASES))
def test_each_hostile_run_carries_its_problem(hostile, case):
    store, _, done, _ = hostile
    expected = MLFLOW_CASES[case][1]
    problems = problems_by_run(done.stdout)[store.runs[case]]
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("case", ["nul-metric", "long-line-metric", "huge-param", "symlinked-metrics", "symlinked-key"])
def test_show_reads_whole_histories_in_bounded_memory(hostile, case):
    store, _, _, before = hostile
    expected = MLFLOW_CASES[case][1]
    for argv in (("show", str(store.root), store.runs[case]), ("show", str(store.root), store.runs[case], "--json")):
        done = run_limited(*argv)
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout
        assert CANARY_TEXT not in done.stdout + done.stderr
    assert store.canary.snapshot() == before


def test_garbage_in_the_middle_of_a_metric_is_one_problem(tmp_path):
    path = tmp_path / "loss"
    sparse(path, GiB, b"1700000000000 1.0 0\n")
    with open(path, "ab") as f:
        f.write(b"\n1700000000001 2.0 1\n")
    assert read_latest(path).point.step == 1  # the tail read never meets the garbage
    read = MetricCursor(str(path)).read_new()
    assert [p.step for p in read.points] == [0, 1]
    assert read.errors == ["1 GiB of unreadable bytes at offset 20 (line 2; a line longer than 8 KiB)"]


@pytest.mark.parametrize("case", ["symlinked-tags", "symlinked-key", "symlinked-params", "symlinked-meta"])
@pytest.mark.parametrize("change", [("tag", "k=v"), ("tag", "--remove", "secret"), ("note", "hello"),
                                    ("rename", "new-name"), ("delete", "--yes")])
def test_no_change_goes_through_a_symlink(hostile, case, change, capsys):
    store, _, _, before = hostile
    code = main([change[0], str(store.root), store.runs[case], *change[1:]])
    err = capsys.readouterr().err
    assert code != 0 and "symlink" in err
    assert CANARY_TEXT not in err
    assert store.canary.snapshot() == before
    assert sorted(p.name for p in store.canary.folder.iterdir()) == ["id_rsa", "meta.yaml", "metrics", "record.json"]


def test_a_healthy_run_can_still_be_changed(hostile, capsys):
    store, ids, _, _ = hostile
    assert main(["tag", str(store.root), ids.runs["child"], "checked=yes"]) == 0
    assert main(["tag", str(store.root), ids.runs["child"], "--remove", "checked"]) == 0


def test_a_folder_swapped_for_a_symlink_after_the_listing_is_not_read(reference_store, tmp_path):
    root, ids = reference_store
    canary = Canary.make(tmp_path / "outside", root / ids.experiments["alpha"] / ids.runs["parent"] / "meta.yaml")
    store = open_store(str(root))
    run = store.find_run(ids.runs["parent"])
    run_dir = Path(store.run_dir(run))
    shutil.rmtree(run_dir / "metrics")
    os.symlink(canary.folder / "metrics", run_dir / "metrics")  # swapped between listing and reading
    history = store.metric_history(run, "loss")
    assert history.points == [] and "symlink" in str(history.problems[0])
    assert store.latest_metric(run, "loss") is None


# -- meta.yaml -------------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_before_it_expands():
    with pytest.raises(MetaYamlError, match="an anchor at line 1"):
        load_meta(alias_bomb())
    with pytest.raises(MetaYamlError, match="an alias"):
        load_meta(b"a: 'x'\nb: *a\n")


def test_deep_yaml_is_refused():
    with pytest.raises(MetaYamlError, match="nested|nesting"):
        load_meta(b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    with pytest.raises(MetaYamlError, match="nested more than 16"):
        load_meta(b"a: " + b"[" * 20 + b"]" * 20 + b"\n")


def test_yaml_that_mlflow_writes_still_reads():
    assert load_meta(b'name: "a & b * c"\ntags:\n  k: v\n') == {"name": "a & b * c", "tags": {"k": "v"}}


# -- metric files ----------------------------------------------------------------------------------


def test_consecutive_bad_lines_are_one_region():
    data = b"1 1.0 0\n" + b"junk\n" * 1000 + b"2 2.0 1\nbad\n"
    result = parse_lines(data)
    assert [p.step for p in result.points] == [0, 1]
    assert result.errors == [
        "4.9 KiB of unreadable bytes at offset 8 (lines 2-1001; expected 2, 3 or 5 fields, found 1: 'junk')",
        "line 1003: expected 2, 3 or 5 fields, found 1: 'bad'",
    ]


def test_regions_beyond_the_tenth_are_counted():
    data = b"".join(b"%d 1.0 %d\nbad\n" % (i, i) for i in range(50))
    errors = parse_lines(data).errors
    assert len(errors) == 11 and errors[-1] == "and 40 more unreadable region(s), 160 bytes in all"


def test_chunked_reading_gives_the_whole_read(tmp_path, monkeypatch):
    lines = b"".join(b"%d %d.5 %d\n" % (1000 + s, s, s) for s in range(5000)) + b"x" * 9000 + b"\n3 3.0 3\n"
    path = tmp_path / "m"
    path.write_bytes(lines)
    whole = MetricCursor(str(path)).read_new()
    monkeypatch.setattr(metric_file, "READ_CHUNK", 777)
    chunked = MetricCursor(str(path)).read_new()
    assert chunked.points == whole.points and len(whole.points) == 5001
    assert chunked.errors == whole.errors and "a line longer than 8 KiB" in whole.errors[0]


def test_an_overlong_line_being_written_is_skipped_across_reads(tmp_path):
    path = tmp_path / "m"
    path.write_bytes(b"1 1.0 0\n" + b"x" * 20_000)
    cursor = MetricCursor(str(path))
    first = cursor.read_new()
    assert [p.step for p in first.points] == [0] and "no line end" in first.errors[0]
    with open(path, "ab") as f:
        f.write(b"yyy\n2 2.0 1\n")
    second = cursor.read_new()
    assert [p.step for p in second.points] == [1]
    assert cursor.offset == path.stat().st_size


def test_line_reader_keeps_its_place_after_a_complete_line(tmp_path):
    path = tmp_path / "m"
    path.write_bytes(b"1 1.0 0\n2 2.0 1\n3 3.")
    reader = LineReader()
    with open(path, "rb") as f:
        points = [p for batch in reader.read(f.fileno(), path.stat().st_size) for p in batch]
    assert len(points) == 2 and reader.offset == 16 and not reader.skipping


# -- show --json streams ---------------------------------------------------------------------------


def test_streamed_json_is_the_same_text(reference_store_master):
    root, ids = reference_store_master
    store = open_store(str(root))
    run = store.find_run(ids.runs["parent"])
    experiment = next(e for e in store.experiments() if e.experiment_id == run.experiment_id)
    keys = sorted(run.metrics)
    expected = json.dumps(run_with_histories(run, experiment, [store.metric_history(run, k) for k in keys]),
                          ensure_ascii=False, allow_nan=False)
    import io

    out = io.StringIO()
    write_run_with_histories(out, run, experiment, (store.stream_history(run, k) for k in keys))
    assert out.getvalue() == expected


def test_show_json_of_a_long_history_fits_in_little_memory(reference_store):
    """A million points took ~550 MB before streaming; 400 MB of address space is plenty now."""
    root, ids = reference_store
    path = root / ids.experiments["alpha"] / ids.runs["failed"] / "metrics" / "long"
    with open(path, "wb") as f:
        for start in range(0, 1_000_000, 100_000):
            f.write(b"".join(b"17000%08d %d.25 %d\n" % (s, s, s) for s in range(start, start + 100_000)))
    done = run_limited("show", str(root), ids.runs["failed"], "--json", limit=400 << 20)
    assert done.returncode == 0, done.stderr[-500:]
    points = json.loads(done.stdout)["metrics"]["long"]
    assert len(points) == 1_000_000 and points[-1] == {"step": 999_999, "timestamp": 1700000999999, "value": 999_999.25}


# -- other formats -----------------------------------------------------------------------------------


def test_hostile_entrenar_records(tmp_path):
    folder = write_entrenar_store(tmp_path / "runs")
    canary = Canary.make(tmp_path / "outside", folder / "run-1.json")
    expected = make_entrenar_hostile(folder, canary)
    done = run_limited("ls", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    problems = problems_by_run(done.stdout)
    for run_id, message in expected.items():
        assert any(message in p for p in problems[run_id]), (run_id, problems[run_id])
    assert problems["run-1"] == [] and problems["run-2"] == []
    assert CANARY_TEXT not in done.stdout


def test_hostile_mini_mlflow_runs(mini_store, tmp_path):
    root, ids = mini_store
    v1 = next(root.glob(f"*/{ids.runs['v1.0']}"))
    v2 = next(root.glob(f"*/{ids.runs['v1.1']}"))
    (v1 / "params" / "deep.json").write_text('{"value": ' + deep_json() + ', "timestamp": "2026-01-01T00:00:00Z"}')
    sparse(v1 / "metrics" / "huge.json", 2 * GiB, b'{"value": 1')
    canary = Canary.make(tmp_path / "outside", v1 / "meta.yaml")
    shutil.rmtree(v2 / "params")
    os.symlink(canary.folder, v2 / "params")
    done = run_limited("ls", str(root), "--json")
    assert done.returncode == 0, done.stderr
    problems = problems_by_run(done.stdout)
    assert any("deep.json: JSON nested too deeply" in p for p in problems[v1.name])
    assert any("huge.json: cannot read (larger than 1 MiB" in p for p in problems[v1.name])
    assert any("params: the folder is a symlink" in p for p in problems[v2.name])
    assert problems[ids.runs["v2.0"]] == []
    assert CANARY_TEXT not in done.stdout


def test_a_gigabyte_of_nuls_in_fetch_ml_metrics(tmp_path):
    base = write_fetch_ml_store(tmp_path / "fetch")
    metrics = base / "a1b2c3d4e5f6" / "metrics.bin"
    good = metrics.stat().st_size
    with open(metrics, "ab") as f:
        f.truncate(good + GiB)
    done = run_limited("ls", str(base), "--json")
    assert done.returncode == 0, done.stderr
    problems = problems_by_run(done.stdout)
    assert problems["a1b2c3d4e5f6"] == [f"a1b2c3d4e5f6/metrics.bin: 1 GiB of unreadable bytes at offset {good:,} "
                                        f"({GiB // 21:,} record(s) without a metric name)"]
    assert problems["b2c3d4e5f6a1"] == []


# -- filters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["(" * 3000 + "metrics.loss < 1" + ")" * 3000, "not " * 3000 + "metrics.loss < 1"])
def test_a_deeply_nested_filter_is_a_one_line_error(reference_store_master, text):
    done = run_limited("ls", str(reference_store_master[0]), "--filter", text)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith("tuitrack: bad filter: column ") and "nested more than 100 levels" in lines[0]
    assert len(lines) == 3 and all(len(line) < 120 for line in lines)


def test_a_filter_just_under_the_limit_works():
    node = mlflow_filter.parse("(" * 99 + "metrics.loss < 1" + ")" * 99)
    assert isinstance(node, mlflow_filter.Comparison)


async def test_the_app_shows_a_deep_filter_error():
    from textual.widgets import Input

    from tests.app_helpers import make_app, settle

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "(" * 3000 + "metrics.loss < 1" + ")" * 3000
        await settle(pilot)
        assert "nested more than 100 levels" in app.screen.query_error
        assert app.screen.query_one("#filter").has_class("-invalid")


# -- small ones --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["meta", "meta.yaml", "tags"])
def test_an_experiment_meta_yaml_is_not_a_run(reference_store_master, capsys, name):
    assert main(["show", str(reference_store_master[0]), name]) == 1
    err = capsys.readouterr().err
    assert f"no run {name!r}" in err or f"{name!r} is not a run id" in err, err


def test_a_run_id_in_two_experiments_is_named_with_its_experiment(reference_store, capsys):
    root, ids = reference_store
    source = root / ids.experiments["beta"] / ids.runs["killed"]
    copy = root / ids.experiments["alpha"] / ids.runs["killed"]
    shutil.copytree(source, copy)
    meta = copy / "meta.yaml"
    meta.write_text(meta.read_text().replace(ids.experiments["beta"], ids.experiments["alpha"]))
    run_id = ids.runs["killed"]
    assert main(["show", str(root), run_id]) == 1
    err = capsys.readouterr().err
    assert "is in 2 experiments" in err and "EXPERIMENT/RUN" in err
    assert main(["show", str(root), f"exp-alpha/{run_id[:8]}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["experiment_id"] == ids.experiments["alpha"]
    assert main(["tag", str(root), f"{ids.experiments['beta']}/{run_id}", "where=beta"]) == 0
    assert (source / "tags" / "where").read_text() == "beta" and not (copy / "tags" / "where").exists()
    assert main(["show", str(root), f"nope/{run_id}"]) == 1
    assert "no experiment 'nope'" in capsys.readouterr().err


def test_a_locked_database_says_so(sqlite_store, monkeypatch):
    from tuitrack.store.mlflow_sql import schema

    db, _ = sqlite_store
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_S", 0.1)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another process; try again"):
            open_store(str(db))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_table_columns_align_by_cell_width(capsys):
    rows = [("日本語の名前", "x"), ("e\u0301te\u0301", "y"), ("plain", "z")]
    print_table(("NAME", "V"), rows, 80)
    lines = capsys.readouterr().out.splitlines()
    columns = {cell_len(line[: line.rindex(" ") + 1]) for line in lines}
    assert len(columns) == 1, lines
    print_table(("NAME", "V"), [("日本語日本語日本語", "long value " * 5)], 20, flex=0)
    cut = capsys.readouterr().out.splitlines()[1]
    assert cell_len(cut) <= 20 + len("long value ") * 5 and "…" in cut


@pytest.mark.parametrize("values", [
    [1.0, 3.0, 2.0, 0.5, 3.0, 0.5], [float("nan")] * 4, [float("nan"), 2.0, float("nan"), 1.0],
    [1.0, float("nan"), float("nan"), 5.0], [2.0, 2.0, 2.0, 2.0],
])
def test_summaries_merged_batch_by_batch_equal_one_summary(values):
    from tuitrack.model import MetricPoint, merge_summaries, summarize

    points = [MetricPoint(100 + i % 3, v, i // 2) for i, v in enumerate(values)]
    whole = summarize(points)
    for cut in range(1, len(points)):
        merged = merge_summaries(summarize(points[:cut]), summarize(points[cut:]))
        assert repr(merged) == repr(whole), cut  # repr: NaN equals itself there


def test_an_experiment_with_a_symlinked_run_is_not_deleted(reference_store, tmp_path, capsys):
    root, ids = reference_store
    run = root / ids.experiments["alpha"] / ids.runs["child"]
    canary = Canary.make(tmp_path / "outside", run / "meta.yaml")
    before = canary.snapshot()
    (run / "meta.yaml").unlink()
    os.symlink(canary.folder / "meta.yaml", run / "meta.yaml")
    assert main(["delete", str(root), "--experiment", "exp-alpha", "--yes", "--force"]) != 0
    assert "symlink" in capsys.readouterr().err
    assert canary.snapshot() == before
    store = open_store(str(root))
    parent = store.find_run(ids.runs["parent"])
    assert not parent.is_deleted  # nothing was changed half way
    assert "symlink" in store.refusal("tag", store.find_run(ids.runs["child"]))
    assert store.refusal("tag", parent) is None


def test_thousands_of_key_folders_need_few_descriptors(tmp_path):
    from tuitrack.store.mlflow_file.files import walk_keys

    for i in range(3000):  # keys like layer{i}/grad: one folder each
        (tmp_path / "metrics" / f"layer{i}").mkdir(parents=True)
        (tmp_path / "metrics" / f"layer{i}" / "grad").write_text("1 1.0 0\n")
    (tmp_path / "metrics" / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "metrics" / "a" / "b" / "c" / "d").write_text("1 1.0 0\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        problems: list = []
        keys = {key for key, _, _ in walk_keys(str(tmp_path / "metrics"), problems)}
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert problems == [] and len(keys) == 3001 and "a/b/c/d" in keys


async def test_the_app_lists_a_hostile_store(reference_store, tmp_path):
    """On main, an alias bomb kept the app at "loading… 0 runs": every run now loads, each hostile
    one with its problem."""
    from tests.app_helpers import make_app, settle

    root, ids = reference_store
    source = root / ids.experiments["alpha"] / ids.runs["failed"]
    cases = ["alias-bomb", "huge-meta", "nul-metric", "symlinked-tags"]
    store = make_mlflow_hostile(root, source, tmp_path / "outside", cases)
    app = make_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, timeout=60)
        index = app.screen.index
        for case in cases:
            run = index.run(store.runs[case])
            assert run is not None and any(MLFLOW_CASES[case][1] in str(p) for p in run.problems), case
        assert index.run(ids.runs["parent"]).problems == []
