"""Stores written by the real daskperiment package (0.5.0), and a real redis-server for them.

daskperiment computes a trial as soon as its result function is defined when the script is a file
(`__main__.__file__` exists), so its quickstart runs here from `python -c`, in a subprocess
(it imports pandas and dask, and keeps experiments in a process-wide cache). The script also dumps,
as JSON, what daskperiment's own loaders return for each trial (`get_history`, `load_metric`, and
the metric records' times), for the tests to compare with what tuitrack reads.

The fixtures that hold such stores, and a Redis server, are in daskperiment_fixtures.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

QUICKSTART = r'''
import json, os, sys
import numpy as np
import pandas as pd
import daskperiment

backend = os.environ["DASK_BACKEND"]
ex = daskperiment.Experiment(id=os.environ["DASK_EXPERIMENT"], backend=backend)
a = ex.parameter("a")
b = ex.parameter("b")
opt = ex.parameter("opt")

@ex
def prepare_data(a, b):
    return a + b

@ex.persist
def scaled(s, opt):
    return s * (2 if opt == "adam" else 1)

@ex.result
def calculate_score(s):
    for i in range(int(os.environ.get("DASK_EPOCHS", "3"))):
        ex.save_metric("dummy_score", epoch=i, value=100 - 0.1 * i + s)
        ex.save_metric("loss", epoch=i, value=1.0 / (i + s))
    if s > 100:
        raise ValueError("score too big: %s" % s)
    return np.float64(10 / s) if s % 2 else 10 / s

d = prepare_data(a, b)
s = calculate_score(scaled(d, opt))
for trial in json.loads(os.environ["DASK_TRIALS"]):
    seed = trial.pop("seed", None)
    ex.set_parameters(**trial)
    try:
        s.compute(seed=seed)
    except ValueError:
        pass

def ms(ts):
    dt = ts.to_pydatetime()
    return int(dt.replace(microsecond=0).timestamp()) * 1000 + dt.microsecond // 1000

def records(name, trial):
    if backend.startswith("redis"):
        from daskperiment.io.pickle import loads
        backend_ = ex._backend
        return [loads(v) for v in backend_.get_list(backend_.get_metric_key(name, trial))]
    return ex._metrics.metrics[name].values.get(trial, [])

history = ex.get_history(verbose=True)
params = ex._trials.get_parameter_history()
trials = {}
for trial, row in history.iterrows():
    loaded = {name: ex.load_metric(name, trial_id=trial) for name in ("dummy_score", "loss")}
    trials[str(trial)] = {
        "params": {k: str(v) for k, v in params[trial].items()},
        "success": bool(row["Success"]),
        "result": None if pd.isna(row["Result"]) else float(row["Result"]),
        "result_type": row["Result Type"],
        "finished_ms": ms(row["Finished"]),
        "process_ms": row["Process Time"].value // 1_000_000,
        "description": row["Description"] if isinstance(row["Description"], str) else None,
        "seed": int(row["Seed"]),
        "code": ex.get_code(trial_id=trial),
        "python": ex._environment.get_environment(trial_id=trial, category="python"),
        "metrics": {name: [[int(epoch), float(frame[trial][epoch]), ms(rec["Timestamp"])]
                           for epoch, rec in zip(frame.index, records(name, trial))]
                    for name, frame in loaded.items()},
    }
with open(os.environ["DASK_DUMP"], "w") as f:
    json.dump(trials, f)
'''

TRIALS = [{"a": 1, "b": 2, "opt": "adam"}, {"a": 3, "b": 4, "opt": "sgd", "seed": 7},
          {"a": 300, "b": 4, "opt": "sgd"}]


def run_quickstart(cwd: Path, backend: str, experiment: str = "quickstart_pj", trials: list | None = None,
                   epochs: int = 3) -> dict:
    """Run daskperiment's quickstart in `cwd` (LocalBackend: `cwd/daskperiment_cache`) and return
    what daskperiment's loaders say about every trial of the experiment afterwards."""
    cwd.mkdir(parents=True, exist_ok=True)
    dump = cwd / f".dump-{experiment}.json"
    env = {**os.environ, "DASK_BACKEND": backend, "DASK_EXPERIMENT": experiment, "DASK_DUMP": str(dump),
           "DASK_TRIALS": json.dumps(TRIALS if trials is None else trials), "DASK_EPOCHS": str(epochs)}
    # Run from a file's text, but not as a file: daskperiment finds the steps' source (inspect reads
    # it through linecache) and still waits for `compute`.
    (cwd / "quickstart_steps.py").write_text(QUICKSTART)
    run = "exec(compile(open('quickstart_steps.py').read(), 'quickstart_steps.py', 'exec'))"
    done = subprocess.run([sys.executable, "-c", run], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = json.loads(dump.read_text())
    dump.unlink()
    return expected


def pickled_dict(values: dict) -> bytes:
    """A parameter or result dict as daskperiment's RedisBackend saves it (cloudpickle)."""
    import cloudpickle

    return cloudpickle.dumps(values)


def metric_record(epoch: int, value: float) -> bytes:
    """One item of a `<id>:metric:<name>:<trial>` list, as daskperiment's save_metric pushes it."""
    import cloudpickle
    import pandas as pd

    return cloudpickle.dumps({"Epoch": epoch, "Value": value, "Timestamp": pd.Timestamp.now()})


def result_record(success: bool, result: float | None = None) -> bytes:
    """A `<id>:history:<trial>` value: TrialResult.to_dict() as daskperiment's RedisBackend saves it."""
    import cloudpickle
    import pandas as pd

    return cloudpickle.dumps({"Result": result, "Result Type": repr(type(result)), "Success": success,
                              "Finished": pd.Timestamp.now(), "Process Time": pd.Timedelta("3s"),
                              "Description": float("nan") if success else "ValueError(no)", "Seed": 1})
