"""Write `sample_runs/mlruns` with real MLflow: the store the README opens and the app tests use.

    pip install mlflow-skinny==3.17.2
    python sample_runs/make_sample_runs.py [OUT_DIR]   # default: sample_runs/mlruns (replaced)

Curves are seeded and timestamps fixed (runs happen in the days before 2026-11-20), so running it
again gives the same content; only MLflow's random run and experiment ids differ.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sys
from pathlib import Path

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

DAY = 86_400_000
BASE = 1_795_132_800_000  # 2026-11-20 00:00 UTC
STEP_MS = 1_200  # wall time per logged step


def curve(steps: int, start: float, end: float, noise: float, rng: random.Random, rate: float = 4.0):
    """A training curve: exponential approach from `start` to `end` with noise and rare spikes."""
    values = []
    for step in range(steps):
        t = step / max(steps - 1, 1)
        value = end + (start - end) * math.exp(-rate * t)
        value += rng.gauss(0, noise * (0.3 + abs(value - end)))
        if rng.random() < 0.002:
            value += noise * 20
        values.append(value)
    return values


class Writer:
    def __init__(self, root: Path, seed: int = 7):
        self.client = MlflowClient(tracking_uri=root.resolve().as_uri())
        self.rng = random.Random(seed)

    def run(self, exp_id, name, start, *, params=None, tags=None, parent=None, user="alice",
            note=None, metrics=None, status="FINISHED", steps_logged=None):
        tags = {"mlflow.user": user, "mlflow.source.name": "train.py",
                "mlflow.source.type": "LOCAL", **(tags or {})}
        if parent:
            tags["mlflow.parentRunId"] = parent
        if note:
            tags["mlflow.note.content"] = note
        run = self.client.create_run(exp_id, start_time=start, tags=tags, run_name=name)
        run_id = run.info.run_id
        self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in (params or {}).items()])
        # Every run gets an artifact: git keeps no empty folders, and MLflow's get_run needs
        # artifacts/ (and params/, metrics/) to exist in a clone of this repository.
        config = "".join(f"{k}: {v}\n" for k, v in (params or {}).items()) or "{}\n"
        self.client.log_text(run_id, config, "config.yaml")
        last = start
        points = []
        for key, values in (metrics or {}).items():
            n = len(values) if steps_logged is None else steps_logged
            for step, value in enumerate(values[:n]):
                ts = start + (step + 1) * STEP_MS
                points.append(Metric(key, value, ts, step))
                last = max(last, ts)
        for i in range(0, len(points), 1000):
            self.client.log_batch(run_id, metrics=points[i:i + 1000])
        if status != "RUNNING":
            self.client.set_terminated(run_id, status, end_time=last + 2_000)
        return run_id


def main(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    w = Writer(out)
    c = w.client
    rng = w.rng

    # An image classifier: a learning-rate sweep as a parent with child runs, and a few one-offs.
    mnist = c.create_experiment("mnist-cnn", tags={"team": "vision", "dataset": "mnist"})
    sweep_start = BASE - 3 * DAY
    sweep = w.run(mnist, "lr-sweep", sweep_start, params={"sweep": "lr", "trials": 4},
                  note="Grid over the learning rate.\nBest: lr=0.01 (val/acc 0.991).",
                  metrics={"best/val_acc": [0.962, 0.985, 0.991, 0.978]}, status="RUNNING")
    for i, lr in enumerate([0.1, 0.03, 0.01, 0.003]):
        quality = {0.1: 0.06, 0.03: 0.025, 0.01: 0.012, 0.003: 0.03}[lr]
        steps = 3000
        w.run(mnist, f"lr={lr}", sweep_start + i * 3_700_000, parent=sweep,
              params={"lr": lr, "batch_size": 128, "optimizer": "adam", "epochs": 10, "seed": 42},
              tags={"git.commit": "3f2a9c1"},
              metrics={"train/loss": curve(steps, 2.3, quality, 0.02, rng),
                       "val/loss": curve(steps // 10, 2.2, quality * 1.4, 0.01, rng),
                       "val/acc": [1 - v / 2.5 for v in curve(steps // 10, 2.2, quality * 1.4, 0.004, rng)],
                       "lr": [lr * 0.5 * (1 + math.cos(math.pi * s / steps)) for s in range(steps)]})
    c.set_terminated(sweep, "FINISHED", end_time=sweep_start + 3 * 3_700_000 + 3_700_000)
    w.run(mnist, "baseline-mlp", BASE - 4 * DAY, params={"lr": 0.01, "batch_size": 64, "optimizer": "sgd"},
          metrics={"train/loss": curve(1500, 2.3, 0.09, 0.02, rng), "val/acc": [0.5 + 0.46 * (1 - math.exp(-s / 30)) for s in range(150)]})
    deleted = w.run(mnist, "bad-seed", BASE - 2 * DAY, params={"lr": 0.01, "seed": 0},
                    metrics={"train/loss": curve(400, 2.3, 1.9, 0.05, rng)}, status="KILLED")
    c.delete_run(deleted)

    # A language model fine-tune: one still running, one that diverged, one killed by the user.
    gpt = c.create_experiment("gpt2-finetune", tags={"team": "nlp"})
    w.run(gpt, "warmup-ablation", BASE - DAY, user="bob",
          params={"lr": 3e-4, "warmup_steps": 500, "model": "gpt2-medium", "context": 1024},
          metrics={"loss": curve(2500, 4.1, 2.6, 0.03, rng, rate=3),
                   "perplexity": [math.exp(v) for v in curve(250, 4.0, 2.7, 0.02, rng, rate=3)]})
    diverged = curve(1800, 4.1, 2.9, 0.04, rng, rate=3)
    diverged[1200:] = [v * (1 + (i / 60) ** 2) for i, v in enumerate(diverged[1200:])]
    diverged[-5:] = [float("nan")] * 5
    w.run(gpt, "lr-too-high", BASE - DAY + 9_000_000, user="bob",
          params={"lr": 3e-3, "warmup_steps": 0, "model": "gpt2-medium", "context": 1024},
          note="Loss exploded after step 1200; NaN at the end.",
          metrics={"loss": diverged, "grad_norm": [abs(rng.gauss(1, 0.2)) * (1 + max(0, s - 1150) / 20) for s in range(1800)]},
          status="FAILED")
    w.run(gpt, "long-context", BASE - DAY + 20_000_000, user="bob",
          params={"lr": 3e-4, "warmup_steps": 500, "model": "gpt2-medium", "context": 4096},
          metrics={"loss": curve(900, 4.2, 2.5, 0.03, rng, rate=3)}, status="KILLED")
    w.run(gpt, "overnight", BASE - 6 * 3_600_000, user="bob",
          params={"lr": 2e-4, "warmup_steps": 1000, "model": "gpt2-large", "context": 1024},
          tags={"keep": "true"},
          metrics={"loss": curve(6000, 4.2, 2.3, 0.03, rng, rate=2.5),
                   "perplexity": [math.exp(v) for v in curve(600, 4.1, 2.4, 0.02, rng, rate=2.5)]},
          status="RUNNING", steps_logged=None)

    # The default experiment with a quick smoke test, and a scratch experiment that was deleted.
    w.run("0", "smoke-test", BASE - 5 * DAY, params={"epochs": 1},
          metrics={"loss": curve(50, 1.0, 0.5, 0.01, rng)})
    scratch = c.create_experiment("scratch")
    w.run(scratch, "tmp", BASE - 5 * DAY, params={"epochs": 1}, metrics={"loss": curve(20, 1.0, 0.9, 0.01, rng)})
    c.delete_experiment(scratch)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "mlruns"
    main(target)
    print(f"wrote {target}")
