"""Stores of other trackers, written byte for byte as their own code writes them (no PyPI package
exists for either): entrenar's JsonFileBackend (shared/seeds/entrenar-tracking-storage.rs.txt)
and fetch_ml's experiment Manager (shared/seeds/fetch_ml-experiment-manager.go.txt)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

START_MS = 1_795_400_000_000  # 2026-11-23 02:13 UTC


def entrenar_record(run_id: str, experiment: str, *, name: str | None = None, status: str = "Completed",
                    params: dict | None = None, metrics: dict | None = None, artifacts: list | None = None,
                    tags: dict | None = None, start: int | None = START_MS, end: int | None = START_MS + 60_000) -> dict:
    """A RunRecord's fields in its struct order; metrics as {key: [(value, step), ...]}."""
    return {
        "run_id": run_id,
        "run_name": name,
        "experiment_name": experiment,
        "status": status,
        "params": params or {},
        "metrics": {k: [{"value": v, "step": s} for v, s in points] for k, points in (metrics or {}).items()},
        "artifacts": artifacts or [],
        "tags": tags or {},
        "start_time_ms": start,
        "end_time_ms": end,
    }


def write_entrenar(folder: Path, record: dict) -> Path:
    """JsonFileBackend::save_run: serde_json::to_string_pretty, then fs::write (no newline at the end)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['run_id']}.json"
    path.write_bytes(json.dumps(record, indent=2).encode())
    return path


def write_entrenar_store(folder: Path) -> Path:
    """Two experiments, three runs (one still Active), and the fields entrenar writes."""
    write_entrenar(folder, entrenar_record(
        "run-1", "resnet", name="baseline", params={"lr": "0.001"},
        metrics={"loss": [(0.5, 1), (0.25, 2)], "acc": [(0.75, 2)]}, artifacts=["model.safetensors", "log.txt"],
        tags={"team": "ml-infra"}))
    write_entrenar(folder, entrenar_record(
        "run-2", "resnet", name=None, status="Failed", params={"lr": "0.01"}, metrics={"loss": [(1.0, 1)]},
        start=START_MS + 3_600_000, end=START_MS + 3_700_000))
    write_entrenar(folder, entrenar_record(
        "run-3", "bert", name="finetune", status="Active", metrics={"loss": [(2.0, 1)]},
        start=START_MS + 7_200_000, end=None))
    return folder


META_VERSION = 1


def write_meta(base: Path, commit: str, timestamp_s: int, job: str, user: str) -> Path:
    """Manager.CreateExperiment then Manager.WriteMetadata."""
    (base / commit / "files").mkdir(parents=True, exist_ok=True)
    data = bytes([META_VERSION]) + struct.pack(">Q", timestamp_s & (2**64 - 1))
    for text in (commit, job, user):
        raw = text.encode()
        data += bytes([len(raw) & 0xFF]) + raw
    path = base / commit / "meta.bin"
    path.write_bytes(data)
    return path


def metric_record(name: str, value: float, step: int, timestamp_s: int) -> bytes:
    """One record as Manager.LogMetric builds it (names cut to 255 bytes)."""
    raw = name.encode()[:255]
    return struct.pack(">QId", timestamp_s, step & 0xFFFFFFFF, value) + bytes([len(raw)]) + raw


def log_metric(base: Path, commit: str, name: str, value: float, step: int, timestamp_s: int) -> None:
    """Manager.LogMetric: one append of one record."""
    with open(base / commit / "metrics.bin", "ab") as f:
        f.write(metric_record(name, value, step, timestamp_s))


def write_fetch_ml_store(base: Path) -> Path:
    """Three commits of two jobs, a day apart, with loss and accuracy points."""
    start = START_MS // 1000
    for day, (commit, job) in enumerate([("a1b2c3d4e5f6", "train-resnet"), ("b2c3d4e5f6a1", "train-resnet"),
                                         ("c3d4e5f6a1b2", "train-bert")]):
        write_meta(base, commit, start + day * 86_400, job, "alice")
        for step in range(3):
            log_metric(base, commit, "loss", 1.0 / (step + 1 + day), step, start + day * 86_400 + step)
            log_metric(base, commit, "accuracy", 0.5 + 0.1 * step, step, start + day * 86_400 + step)
    return base
