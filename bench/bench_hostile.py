"""Time and peak memory of tuitrack against hostile stores (tests/hostile_sizes.py): sparse 2-3 GiB
files, an alias bomb, a gigabyte of NULs in a metric file and in fetch_ml's metrics.bin, deep JSON,
symlinks out of the store, and a 5M-point metric for `show --json`.

    pip install -e '.[test]'     # MLflow writes the store the hostile runs are copied from
    python bench/bench_hostile.py [--points N]

Each line: the case, the command, its wall time, and the process's peak resident memory (VmHWM),
and what the baseline (`ls` of the same store without hostile runs) costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

from tests.hostile_sizes import GiB, MLFLOW_CASES, Canary, make_entrenar_hostile, make_mlflow_hostile  # noqa: E402
from tests.mlflow_stores import write_reference_store  # noqa: E402
from tests.other_trackers import write_entrenar_store, write_fetch_ml_store  # noqa: E402

MEASURED = """
import sys
from tuitrack.cli import main
try:
    code = main(sys.argv[1:])
finally:
    sys.stdout.flush()
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    sys.stderr.write(f"PEAK_KIB {peak}\\n")
sys.exit(code)
"""


def measure(*argv: str) -> tuple[float, float, int]:
    """(seconds, peak MiB, exit code) of one `tuitrack ARGV` process; its output is discarded."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, *argv], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=600)
    seconds = time.perf_counter() - start
    peak = next((int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KIB")), 0)
    return seconds, peak / 1024, done.returncode


def report(case: str, argv: tuple[str, ...]) -> None:
    seconds, peak, code = measure(*argv)
    print(f"{case:<22} {argv[0]:<5} {seconds:7.2f} s {peak:8.1f} MiB  exit {code}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5_000_000, help="points of the long metric for show --json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "mlruns"
        ids = write_reference_store(root)
        source = root / ids.experiments["alpha"] / ids.runs["failed"]
        print(f"{'case':<22} {'cmd':<5} {'time':>9} {'peak':>12}")
        report("baseline", ("ls", str(root), "--json"))

        long_run = base / "long" / "mlruns"
        shutil.copytree(root, long_run)
        metric = long_run / ids.experiments["alpha"] / ids.runs["failed"] / "metrics" / "long"
        with open(metric, "wb") as f:
            for start in range(0, args.points, 100_000):
                f.write(b"".join(b"17000%08d %d.25 %d\n" % (s, s, s)
                                 for s in range(start, min(start + 100_000, args.points))))
        report(f"show-json-{args.points // 1_000_000}M-points", ("show", str(long_run), ids.runs["failed"], "--json"))
        report(f"show-{args.points // 1_000_000}M-points", ("show", str(long_run), ids.runs["failed"]))
        shutil.rmtree(base / "long")

        for case in MLFLOW_CASES:
            one = base / case / "mlruns"
            shutil.copytree(root, one, symlinks=True)
            store = make_mlflow_hostile(one, one / source.relative_to(root), base / case / "outside", [case])
            report(case, ("ls", str(one), "--json"))
            report(case, ("show", str(one), store.runs[case], "--json"))
            shutil.rmtree(base / case)

        entrenar = write_entrenar_store(base / "entrenar")
        make_entrenar_hostile(entrenar, Canary.make(base / "outside-e", entrenar / "run-1.json"))
        report("entrenar-records", ("ls", str(entrenar), "--json"))

        fetch = write_fetch_ml_store(base / "fetch")
        metrics = fetch / "a1b2c3d4e5f6" / "metrics.bin"
        with open(metrics, "ab") as f:
            f.truncate(metrics.stat().st_size + GiB)
        report("fetch_ml-1GiB-NULs", ("ls", str(fetch), "--json"))

        deep = "(" * 3000 + "metrics.loss < 1" + ")" * 3000
        report("filter-3000-parens", ("ls", str(root), "--filter", deep))


if __name__ == "__main__":
    main()
