"""Which metrics are system metrics, and what each one measures.

`mlflow.enable_system_metrics_logging()` logs the machine's state as ordinary metrics whose keys
start with `system/` (`system/node_0/...` when a node id is set): CPU and memory use, each GPU's
utilization, memory and power, disk use and network traffic, sampled every few seconds. They
are not what a training script reports about its model, so the app keeps them out of the metric
lists by default and shows them in a panel of their own; `show` summarizes them apart.

This module only reads the key: the group a quantity belongs to (CPU, Memory, GPU 0, ...), what
it measures and in which unit. Plain Python, no Textual: the app and the commands share it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tuitrack.model import MetricPoint

PREFIX = "system/"

# The last part of MLflow's names: what is measured, and the unit it ends with.
UNITS = {"percentage": "%", "megabytes": "MB", "gigabytes": "GB", "watts": "W"}
_UNIT_AT_END = re.compile(r"^(?P<what>.+?)_(?P<unit>percentage|megabytes|gigabytes|watts)$")
_GPU = re.compile(r"^gpu_(?P<index>\d{1,4})_(?P<rest>.+)$")
_NODE = re.compile(r"^(?P<node>[^/]+)/(?P<name>[^/]+)$")  # system/node_0/cpu_...

# MLflow's quantities (without the unit): their group and what the panel calls them.
_KNOWN = {
    "cpu_utilization": ("CPU", "utilization"),
    "system_memory_usage": ("Memory", "used"),
    "disk_usage": ("Disk", "used"),
    "disk_available": ("Disk", "free"),
    "network_receive": ("Network", "received"),
    "network_transmit": ("Network", "sent"),
}
_GPU_KNOWN = {
    "utilization": "utilization",
    "memory_usage": "memory",
    "power_usage": "power",
}
_GROUP_ORDER = {"CPU": 0, "Memory": 1, "GPU": 2, "Disk": 3, "Network": 4}
_QUANTITY_ORDER = {"utilization": 0, "used": 1, "memory": 1, "power": 2, "free": 3, "received": 4, "sent": 5}


@dataclass(frozen=True, slots=True)
class SystemQuantity:
    """One system metric key, read: `system/gpu_1_memory_usage_megabytes` is GPU 1's memory in MB."""

    key: str
    group: str  # "CPU", "Memory", "GPU 1", "Disk", "Network", or "Other"
    quantity: str  # what is measured, within the group: "utilization", "memory", "used", ...
    unit: str  # "%", "MB", "GB", "W", or "" for a name without a unit MLflow uses
    gpu: int | None = None
    node: str | None = None  # MLflow's node id, for runs that log several machines

    @property
    def label(self) -> str:
        """The group and the quantity, as a line of the panel names them: `GPU 1 memory`."""
        node = f"{self.node} " if self.node else ""
        return f"{node}{self.group} {self.quantity}"

    def order(self) -> tuple:
        """Sort key: per node, CPU, memory, each GPU by number, disk, network, then the rest;
        within a group utilization, then memory, then power."""
        rank = _GROUP_ORDER.get("GPU" if self.gpu is not None else self.group, len(_GROUP_ORDER))
        return (self.node or "", rank, self.gpu if self.gpu is not None else -1, self.group,
                _QUANTITY_ORDER.get(self.quantity, len(_QUANTITY_ORDER)), self.quantity,
                _unit_rank(self.unit), self.key)


def is_system(key: str) -> bool:
    return key.startswith(PREFIX)


def classify(key: str) -> SystemQuantity | None:
    """What a system metric key measures; None for a key that is not a system metric."""
    if not is_system(key):
        return None
    name = key[len(PREFIX):]
    node = None
    nested = _NODE.match(name)
    if nested:
        node, name = nested.group("node"), nested.group("name")
    unit_match = _UNIT_AT_END.match(name)
    what, unit = (unit_match.group("what"), UNITS[unit_match.group("unit")]) if unit_match else (name, "")
    gpu = _GPU.match(what)
    if gpu:
        index = int(gpu.group("index"))
        rest = gpu.group("rest")
        return SystemQuantity(key, f"GPU {index}", _GPU_KNOWN.get(rest, rest.replace("_", " ")), unit, index, node)
    if what in _KNOWN:
        group, quantity = _KNOWN[what]
        return SystemQuantity(key, group, quantity, unit, None, node)
    return SystemQuantity(key, "Other", what.replace("_", " "), unit, None, node)


def system_quantities(keys: Iterable[str]) -> list[SystemQuantity]:
    """The system metrics among `keys`, in the panel's order (CPU, memory, GPUs, disk, network)."""
    found = [q for q in (classify(k) for k in keys) if q is not None]
    return sorted(found, key=SystemQuantity.order)


def without_system(keys: Iterable[str]) -> list[str]:
    """`keys` minus the system metrics, in their order."""
    return [k for k in keys if not is_system(k)]


class SystemSummary:
    """Last, mean and peak of one system metric, added up a batch of points at a time (a week of
    samples is never held whole). NaN and infinite samples count as points, not in the numbers."""

    def __init__(self) -> None:
        self.last: MetricPoint | None = None  # MLflow's latest: by step, then timestamp
        self.points = 0
        self._numbers = 0
        self._total = 0.0
        self.peak = math.nan

    def add(self, batch: Iterable[MetricPoint]) -> None:
        for point in batch:
            self.points += 1
            if self.last is None or point.sort_key() > self.last.sort_key():
                self.last = point
            value = point.value
            if math.isfinite(value):
                self._numbers += 1
                self._total += value
                if not value <= self.peak:  # NaN (nothing yet) loses to any number
                    self.peak = value

    @property
    def mean(self) -> float:
        return self._total / self._numbers if self._numbers else math.nan


def _unit_rank(unit: str) -> int:
    """Within a quantity logged in two units (memory in % and in MB), the share comes first."""
    return {"%": 0}.get(unit, 1)
