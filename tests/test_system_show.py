"""`tuitrack show` on a run with system metrics (logged by real MLflow under `system/`): a System
section with last, mean and max per quantity, no system metric in the Metrics section, and a
"system" object in `show --json`."""

from __future__ import annotations

import math

import pytest

from tests.mlflow_stores import client_for
from tests.system_stores import SAMPLES, system_series, write_system_store
from tests.test_cli_read import run_cli, strict_json
from tuitrack.formatting import format_value
from tuitrack.system_metrics import SystemSummary, classify


@pytest.fixture(scope="module")
def system_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("system") / "mlruns"
    return root, write_system_store(root)


def expected(key: str) -> tuple[float, float, float]:
    values = [system_series(i)[key] for i in range(SAMPLES)]
    return values[-1], sum(values) / len(values), max(values)


def sections(out: str) -> dict[str, list[str]]:
    """The lines of each section of `show`'s text, by title (a title is a line without indent)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" ") and line.strip() in ("Params", "Tags", "Metrics", "System", "Problems"):
            current = line.strip()
            found[current] = []
        elif current is not None and line.strip():
            found[current].append(line)
    return found


def test_show_prints_a_system_section_and_keeps_them_out_of_metrics(system_store, capsys):
    root, ids = system_store
    code, out, _ = run_cli(capsys, "show", str(root), ids["system"])
    assert code == 0
    parts = sections(out)
    metrics = parts["Metrics"]
    assert [line.split()[0] for line in metrics[1:]] == ["loss"]
    assert "system/" not in "\n".join(metrics)
    system = parts["System"]
    assert system[0].split() == ["QUANTITY", "UNIT", "LAST", "MEAN", "MAX", "POINTS"]
    rows = {}
    for line in system[1:]:
        *label, unit, last, mean, peak, points = line.split()
        rows[(" ".join(label), unit)] = (last, mean, peak, points)
    keys = sorted(system_series(0))
    assert len(rows) == len(keys)
    for key in keys:
        quantity = classify(key)
        last, mean, peak = expected(key)
        assert rows[(quantity.label, quantity.unit)] == \
            (format_value(last), format_value(mean), format_value(peak), str(SAMPLES)), key
    # The panel's order: CPU first, then memory, the GPUs by number, disk, network.
    labels = [" ".join(line.split()[:-5]) for line in system[1:]]
    assert labels[0] == "CPU utilization" and labels[-1] == "Network sent"
    assert labels.index("GPU 0 utilization") < labels.index("GPU 1 utilization") < labels.index("Disk used")


def test_a_run_without_system_metrics_has_no_system_section(system_store, capsys):
    root, ids = system_store
    code, out, _ = run_cli(capsys, "show", str(root), ids["plain"])
    assert code == 0 and "System" not in sections(out)


def test_show_json_has_a_system_object_and_every_history(system_store, capsys):
    root, ids = system_store
    code, out, _ = run_cli(capsys, "show", str(root), ids["system"], "--json")
    run = strict_json(out)
    assert code == 0
    keys = sorted(system_series(0))
    assert sorted(run["system"]) == keys
    for key in keys:
        last, mean, peak = expected(key)
        entry = run["system"][key]
        quantity = classify(key)
        assert (entry["group"], entry["quantity"], entry["unit"], entry["gpu"], entry["node"]) == \
            (quantity.group, quantity.quantity, quantity.unit, quantity.gpu, None)
        assert entry["last"] == last and entry["max"] == peak and entry["points"] == SAMPLES
        assert math.isclose(entry["mean"], mean)
    # The histories stay whole, as MLflow holds them (scripts read them as MLflow metrics).
    assert sorted(run["metrics"]) == sorted(["loss", *keys])
    assert len(run["metrics"]["system/cpu_utilization_percentage"]) == SAMPLES
    assert run["problems"] == []
    assert list(run)[-2:] == ["system", "problems"]
    plain = strict_json(run_cli(capsys, "show", str(root), ids["plain"], "--json")[1])
    assert plain["system"] == {}


def test_nan_samples_count_as_points_but_not_in_the_numbers(tmp_path, capsys):
    root = tmp_path / "mlruns"
    client = client_for(root)
    run = client.create_run(client.create_experiment("e"))
    run_id = run.info.run_id
    for step, value in enumerate([float("nan"), 30.0, float("inf"), 10.0]):
        client.log_metric(run_id, "system/cpu_utilization_percentage", value, timestamp=1000 + step, step=step)
    client.log_metric(run_id, "system/gpu_0_power_usage_watts", float("nan"), timestamp=1000, step=0)
    entry = strict_json(run_cli(capsys, "show", str(root), run_id, "--json")[1])["system"]
    cpu, power = entry["system/cpu_utilization_percentage"], entry["system/gpu_0_power_usage_watts"]
    assert (cpu["last"], cpu["mean"], cpu["max"], cpu["points"]) == (10.0, 20.0, 30.0, 4)
    assert (power["last"], power["mean"], power["max"], power["points"]) == ("NaN", "NaN", "NaN", 1)


def test_system_summary_adds_batches_as_one():
    from tuitrack.model import MetricPoint

    points = [MetricPoint(timestamp=i, value=float(v), step=i) for i, v in enumerate([3, 9, 1, 5])]
    whole, parts = SystemSummary(), SystemSummary()
    whole.add(points)
    parts.add(points[:1])
    parts.add(points[1:3])
    parts.add(points[3:])
    for tally in (whole, parts):
        assert (tally.last.value, tally.mean, tally.peak, tally.points) == (5.0, 4.5, 9.0, 4)
