"""Loading a store larger than one chunk of the loader (main.DATA_CHUNK runs): the table of the
experiment on screen is filled chunk by chunk, each chunk's rows only, and ends with every run's
data as a full refresh would show it."""

from __future__ import annotations

from tests.app_helpers import make_app, settle
from tests.hostile_shapes import add_run, new_store
from tuitrack.app.screens.main import DATA_CHUNK
from tuitrack.app.widgets.runs_table import RunsTable

RUNS = DATA_CHUNK * 2 + 50


def big_experiment(root):
    experiment = new_store(root, "big")
    for i in range(RUNS):
        run = add_run(experiment, i, f"run-{i}")
        (run / "params" / "width").write_text(str(i))
        (run / "metrics" / "acc").write_text(f"{1_790_000_000_000 + i} {i + 0.5} 0\n")
    return root


async def test_every_row_has_its_data_once_loaded_chunk_by_chunk(tmp_path, monkeypatch):
    incremental = []
    update_rows = RunsTable.update_rows

    def spy(table, runs):
        done = update_rows(table, runs)
        incremental.append(done)
        return done

    monkeypatch.setattr(RunsTable, "update_rows", spy)
    app = make_app(big_experiment(tmp_path / "store"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunsTable)
        shown = table._cells
        full = [list(row) for row in shown]
        widths = list(table._widths)
        table.set_runs(table.runs, table.all_columns)  # what one full refresh computes
        assert len(full) == RUNS
        assert incremental.count(True) >= 2  # the chunks after the first (which brings the columns)
        assert full == table._cells
        assert widths == table._widths  # the widest value (the last chunk's) widened its column
        keys = [c.key for c in table.columns]
        acc, width = keys.index("metric:acc"), keys.index("param:width")
        by_name = {row[0]: row for row in full}
        assert by_name[f"run-{RUNS - 1}"][width] == str(RUNS - 1)
        assert by_name[f"run-{RUNS - 1}"][acc] == f"{RUNS - 1}.5"
