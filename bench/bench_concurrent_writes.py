"""Lost updates while MLflow and tuitrack change the same run (issue 13 §2), per minute.

    python bench/bench_concurrent_writes.py [--seconds 60] [--pause 0.004] [--checkout PATH]

A real MLflow process calls set_terminated (end_time rising by one each call) in a loop; tuitrack,
imported from --checkout (default: this one; point it at an older checkout for "before"), tags,
notes and renames the same run in another process; a sampler thread reads meta.yaml. Prints the
MLflow updates lost (end_time fell back and only MLflow's next write replaced it), fallbacks
tuitrack repaired, tuitrack edits that failed, and whether the end state holds MLflow's last write
and tuitrack's last name.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

from tests.mlflow_race import MlflowWriter, Sampler, fallbacks  # noqa: E402
from tests.mlflow_stores import client_for  # noqa: E402

EDITOR = textwrap.dedent("""
    import json, sys
    checkout, here, root, run_id, seconds = sys.argv[1:6]
    sys.path.insert(0, here)
    import time
    from tests.mlflow_race import edit_while  # this checkout's scenario...
    sys.path.insert(0, checkout)
    from tuitrack.store import open_store  # ...editing with the checkout measured
    assert open_store.__module__.startswith("tuitrack") and __import__("tuitrack").__file__.startswith(checkout)
    deadline = time.monotonic() + float(seconds)
    edits = edit_while(open_store(root), run_id, lambda: time.monotonic() < deadline, limit=10**9)
    print(json.dumps({"count": edits.count, "failures": edits.failures[:5], "failed": len(edits.failures),
                      "name": edits.name}))
""")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--pause", type=float, default=0.004, help="MLflow's pause between writes")
    parser.add_argument("--checkout", default=str(HERE), help="the tuitrack checkout to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mlruns"
        client = client_for(root)
        experiment = client.create_experiment("race")
        run_id = client.create_run(experiment, run_name="start").info.run_id
        first = 1_795_000_000_000
        mlflow = MlflowWriter(root, run_id, first, count=10**9, seconds=args.seconds, pause=args.pause)
        sampler = Sampler(root / experiment / run_id / "meta.yaml")
        mlflow.go()
        editor = subprocess.run([sys.executable, "-c", EDITOR, args.checkout, str(HERE), str(root), run_id,
                                 str(args.seconds)], capture_output=True, text=True, check=True)
        last = mlflow.last_written()
        samples = sampler.stop()
        edits = json.loads(editor.stdout)
        found = fallbacks(samples)
        lost = [f for f in found if f.lost]
        run = client.get_run(run_id)
        minutes = args.seconds / 60
        print(f"checkout {args.checkout}: {args.seconds:.0f} s, MLflow wrote {last - first + 1} times, "
              f"tuitrack edited {edits['count']} times, {len(samples)} distinct end_times sampled")
        print(f"MLflow updates lost: {len(lost)} ({len(lost) / minutes:.1f} per minute); "
              f"fallbacks repaired by tuitrack: {len(found) - len(lost)}")
        print(f"tuitrack edits failed: {edits['failed']} {edits['failures'][:2]}")
        print(f"end state: end_time {'is' if run.info.end_time == last else 'is NOT'} MLflow's last write, "
              f"status {run.info.status}, name {'is' if run.info.run_name == edits['name'] else 'is NOT'} "
              "tuitrack's last rename")


if __name__ == "__main__":
    main()
