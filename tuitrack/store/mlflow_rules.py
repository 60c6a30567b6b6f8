"""MLflow's rules for changing runs, whatever the store: which keys are valid and which tags are
MLflow's own. Every MLflow format (file store, SQLite, tracking server) checks them before writing,
so tuitrack refuses exactly what MLflow would, with a message that says why.
"""

from __future__ import annotations

import posixpath
import re

from tuitrack.store.base import StoreError

KEY_PATTERN = re.compile(r"^[/\w.\- :]*$")
MAX_KEY_LENGTH = 250
SYSTEM_PREFIX = "mlflow."


class ChangeRefused(StoreError):
    """A change that would break the store or MLflow's rules; the message says why."""


class SystemTagRefused(ChangeRefused):
    """An `mlflow.*` tag changed without force. The message names no way around it: the CLI
    adds its --force, the app what it offers instead."""


def validate_key(key: str) -> None:
    """MLflow's rules for metric, param and tag keys (utils/validation.py)."""
    if not key:
        raise ChangeRefused("a key cannot be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ChangeRefused(f"key {key[:40]!r}… is longer than {MAX_KEY_LENGTH} characters")
    if not KEY_PATTERN.match(key):
        raise ChangeRefused(
            f"key {key!r}: names may only contain alphanumerics, underscores (_), dashes (-), "
            "periods (.), spaces ( ), colons (:) and slashes (/)"
        )
    if posixpath.normpath(key) != key or key.startswith(("/", "..")) or key == ".":
        raise ChangeRefused(f"key {key!r} is not a clean relative path (MLflow refuses it too)")


def check_user_tag(key: str, force: bool) -> None:
    if key.startswith(SYSTEM_PREFIX) and not force:
        raise SystemTagRefused(f"{key!r} is an MLflow system tag")


def no_such_tag(run_id: str, key: str) -> ChangeRefused:
    """Removing a tag the run lacks: refused, as MLflow's delete_tag refuses it (every store,
    the CLI and the app say the same)."""
    return ChangeRefused(f"run {run_id[:8]} has no tag {key!r}")
