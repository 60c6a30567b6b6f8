"""A run's artifacts over the three MLflow backends (file store, mlflow.db, tracking server),
listed and read within bounds, and never outside the run's artifact root."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.artifact_stores import TEXTS, gif_header, jpeg_header, log_artifacts, png
from tests.mlflow_stores import client_for, sqlite_client
from tuitrack.cli import main
from tuitrack.model import Run
from tuitrack.store import open_store
from tuitrack.store.artifacts import MAX_ENTRIES, ArtifactError, ForeignArtifacts
from tuitrack.store.artifacts.kinds import guess
from tuitrack.store.artifacts.local import LocalArtifacts
from tuitrack.store.artifacts.text import chunk_text
from tuitrack.store.mlflow_file import MlflowFileStore

GiB = 1 << 30
HUGE_END = b"".join(b"line %06d\n" % i for i in range(30_000)) + b"last line!\n"


def mlflow_listing(client, run_id: str, path: str | None = None) -> dict[str, int | None]:
    """Every file MLflow lists for the run (recursively), with its size."""
    found = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            found.update(mlflow_listing(client, run_id, info.path))
        else:
            found[info.path] = info.file_size
    return found


def files_of(tree) -> dict[str, int | None]:
    found, stack = {}, [tree.root]
    while stack:
        entry = stack.pop()
        for child in entry.children or ():
            if child.kind == "folder":
                stack.append(child)
            else:
                found[child.path] = child.size
    return found


@pytest.fixture(scope="module")
def file_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts-file") / "mlruns"
    client = client_for(root)
    run_id = log_artifacts(client, "arts", root.parent / "scratch")
    return root, run_id, client


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifacts-sqlite")
    here = os.getcwd()
    os.chdir(folder)  # MLflow puts an mlflow.db's artifacts under ./mlruns of the current folder
    try:
        client = sqlite_client(folder / "mlflow.db")
        run_id = log_artifacts(client, "arts", folder / "scratch")
    finally:
        os.chdir(here)
    return folder / "mlflow.db", run_id, client


@pytest.fixture
def server(artifacts_server):
    return artifacts_server


BACKENDS = ["file_store", "sqlite_db", "server"]


def opened(request, backend: str):
    place, run_id, client = request.getfixturevalue(backend)
    store = open_store(str(place))
    return store, store.find_run(run_id), client


# -- every backend ------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_the_tree_is_what_mlflow_lists(request, backend):
    store, run, client = opened(request, backend)
    tree = store.artifacts(run).walk()
    assert files_of(tree) == mlflow_listing(client, run.run_id)
    assert tree.root.size == sum(mlflow_listing(client, run.run_id).values())
    notes = next(e for e in tree.root.children if e.path == "notes")
    assert notes.kind == "folder" and notes.size == sum(len(TEXTS[p].encode()) for p in TEXTS if p.startswith("notes/"))
    assert not tree.cut


@pytest.mark.parametrize("backend", BACKENDS)
def test_head_and_tail_reads_are_bounded(request, backend):
    store, run, client = opened(request, backend)
    source = store.artifacts(run)
    log = TEXTS["logs/train.log"].encode()
    head = source.read("logs/train.log", 0, 100)
    assert head.data == log[:100] and head.start == 0 and head.size == len(log) and not head.whole
    tail = source.read("logs/train.log", -100, 100)
    assert tail.data == log[-100:] and tail.start == len(log) - 100 and tail.size == len(log)
    assert chunk_text(tail).startswith("step ") and chunk_text(tail).endswith("\n")
    middle = source.read("logs/train.log", 1000, 50)
    assert middle.data == log[1000:1050]
    assert source.read("logs/train.log", len(log), 50).data == b""  # nothing new past the end
    whole = source.read("config.yaml", 0, 1 << 16)
    assert whole.whole and whole.data.decode() == TEXTS["config.yaml"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_paths_out_of_the_artifacts_are_refused(request, backend):
    store, run, _ = opened(request, backend)
    source = store.artifacts(run)
    for path in ("../meta.yaml", "notes/../../meta.yaml", "/etc/passwd", "notes//readme.md", "a\x00b"):
        with pytest.raises(ArtifactError):
            source.read(path, 0, 100)
        with pytest.raises(ArtifactError):
            source.list(path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_image_is_described_with_its_pixels(request, backend):
    store, run, _ = opened(request, backend)
    head = store.artifacts(run).read("plots/curve.png", 0, 4096)
    kind = guess("plots/curve.png", head.data)
    assert kind.kind == "image" and kind.dimensions == (40, 30)


def test_the_server_serves_proxied_artifacts(server):
    url, run_id, client = server
    assert client.get_run(run_id).info.artifact_uri.startswith("mlflow-artifacts:")
    store = open_store(url)
    source = store.artifacts(store.find_run(run_id))
    assert source.location_of("config.yaml").startswith("mlflow-artifacts:") and source.location_of("config.yaml").endswith("/config.yaml")


def test_the_sqlite_artifacts_are_the_local_folder(sqlite_db):
    db, run_id, _ = sqlite_db
    store = open_store(str(db))
    source = store.artifacts(store.find_run(run_id))
    assert isinstance(source, LocalArtifacts)
    assert Path(source.location_of("notes/readme.md")).read_text() == TEXTS["notes/readme.md"]


# -- the file store: moved, hostile ---------------------------------------------------------------

def test_a_moved_store_reads_its_own_copy(file_store, tmp_path):
    root, run_id, _ = file_store
    moved = tmp_path / "elsewhere" / "mlruns"
    shutil.copytree(root, moved, symlinks=True)
    store = MlflowFileStore(str(moved))
    run = store.find_run(run_id)
    # The copy's meta.yaml still names the original place; make that place gone.
    original = Path(run.artifacts_moved_from or run.artifact_uri.removeprefix("file://"))
    assert run.artifacts_moved_from is None  # the original is still there: it is read
    hidden = original.with_name("artifacts-away")
    original.rename(hidden)
    try:
        run = store.find_run(run_id)
        assert run.artifacts_moved_from is not None
        source = store.artifacts(run)
        assert source.location_of("config.yaml").startswith(str(moved))
        assert source.read("config.yaml", 0, 100).data.decode() == TEXTS["config.yaml"]
    finally:
        hidden.rename(original)


@pytest.fixture
def hostile(file_store, tmp_path):
    """A private copy of the file store whose run's artifacts hold symlinks out to a canary, a
    1 GiB sparse file, a FIFO, and names full of markup and escapes."""
    root, run_id, _ = file_store
    copy = tmp_path / "mlruns"
    shutil.copytree(root, copy, symlinks=True)
    store = MlflowFileStore(str(copy))
    run = store.find_run(run_id)
    folder = Path(store.run_dir(run)) / "artifacts"
    # The copy names the original's artifacts; point it at its own.
    meta = Path(store.run_dir(run)) / "meta.yaml"
    meta.write_text(meta.read_text().replace(run.artifact_uri, folder.as_uri()))
    canary = tmp_path / "canary.txt"
    canary.write_text("SECRET canary\n")
    (folder / "leak.txt").symlink_to(canary)
    (folder / "leakdir").symlink_to(tmp_path)
    with open(folder / "huge.log", "wb") as f:  # a hole, then 300 KiB of log lines at its end
        f.truncate(GiB)
        f.seek(GiB - len(HUGE_END))
        f.write(HUGE_END)
    os.mkfifo(folder / "pipe")
    (folder / "[bold red]x [@click=quit] \x1b]0;t\x07.txt").write_text("[bold]not markup[/]\x1b[2J\n")
    return store, store.find_run(run_id), canary


def test_symlinks_out_are_listed_never_followed(hostile):
    store, run, canary = hostile
    source = store.artifacts(run)
    tree = source.walk()
    kinds = {e.path: e.kind for e in tree.root.children}
    assert kinds["leak.txt"] == "symlink" and kinds["leakdir"] == "symlink" and kinds["pipe"] == "other"
    for path in ("leak.txt", "leakdir/canary.txt"):
        with pytest.raises(ArtifactError, match="symlink"):
            source.read(path, 0, 100)
    with pytest.raises(ArtifactError, match="symlink"):
        source.list("leakdir")
    with pytest.raises(ArtifactError):
        source.read("pipe", 0, 100)  # a FIFO is not read (it would block)
    assert canary.read_text() == "SECRET canary\n"


def test_a_symlinked_artifacts_folder_is_not_read(hostile, tmp_path):
    store, run, canary = hostile
    folder = Path(store.run_dir(run)) / "artifacts"
    shutil.rmtree(folder)
    folder.symlink_to(canary.parent)
    source = store.artifacts(store.find_run(run.run_id))
    with pytest.raises(ArtifactError, match="symlink"):
        source.list()
    with pytest.raises(ArtifactError, match="symlink"):
        source.read("canary.txt", 0, 100)


def test_a_sparse_gigabyte_is_read_within_the_bound(hostile):
    store, run, _ = hostile
    source = store.artifacts(run)
    tail = source.read("huge.log", -1000, 1000)
    assert len(tail.data) == 1000 and tail.size == GiB and tail.data == HUGE_END[-1000:]
    head = source.read("huge.log", 0, 1000)
    assert head.data == b"\x00" * 1000
    assert guess("huge.log", head.data).kind == "binary"


def test_a_folder_with_many_entries_says_it_was_cut(tmp_path):
    folder = tmp_path / "artifacts"
    (folder / "many").mkdir(parents=True)
    for i in range(MAX_ENTRIES + 25):
        (folder / "many" / f"f{i:05}").write_bytes(b"x")
    deep = folder
    for i in range(12):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    tree = LocalArtifacts(str(folder)).walk()
    many = next(e for e in tree.root.children if e.path == "many")
    assert len(many.children) == MAX_ENTRIES and "25 more entries" in many.cut
    assert any("deeper than" in c for c in tree.cut)
    assert any(c.startswith("many/: 25 more") for c in tree.cut)


def test_foreign_artifact_places_are_described_not_fetched():
    for uri in ("s3://bucket/1/abc/artifacts", "hdfs://namenode/x", "file://other-host/x", "artifacts"):
        source = MlflowFileStore.artifacts(None, Run("r" * 32, "1", artifact_uri=uri))
        assert isinstance(source, ForeignArtifacts)
        with pytest.raises(ArtifactError, match="does not fetch"):
            source.list()
        with pytest.raises(ArtifactError):
            source.read("x", 0, 10)


def test_file_kinds():
    assert guess("a.png", png(7, 5)).dimensions == (7, 5)
    assert guess("a.jpg", jpeg_header(640, 480)).dimensions == (640, 480)
    assert guess("a.gif", gif_header(3, 2)).dimensions == (3, 2)
    assert guess("a.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF").dimensions is None  # cut before the frame
    assert guess("x.csv", b"a,b\n1,2\n").kind == "table"
    assert guess("x.py", b"print(1)\n").language == "python"
    assert guess("MLmodel", b"flavors: {}\n").language == "yaml"
    assert guess("x.bin", b"\x93NUMPY\x01\x00").what.startswith("NumPy")
    assert guess("x.txt", "é".encode()[:1]).kind == "text"  # a character cut by the bound


# -- the command ---------------------------------------------------------------------------------

def test_cli_lists_and_prints(file_store, capsys):
    root, run_id, client = file_store
    assert main(["artifacts", str(root), run_id, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {e["path"]: e["size"] for e in listed["entries"] if e["kind"] == "file"} == mlflow_listing(client, run_id)
    assert main(["artifacts", str(root), run_id]) == 0
    out = capsys.readouterr().out
    assert "notes/readme.md" in out and "logs/" in out
    assert main(["artifacts", str(root), run_id, "logs/train.log", "--cat", "--tail", "2"]) == 0
    assert capsys.readouterr().out == "".join(TEXTS["logs/train.log"].splitlines(keepends=True)[-2:])
    assert main(["artifacts", str(root), run_id, "logs/train.log", "--cat", "--bytes", "20"]) == 0
    captured = capsys.readouterr()
    assert captured.out == TEXTS["logs/train.log"][:20] + "\n" and "first 20 B" in captured.err
    assert main(["artifacts", str(root), run_id, "plots/curve.png", "--cat"]) == 0
    assert "PNG image" in capsys.readouterr().out
    assert main(["artifacts", str(root), run_id, "notes", "--json"]) == 0
    assert [e["path"] for e in json.loads(capsys.readouterr().out)["entries"]] == ["notes/readme.md", "notes/train.py"]
    assert main(["artifacts", str(root), run_id, "config.yaml"]) == 1
    assert "not a directory (--cat prints a file)" in capsys.readouterr().err
    assert main(["artifacts", str(root), run_id, "../meta.yaml", "--cat"]) == 1
    assert "'..'" in capsys.readouterr().err


def test_cli_makes_escapes_visible(hostile, capsys):
    store, run, _ = hostile
    name = "[bold red]x [@click=quit] \x1b]0;t\x07.txt"
    assert main(["artifacts", store.root, run.run_id]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "[bold red]x [@click=quit] \\x1b]0;t\\x07.txt" in out and "SECRET" not in out
    assert "leak.txt  (a symlink; not followed)" in out
    assert main(["artifacts", store.root, run.run_id, "--json"]) == 0
    assert name in [e["path"] for e in json.loads(capsys.readouterr().out)["entries"]]
    assert main(["artifacts", store.root, run.run_id, name, "--cat"]) == 0
    assert capsys.readouterr().out == "[bold]not markup[/]\\x1b[2J\n"
    assert main(["artifacts", store.root, run.run_id, "huge.log", "--cat", "--tail", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "last line!\n" and "last 256.0 KiB of huge.log, 1.0 GiB" in captured.err


# -- a hostile server ------------------------------------------------------------------------------

def hostile_server_store(behave):
    from tests.hostile_server import HostileServer, experiments_then
    from tuitrack.store.mlflow_rest.client import MlflowHttp
    from tuitrack.store.mlflow_rest.store import MlflowRestStore

    server = HostileServer(experiments_then(behave)).start()
    return server, MlflowRestStore(server.url, http=MlflowHttp(server.url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}))


def test_a_server_listing_paths_outside_is_not_believed():
    def behave(request):
        request.send(body={"root_uri": "mlflow-artifacts:/1/r/artifacts", "files": [
            {"path": "../../etc/passwd", "is_dir": False, "file_size": 10},
            {"path": "/etc/shadow", "is_dir": False, "file_size": 10},
            {"path": "other/x.txt", "is_dir": False, "file_size": 10},  # not in the folder asked for
            {"path": "ok.txt", "is_dir": False, "file_size": "12"},
            {"path": "sub", "is_dir": True},
            "junk", {"path": 5},
        ]})

    server, store = hostile_server_store(behave)
    try:
        listing = store.artifacts(Run("r" * 32, "1")).list()
        assert [(e.path, e.kind, e.size) for e in listing.entries] == [("sub", "folder", None), ("ok.txt", "file", 12)]
        assert listing.more == 5
    finally:
        server.stop()


def test_a_server_that_ignores_the_range_is_cut_at_the_bound():
    big = b"x" * (8 << 20)

    def behave(request):
        request.send(body=big)  # the whole file, whatever Range asked

    server, store = hostile_server_store(behave)
    try:
        source = store.artifacts(Run("r" * 32, "1"))
        head = source.read("a.bin", 0, 1000)
        assert head.data == big[:1000] and head.start == 0
        tail = source.read("a.bin", -1000, 1000)
        assert len(tail.data) <= 1000  # never more than asked, whatever the server sends
        assert server.seen[-1].headers.get("Range") == "bytes=-1000"
    finally:
        server.stop()


def test_a_walk_lists_a_bounded_number_of_folders(tmp_path, monkeypatch):
    from tuitrack.store.artifacts import source as artifact_source

    monkeypatch.setattr(artifact_source, "MAX_FOLDERS", 10)
    for i in range(30):
        (tmp_path / "artifacts" / f"d{i:02}").mkdir(parents=True)
    counted = LocalArtifacts(str(tmp_path / "artifacts"))
    calls = []
    original = counted.list
    counted.list = lambda path="": calls.append(path) or original(path)
    tree = counted.walk()
    assert len(calls) == 10 and sum("10 folders" in c for c in tree.cut) == 21
