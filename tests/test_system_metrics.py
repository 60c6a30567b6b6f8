"""Reading system metric keys: which keys are system metrics, their group (CPU, Memory, each GPU,
Disk, Network), what they measure and their unit; the order the panel and `show` list them in."""

from __future__ import annotations

import pytest

from tuitrack.system_metrics import classify, is_system, system_quantities, without_system

# Every name mlflow.enable_system_metrics_logging() logs (mlflow/system_metrics/metrics/*.py).
MLFLOW_NAMES = {
    "system/cpu_utilization_percentage": ("CPU", "utilization", "%", None),
    "system/system_memory_usage_megabytes": ("Memory", "used", "MB", None),
    "system/system_memory_usage_percentage": ("Memory", "used", "%", None),
    "system/gpu_0_utilization_percentage": ("GPU 0", "utilization", "%", 0),
    "system/gpu_0_memory_usage_megabytes": ("GPU 0", "memory", "MB", 0),
    "system/gpu_0_memory_usage_percentage": ("GPU 0", "memory", "%", 0),
    "system/gpu_0_power_usage_watts": ("GPU 0", "power", "W", 0),
    "system/gpu_0_power_usage_percentage": ("GPU 0", "power", "%", 0),
    "system/gpu_12_memory_usage_gigabytes": ("GPU 12", "memory", "GB", 12),  # ROCm's unit
    "system/disk_usage_percentage": ("Disk", "used", "%", None),
    "system/disk_usage_megabytes": ("Disk", "used", "MB", None),
    "system/disk_available_megabytes": ("Disk", "free", "MB", None),
    "system/network_receive_megabytes": ("Network", "received", "MB", None),
    "system/network_transmit_megabytes": ("Network", "sent", "MB", None),
}


@pytest.mark.parametrize("key", sorted(MLFLOW_NAMES))
def test_each_name_mlflow_logs_is_read(key):
    quantity = classify(key)
    assert quantity is not None and quantity.key == key
    assert (quantity.group, quantity.quantity, quantity.unit, quantity.gpu) == MLFLOW_NAMES[key]
    assert quantity.node is None


@pytest.mark.parametrize("key", ["loss", "train/system/loss", "systems/cpu", "System/cpu_utilization_percentage",
                                 "val/system_memory_usage_megabytes", ""])
def test_keys_of_the_training_script_are_not_system_metrics(key):
    assert not is_system(key)
    assert classify(key) is None


def test_a_node_id_is_kept_apart_and_named():
    quantity = classify("system/node_1/gpu_3_utilization_percentage")
    assert (quantity.node, quantity.group, quantity.quantity, quantity.unit, quantity.gpu) == \
        ("node_1", "GPU 3", "utilization", "%", 3)
    assert quantity.label == "node_1 GPU 3 utilization"


def test_names_mlflow_does_not_log_still_get_a_line():
    odd = classify("system/fan_speed")
    assert (odd.group, odd.quantity, odd.unit) == ("Other", "fan speed", "")
    gpu = classify("system/gpu_1_temperature_celsius")
    assert (gpu.group, gpu.gpu, gpu.quantity, gpu.unit) == ("GPU 1", 1, "temperature celsius", "")
    # Text a script wrote, kept as it is (the app shows it through visible escapes).
    assert classify("system/\x1b[31mred").quantity == "\x1b[31mred"
    assert classify("system/").group == "Other"


def test_quantities_are_ordered_cpu_memory_gpus_by_number_disk_network_and_share_before_amount():
    keys = list(MLFLOW_NAMES) + ["system/gpu_2_utilization_percentage", "system/fan_speed", "loss"]
    labels = [(q.label, q.unit) for q in system_quantities(reversed(keys))]
    assert labels == [
        ("CPU utilization", "%"),
        ("Memory used", "%"), ("Memory used", "MB"),
        ("GPU 0 utilization", "%"),
        ("GPU 0 memory", "%"), ("GPU 0 memory", "MB"), ("GPU 0 power", "%"), ("GPU 0 power", "W"),
        ("GPU 2 utilization", "%"),
        ("GPU 12 memory", "GB"),
        ("Disk used", "%"), ("Disk used", "MB"), ("Disk free", "MB"),
        ("Network received", "MB"), ("Network sent", "MB"),
        ("Other fan speed", ""),
    ]


def test_without_system_keeps_the_order_of_the_rest():
    assert without_system(["b", "system/cpu_utilization_percentage", "a", "system/x"]) == ["b", "a"]
