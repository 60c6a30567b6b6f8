"""What a filter can be completed with: the param, metric and tag keys of some runs, and the
values their params and tags (and a few attributes) hold. Gathered once from runs already in
memory (the app does it on a worker thread), so completing a key reads nothing.

Bounded whatever the runs hold: at most KEY_LIMIT keys of each kind and VALUE_LIMIT values of
each key are kept, values longer than VALUE_LENGTH are left out, and so is any key or value with
a control or bidi character (it could not be typed in the filter, nor shown as it is).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tuitrack.model import Run, RunStatus
from tuitrack.safe_text import visible

KEY_LIMIT = 10_000  # keys kept per kind (params, metrics, tags)
VALUE_LIMIT = 200  # distinct values kept per key
VALUE_LENGTH = 200  # longer values are not offered (a JSON blob in a tag, a long note)
ATTRIBUTE_VALUES = ("run_name", "user_id")  # string attributes whose values runs hold


@dataclass
class Vocabulary:
    """Sorted keys per entity ("param", "metric", "tag") and sorted values per (entity, key)."""

    keys: dict[str, list[str]] = field(default_factory=dict)
    values: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    truncated: bool = False  # some keys or values were left out by the limits

    def keys_of(self, entity: str) -> list[str]:
        return self.keys.get(entity, [])

    def values_of(self, entity: str, key: str) -> list[str]:
        if entity == "attribute" and key == "status":
            return sorted(s.name for s in RunStatus)
        if entity == "attribute" and key == "lifecycle_stage":
            return ["active", "deleted"]
        return self.values.get((entity, key), [])


def _typable(text: str, limit: int | None = None) -> bool:
    return bool(text) and visible(text) == text and (limit is None or len(text) <= limit)


class _Collector:
    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {"param": set(), "metric": set(), "tag": set()}
        self.values: dict[tuple[str, str], set[str]] = {}
        self.truncated = False

    def key(self, entity: str, key: str) -> bool:
        """Take the key; False when it is not kept (its values then are not either)."""
        known = self.keys[entity]
        if key in known:
            return True
        if len(known) >= KEY_LIMIT:
            self.truncated = True
            return False
        if not _typable(key):
            return False
        known.add(key)
        return True

    def value(self, entity: str, key: str, value: str) -> None:
        values = self.values.setdefault((entity, key), set())
        if value in values or not _typable(value, VALUE_LENGTH):
            return
        if len(values) >= VALUE_LIMIT:
            self.truncated = True
            return
        values.add(value)


def gather(runs: Iterable[Run]) -> Vocabulary:
    """The vocabulary of `runs` (a snapshot list: the index swaps runs, it does not change them
    while they are read here, except their dicts are replaced whole)."""
    found = _Collector()
    for run in runs:
        for key in list(run.metrics):
            found.key("metric", key)
        for entity, held in (("param", run.params), ("tag", run.tags)):
            for key, value in list(held.items()):
                if found.key(entity, key):
                    found.value(entity, key, value)
        for attribute in ATTRIBUTE_VALUES:
            value = getattr(run, attribute)
            if value:
                found.value("attribute", attribute, value)
    return Vocabulary(
        keys={entity: sorted(keys) for entity, keys in found.keys.items()},
        values={where: sorted(values) for where, values in found.values.items() if values},
        truncated=found.truncated,
    )
