"""Purging (hard-deleting) runs and experiments that are already soft-deleted, like `mlflow gc`,
but never reaching outside the store.

MLflow's gc deletes a run's folder and whatever its artifact_uri points to, wherever that is.
Here a run folder or artifacts folder that is a symlink is unlinked, not followed; artifacts
whose URI points outside the store root are left in place with a warning; and every path is
checked to be inside the root (after resolving symlinks) before anything is removed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from tuitrack.store.base import PurgeResult


def disk_bytes(path: Path) -> int:
    """Disk blocks under `path`, symlinks counted as themselves and not followed."""
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            st = current.lstat()
        except OSError:
            continue
        total += st.st_blocks * 512
        if current.is_dir() and not current.is_symlink():
            try:
                stack.extend(current.iterdir())
            except OSError:
                continue
    return total


def inside(root: Path, path: Path) -> bool:
    """True if `path`, with every symlink resolved, is the root or below it."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(root)))
    except OSError:
        return False


def remove_tree(root: Path, path: Path, result: PurgeResult) -> None:
    """Remove `path` within `root`: a symlink is unlinked (its target untouched)."""
    if path.is_symlink():
        result.bytes_freed += path.lstat().st_blocks * 512
        path.unlink()
        result.warnings.append(f"{path.relative_to(root)} was a symlink: removed the link, not its target")
        return
    if not path.exists():
        return
    if not inside(root, path):
        result.warnings.append(f"{path} is outside the store: left in place")
        return
    result.bytes_freed += disk_bytes(path)
    shutil.rmtree(path)  # Python's rmtree unlinks symlinks inside the tree, never follows them


def artifact_folder(artifact_uri: str | None) -> Path | None:
    if not artifact_uri:
        return None
    parsed = urlparse(artifact_uri)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(unquote(parsed.path))


def purge_run(root: Path, run_dir: Path, artifact_uri: str | None, result: PurgeResult) -> None:
    """Remove a run's folder, and its artifacts if they live elsewhere inside the store."""
    artifacts = artifact_folder(artifact_uri)
    if artifacts is not None and not str(artifacts).startswith(str(run_dir) + os.sep):
        if inside(root, artifacts) and not artifacts.is_symlink():
            remove_tree(root, artifacts, result)
        elif artifacts.exists():
            result.warnings.append(f"{run_dir.name}: artifacts at {artifacts} are outside the store: left in place")
    elif artifact_uri and artifacts is None:
        result.warnings.append(f"{run_dir.name}: artifacts at {artifact_uri} are not local: left in place")
    remove_tree(root, run_dir, result)
    result.removed.append(run_dir.name)
