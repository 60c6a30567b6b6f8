"""Time and peak memory of `tuitrack artifacts` on hostile artifacts: a 1 GiB sparse log ending
in 300 KiB of lines (`--cat --tail`, `--cat`), a folder of 100,000 files (the listing stops at 1,000 and counts the
rest), and what following a growing log costs per look (ArtifactTail.poll, CPU time).

    python bench/bench_artifacts.py [--files N]

Each command runs in a fresh process; peak memory is its VmHWM.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_hostile import MEASURED  # noqa: E402  (a `tuitrack` process that prints its peak memory)
from tuitrack.live.artifact_tail import ArtifactTail  # noqa: E402
from tuitrack.store.artifacts.local import LocalArtifacts  # noqa: E402
from tuitrack.store.mlflow_file.writer import create_experiment, create_run  # noqa: E402


def measure(*args: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
    return wall, peak / 1024, len(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "mlruns"
        experiment = create_experiment(root, "bench")
        run_dir = create_run(root, experiment, "hostile")
        artifacts = run_dir / "artifacts"
        with open(artifacts / "huge.log", "wb") as f:
            f.truncate(1 << 30)
            end = b"".join(b"line %06d\n" % i for i in range(30_000))  # 300 KiB of log at its end
            f.seek((1 << 30) - len(end))
            f.write(end)
        many = artifacts / "many"
        many.mkdir()
        for i in range(options.files):
            (many / f"f{i:06}").write_bytes(b"")
        run_id = run_dir.name
        print(f"{'case':<42} {'wall':>7} {'peak':>9} {'printed':>9}")
        print(f"{'(tuitrack --version: the floor)':<42} {measure('--version')[0]:6.2f}s {measure('--version')[1]:7.1f}M")
        for label, args in (
            ("1 GiB sparse log: --cat --tail 20", ("huge.log", "--cat", "--tail", "20")),
            ("1 GiB sparse log: --cat (head: described)", ("huge.log", "--cat")),
            (f"list a folder of {options.files:,} files", ()),
        ):
            wall, peak, printed = measure("artifacts", str(root), run_id, *args)
            print(f"{label:<42} {wall:6.2f}s {peak:7.1f}M {printed:8,}B")
        log = artifacts / "train.log"
        log.write_text("start\n")
        tail = ArtifactTail(LocalArtifacts(str(artifacts)), "train.log", log.stat().st_size)
        cpu = time.process_time()
        with open(log, "a") as f:
            for i in range(1000):
                f.write(f"step {i} loss 0.5\n")
                f.flush()
                tail.poll()
        spent = (time.process_time() - cpu) / 1000
        print(f"{'following a log: one append + one poll':<42} {spent * 1e6:6.0f}us CPU")


if __name__ == "__main__":
    main()
