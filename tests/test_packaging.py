"""The package as users install it, and the layering that keeps it understandable."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "tuitrack"
# Layers from the bottom up: a module may import only its own layer and the ones below.
LAYERS = ["model", "formatting", "series", "store", "query", "export", "live", "settings", "app", "cli"]


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "tuitrack" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_lower_layers_never_import_upper_ones_or_textual():
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        own = layer_of(module)
        if own is None:
            continue
        for imported in imports(path):
            if own not in ("app", "cli"):
                assert not imported.startswith(("textual", "rich")), f"{module} imports {imported}"
            other = layer_of(imported)
            if other is not None:
                assert LAYERS.index(other) <= LAYERS.index(own), f"{module} ({own}) imports {imported}"


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found | {"tuitrack.styles"} == listed


def test_wheel_ships_the_stylesheet(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("tuitrack-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "tuitrack/styles/app.tcss" in names
    assert "tuitrack/app/app.py" in names and not any(n.startswith("tests/") for n in names)


def test_app_finds_its_stylesheet_from_a_source_tree_that_shadows_the_install(monkeypatch):
    """python -m tuitrack run in a checkout after a non-editable install imports the checkout,
    where tuitrack.styles is not a package: the stylesheet comes from the checkout's styles/."""
    import tuitrack.app.app as app_module

    def no_package(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(app_module, "files", no_package)
    assert app_module._stylesheet() == ROOT / "styles" / "app.tcss"
    assert app_module._stylesheet().is_file()
