"""Shared test setup.

``import custom_components`` must happen before any ``hass`` fixture runs, or
pytest-homeassistant-custom-component's own ``custom_components`` package wins
and Home Assistant reports "Integration not found".
"""

from __future__ import annotations

from grpc._cython import cygrpc  # type: ignore[attr-defined]

import custom_components  # noqa: F401

pytest_plugins = ["tests.sandbox_fixtures"]

# grpc.aio runs one poller thread while any aio object holds it and stops it when the last
# one goes; a test creating the first channel or server would then "leak" that thread in
# Home Assistant's cleanup check. Holding one reference for the whole session keeps that
# single process-wide thread alive before every test, as in Home Assistant itself.
cygrpc.init_grpc_aio()
