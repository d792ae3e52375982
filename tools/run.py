"""Run a command-line tool without loading Home Assistant: ``python -m tools.run tools.wgtwo``.

The tools use the client (``custom_components/wgtwo/client``) and a few other modules of the
package that need no Home Assistant, but importing any of them runs the package's
``__init__``, which imports Home Assistant: about two seconds before a tool can start. Here
the package is registered as a plain namespace over its folder, so only the modules a tool
imports are loaded. Only for separate processes (``scripts/wgtwo``, ``scripts/listen``):
never import this where the integration itself is loaded.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
import types
from collections.abc import Sequence

PACKAGE = "custom_components.wgtwo"


def skip_package_init() -> None:
    """Make ``custom_components.wgtwo`` importable without running its ``__init__``."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{PACKAGE} is not a package")
    package = types.ModuleType(PACKAGE, "The integration's modules, without its __init__.")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules[PACKAGE] = package


def main(argv: Sequence[str] | None = None) -> None:
    """Run the module named first in ``argv`` as ``__main__`` with the rest as arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit("usage: python -m tools.run MODULE [ARGS...]")
    skip_package_init()
    sys.argv = [args[0], *args[1:]]
    runpy.run_module(args[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
