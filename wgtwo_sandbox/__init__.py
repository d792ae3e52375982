"""A local server that behaves like the operator's events API, for tests and development."""

from __future__ import annotations

from .server import SandboxServer

__all__ = ["SandboxServer"]
