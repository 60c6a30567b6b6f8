"""`tuitrack ls` and `tuitrack show`, as scripts and people use them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tuitrack.cli import main

LS_FIELDS = {
    "run_id", "run_name", "experiment_id", "experiment_name", "status", "lifecycle_stage",
    "start_time", "end_time", "user", "parent_run_id", "params", "tags", "metrics", "problems",
}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text: str):
    """Parse as RFC 8259 JSON: NaN and Infinity literals are refused."""
    def refuse(name):
        raise ValueError(f"non-standard JSON literal {name}")
    return json.loads(text, parse_constant=refuse)


def test_ls_json(reference_store_master, capsys):
    root, ids = reference_store_master
    code, out, _ = run_cli(capsys, "ls", str(root), "--json")
    assert code == 0
    rows = strict_json(out)
    assert {r["run_id"] for r in rows} == set(ids.runs.values()) - {ids.runs["deleted"], ids.runs["in_trash"]}
    assert all(set(r) >= LS_FIELDS for r in rows)
    parent = next(r for r in rows if r["run_id"] == ids.runs["parent"])
    assert parent["status"] == "FINISHED" and parent["experiment_name"] == "exp-alpha"
    assert parent["metrics"]["weird"] == "-Infinity"
    assert parent["metrics"]["loss"] == 1 / 300
    assert parent["params"]["multi"] == "line1\nline2"
    child = next(r for r in rows if r["run_id"] == ids.runs["child"])
    assert child["parent_run_id"] == ids.runs["parent"]
    running = next(r for r in rows if r["run_id"] == ids.runs["running"])
    assert running["end_time"] is None and running["status"] == "RUNNING"


def test_ls_all_and_experiment_filter(reference_store_master, capsys):
    root, ids = reference_store_master
    _, out, _ = run_cli(capsys, "ls", str(root), "--all", "--json")
    assert {r["run_id"] for r in strict_json(out)} == set(ids.runs.values())
    _, out, _ = run_cli(capsys, "ls", str(root), "--experiment", "exp-beta", "--json")
    assert {r["run_name"] for r in strict_json(out)} == {"still-running", "killed", "to-restore"}
    _, out, _ = run_cli(capsys, "ls", str(root), "-e", ids.experiments["beta"], "--json", "--all")
    assert len(strict_json(out)) == 4
    code, _, err = run_cli(capsys, "ls", str(root), "-e", "nope")
    assert code == 1 and "no experiment named or numbered 'nope'" in err


def test_ls_table(reference_store_master, capsys):
    root, ids = reference_store_master
    code, out, _ = run_cli(capsys, "ls", str(root))
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["RUN", "EXPERIMENT", "NAME", "STATUS", "STARTED", "DURATION"]
    assert any(ids.runs["failed"][:8] in line and "FAILED" in line for line in lines)


def test_ls_marks_problem_runs(reference_store, capsys):
    root, ids = reference_store
    (root / ids.experiments["alpha"] / ids.runs["failed"] / "meta.yaml").write_text("status: [\n")
    code, out, err = run_cli(capsys, "ls", str(root))
    assert code == 0
    assert "!" + ids.runs["failed"][:8] in out
    assert "1 run(s) marked ! have problems" in err
    _, out, _ = run_cli(capsys, "ls", str(root), "--json")
    bad = next(r for r in strict_json(out) if r["run_id"] == ids.runs["failed"])
    assert bad["status"] is None and "invalid YAML" in bad["problems"][0]


def test_show_json_has_full_histories(reference_store_master, capsys):
    root, ids = reference_store_master
    code, out, _ = run_cli(capsys, "show", str(root), ids.runs["parent"][:10], "--json")
    run = strict_json(out)
    assert code == 0 and run["run_id"] == ids.runs["parent"]
    assert len(run["metrics"]["loss"]) == 300
    assert run["metrics"]["loss"][0] == {"step": 0, "timestamp": 1_795_000_000_000, "value": 1.0}
    assert [p["value"] for p in run["metrics"]["weird"]] == ["NaN", "Infinity", "-Infinity"]


def test_show_text(reference_store_master, capsys):
    root, ids = reference_store_master
    code, out, _ = run_cli(capsys, "show", str(root), ids.runs["parent"])
    assert code == 0
    assert "A note" in out and "opt/name" in out
    loss = next(line for line in out.splitlines() if line.split()[:1] == ["loss"])
    assert loss.split() == ["loss", "0.00333333", "299", "0.00333333", "@299", "1", "@0", "300"]


def test_show_reports_bad_lines_exactly(reference_store, capsys):
    root, ids = reference_store
    with open(root / ids.experiments["alpha"] / ids.runs["parent"] / "metrics" / "loss", "ab") as f:
        f.write(b"bad line here x\n1795000009999 0.001 300\n")
    _, out, _ = run_cli(capsys, "show", str(root), ids.runs["parent"], "--json")
    problems = strict_json(out)["problems"]
    assert len(problems) == 1 and "metrics/loss: line 301: expected 2, 3 or 5 fields, found 4" in problems[0]


def test_show_unknown_and_ambiguous(reference_store_master, capsys):
    root, _ = reference_store_master
    code, _, err = run_cli(capsys, "show", str(root), "f" * 32)
    assert code == 1 and "no run" in err
    code, _, err = run_cli(capsys, "show", str(root), "../..")
    assert code == 1


@pytest.mark.parametrize("argv", [["ls", "/definitely/not/here"], ["show", "/definitely/not/here", "abc"]])
def test_not_a_store_is_one_line_and_exit_2(capsys, argv):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no such folder; expected an MLflow mlruns folder" in err


def test_python_dash_m_and_console_script(reference_store_master, tmp_path):
    root, _ = reference_store_master
    done = subprocess.run([sys.executable, "-m", "tuitrack", "ls", str(root), "--json"],
                          capture_output=True, text=True, check=True)
    assert len(strict_json(done.stdout)) == 8
    done = subprocess.run([sys.executable, "-m", "tuitrack", "ls", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_ls_formats(reference_store_master, capsys):
    import csv
    import io

    root, ids = reference_store_master
    assert main(["ls", str(root), "--format", "csv", "--filter", "attributes.run_name = 'parent'"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["run_id"] == ids.runs["parent"]
    assert rows[0]["params.opt/name"] == "adam" and float(rows[0]["metrics.loss"]) == 1 / 300
    assert rows[0]["params.multi"] == "line1\nline2"  # CSV quoting keeps it whole
    assert main(["ls", str(root), "--format", "md"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| run_id | run_name |") and lines[1].startswith("|---|")
    assert len(lines) == 2 + 8
    assert main(["ls", str(root), "--format", "json"]) == 0
    assert len(strict_json(capsys.readouterr().out)) == 8


def test_a_too_short_prefix_is_said_to_be_one(capsys):
    from tests.conftest import SAMPLE
    from tuitrack.cli import main

    assert main(["show", str(SAMPLE), "zz"]) == 1
    assert "needs at least 4 characters" in capsys.readouterr().err
