"""A run's artifacts: listed and read within bounds, never outside the run's artifact root.

`Store.artifacts(run)` gives the run's `ArtifactSource`: a local folder (`LocalArtifacts`), a
tracking server (`RestArtifacts`), or a place tuitrack only describes (`ForeignArtifacts`).
"""

from __future__ import annotations

from tuitrack.store.artifacts.source import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_WALKED,
    READ_BOUND,
    ArtifactEntry,
    ArtifactError,
    ArtifactSource,
    ArtifactTree,
    Chunk,
    ForeignArtifacts,
    Listing,
    checked_path,
)

__all__ = [
    "MAX_DEPTH", "MAX_ENTRIES", "MAX_WALKED", "READ_BOUND", "ArtifactEntry", "ArtifactError",
    "ArtifactSource", "ArtifactTree", "Chunk", "ForeignArtifacts", "Listing", "checked_path",
    "local_or_described",
]


def local_or_described(uri: str | None) -> ArtifactSource:
    """The artifacts an `artifact_uri` names, when they are a local absolute folder; else a
    description of where they are (a relative URI is never resolved against the working folder)."""
    from tuitrack.store.artifacts.local import LocalArtifacts
    from tuitrack.store.purge_plan import local_path

    if not uri:
        return ForeignArtifacts(None, "the run names none" if uri is None else "its artifact_uri is empty")
    path, why = local_path(uri)
    if path is None:
        return ForeignArtifacts(uri, why or "not a local path")
    return LocalArtifacts(path)
