"""A store written by real MLflow holding a training run with system metrics, as
`mlflow.enable_system_metrics_logging()` logs them: ordinary metrics under `system/`, one sample
every 10 s. They are logged here with MlflowClient.log_metric under the same names (the real
sampler needs psutil and pynvml, and waits 10 s between samples).
"""

from __future__ import annotations

from pathlib import Path

from tests.mlflow_stores import T0, client_for

SAMPLES = 12
EVERY_MS = 10_000


def system_series(index: int) -> dict[str, float]:
    """Sample `index` of each system metric: values that change, with a known peak."""
    return {
        "system/cpu_utilization_percentage": 20.0 + 5 * index,
        "system/system_memory_usage_megabytes": 4000.0 + 100 * index,
        "system/system_memory_usage_percentage": 25.0 + 0.5 * index,
        "system/gpu_0_utilization_percentage": 90.0 if index % 3 else 40.0,
        "system/gpu_0_memory_usage_megabytes": 9000.0 + 10 * index,
        "system/gpu_0_memory_usage_percentage": 60.0 + 0.1 * index,
        "system/gpu_0_power_usage_watts": 200.0 + (index % 4) * 10,
        "system/gpu_1_utilization_percentage": 10.0 * (index % 2),
        "system/disk_usage_percentage": 70.0,
        "system/disk_available_megabytes": 140_000.0 - index,
        "system/network_receive_megabytes": 1.5 * index,
        "system/network_transmit_megabytes": 0.25 * index,
    }


def log_samples(client, run_id: str, start: int, count: int) -> None:
    for index in range(start, start + count):
        for key, value in system_series(index).items():
            client.log_metric(run_id, key, value, timestamp=T0 + index * EVERY_MS, step=index)


def write_system_store(root: Path) -> dict[str, str]:
    """An experiment with a run that logged system metrics and one that did not; their ids by
    name ("system" and "plain")."""
    client = client_for(root)
    experiment = client.create_experiment("gpu-training")
    ids = {}
    run = client.create_run(experiment, run_name="with-system", start_time=T0)
    ids["system"] = run.info.run_id
    for step in range(SAMPLES):
        client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), timestamp=T0 + step * EVERY_MS, step=step)
    log_samples(client, run.info.run_id, 0, SAMPLES)
    client.set_terminated(run.info.run_id, end_time=T0 + SAMPLES * EVERY_MS)
    plain = client.create_run(experiment, run_name="no-system", start_time=T0 + 1)
    ids["plain"] = plain.info.run_id
    client.log_metric(plain.info.run_id, "loss", 0.5, timestamp=T0, step=0)
    client.set_terminated(plain.info.run_id, end_time=T0 + 1000)
    return ids
