"""Changing an entrenar run record: read the JSON, change some fields, write it back atomically.

The new file is written beside the record as `.tuitrack-*.tmp` (a dot-file without `.json`, so
neither entrenar nor tuitrack reads it as a run) and moved over the record with `os.replace`.
Fields tuitrack does not know are kept as they were, in their order. If the file changed while
we worked (entrenar saving the run again), the change is made again on the new content, and a
save that lands in the file being replaced is read back and kept (guarded.py).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from typing import Any

from tuitrack.store.mlflow_file import guarded
from tuitrack.store.mlflow_file.changes import ChangeRefused
from tuitrack.store.entrenar.record import RECORD_LIMIT
from tuitrack.store.mlflow_file.files import reason


def _parse_record(data: bytes) -> dict[str, Any] | None:
    """The record's fields; None while empty (entrenar truncates, then writes); ValueError if bad."""
    if not data.strip():
        return None
    try:
        fields = json.loads(data)  # JSONDecodeError and UnicodeDecodeError are ValueErrors
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    if not isinstance(fields, dict):
        raise ValueError("not a run record object")
    return fields


def dump_record(fields: dict[str, Any]) -> bytes:
    """JSON as serde_json's `to_string_pretty` writes it: two-space indents, UTF-8."""
    return json.dumps(fields, indent=2, ensure_ascii=False).encode("utf-8")


def rewrite_record(path: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply `change` to the record's fields and save them; returns the new fields. A save
    entrenar makes at the same moment is kept and the change applied on top (see guarded.py)."""
    name = os.path.basename(path)

    def apply(base: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        fields = copy.deepcopy(theirs)
        change(fields)
        return fields

    try:
        return guarded.rewrite(path, _parse_record, apply, dump_record, busy=lambda f: f.get("status") == "Active",
                               limit=RECORD_LIMIT)
    except FileNotFoundError:
        raise ChangeRefused(f"{name}: the run is gone") from None
    except OSError as exc:  # a symlink, or too large: never written through or in part
        raise ChangeRefused(f"{name}: {reason(exc)}; not changed") from None
    except guarded.Unsettled as exc:
        raise ChangeRefused(f"{name} {exc}; not changed") from None


def tags_of(fields: dict[str, Any]) -> dict[str, Any]:
    """The record's tags object, created if missing; a record whose tags are not an object is refused."""
    tags = fields.setdefault("tags", {})
    if not isinstance(tags, dict):
        raise ChangeRefused(f"run {fields.get('run_id')!r}: its tags are not a JSON object; not changed")
    return tags
