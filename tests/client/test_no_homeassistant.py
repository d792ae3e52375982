"""The client package must stay importable without Home Assistant."""

from __future__ import annotations

import ast
from pathlib import Path

import custom_components.wgtwo.client as client_pkg

PACKAGE_DIR = Path(client_pkg.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_client_package_never_imports_homeassistant() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) > 10
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): name
        for path in files
        for name in _imported_modules(path)
        if name.split(".")[0] == "homeassistant"
    }
    assert offenders == {}


def test_walker_detects_a_homeassistant_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\ndef f():\n    from homeassistant.core import HomeAssistant\n"
        "    import homeassistant.const\n"
    )
    assert {"homeassistant.core", "homeassistant.const", "os"} <= _imported_modules(sample)
