"""Let the command line load the generated protos without the integration's package.

The protos live inside ``custom_components.wgtwo.client``; importing that package normally
runs the integration's ``__init__`` which imports Home Assistant (seconds of start-up the
sandbox has no use for). Registering the two parent packages as bare namespaces first makes
``python -m wgtwo_sandbox`` start in well under a second.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent / "custom_components"


def skip_integration_init() -> None:
    """Register custom_components.wgtwo(.client) as plain packages unless already imported."""
    for name, path in (
        ("custom_components.wgtwo", _ROOT / "wgtwo"),
        ("custom_components.wgtwo.client", _ROOT / "wgtwo" / "client"),
    ):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(path)]
            sys.modules[name] = module
