"""Changing an entrenar run record: read the JSON, change some fields, write it back atomically.

The new file is written beside the record as `.tuitrack-*.tmp` (a dot-file without `.json`, so
neither entrenar nor tuitrack reads it as a run) and moved over the record with `os.replace`.
Fields tuitrack does not know are kept as they were, in their order. If the file changed while
we worked (entrenar saving the run again), the change is made again on the new content.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from tuitrack.store.mlflow_file.changes import ChangeRefused
from tuitrack.store.entrenar.record import RECORD_LIMIT
from tuitrack.store.mlflow_file.files import read_bytes, reason
from tuitrack.store.mlflow_file.writer import write_atomic

RETRIES = 5


def dump_record(fields: dict[str, Any]) -> bytes:
    """JSON as serde_json's `to_string_pretty` writes it: two-space indents, UTF-8."""
    return json.dumps(fields, indent=2, ensure_ascii=False).encode("utf-8")


def rewrite_record(path: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply `change` to the record's fields in place and save them; returns the new fields."""
    name = os.path.basename(path)
    why = "kept changing"
    for attempt in range(RETRIES):
        try:
            before = read_bytes(path, RECORD_LIMIT)
        except FileNotFoundError:
            raise ChangeRefused(f"{name}: the run is gone") from None
        except OSError as exc:  # a symlink, or too large: never written through or in part
            raise ChangeRefused(f"{name}: {reason(exc)}; not changed") from None
        try:
            fields = json.loads(before)
        except RecursionError:
            raise ChangeRefused(f"{name} is nested too deeply to read; not changed") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if not before.strip():  # entrenar truncates, then writes: read it again
                why = "stayed empty"
                time.sleep(0.02 * (attempt + 1))
                continue
            raise ChangeRefused(f"{name} is not a readable run record ({exc}); not changed") from None
        if not isinstance(fields, dict):
            raise ChangeRefused(f"{name} is not a run record object; not changed")
        change(fields)
        data = dump_record(fields)
        if read_bytes(path, RECORD_LIMIT) != before:
            why = "kept changing"
            continue  # changed under us: apply the change to the new content
        write_atomic(path, data)
        return fields
    raise ChangeRefused(f"{name} {why}; not changed, try again")


def tags_of(fields: dict[str, Any]) -> dict[str, Any]:
    """The record's tags object, created if missing; a record whose tags are not an object is refused."""
    tags = fields.setdefault("tags", {})
    if not isinstance(tags, dict):
        raise ChangeRefused(f"run {fields.get('run_id')!r}: its tags are not a JSON object; not changed")
    return tags
