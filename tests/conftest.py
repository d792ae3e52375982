"""Shared test setup.

``import custom_components`` must happen before any ``hass`` fixture runs, or
pytest-homeassistant-custom-component's own ``custom_components`` package wins
and Home Assistant reports "Integration not found".
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from grpc._cython import cygrpc  # type: ignore[attr-defined]

import custom_components  # noqa: F401

pytest_plugins = ["tests.sandbox_fixtures"]

# grpc.aio runs one poller thread while any aio object holds it and stops it when the last
# one goes; a test creating the first channel or server would then "leak" that thread in
# Home Assistant's cleanup check. Holding one reference for the whole session keeps that
# single process-wide thread alive before every test, as in Home Assistant itself.
cygrpc.init_grpc_aio()


# Home Assistant's test plugin logs every database statement (sqlalchemy.engine at INFO) to
# the real stderr; what the recorder's thread writes after a test's capture ended lands
# between pytest's progress dots. The statements are not what any test here looks at.
SQL_LOGGER = "sqlalchemy.engine"
logging.getLogger(SQL_LOGGER).setLevel(logging.WARNING)


E2E_TESTS = Path(__file__).resolve().parent / "e2e"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--e2e``: collect the browser tests too (``scripts/test --e2e``)."""
    parser.addoption("--e2e", action="store_true", help="run the real-browser tests in tests/e2e")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the browser tests out of a plain run: they start Home Assistant and Chromium."""
    if collection_path == E2E_TESTS and not config.getoption("--e2e"):
        return True
    return None
