"""The client package must stay importable without Home Assistant or the integration."""

from __future__ import annotations

import ast
from pathlib import Path

import custom_components.wgtwo.client as client_pkg

PACKAGE_DIR = Path(client_pkg.__file__).parent
PACKAGE = client_pkg.__name__  # custom_components.wgtwo.client
OUTSIDE = "<above the top-level package>"


def _source_files() -> list[Path]:
    """Every module and type stub of the client, generated code included."""
    return sorted([*PACKAGE_DIR.rglob("*.py"), *PACKAGE_DIR.rglob("*.pyi")])


def _package_of(path: Path) -> str:
    """Dotted name of the package that ``path`` (a file inside the client) belongs to."""
    parts = [PACKAGE, *path.relative_to(PACKAGE_DIR).parent.parts]
    return ".".join(parts)


def _resolve(package: str, level: int, module: str | None) -> str:
    """Absolute name of ``from <level dots><module> import ...`` written in ``package``."""
    base = package.split(".")
    if level - 1 >= len(base):
        return OUTSIDE
    parts = base[: len(base) - (level - 1)]
    if module:
        parts.append(module)
    return ".".join(parts)


def _imported_modules(path: Path, package: str | None = None) -> set[str]:
    """Absolute module names imported anywhere in the file (also inside functions).

    Relative imports are resolved against ``package`` when it is given, else skipped.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module:
                    names.add(node.module)
            elif package is not None:
                names.add(_resolve(package, node.level, node.module))
    return names


def _inside_client(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _reaches_the_integration(name: str) -> bool:
    """Whether ``name`` is part of the integration (or above it) but not of the client."""
    if name == OUTSIDE:
        return True
    top = name.split(".")[0]
    return top == "custom_components" and not _inside_client(name)


def test_client_package_never_imports_homeassistant() -> None:
    files = _source_files()
    assert len(files) > 10
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): name
        for path in files
        for name in _imported_modules(path)
        if name.split(".")[0] == "homeassistant"
    }
    assert offenders == {}


def test_client_package_never_imports_the_integration() -> None:
    """Nothing from custom_components.wgtwo outside the client, absolute or relative."""
    files = _source_files()
    offenders = {
        (str(path.relative_to(PACKAGE_DIR)), name)
        for path in files
        for name in _imported_modules(path, _package_of(path))
        if _reaches_the_integration(name)
    }
    assert offenders == set()
    # The walk did see the client's own relative imports (generated code included).
    resolved = {name for path in files for name in _imported_modules(path, _package_of(path))}
    assert f"{PACKAGE}.proto.wgtwo.events.v0" in resolved
    assert f"{PACKAGE}.proto.wgtwo.common.v0" in resolved


def test_client_is_marked_as_typed() -> None:
    """PEP 561: type checkers use the client's annotations when it is installed."""
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_walker_detects_a_homeassistant_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\ndef f():\n    from homeassistant.core import HomeAssistant\n"
        "    import homeassistant.const\n"
    )
    assert {"homeassistant.core", "homeassistant.const", "os"} <= _imported_modules(sample)


def test_walker_resolves_relative_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from . import errors\n"
        "from .proto.wgtwo.events.v0 import events_pb2\n"
        "def f():\n"
        "    from .. import const\n"
        "    from ..hub import WgtwoHub\n"
        "from custom_components.wgtwo.tracker import Tracker\n"
        "from ....... import nothing\n"
    )
    names = _imported_modules(sample, PACKAGE)
    assert names == {
        PACKAGE,
        f"{PACKAGE}.proto.wgtwo.events.v0",
        "custom_components.wgtwo",
        "custom_components.wgtwo.hub",
        "custom_components.wgtwo.tracker",
        OUTSIDE,
    }
    assert {name for name in names if _reaches_the_integration(name)} == {
        "custom_components.wgtwo",
        "custom_components.wgtwo.hub",
        "custom_components.wgtwo.tracker",
        OUTSIDE,
    }
    # A sibling whose name merely starts like the client's is still the integration.
    assert _reaches_the_integration("custom_components.wgtwo.clientele")
    assert _package_of(PACKAGE_DIR / "proto" / "wgtwo" / "events" / "v0" / "events_pb2.py") == (
        f"{PACKAGE}.proto.wgtwo.events.v0"
    )
    assert _package_of(PACKAGE_DIR / "__init__.py") == PACKAGE
