"""The unpickler that reads daskperiment's pickles never runs them: hostile payloads of several
styles are refused with a message and their canary file is never created (while the same bytes
given to pickle itself do create it), and crafted shapes cannot exhaust the stack, time or memory."""

from __future__ import annotations

import datetime
import os
import pickle
import subprocess

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from tuitrack.store import open_store
from tuitrack.store.daskperiment.inert import Made, PickleRefused, load_inert
from tuitrack.store.daskperiment.values import number, text, timedelta_ms, timestamp_ms

pytest_plugins = ["tests.daskperiment_fixtures"]  # its fixtures: stores and a Redis server
EXPERIMENT = "quickstart_pj"


class Reducing:
    """Runs `call(*args)` when unpickled (pickle's REDUCE)."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return (self.call, self.args)


class SettingState:
    """Touches a file from __setstate__ when unpickled (pickle's BUILD)."""

    def __init__(self, path):
        self.path = str(path)

    def __setstate__(self, state):
        open(state["path"], "w").close()


def payloads(canary) -> dict[str, bytes]:
    command = f"touch {canary}"

    def run_it():
        os.system(command)

    class RunsAFunction:  # cloudpickle pickles run_it by value: a code object, rebuilt and called
        def __reduce__(self):
            return (run_it, ())

    return {
        "os.system, protocol 0": pickle.dumps(Reducing(os.system, command), protocol=0),
        "os.system, protocol 5": pickle.dumps(Reducing(os.system, command), protocol=5),
        "builtins.eval": pickle.dumps(Reducing(eval, f"__import__('os').system({command!r})")),
        "builtins.exec": pickle.dumps(Reducing(exec, f"import os; os.system({command!r})")),
        "subprocess.call": pickle.dumps(Reducing(subprocess.call, ["touch", str(canary)])),
        "cloudpickle code object": cloudpickle.dumps(RunsAFunction()),
        "inside a daskperiment record": cloudpickle.dumps({"Result": Reducing(os.system, command), "Success": True}),
    }


@pytest.mark.parametrize("style", list(payloads("x")))
def test_a_payload_that_runs_code_is_refused_and_nothing_runs(tmp_path, style):
    canary = tmp_path / "canary"
    data = payloads(canary)[style]
    with pytest.raises(PickleRefused, match="would run code"):
        load_inert(data)
    assert not canary.exists()
    pickle.loads(data)  # the payload is real: pickle itself runs it
    assert canary.exists()


def test_setstate_is_never_called(tmp_path):
    canary = tmp_path / "canary"
    data = pickle.dumps(SettingState(canary))
    found = load_inert(data)  # a class of no risky name: its state is data, its code never runs
    assert isinstance(found, Made) and found.dotted.endswith("SettingState")
    assert found.attributes() == {"path": str(canary)} and not canary.exists()
    pickle.loads(data)
    assert canary.exists()


@pytest.mark.parametrize("style", ["os.system, protocol 5", "cloudpickle code object"])
def test_a_hostile_localbackend_pickle_is_a_problem_on_its_experiment(local_cache, tmp_path, style):
    cache, _ = local_cache
    canary = tmp_path / "canary"
    (cache / EXPERIMENT / f"{EXPERIMENT}.pkl").write_bytes(payloads(canary)[style])
    store = open_store(str(cache))
    [experiment] = store.experiments()
    assert "would run code" in experiment.problems[0].message and store.runs(experiment) == []
    assert not canary.exists()


def test_nesting_and_size_are_bounded():
    with pytest.raises(PickleRefused, match="nested more than"):
        load_inert(b"\x80\x02" + b"(" * 100_000 + b"N.")
    with pytest.raises(PickleRefused, match="more than 100 objects"):
        load_inert(pickle.dumps(list(range(1000))), max_ops=100)
    deep_key = b"\x80\x02}" + b")" + b"\x85" * 200_000 + b"Ns."  # {((((...)))): None}: hashing it overflows C
    with pytest.raises(PickleRefused, match="nested too deeply"):
        load_inert(deep_key)
    deep_list = load_inert(b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b".")  # nests without marks
    assert text(deep_list).startswith("[[[[") and len(text(deep_list)) < 100
    assert load_inert(b"\x80\x02Nr\xf0\xff\xff\xff.") is None  # a huge memo index allocates nothing


@pytest.mark.parametrize("data, message", [
    (b"", "is empty"),
    (pickle.dumps({"a": list(range(100))})[:40], "cut short"),
    (b"this is not a pickle", "not a readable pickle"),
    (b"\x80\x02\x82\x01.", "extension code"),
    (b"\x80\x02NQ.", "persistent id"),
])
def test_bad_bytes_are_refused_with_a_message(data, message):
    with pytest.raises(PickleRefused, match=message):
        load_inert(data)


@pytest.mark.parametrize("value", [
    pd.Timestamp("2026-03-04 05:06:07.891234", tz="UTC"),
    pd.Timestamp("2026-03-04 05:06:07.891234", tz="Europe/Paris"),
    pd.Timestamp("2026-03-04 05:06:07.891234"),
    pd.Timestamp("2026-03-04 05:06:07.891234567"),
    pd.Timestamp("2026-03-04 05:06:07").as_unit("s"),
])
def test_pandas_timestamps_become_milliseconds(value):
    if value.tz is None:
        dt = value.to_pydatetime(warn=False)
        truth = int(dt.replace(microsecond=0).timestamp()) * 1000 + dt.microsecond // 1000
    else:
        truth = value.value // 1_000_000
    assert timestamp_ms(load_inert(cloudpickle.dumps(value))) == truth


@pytest.mark.parametrize("value", [pd.Timedelta("1h 2ms 3us"), pd.Timedelta(0), pd.Timedelta("-5s")])
def test_pandas_timedeltas_become_milliseconds(value):
    assert timedelta_ms(load_inert(cloudpickle.dumps(value))) == value.value // 1_000_000


@pytest.mark.parametrize("value", [np.float64(0.1), np.float32(1.5), np.int64(-3), np.uint8(200), 2.5, 7])
def test_numbers_plain_and_numpy(value):
    assert number(load_inert(cloudpickle.dumps(value))) == value


def test_text_is_str_for_plain_values_and_names_objects():
    loaded = load_inert(cloudpickle.dumps([1, "a", (2,), {"k": 0.5}, np.float64(2.0),
                                           datetime.date(2026, 1, 2), None]))
    assert text(loaded) == "[1, 'a', (2,), {'k': 0.5}, 2.0, <datetime.date>, None]"
    assert text("plain") == "plain" and text(0.01) == "0.01" and text(True) == "True"


@pytest.mark.parametrize("data", [
    b"cbuiltins\ngetattr\n(cnumpy\nlinalg\nS'system'\ntR(S'touch x'\ntR.",  # getattr(..., "system")(...)
    b"cnumpy\nos\n.",  # a module's attribute that is the os module
    b"ccollections\nOrderedDict\n)R)R.",  # calling what a call returned
])
def test_indirect_ways_to_a_risky_call_are_refused_too(data):
    with pytest.raises(PickleRefused, match="would"):
        load_inert(data)
