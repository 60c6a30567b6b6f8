"""The layers stay layers: cli -> app -> live -> query/series/export -> store -> formatting -> model,
and nothing below the app imports Textual. The contracts live in pyproject.toml; import-linter
checks them, so a wrong-way import fails here, not in review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports;"
         f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_layer_contracts_are_kept():
    result = _lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    # The same contracts over a copy of the package in which the store imports the app.
    package = tmp_path / "tuitrack"
    subprocess.run(["cp", "-r", str(ROOT / "tuitrack"), str(package)], check=True)
    (package / "store" / "wrong_way.py").write_text("import tuitrack.app.app\n")
    config = tmp_path / "pyproject.toml"
    config.write_text((ROOT / "pyproject.toml").read_text())
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
         "from importlinter.cli import lint_imports;"
         f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True))", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "tuitrack.store.wrong_way" in result.stdout
