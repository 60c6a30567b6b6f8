"""A run's artifacts, wherever they are: a bounded listing of folders and bounded reads of files.

An artifact path is untrusted text (a script, a store copied from elsewhere or a server names it),
so every path is checked before use: relative, `/`-separated, no empty, `.` or `..` part, no NUL.
Listings are bounded (entries per folder, depth, entries in all) and say when they were cut;
reads are bounded (`max_bytes`) whatever the file's size. A source raises `ArtifactError` (a
one-line message) for whatever it cannot do; an artifact place it cannot reach (`s3://`, `hdfs://`)
is described, never fetched.
"""

from __future__ import annotations

import abc
from collections import deque
from dataclasses import dataclass, field

from tuitrack.store.base import StoreError

MAX_ENTRIES = 1000  # shown of one folder; the rest are counted
MAX_DEPTH = 8  # folders below the root a walk goes into
MAX_WALKED = 5000  # entries a whole walk lists
MAX_FOLDERS = 500  # folders a whole walk lists (on a server, one request each)
READ_BOUND = 256 * 1024  # the most one preview or one read of a followed file takes


class ArtifactError(StoreError):
    """An artifact that cannot be listed or read; the message is for the user as is."""


@dataclass(slots=True)
class ArtifactEntry:
    """One file or folder of a run's artifacts. `path` is relative to the artifact root."""

    path: str
    kind: str  # "file", "folder", "symlink" (never followed), "other" (a FIFO, a device)
    size: int | None = None  # a file's bytes; a folder's once walked (at least, when `cut`)
    children: list[ArtifactEntry] | None = None  # a folder's, once listed
    cut: str = ""  # why the listing of this folder is incomplete ("1,200 more entries")

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(slots=True)
class Listing:
    """The entries of one folder (at most MAX_ENTRIES) and how many more it has."""

    entries: list[ArtifactEntry]
    more: int = 0  # entries left out
    more_is_at_least: bool = False  # `more` is a lower bound (counting stopped)


@dataclass(slots=True)
class Chunk:
    """A bounded part of a file: `data` starts at byte `start` of a file of `size` bytes."""

    data: bytes
    start: int
    size: int | None  # the file's size when read; None when the place does not say

    @property
    def end(self) -> int:
        return self.start + len(self.data)

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.size is not None and len(self.data) >= self.size


@dataclass(slots=True)
class ArtifactTree:
    """A walked tree of artifacts (`root.path` is ""), and what the walk left out."""

    root: ArtifactEntry
    where: str  # the artifact root, as the store names it
    cut: list[str] = field(default_factory=list)  # "logs/: 1,200 more entries", "deep/...: deeper than 8"


def checked_path(path: str) -> str:
    """`path` when it is a safe relative artifact path ("" is the root), else ArtifactError."""
    if path in ("", "."):
        return ""
    if "\x00" in path:
        raise ArtifactError("an artifact path cannot hold a NUL character")
    if path.startswith("/"):
        raise ArtifactError(f"{path!r} is an absolute path; artifact paths are relative to the run's artifacts")
    parts = path.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArtifactError(f"{path!r}: artifact paths may not contain '..', '.' or empty parts "
                            "(nothing outside the run's artifacts is read)")
    return "/".join(parts)


def child_path(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


class ArtifactSource(abc.ABC):
    """Where one run's artifacts are. `where` names the root (a path, a URI)."""

    where: str
    follow_every = 1.0  # seconds between two looks at a file followed as it grows
    relist_every = 2.0  # seconds between two listings of a run still logging artifacts

    @abc.abstractmethod
    def list(self, path: str = "") -> Listing:
        """The entries of folder `path` (folders first, then by name). Raises ArtifactError."""

    @abc.abstractmethod
    def read(self, path: str, start: int, max_bytes: int = READ_BOUND) -> Chunk:
        """At most `max_bytes` of file `path` from byte `start`; a negative `start` counts from the
        end (`-max_bytes`: the tail). Past the end: empty data. Raises ArtifactError."""

    def location_of(self, path: str) -> str:
        """The artifact's full place, for the clipboard: a filesystem path or a URI."""
        return f"{self.where.rstrip('/')}/{path}" if path else self.where

    def walk(self, path: str = "", max_depth: int = MAX_DEPTH, max_walked: int = MAX_WALKED) -> ArtifactTree:
        """Folder `path` and every folder below it listed, breadth first, within the bounds;
        folder sizes summed from their files."""
        root = ArtifactEntry(checked_path(path), "folder")
        tree = ArtifactTree(root, self.where)
        walked = folders = 0
        queue = deque([(root, 0)])
        while queue:
            folder, depth = queue.popleft()
            if depth > max_depth:
                folder.cut = f"deeper than {max_depth} folders; not listed"
                tree.cut.append(f"{folder.path}/: {folder.cut}")
                continue
            if walked >= max_walked or folders >= MAX_FOLDERS:
                folder.cut = (f"not listed (the listing stops at {max_walked:,} entries)" if walked >= max_walked
                              else f"not listed (the listing stops at {MAX_FOLDERS:,} folders)")
                tree.cut.append(f"{folder.path}/: {folder.cut}")
                continue
            folders += 1
            try:
                listing = self.list(folder.path)
            except ArtifactError as exc:
                if folder is root:
                    raise
                folder.cut = str(exc)
                tree.cut.append(f"{folder.path}/: {exc}")
                continue
            folder.children = listing.entries
            walked += len(listing.entries)
            if listing.more:
                folder.cut = f"{'at least ' if listing.more_is_at_least else ''}{listing.more:,} more entries not listed"
                tree.cut.append(f"{folder.path or '.'}/: {folder.cut}")
            queue.extend((e, depth + 1) for e in listing.entries if e.kind == "folder")
        _sum_sizes(root)
        return tree


def _sum_sizes(root: ArtifactEntry) -> None:
    """Folder sizes from their files, children before parents (no recursion: depth is untrusted)."""
    order, stack = [], [root]
    while stack:
        entry = stack.pop()
        order.append(entry)
        stack.extend(c for c in entry.children or () if c.kind == "folder")
    for entry in reversed(order):
        entry.size = sum(c.size or 0 for c in entry.children or ())


def sorted_entries(entries: list[ArtifactEntry]) -> list[ArtifactEntry]:
    return sorted(entries, key=lambda e: (e.kind != "folder", e.name))


class ForeignArtifacts(ArtifactSource):
    """Artifacts in a place tuitrack does not fetch from (S3, GCS, HDFS, another machine): described."""

    def __init__(self, uri: str | None, why: str):
        self.where = uri or "(none)"
        self.why = why
        self.message = (f"the artifacts are at {uri} ({why}); tuitrack does not fetch them" if uri
                        else f"the run has no artifact location ({why})")

    def _refuse(self) -> ArtifactError:
        return ArtifactError(self.message)

    def list(self, path: str = "") -> Listing:
        raise self._refuse()

    def read(self, path: str, start: int, max_bytes: int = READ_BOUND) -> Chunk:
        raise self._refuse()
