"""A local server that behaves like the operator's events API, for tests and development.

``SandboxServer`` is imported lazily so ``python -m wgtwo_sandbox`` can prepare the import
path first (see ``standalone``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import SandboxServer

__all__ = ["SandboxServer"]


def __getattr__(name: str) -> Any:
    if name == "SandboxServer":
        from .server import SandboxServer

        return SandboxServer
    raise AttributeError(name)
