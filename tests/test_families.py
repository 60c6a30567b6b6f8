"""Parent links of any shape: deep chains, cycles, runs that are their own parent, missing
parents. Every run is shown once, broken links are problems, and nothing recurses."""

from __future__ import annotations

import sys

import pytest

from tests.app_helpers import make_app, settle
from tests.test_app_keys import goto_run
from tuitrack.app.widgets.runs_table import RunsTable
from tests.hostile_shapes import EXPERIMENT_ID, make_chain, make_cycles
from tuitrack.app.widgets.run_tree import MAX_INDENT, RunTree
from tuitrack.families import build_forest
from tuitrack.live.index import RunIndex
from tuitrack.model import PARENT_RUN_TAG, Experiment, Run, RunStatus
from tuitrack.query.prune import Policy, decide
from tuitrack.store import open_store


def chain(depth: int) -> list[Run]:
    return [Run(f"r{i}", "1", run_name=f"level-{i}", start_time=i,
                tags={PARENT_RUN_TAG: f"r{i - 1}"} if i else {}) for i in range(depth)]


@pytest.fixture
def low_recursion_limit():
    """Well under the chain's depth: any recursion over it fails the test."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    yield
    sys.setrecursionlimit(old)


def test_a_deep_chain_is_one_family_without_recursion(low_recursion_limit):
    runs = chain(5000)
    forest = build_forest(runs)
    assert [r.run_id for r in forest.roots] == ["r0"]
    assert forest.depths()["r4999"] == 4999
    assert set(forest.family_roots().values()) == {"r0"}
    assert forest.root_of("r4999") == "r0"
    assert not forest.problems


def test_cycles_and_self_parents_are_broken_and_reported():
    runs = [
        Run("a", "1", run_name="a", start_time=10, tags={PARENT_RUN_TAG: "c"}),
        Run("b", "1", run_name="b", start_time=5, tags={PARENT_RUN_TAG: "a"}),
        Run("c", "1", run_name="c", start_time=20, tags={PARENT_RUN_TAG: "b"}),
        Run("s", "1", run_name="s", start_time=1, tags={PARENT_RUN_TAG: "s"}),
        Run("o", "1", run_name="o", start_time=1, tags={PARENT_RUN_TAG: "gone"}),
    ]
    forest = build_forest(runs, known_ids={"a", "b", "c", "s", "o"})
    # b is the oldest of the cycle: it becomes the root, and the rest hang under it.
    assert [r.run_id for r in forest.roots] == ["b", "s", "o"]
    assert [r.run_id for r in forest.children_of(runs[1])] == ["c"]
    assert [r.run_id for r in forest.children_of(runs[2])] == ["a"]
    assert {"a", "b", "c", "s", "o"} == set(forest.problems)
    assert "cycle" in forest.problems["a"].message and "b, the oldest" in forest.problems["a"].message
    assert "itself" in forest.problems["s"].message
    assert "gone is not in this experiment" in forest.problems["o"].message


def test_in_order_keeps_each_family_together_newest_first():
    def kid(run_id, parent, start):
        return Run(run_id, "1", run_name=run_id, start_time=start, tags={PARENT_RUN_TAG: parent})
    # newest first, as the index gives them: children started after their parent
    runs = [kid("c2", "sweep", 40), kid("c1", "sweep", 30), Run("other", "1", start_time=25),
            kid("g1", "c1", 35), Run("sweep", "1", start_time=20), Run("old", "1", start_time=10)]
    forest = build_forest(runs, known_ids={r.run_id for r in runs})
    assert [r.run_id for r in forest.in_order()] == ["other", "sweep", "c2", "c1", "g1", "old"]
    deep = build_forest(chain(3000), known_ids={f"r{i}" for i in range(3000)})  # no recursion
    assert [r.run_id for r in deep.in_order()] == [f"r{i}" for i in range(3000)]


def test_a_parent_that_is_only_hidden_is_not_a_problem():
    runs = chain(3)
    forest = build_forest(runs[1:], known_ids={"r0", "r1", "r2"})  # r0 filtered out
    assert [r.run_id for r in forest.roots] == ["r1"] and not forest.problems


def test_the_index_puts_family_problems_on_runs(tmp_path):
    ids = make_cycles(tmp_path / "mlruns")
    index = RunIndex(open_store(str(tmp_path / "mlruns")))
    for experiment in index.load_experiments():
        index.load_runs(experiment.experiment_id)
    problems = {name: [p.message for p in index.run(rid).problems] for name, rid in ids.items()}
    assert all(any("cycle" in m for m in problems[n]) for n in ("cycle-a", "cycle-b", "cycle-c"))
    assert any("itself" in m for m in problems["selfish"])
    assert any("not in this experiment" in m for m in problems["orphan"])
    assert problems["parent"] == [] and problems["child"] == []
    # Loading the data (params, tags, metrics) keeps them; so does reading the runs again.
    index.load_data(index.all_runs())
    index.load_runs(index.run(ids["selfish"]).experiment_id)
    assert any("itself" in p.message for p in index.run(ids["selfish"]).problems)
    assert len([p for p in index.run(ids["selfish"]).problems if "itself" in p.message]) == 1


def test_prune_keeps_a_deep_family_together(low_recursion_limit):
    runs = chain(5000)
    for run in runs:
        run.status = RunStatus.FAILED
    runs[-1].tags["keep"] = "true"  # the deepest run stays: so does its whole family
    experiment = Experiment("1", "chain")
    verdicts = decide([(experiment, r) for r in runs], Policy(statuses={"FAILED"}), 10**12, lambda r: False)
    assert not any(v.prune for v in verdicts)
    assert "family of level-4999" in verdicts[0].reason


def _tree_line_of(tree: RunTree, run_id: str) -> str:
    return str(tree.run_nodes[run_id].label)


async def test_a_5000_deep_chain_unfolds_to_the_bottom_with_keys(tmp_path):
    ids = make_chain(tmp_path / "mlruns", 5000)
    app = make_app(tmp_path / "mlruns")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, timeout=60)
        tree = app.screen.query_one(RunTree)
        tree.focus()
        tree.select_experiment(EXPERIMENT_ID)
        await pilot.press("l")  # unfold the experiment (5,000 runs: not open at start)
        await settle(pilot)
        await pilot.press("l")  # on the root run
        assert set(ids) <= set(tree.run_nodes)  # every run the header counts is in the tree
        assert "5000 runs" in str(app.screen.query_one("#status-bar").render())
        # Deep runs are drawn at MAX_INDENT, their real depth in the label.
        assert _tree_line_of(tree, ids[-1]).startswith("↳5000 ")
        assert not _tree_line_of(tree, ids[MAX_INDENT - 1]).startswith("↳")
        for _ in range(MAX_INDENT + 3):  # l goes to the first child, level by level
            await pilot.press("l")
        await pilot.press("G")  # and the last line is the deepest run
        await pilot.pause()
        assert tree.cursor_node.data.run_id == ids[-1]
        assert app.screen.selected_run_id == ids[-1]
        await pilot.press("k")
        assert tree.cursor_node.data.run_id == ids[-2]
        # Drawn: each line's indentation is capped, so no line is wider than the screen allows.
        assert max(tree.get_content_width(tree.size, tree.size), 0) < 200


async def test_cycles_show_every_run_with_a_problem(tmp_path):
    ids = make_cycles(tmp_path / "mlruns")
    app = make_app(tmp_path / "mlruns")
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(RunTree)
        assert set(ids.values()) <= set(tree.run_nodes)
        assert "7 runs" in str(app.screen.query_one("#status-bar").render())
        # cycle-a is the oldest of the cycle: the root, the others under it.
        root = tree.run_nodes[ids["cycle-a"]]
        assert root.parent.data.kind == "experiment"
        assert tree.run_nodes[ids["cycle-b"]].parent is root
        assert "!" in _tree_line_of(tree, ids["selfish"])
        await app.screen.select_run(ids["cycle-b"])
        await pilot.pause()
        assert "cycle of parent runs" in app.export_screenshot().replace("&#160;", " ")


async def test_the_table_lists_a_sweeps_runs_under_their_parent():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto_run(pilot, "lr=0.1")
        runs = app.screen.query_one(RunsTable).runs
        names = [r.run_name for r in runs]
        parent = names.index("lr-sweep")
        kids = [r for r in runs if r.parent_run_id == runs[parent].run_id]
        assert len(kids) == 4
        assert runs[parent + 1 : parent + 1 + len(kids)] == kids  # right under it, newest first
        assert [k.start_time for k in kids] == sorted((k.start_time for k in kids), reverse=True)
