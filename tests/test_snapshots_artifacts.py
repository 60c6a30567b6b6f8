"""What the artifacts view (`4`) looks like, at 80x24 and 120x40: a YAML file previewed, and the
tail of a training log. Update with `pytest tests/test_snapshots_artifacts.py --snapshot-update`
after looking at snapshot_report.html."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.app_helpers import settle
from tests.artifact_stores import png
from tests.conftest import SAMPLE, fixed_clock
from tests.test_snapshots import SIZES, ApparentSizeStore, goto
from tuitrack.app.app import TuitrackApp
from tuitrack.app.widgets.artifacts_view import ArtifactTreeWidget

RUN = "lr-too-high"


def app_with_artifacts(tmp_path: Path) -> TuitrackApp:
    """The sample store, its lr-too-high run holding a few more artifacts in its own folder."""
    root = tmp_path / "mlruns"
    shutil.copytree(SAMPLE, root, symlinks=True)
    store = ApparentSizeStore(str(root), location="sample_runs/mlruns")
    run = next(r for e in store.experiments() for r in store.runs(e) if r.run_name == RUN)
    folder = Path(store.run_dir(run)) / "artifacts"
    meta = Path(store.run_dir(run)) / "meta.yaml"
    meta.write_text(meta.read_text().replace(run.artifact_uri, folder.as_uri()))
    (folder / "logs").mkdir()
    (folder / "logs" / "train.log").write_text("".join(f"step {i:4} loss {2.5 / (i + 1):.4f}\n" for i in range(300)))
    (folder / "plots").mkdir()
    (folder / "plots" / "loss.png").write_bytes(png(640, 480))
    (folder / "history.csv").write_text("step,loss,lr\n0,2.5,0.1\n1,1.9,0.1\n2,nan,0.1\n")
    return TuitrackApp(ApparentSizeStore(str(root), location="sample_runs/mlruns"), clock=fixed_clock)


async def preview(pilot, path: str) -> None:
    await settle(pilot)
    await goto(pilot, RUN)
    await pilot.press("4")
    await settle(pilot)
    tree = pilot.app.screen.query_one(ArtifactTreeWidget)
    for _ in range(40):
        node = tree.cursor_node
        if node is not None and node.data is not None and node.data.path == path:
            break
        await pilot.press("l" if node is not None and node.data is not None and node.data.kind == "folder"
                          and not node.is_expanded else "j")
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_artifacts_yaml(snap_compare, size, tmp_path):
    async def run_before(pilot):
        await preview(pilot, "config.yaml")

    assert snap_compare(app_with_artifacts(tmp_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_artifacts_log_tail(snap_compare, size, tmp_path):
    async def run_before(pilot):
        await preview(pilot, "logs/train.log")

    assert snap_compare(app_with_artifacts(tmp_path), terminal_size=size, run_before=run_before)
