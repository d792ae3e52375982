"""Shared test setup.

``import custom_components`` must happen before any ``hass`` fixture runs, or
pytest-homeassistant-custom-component's own ``custom_components`` package wins
and Home Assistant reports "Integration not found".
"""

from __future__ import annotations

import asyncio

import grpc

import custom_components  # noqa: F401

pytest_plugins = ["tests.sandbox_fixtures"]


async def _start_grpc_poller() -> None:
    channel = grpc.aio.insecure_channel("127.0.0.1:9")
    await channel.close()


# grpc.aio starts one process-wide poller thread on first use and keeps it for the
# life of the process, as Home Assistant does. Starting it before the first test keeps
# Home Assistant's per-test "no thread left behind" check about our own threads.
asyncio.run(_start_grpc_poller())
