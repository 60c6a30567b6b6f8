"""The artifacts view (`4`): the selected run's artifacts as a tree, enter previews, y copies the
path, a growing log is followed live; hostile names and symlinks shown, never followed."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.app_helpers import make_app, screen_text, settle
from tests.artifact_stores import TEXTS, log_artifacts, png
from tests.mlflow_stores import client_for
from tuitrack.app import pictures
from tuitrack.formatting import format_bytes
from tuitrack.app.widgets.artifacts_view import ArtifactsView, ArtifactTreeWidget
from tuitrack.store.mlflow_file import MlflowFileStore

GiB = 1 << 30


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    root = tmp_path_factory.mktemp("app-artifacts") / "mlruns"
    run_id = log_artifacts(client_for(root), "arts", root.parent / "scratch")
    return root, run_id


@pytest.fixture
def store(master, tmp_path):
    """A private copy whose run names its own artifacts folder."""
    root, run_id = master
    copy = tmp_path / "mlruns"
    shutil.copytree(root, copy, symlinks=True)
    files = MlflowFileStore(str(copy))
    run = files.find_run(run_id)
    meta = Path(files.run_dir(run)) / "meta.yaml"
    folder = Path(files.run_dir(run)) / "artifacts"
    meta.write_text(meta.read_text().replace(run.artifact_uri, folder.as_uri()))
    return copy, run_id, folder


async def open_view(pilot, run_id: str) -> ArtifactsView:
    await settle(pilot)
    await pilot.app.screen.select_run(run_id)
    await settle(pilot)
    await pilot.press("4")
    await settle(pilot)
    return pilot.app.screen.query_one(ArtifactsView)


async def cursor_to(pilot, view: ArtifactsView, path: str) -> None:
    """Move the tree's cursor to `path` with keys (folders on the way opened with l)."""
    tree = view.query_one(ArtifactTreeWidget)
    await pilot.press("g")
    for _ in range(200):
        node = tree.cursor_node
        if node is not None and node.data is not None and node.data.path == path:
            return
        if node is not None and node.data is not None and node.data.kind == "folder" \
                and path.startswith(node.data.path + "/") and not node.is_expanded:
            await pilot.press("l")
        else:
            await pilot.press("j")
    raise AssertionError(f"{path} not reached")


async def wait_for(pilot, condition, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the condition never held"
        await pilot.pause(0.05)


async def test_4_lists_enter_previews_y_copies(store):
    root, run_id, folder = store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        assert view.display and app.focused is view.query_one(ArtifactTreeWidget)
        shown = screen_text(app)
        assert "config.yaml" in shown and "notes/" in shown and "Artifacts of with-artifacts" in shown
        await cursor_to(pilot, view, "config.yaml")
        await pilot.press("enter")
        await settle(pilot)
        shown = screen_text(app)
        assert "layers: [64, 32]" in shown and "YAML text" in shown
        await pilot.press("y")
        assert app.clipboard == str(folder / "config.yaml")
        await cursor_to(pilot, view, "metrics/history.csv")
        await pilot.press("enter")
        await settle(pilot)
        assert "CSV table" in screen_text(app) and "1.5" in screen_text(app)
        await cursor_to(pilot, view, "plots/curve.png")
        await pilot.press("enter")
        await settle(pilot)
        shown = screen_text(app)
        assert "PNG image, 40 x 30 pixels" in shown and "kitty or sixel" in shown
        (folder / "new.txt").write_text("logged just now\n")
        assert "new.txt" not in screen_text(app)
        await pilot.press("4")  # again: listed again
        await settle(pilot)
        assert "new.txt" in screen_text(app)


async def test_the_view_follows_the_selected_run(store, tmp_path):
    root, run_id, _ = store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        assert view.run_id == run_id
        other = next(r for r in app.screen.index.all_runs() if r.run_id != run_id) if len(
            app.screen.index.all_runs()) > 1 else None
        if other is None:  # one run only: a second one, logged now
            client = client_for(root)
            second = client.create_run(client.get_experiment_by_name("arts").experiment_id, run_name="second")
            client.log_text(second.info.run_id, "other run", "only.txt")
            await pilot.press("ctrl+r")
            await settle(pilot)
            other_id = second.info.run_id
        else:
            other_id = other.run_id
        await app.screen.select_run(other_id)
        await settle(pilot)
        assert view.run_id == other_id and "only.txt" in screen_text(app)


async def test_a_growing_log_is_followed_live(store):
    root, run_id, folder = store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        await cursor_to(pilot, view, "logs/train.log")
        await pilot.press("enter")
        await settle(pilot)
        assert view.tail is not None and "step 1999 " in view.text
        assert "● logs/train.log" in screen_text(app)
        with open(folder / "logs" / "train.log", "a") as log:
            log.write("step 2000 loss 0.0001\nstep 2001 ")  # the second line is still being written
            log.flush()
            await wait_for(pilot, lambda: "step 2000 loss 0.0001" in view.text)
            assert "step 2001" not in view.text
            log.write("loss 0.00005\n")
        await wait_for(pilot, lambda: "step 2001 loss 0.00005\n" in view.text)
        await wait_for(pilot, lambda: "step 2001 loss 0.00005" in screen_text(app))


async def test_the_view_looks_at_its_files_only_while_shown(store):
    """Its once-a-second look (a followed file, a relisting) is paused while another view shows:
    an idle app's timers cost it more than its sweeps."""
    root, run_id, _ = store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = pilot.app.screen.query_one(ArtifactsView)
        await settle(pilot)
        assert not view._looking._active.is_set()
        view = await open_view(pilot, run_id)
        assert view._looking._active.is_set()
        await pilot.press("1")
        await settle(pilot)
        assert not view._looking._active.is_set()


async def test_hostile_artifacts_are_shown_as_text_never_followed(store, tmp_path):
    root, run_id, folder = store
    canary = tmp_path / "canary.txt"
    canary.write_text("SECRET canary\n")
    (folder / "leak.txt").symlink_to(canary)
    name = "[b]x[@click=quit]\x1b]0;t\x07.md"
    (folder / name).write_text("[/] not markup \x1b[2J\n")
    with open(folder / "huge.log", "wb") as f:
        f.truncate(GiB)
        f.seek(GiB - 6)
        f.write(b"\nend!\n")
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        shown = screen_text(app)
        assert "[b]x[@click=quit]\\x1b]0;t\\x07.md" in shown
        assert "leak.txt  symlink, not followed" in shown
        await cursor_to(pilot, view, "leak.txt")
        await pilot.press("enter")
        await settle(pilot)
        assert "leak.txt: a symlink; not read" in screen_text(app) and "SECRET" not in screen_text(app)
        await cursor_to(pilot, view, name)
        await pilot.press("enter")
        await settle(pilot)
        assert "[/] not markup \\x1b[2J" in screen_text(app)
        await cursor_to(pilot, view, "huge.log")
        await pilot.press("enter")
        await settle(pilot)
        assert "binary data, 1.0 GiB" in screen_text(app)
        assert app.is_running
    assert canary.read_text() == "SECRET canary\n"


async def test_a_server_side_place_is_described(store):
    root, run_id, _ = store
    files = MlflowFileStore(str(root))
    run = files.find_run(run_id)
    meta = Path(files.run_dir(run)) / "meta.yaml"
    meta.write_text(meta.read_text().replace(run.artifact_uri, "s3://bucket/runs/artifacts"))
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_view(pilot, run_id)
        view = app.screen.query_one(ArtifactsView)
        assert view.listed is None and "s3://bucket/runs/artifacts" in screen_text(app)
        assert "does not fetch" in screen_text(app)


async def test_a_large_log_shows_its_tail(store):
    root, run_id, folder = store
    big = "".join(f"line {i:07}\n" for i in range(200_000))  # 2.5 MiB
    (folder / "big.log").write_text(big)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        await cursor_to(pilot, view, "big.log")
        await pilot.press("enter")
        await settle(pilot)
        assert view.text.endswith("line 0199999\n") and len(view.text) <= 256 * 1024
        assert "line 0000000" not in view.text
        shown = screen_text(app)
        assert "line 0199999" in shown and f"plain text, last {len(view.text) / 1024:.1f} KiB of 2.5 MiB" in shown


async def test_an_mlflow_db_run_s_artifacts(tmp_path):
    import os

    from tests.mlflow_stores import sqlite_client

    here = os.getcwd()
    os.chdir(tmp_path)  # MLflow puts an mlflow.db's artifacts under ./mlruns of the current folder
    try:
        run_id = log_artifacts(sqlite_client(tmp_path / "mlflow.db"), "arts", tmp_path / "scratch")
    finally:
        os.chdir(here)
    app = make_app(tmp_path / "mlflow.db")
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        await cursor_to(pilot, view, "notes/train.py")
        await pilot.press("enter")
        await settle(pilot)
        assert "def train():" in screen_text(app) and "PYTHON text" in screen_text(app)
        await pilot.press("y")
        assert app.clipboard == str(tmp_path / "mlruns" / view.listed.where.split("/mlruns/")[1] / "notes" / "train.py")


async def test_a_tracking_server_run_s_artifacts(artifacts_server):
    """A real `mlflow server` that stores and serves the artifacts itself (mlflow-artifacts:/)."""
    from tests.conftest import fixed_clock
    from tuitrack.app.app import TuitrackApp
    from tuitrack.store import open_store

    url, run_id, _ = artifacts_server
    app = TuitrackApp(open_store(url), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        assert "logs/" in screen_text(app) and "41.9 KiB" in screen_text(app)
        await cursor_to(pilot, view, "summary.json")
        await pilot.press("enter")
        await settle(pilot)
        assert '"accuracy": 0.9' in screen_text(app) and "JSON text" in screen_text(app)
        await pilot.press("y")
        assert app.clipboard.startswith("mlflow-artifacts:") and app.clipboard.endswith(f"{run_id}/artifacts/summary.json")


async def test_an_artifact_logged_to_a_server_run_appears_while_shown(artifacts_server):
    from tuitrack.app.app import TuitrackApp
    from tuitrack.store import open_store

    url, _, client = artifacts_server
    run = client.create_run(client.create_experiment("live-arts"), run_name="still-logging")
    client.log_text(run.info.run_id, "first\n", "first.txt")
    app = TuitrackApp(open_store(url))
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run.info.run_id)
        assert "first.txt" in screen_text(app) and view.source.relist_every == 5.0
        client.log_text(run.info.run_id, "second\n", "later/second.txt")
        await wait_for(pilot, lambda: "later/" in screen_text(app))


# -- pictures (the images extra) -------------------------------------------------------------

def pillow_png(path: Path, width: int, height: int) -> Path:
    from PIL import Image

    Image.new("RGB", (width, height), (200, 40, 40)).save(path, "PNG")
    return path


@pytest.fixture
def picture_store(tmp_path):
    """A real MLflow run whose artifacts hold a Pillow PNG, a corrupt PNG and a bomb's header."""
    root = tmp_path / "mlruns"
    client = client_for(root)
    run = client.create_run(client.create_experiment("pics"), run_name="pictures")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    pillow_png(scratch / "real.png", 64, 48)
    good = (scratch / "real.png").read_bytes()
    (scratch / "corrupt.png").write_bytes(good[:33] + b"\x00garbage, not zlib" * 40)  # header, then junk
    (scratch / "bomb.png").write_bytes(png(30_000, 30_000)[:33])  # 900 megapixels claimed
    for name in ("real.png", "corrupt.png", "bomb.png"):
        client.log_artifact(run.info.run_id, str(scratch / name), "plots")
    return root, run.info.run_id


def force_graphics(monkeypatch, on: bool, widget: str = "Image") -> None:
    """What pictures.detect() would find in a kitty/sixel terminal (the tests have no terminal)."""
    import textual_image.widget

    monkeypatch.setattr(pictures, "_picture_widget", getattr(textual_image.widget, widget) if on else None)


async def preview_of(pilot, run_id: str, path: str) -> ArtifactsView:
    view = await open_view(pilot, run_id)
    await cursor_to(pilot, view, path)
    await pilot.press("enter")
    await settle(pilot)
    return view


@pytest.mark.parametrize("widget", ["Image", "SixelImage", "TGPImage"])
async def test_a_png_is_drawn_where_the_terminal_has_graphics(picture_store, monkeypatch, widget):
    import textual_image.widget

    root, run_id = picture_store
    force_graphics(monkeypatch, True, widget)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await preview_of(pilot, run_id, "plots/real.png")
        drawn = list(view.query(".artifact-picture"))
        assert len(drawn) == 1 and isinstance(drawn[0], getattr(textual_image.widget, widget))
        assert drawn[0].image.size == (64, 48)
        assert "PNG image, 64 x 48 pixels" in screen_text(app)
        await cursor_to(pilot, view, "plots/corrupt.png")  # another preview: the picture goes
        await pilot.press("enter")
        await settle(pilot)
        assert not view.query(".artifact-picture")


async def test_without_graphics_a_note_says_what_would_draw_it(picture_store, monkeypatch):
    root, run_id = picture_store
    force_graphics(monkeypatch, False)
    monkeypatch.setattr(pictures, "installed", lambda: False)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await preview_of(pilot, run_id, "plots/real.png")
        assert not view.query(".artifact-picture")
        assert "PNG image, 64 x 48 pixels" in screen_text(app)
        note = str(view.query_one("#artifact-preview-body").render())
        assert 'pip install "tuitrack[images]"' in note and "kitty or sixel" in note


@pytest.mark.parametrize("name, why", [("corrupt.png", "not decoded ("),
                                       ("bomb.png", "30000 x 30000 pixels is over 50 megapixels; not decoded")])
async def test_a_corrupt_image_or_a_bomb_is_one_line(picture_store, monkeypatch, name, why):
    root, run_id = picture_store
    force_graphics(monkeypatch, True)
    app = make_app(root)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await preview_of(pilot, run_id, f"plots/{name}")
        assert not view.query(".artifact-picture")
        body = str(view.query_one("#artifact-preview-body").render())
        assert why in body and "\n" not in body.strip()
        assert app.return_code is None and app.is_running


def test_decode_refuses_over_the_pixel_bound_before_decoding(tmp_path, monkeypatch):
    data = pillow_png(tmp_path / "wide.png", 2000, 1000).read_bytes()
    monkeypatch.setattr(pictures, "MAX_PIXELS", 1_000_000)
    with pytest.raises(pictures.PictureError, match="2000 x 1000 pixels is over"):
        pictures.decode(data)
    monkeypatch.setattr(pictures, "MAX_PIXELS", 3_000_000)
    monkeypatch.setattr(pictures, "SHOWN_PIXELS", 500)
    assert pictures.decode(data).size == (500, 250)  # scaled to the bound, its shape kept


# -- listed again while the run logs ---------------------------------------------------------

async def test_a_file_logged_while_the_view_shows_appears_in_the_tree(picture_store):
    root, run_id = picture_store  # a RUNNING run (never terminated)
    client = client_for(root)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        tree = view.query_one(ArtifactTreeWidget)
        await cursor_to(pilot, view, "plots/corrupt.png")
        await pilot.press("enter")
        await settle(pilot)
        (Path(view.source.root) / "plots" / "fresh.png").write_bytes(png(8, 8))
        client.log_text(run_id, "epoch 1 done\n", "logs/epoch1.txt")  # a new folder, by MLflow
        await wait_for(pilot, lambda: "fresh.png" in screen_text(app) and "logs/" in screen_text(app))
        assert tree.cursor_node is not None and tree.cursor_node.data.path == "plots/corrupt.png"
        assert view.previewed is not None and view.previewed.path == "plots/corrupt.png"  # the preview stays
        plots = next(n for n in tree.root.children if n.data is not None and n.data.path == "plots")
        assert plots.is_expanded


async def test_a_run_that_ended_long_ago_is_not_listed_again(picture_store, monkeypatch):
    import time

    from tuitrack.app.app import TuitrackApp
    from tuitrack.store import open_store

    root, run_id = picture_store
    client_for(root).set_terminated(run_id)
    app = TuitrackApp(open_store(str(root)), clock=lambda: time.time() + 3600)  # an hour after it ended
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        walks = []
        monkeypatch.setattr(view, "_relist", lambda *args: walks.append(args))
        view._last_listed = float("-inf")  # due, as far as time goes
        view._relist_if_due()
        assert walks == []
        view.run_changed(view.run)  # the store says it changed (a tag, an artifact logged late)
        view._relist_if_due()
        assert len(walks) == 1
        view._relist_if_due()  # at most every relist_every seconds
        assert len(walks) == 1


async def test_a_file_that_grows_gets_its_new_size_in_place(picture_store):
    root, run_id = picture_store
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_view(pilot, run_id)
        tree = view.query_one(ArtifactTreeWidget)
        await cursor_to(pilot, view, "plots/bomb.png")
        node = tree.cursor_node
        with open(Path(view.source.root) / "plots" / "bomb.png", "ab") as grown:
            grown.write(b"\x00" * 5000)
        await wait_for(pilot, lambda: node.data.size == 33 + 5000)
        assert str(node.label).endswith(format_bytes(5033)) and "33 B" not in str(node.label)
        assert tree.cursor_node is node  # the same node: updated, not rebuilt


@pytest.mark.parametrize("chosen, found", [("SixelImage", "sixel"), ("TGPImage", "kitty"), ("HalfcellImage", "")])
def test_detect_takes_kitty_or_sixel_only(monkeypatch, chosen, found):
    import io

    import textual_image.renderable

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(pictures, "_picture_widget", None)
    monkeypatch.setattr(pictures, "_graphics", "")
    monkeypatch.setattr(textual_image.renderable, "Image", getattr(textual_image.renderable, chosen))
    monkeypatch.setattr("sys.__stdout__", Terminal())
    pictures.detect()
    assert pictures._graphics == found and (pictures.picture_widget() is not None) == bool(found)


def test_no_terminal_means_no_pictures_and_no_extra_a_note_naming_it(monkeypatch):
    monkeypatch.setattr(pictures, "_picture_widget", None)
    monkeypatch.setattr("sys.__stdout__", None)
    pictures.detect()
    assert pictures.picture_widget() is None
    monkeypatch.setattr(pictures, "find_spec", lambda name: None)
    assert not pictures.installed() and 'pip install "tuitrack[images]"' in pictures.why_no_picture()
