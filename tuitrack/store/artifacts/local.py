"""A run's artifacts in a local folder (the file store's `artifacts/`, an mlflow.db's artifact root).

Nothing outside the folder is read: paths are checked (source.checked_path), and every folder on
the way is opened with O_NOFOLLOW relative to the one before it, the file too, so a symlink
anywhere below the root, or a folder swapped for one between the listing and the read, is
refused. The root itself may sit below symlinked folders (a symlinked run folder, as MLflow reads
it), but may not be a symlink. Only regular files are read (a FIFO would block), and only
`max_bytes` of them (a sparse 1 GiB file costs a pread of the part asked for).
"""

from __future__ import annotations

import os
import stat

from tuitrack.store.artifacts.source import (
    MAX_ENTRIES,
    READ_BOUND,
    ArtifactEntry,
    ArtifactError,
    ArtifactSource,
    Chunk,
    Listing,
    checked_path,
    child_path,
    sorted_entries,
)
from tuitrack.store.mlflow_file.files import DIR_FLAGS, SYMLINK_NOT_READ, open_regular, reason

COUNT_AT_MOST = 100_000  # entries counted past MAX_ENTRIES before saying "at least"


class LocalArtifacts(ArtifactSource):
    def __init__(self, root: str):
        self.root = root
        self.where = root

    def location_of(self, path: str) -> str:
        return os.path.join(self.root, *checked_path(path).split("/")) if path else self.root

    def list(self, path: str = "") -> Listing:
        path = checked_path(path)
        fd = self._open_folder(path)
        try:
            entries, seen = [], 0
            with os.scandir(fd) as found:
                for entry in found:
                    seen += 1
                    if len(entries) < MAX_ENTRIES:
                        entries.append(_entry(child_path(path, entry.name), entry))
                    elif seen > MAX_ENTRIES + COUNT_AT_MOST:
                        break
        except OSError as exc:
            raise ArtifactError(f"{path or 'the artifacts folder'}: cannot list ({reason(exc)})") from None
        finally:
            os.close(fd)
        return Listing(sorted_entries(entries), seen - len(entries), seen > MAX_ENTRIES + COUNT_AT_MOST)

    def read(self, path: str, start: int, max_bytes: int = READ_BOUND) -> Chunk:
        path = checked_path(path)
        if not path:
            raise ArtifactError("the artifacts folder is a folder, not a file")
        folder, _, name = path.rpartition("/")
        folder_fd = self._open_folder(folder)
        try:
            fd = open_regular(name, folder_fd)
        except OSError as exc:
            raise ArtifactError(f"{path}: {reason(exc)}; not read") from None
        finally:
            os.close(folder_fd)
        try:
            size = os.fstat(fd).st_size
            offset = max(0, size + start) if start < 0 else start
            wanted = min(max_bytes, max(0, size - offset))
            pieces, got = [], 0
            while got < wanted:  # pread of a regular file is short only at its end
                piece = os.pread(fd, min(wanted - got, 1 << 20), offset + got)
                if not piece:
                    break
                pieces.append(piece)
                got += len(piece)
            return Chunk(b"".join(pieces), offset, size)
        except OSError as exc:
            raise ArtifactError(f"{path}: {reason(exc)}") from None
        finally:
            os.close(fd)

    def _open_folder(self, path: str) -> int:
        """A descriptor on folder `path` under the root, no part of it (the root included) a symlink."""
        try:
            fd = os.open(self.root, DIR_FLAGS)
        except FileNotFoundError:
            raise ArtifactError(f"{self.root}: no artifacts folder (the run logged no artifacts)") from None
        except OSError as exc:
            if os.path.islink(self.root):
                raise ArtifactError(f"{self.root}: the artifacts folder is {SYMLINK_NOT_READ}") from None
            raise ArtifactError(f"{self.root}: cannot open ({reason(exc)})") from None
        for part in path.split("/") if path else ():
            try:
                inner = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                linked = _is_link(part, fd)
                os.close(fd)
                if linked:
                    raise ArtifactError(f"{path}: {part} is {SYMLINK_NOT_READ}") from None
                raise ArtifactError(f"{path}: {reason(exc)}") from None
            os.close(fd)
            fd = inner
        return fd


def _entry(path: str, entry: os.DirEntry) -> ArtifactEntry:
    try:
        if entry.is_symlink():
            return ArtifactEntry(path, "symlink")
        if entry.is_dir(follow_symlinks=False):
            return ArtifactEntry(path, "folder")
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return ArtifactEntry(path, "other")
    if stat.S_ISREG(info.st_mode):
        return ArtifactEntry(path, "file", info.st_size)
    return ArtifactEntry(path, "other")


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False
