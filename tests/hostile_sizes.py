"""Hostile-size and hostile-shape stores, cheap to build: huge files are sparse (`truncate`), so a
3 GiB param costs no disk and no time to make, and only a reader that trusts sizes pays for it.

Each MLflow case is a copy of a run MLflow wrote, with one part made hostile; a canary folder
outside the store holds what a symlink points at (a "private key", a meta.yaml, a metric), and must
survive every command, unread and unprinted. Used by tests/test_bounded.py and bench/bench_hostile.py.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

GiB = 1 << 30
MiB = 1 << 20
CANARY_TEXT = "CANARY-PRIVATE-KEY-do-not-print-0f3c"


def alias_bomb() -> bytes:
    """Billion laughs: nine levels of nine aliases each, 9**9 strings once expanded; ~600 bytes."""
    lines = ['lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines.append("run_id: bomb")
    return ("\n".join(lines) + "\n").encode()


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


def sparse(path: Path, size: int, head: bytes = b"") -> None:
    """A file of `size` bytes: `head`, then NULs that take no disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


@dataclass
class Canary:
    folder: Path

    @classmethod
    def make(cls, folder: Path, meta_from: Path) -> Canary:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "id_rsa").write_text(CANARY_TEXT + "\n")
        (folder / "meta.yaml").write_bytes(meta_from.read_bytes())
        (folder / "metrics").mkdir(exist_ok=True)
        (folder / "metrics" / "loss").write_text("1700000000000 0.5 1\n")
        (folder / "record.json").write_text(json.dumps({"run_id": "linked", "experiment_name": CANARY_TEXT}))
        return cls(folder)

    def snapshot(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.folder)): p.read_bytes() for p in sorted(self.folder.rglob("*")) if p.is_file()}


def _link_folder(run: Path, kind: str, target: Path) -> None:
    shutil.rmtree(run / kind, ignore_errors=True)
    os.symlink(target, run / kind)


# name -> (make the run hostile, the problem its listing shows). Each gets a run of its own.
MLFLOW_CASES: dict[str, tuple[Callable[[Path, Canary], None], str]] = {
    "alias-bomb": (lambda run, c: (run / "meta.yaml").write_bytes(alias_bomb()),
                   "MLflow never writes anchors or aliases"),
    "huge-meta": (lambda run, c: sparse(run / "meta.yaml", 2 * GiB, (run / "meta.yaml").read_bytes()),
                  "cannot read meta.yaml (larger than 64 KiB"),
    "huge-param": (lambda run, c: sparse(run / "params" / "big", 3 * GiB), "params/big: cannot read (larger than 64 KiB"),
    "huge-tag": (lambda run, c: sparse(run / "tags" / "big", 2 * GiB), "tags/big: cannot read (larger than 1 MiB"),
    "nul-metric": (lambda run, c: sparse(run / "metrics" / "nul", GiB), "1 GiB of unreadable bytes at offset 0"),
    "long-line-metric": (lambda run, c: sparse(run / "metrics" / "long", GiB, b"1700000000000 1.0 0\n" + b"9" * 10_000),
                         "1 GiB of unreadable bytes at offset 20 (line 2 with no line end"),
    "fifo": (lambda run, c: os.mkfifo(run / "params" / "fifo"), "params/fifo: not a regular file"),
    "dev-zero": (lambda run, c: os.symlink("/dev/zero", run / "params" / "zero"), "params/zero: a symlink; not read"),
    "symlinked-tags": (lambda run, c: _link_folder(run, "tags", c.folder), "tags: the folder is a symlink"),
    "symlinked-params": (lambda run, c: _link_folder(run, "params", c.folder), "params: the folder is a symlink"),
    "symlinked-metrics": (lambda run, c: _link_folder(run, "metrics", c.folder / "metrics"),
                          "metrics: the folder is a symlink"),
    "symlinked-key": (lambda run, c: os.symlink(c.folder / "id_rsa", run / "tags" / "secret"),
                      "tags/secret: a symlink; not read"),
    "symlinked-meta": (lambda run, c: ((run / "meta.yaml").unlink(), os.symlink(c.folder / "meta.yaml", run / "meta.yaml")),
                       "cannot read meta.yaml (a symlink; not read"),
}


@dataclass
class HostileStore:
    root: Path
    canary: Canary
    experiment: str
    runs: dict[str, str] = field(default_factory=dict)  # case -> run id
    healthy: list[str] = field(default_factory=list)  # run ids that must stay intact


def clone_run(source: Path, run_id: str) -> Path:
    """A copy of an MLflow-written run folder under a new id (meta.yaml's ids follow)."""
    target = source.parent / run_id
    shutil.copytree(source, target, symlinks=True)
    meta = target / "meta.yaml"
    meta.write_text(meta.read_text().replace(source.name, run_id))
    return target


def make_mlflow_hostile(root: Path, source_run: Path, canary_folder: Path, cases: list[str] | None = None) -> HostileStore:
    """Add one hostile copy of `source_run` (inside `root`) per case."""
    canary = Canary.make(canary_folder, source_run / "meta.yaml")
    store = HostileStore(root, canary, source_run.parent.name)
    store.healthy = [p.name for p in source_run.parent.iterdir() if p.is_dir() and p.name not in ("tags", "datasets")]
    for case in cases or list(MLFLOW_CASES):
        run_id = uuid.uuid5(uuid.NAMESPACE_URL, case).hex
        make, _ = MLFLOW_CASES[case]
        make(clone_run(source_run, run_id), canary)
        store.runs[case] = run_id
    return store


def make_entrenar_hostile(folder: Path, canary: Canary) -> dict[str, str]:
    """Three bad records beside a healthy store: case -> run id."""
    head = b'{"run_id": "huge", "experiment_name": "resnet", "params": {"x": "'
    sparse(folder / "huge.json", 100 * MiB, head)
    (folder / "deep.json").write_text('{"run_id": "deep", "experiment_name": "resnet", "params": '
                                      + deep_json() + "}")
    os.symlink(canary.folder / "record.json", folder / "linked.json")
    return {"huge": "larger than 64 MiB", "deep": "nested too deeply", "linked": "a symlink; not read"}
