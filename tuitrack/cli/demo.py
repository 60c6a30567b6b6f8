"""`tuitrack demo STORE`: write simulated training runs into STORE live, so that anyone can watch
tuitrack follow a store in a second terminal.

A sweep parent with three children: one converges and finishes, one diverges to NaN and fails,
and one stops writing halfway without finishing, as a killed process would (tuitrack shows it as
stale once --stale-after has passed). Files are written in MLflow's format, as MLflow would.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

from tuitrack.cli.arguments import positive_float, positive_int
from tuitrack.model import RunStatus
from tuitrack.store.mlflow_file import writer

HELP = "write simulated training runs into STORE live (watch them with tuitrack STORE)"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", help="an mlruns folder (created if missing; the demo writes MLflow's file format)")
    parser.add_argument("--experiment", default="tuitrack-demo", help="experiment name (default: tuitrack-demo)")
    parser.add_argument("--steps", type=positive_int, default=600, help="steps of the run that finishes (default: 600)")
    parser.add_argument("--rate", type=positive_float, default=20.0, help="steps per second (default: 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable curves")


class Trainee:
    """One simulated run: what it logs at each step, and how it ends."""

    def __init__(self, run_dir: Path, lr: float, fate: str, steps: int, rng: random.Random):
        self.run_dir, self.lr, self.fate, self.steps, self.rng = run_dir, lr, fate, steps, rng
        self.loss = 2.3
        self.done = False

    def step(self, step: int) -> None:
        if self.done:
            return
        if self.fate == "hang" and step >= self.steps // 2:
            self.done = True  # silence, status still RUNNING: a process that died
            return
        rng = self.rng
        if self.fate == "diverge" and step > self.steps // 3:
            self.loss *= 1.04 + rng.random() * 0.02
        else:
            self.loss = max(0.02, self.loss * (1 - self.lr * 0.6) + rng.gauss(0, 0.01 * self.loss))
        value = float("nan") if self.loss > 50 else self.loss
        writer.log_metric(self.run_dir, "train/loss", value, step)
        writer.log_metric(self.run_dir, "lr", self.lr * 0.5 * (1 + math.cos(math.pi * step / self.steps)), step)
        if step % 10 == 0:
            val = value * (1.08 + rng.gauss(0, 0.02)) if math.isfinite(value) else value
            writer.log_metric(self.run_dir, "val/loss", val, step)
            accuracy = max(0.0, min(1.0, 1 - val / 2.5)) if math.isfinite(val) else float("nan")
            writer.log_metric(self.run_dir, "val/acc", accuracy, step)
        if self.fate == "diverge" and (not math.isfinite(value) or step == self.steps - 1):
            writer.set_terminated(self.run_dir, RunStatus.FAILED)
            self.done = True
        elif step == self.steps - 1:
            writer.set_terminated(self.run_dir, RunStatus.FINISHED)
            self.done = True


def run(args: argparse.Namespace) -> int:
    if args.steps < 10 or args.rate <= 0:
        print("tuitrack: --steps must be at least 10 and --rate above 0", file=sys.stderr)
        return 2
    root = Path(args.store)
    writer.ensure_store(root)
    experiment_id = writer.find_experiment(root, args.experiment) or writer.create_experiment(root, args.experiment)
    rng = random.Random(args.seed)
    sweep = writer.create_run(root, experiment_id, "demo-sweep", params={"search": "lr", "trials": 3})
    trainees = []
    for name, lr, fate in (("converges", 0.02, "finish"), ("diverges", 0.08, "diverge"), ("hangs", 0.01, "hang")):
        run_dir = writer.create_run(root, experiment_id, f"{name} lr={lr}",
                                    params={"lr": lr, "batch_size": 64, "optimizer": "adam"},
                                    tags={"mlflow.parentRunId": sweep.name})
        trainees.append(Trainee(run_dir, lr, fate, args.steps, rng))
    print(f"writing 3 runs under 'demo-sweep' into {root} (experiment {args.experiment}); "
          f"watch with: tuitrack {root}   (ctrl+c stops)")
    try:
        for step in range(args.steps):
            for trainee in trainees:
                trainee.step(step)
            time.sleep(1 / args.rate)
        writer.set_terminated(sweep, RunStatus.FINISHED)
        print("done: one run finished, one failed, one hangs in RUNNING (it will show as stale)")
    except KeyboardInterrupt:
        for trainee in trainees:
            if not trainee.done and trainee.fate != "hang":
                writer.set_terminated(trainee.run_dir, RunStatus.KILLED)
        writer.set_terminated(sweep, RunStatus.KILLED)
        print("stopped: the runs still going were marked KILLED")
    return 0
