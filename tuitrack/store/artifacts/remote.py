"""A run's artifacts on an MLflow tracking server: `artifacts/list` for folders, `/get-artifact`
for files (the server reads them from wherever they are, the mlflow-artifacts proxy included).

The server's answers are untrusted like a store's files: a listed path must be a safe path inside
the folder asked for (else it is left out and counted), pages are bounded, a file is asked for
with an HTTP Range and its body cut at the bound whether or not the server honours the range.
Requests go through the store's MlflowHttp: one deadline each, redirects only within the server's
origin, so credentials never reach another host.
"""

from __future__ import annotations

import re
from typing import Any

from tuitrack.store.artifacts.source import (
    MAX_ENTRIES,
    READ_BOUND,
    ArtifactEntry,
    ArtifactError,
    ArtifactSource,
    Chunk,
    Listing,
    checked_path,
    sorted_entries,
)
from tuitrack.store.base import StoreError
from tuitrack.store.mlflow_rest.client import MlflowHttp

MAX_PAGES = 20
_CONTENT_RANGE = re.compile(r"^bytes (?:(\d{1,18})-(\d{1,18})|\*)/(\d{1,18}|\*)$")


class RestArtifacts(ArtifactSource):
    follow_every = 2.0  # each look is a request (the server may copy the file to send it): the store's poll
    relist_every = 5.0  # a listing is a request per folder

    def __init__(self, http: MlflowHttp, run_id: str, root_uri: str | None):
        self.http = http
        self.run_id = run_id
        self.where = root_uri or f"{http.base_url} (run {run_id})"

    def list(self, path: str = "") -> Listing:
        path = checked_path(path)
        entries: list[ArtifactEntry] = []
        more, token, tokens = 0, None, set()
        for _ in range(MAX_PAGES):
            answer = self._ask(lambda: self.http.get("artifacts/list", run_id=self.run_id, path=path or None,
                                                     page_token=token))
            files = answer.get("files", [])
            for item in files if isinstance(files, list) else ():
                entry = _entry(item, path)
                if entry is None or len(entries) >= MAX_ENTRIES:
                    more += 1
                else:
                    entries.append(entry)
            token = answer.get("next_page_token")
            if not token or not isinstance(token, str) or token in tokens:
                break
            tokens.add(token)
        return Listing(sorted_entries(entries), more, bool(token))

    def read(self, path: str, start: int, max_bytes: int = READ_BOUND) -> Chunk:
        path = checked_path(path)
        if not path:
            raise ArtifactError("the artifacts folder is a folder, not a file")
        wanted = f"bytes=-{max_bytes}" if start < 0 else f"bytes={start}-{start + max_bytes - 1}"
        answer = self._ask(lambda: self.http.get_bytes("/get-artifact", {"path": path, "run_uuid": self.run_id},
                                                       max_bytes, wanted))
        content_range = _CONTENT_RANGE.match(answer.headers.get("Content-Range", "").strip())
        total = content_range.group(3) if content_range else None
        size = int(total) if total and total != "*" else None
        if answer.status == 416:
            return Chunk(b"", max(start, 0) if size is None else min(max(start, 0), size), size)
        if answer.status == 206 and content_range and content_range.group(1) is not None:
            return Chunk(answer.body, int(content_range.group(1)), size)
        # The server sent the file from its start, ignoring the range: what was asked for of it.
        length = answer.headers.get("Content-Length", "").strip()
        size = int(length) if length.isdigit() and len(length) <= 18 and not answer.cut else (
            None if answer.cut else len(answer.body))
        if start < 0:
            if size is None:  # only the head arrived: say where it is
                return Chunk(answer.body, 0, None)
            offset = max(0, size + start)
            return Chunk(answer.body[offset:], offset, size)
        return Chunk(answer.body[start:start + max_bytes], start, size)

    def location_of(self, path: str) -> str:
        return f"{self.where.rstrip('/')}/{path}" if path else self.where

    def _ask(self, call) -> Any:
        try:
            return call()
        except ArtifactError:
            raise
        except StoreError as exc:
            raise ArtifactError(str(exc)) from None


def _entry(item: Any, folder: str) -> ArtifactEntry | None:
    """An entry of the server's list answer, when it is one directly inside `folder`."""
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        return None
    try:
        path = checked_path(item["path"])
    except ArtifactError:
        return None
    parent = path.rpartition("/")[0]
    if not path or parent != folder:
        return None
    if item.get("is_dir") is True:
        return ArtifactEntry(path, "folder")
    size = item.get("file_size")
    if isinstance(size, str) and size.isdigit() and len(size) <= 18:
        size = int(size)
    return ArtifactEntry(path, "file", size if isinstance(size, int) and not isinstance(size, bool) and size >= 0
                         else None)
