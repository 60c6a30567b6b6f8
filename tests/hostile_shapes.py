"""Stores of hostile shapes, written straight in MLflow's file format (as bench/make_store.py
does; MLflow's API would take minutes): a 5,000-deep parent chain, parent cycles, a run with
100,000 metric keys, a metric with millions of points. Tests and bench/bench_shapes.py use them.
"""

from __future__ import annotations

from pathlib import Path

T0 = 1_790_000_000_000
EXPERIMENT_ID = "123456789012345678"

EXPERIMENT_META = """artifact_location: {uri}
creation_time: {t}
experiment_id: '{eid}'
last_update_time: {t}
lifecycle_stage: active
name: {name}
"""

RUN_META = """artifact_uri: {uri}
end_time: {end}
entry_point_name: ''
experiment_id: '{eid}'
lifecycle_stage: active
run_id: {rid}
run_name: {name}
source_name: ''
source_type: 4
source_version: ''
start_time: {start}
status: 3
tags: []
user_id: tester
"""


def run_id(index: int) -> str:
    return f"a{index:031x}"  # a letter first: YAML would read all-digit ids as numbers


def new_store(root: Path, name: str = "shapes") -> Path:
    """An empty store with one experiment; returns the experiment's folder."""
    root = root.resolve()
    (root / ".trash").mkdir(parents=True, exist_ok=True)
    default = root / "0"
    default.mkdir(exist_ok=True)
    (default / "meta.yaml").write_text(EXPERIMENT_META.format(uri=default.as_uri(), t=T0, eid="0", name="Default"))
    experiment = root / EXPERIMENT_ID
    experiment.mkdir(exist_ok=True)
    (experiment / "meta.yaml").write_text(
        EXPERIMENT_META.format(uri=experiment.as_uri(), t=T0, eid=EXPERIMENT_ID, name=name))
    return experiment


def add_run(experiment: Path, index: int, name: str, parent: str | None = None) -> Path:
    """A finished run started `index` minutes after T0 (so a higher index is newer)."""
    rid = run_id(index)
    run = experiment / rid
    for folder in ("metrics", "params", "artifacts", "tags"):
        (run / folder).mkdir(parents=True, exist_ok=True)
    start = T0 + index * 60_000
    (run / "meta.yaml").write_text(RUN_META.format(
        uri=(run / "artifacts").as_uri(), end=start + 1000, eid=experiment.name, rid=rid, name=name, start=start))
    (run / "tags" / "mlflow.runName").write_text(name)
    if parent is not None:
        (run / "tags" / "mlflow.parentRunId").write_text(parent)
    (run / "metrics" / "loss").write_text(f"{start} 0.5 0\n")
    return run


def make_chain(root: Path, depth: int) -> list[str]:
    """One family `depth` runs deep: run 0 is the root, run i the child of run i-1."""
    experiment = new_store(root, "chain")
    for i in range(depth):
        add_run(experiment, i, f"level-{i}", parent=run_id(i - 1) if i else None)
    return [run_id(i) for i in range(depth)]


def make_cycles(root: Path) -> dict[str, str]:
    """A three-run cycle, a run that is its own parent, a run whose parent is not there, and a
    healthy family beside them. Returns name -> run id."""
    experiment = new_store(root, "cycles")
    add_run(experiment, 1, "cycle-a", parent=run_id(3))
    add_run(experiment, 2, "cycle-b", parent=run_id(1))
    add_run(experiment, 3, "cycle-c", parent=run_id(2))
    add_run(experiment, 4, "selfish", parent=run_id(4))
    add_run(experiment, 5, "orphan", parent="f" * 32)
    add_run(experiment, 6, "parent")
    add_run(experiment, 7, "child", parent=run_id(6))
    names = ["cycle-a", "cycle-b", "cycle-c", "selfish", "orphan", "parent", "child"]
    return {name: run_id(i) for i, name in enumerate(names, start=1)}


def make_wide_run(root: Path, metrics: int, params: int) -> str:
    """A run with `metrics` metric keys (one point each) and `params` params, beside a small run."""
    experiment = new_store(root, "wide")
    add_run(experiment, 1, "small")
    run = add_run(experiment, 2, "wide")
    start = T0 + 2 * 60_000
    for i in range(metrics):
        (run / "metrics" / f"m{i:06d}").write_text(f"{start} {i * 0.5} 0\n")
    for i in range(params):
        (run / "params" / f"p{i:06d}").write_text(str(i))
    return run_id(2)


def make_long_metric(root: Path, points: int, key: str = "loss") -> str:
    """A run whose `key` has `points` points (steps 0..points-1), written in 1 MiB pieces."""
    experiment = new_store(root, "long")
    run = add_run(experiment, 1, "long")
    with open(run / "metrics" / key, "w") as out:
        lines = []
        for step in range(points):
            lines.append(f"{T0 + step} {1.0 / (1 + step * 1e-4)} {step}\n")
            if len(lines) == 20_000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))
    return run_id(1)
