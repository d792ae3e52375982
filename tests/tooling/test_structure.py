"""The integration's shape: no import cycle among its modules, each capability in its room."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from custom_components.wgtwo.capabilities import BUS_EVENTS, CAPABILITY_CLASSES, Capabilities

PACKAGE = Path(__file__).parents[2] / "custom_components" / "wgtwo"
NAME = "custom_components.wgtwo"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((NAME, *parts))


def _modules() -> dict[str, Path]:
    files = [p for p in PACKAGE.rglob("*.py") if "proto" not in p.parts]
    return {_module_name(p): p for p in files}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules this file imports, TYPE_CHECKING blocks included."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # "from . import x" imports the module x; "from .x import y" the module x.
            for alias in node.names:
                name = f"{target}.{alias.name}"
                found.add(name if name in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules and name != module}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_integration_has_no_import_cycle() -> None:
    assert _cycle(_graph()) is None


def test_a_cycle_would_be_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]


@pytest.mark.parametrize(
    "module",
    [
        "coordinator",
        "listeners",
        "subscriber_filter",
        "hub",
        "supervisor",
        "caller_names",
        "api",
        "errors",
    ],
)
def test_the_core_does_not_reach_into_platforms(module: str) -> None:
    # The coordinator owns and dispatches, the hub connects: neither knows the entities.
    imported = _imports(PACKAGE / f"{module}.py", _modules())
    platforms = {"sensor", "binary_sensor", "event", "button", "select", "notify", "runtime"}
    assert not {name.rpartition(".")[2] for name in imported} & platforms


def test_every_capability_is_created_and_every_bus_type_has_one_owner() -> None:
    owners = [bus_type for cls in CAPABILITY_CLASSES for bus_type in cls.bus_events]
    assert len(owners) == len(set(owners)) == len(BUS_EVENTS)
    created = Capabilities.__init__.__code__.co_names
    assert {cls.__name__ for cls in CAPABILITY_CLASSES} <= set(created)
