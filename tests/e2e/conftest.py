"""One Home Assistant process, one sandbox process and one Chromium for the whole journey.

Run by ``scripts/test --e2e`` (plain ``scripts/test`` does not collect this folder). Home
Assistant runs from ``.venv-dev`` like ``scripts/develop`` but on free ports with its own
config folder, ``artifacts/e2e/instance`` (kept with its logs after the run); every step
leaves a screenshot in ``artifacts/e2e``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from tools.instance import (
    MINIMAL_COMPONENTS,
    ROOT,
    HomeAssistantInstance,
    Sandbox,
    free_port,
    link_integration,
    onboard,
    skip_location_step,
    write_configuration,
)

ARTIFACTS: Final = ROOT / "artifacts" / "e2e"
CHROMIUM: Final = Path(os.environ.get("WGTWO_CHROMIUM", "/usr/bin/chromium"))
# What works for a headless Chromium as root in a container without a GPU or network.
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The panels a person opens on the way: settings, activity (logbook) and media.
COMPONENTS: Final = (*MINIMAL_COMPONENTS, "frontend", "logbook", "history", "media_source")
STARTUP_TIMEOUT: Final = 600.0
STRINGS: Final[dict[str, Any]] = json.loads(
    (ROOT / "custom_components" / "wgtwo" / "translations" / "en.json").read_text()
)


@dataclass
class Journey:
    """What the steps share: the processes, the browser page and the screenshot counter."""

    hass: HomeAssistantInstance
    sandbox: Sandbox
    page: Page
    token: str
    shots: list[Path] = field(default_factory=list)

    async def shot(self, step: str) -> None:
        """Save a screenshot of the page, numbered in the order of the steps."""
        path = ARTIFACTS / f"{len(self.shots) + 1:02d}-{step}.png"
        await self.page.screenshot(path=path)
        self.shots.append(path)

    async def publish(self, events: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Post events to the sandbox as its HTTP API takes them."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.sandbox.url}/events", json=events) as response,
        ):
            response.raise_for_status()

    async def _get(self, path: str, **params: str) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{self.hass.url}{path}",
                params=params,
                headers={"Authorization": f"Bearer {self.token}"},
            ) as response,
        ):
            response.raise_for_status()
            return await response.json()

    async def connected_sensor(self) -> str:
        """Return the entity id of the entry's Connected sensor."""
        states: list[dict[str, Any]] = await self._get("/api/states")
        (entity_id,) = [
            state["entity_id"]
            for state in states
            if re.fullmatch(r"binary_sensor\..*_connected", state["entity_id"])
        ]
        return str(entity_id)

    async def history(self, entity_id: str, since: datetime) -> list[str]:
        """Return an entity's recorded states since ``since`` (the one then first)."""
        periods: list[list[dict[str, Any]]] = await self._get(
            f"/api/history/period/{since.isoformat()}",
            filter_entity_id=entity_id,
            minimal_response="",
            no_attributes="",
        )
        return [str(state["state"]) for period in periods for state in period]

    async def entries(self) -> list[dict[str, Any]]:
        """Return the integration's config entries as Home Assistant's REST API lists them."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{self.hass.url}/api/config/config_entries/entry",
                params={"domain": "wgtwo"},
                headers={"Authorization": f"Bearer {self.token}"},
            ) as response,
        ):
            response.raise_for_status()
            result: list[dict[str, Any]] = await response.json()
            return result


async def _wait_until_running(session: aiohttp.ClientSession, base: str, token: str) -> None:
    """Wait until Home Assistant has started: its HTTP server answers long before.

    A first start in a new ``.venv-dev`` installs the requirements of what it loads.
    """
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while True:
            async with session.get(
                f"{base}/api/config", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                if response.status == 200 and (await response.json())["state"] == "RUNNING":
                    return
            await asyncio.sleep(0.5)


@pytest.fixture(scope="session", autouse=True)
def _chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test --e2e installs Debian's chromium")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def journey() -> AsyncIterator[Journey]:
    """Start the sandbox, Home Assistant (onboarded by its API) and Chromium; stop all after."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    config = ARTIFACTS / "instance"
    skip_location_step(config)
    link_integration(config)
    hass = HomeAssistantInstance(config, free_port())
    write_configuration(config, hass.port, COMPONENTS)
    sandbox = Sandbox(config / "sandbox.log", state=config / ".sandbox-state.jsonl")
    await sandbox.start()
    try:
        async with aiohttp.ClientSession() as session:
            await hass.start(session)
            token = await onboard(session, hass.url)
            await _wait_until_running(session, hass.url, token)
        async with async_playwright() as playwright:
            with tempfile.TemporaryDirectory(prefix="wgtwo-e2e-chromium-") as profile:
                context: BrowserContext = await playwright.chromium.launch_persistent_context(
                    profile,
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_ARGS,
                    viewport={"width": 1280, "height": 900},
                    locale="en-US",
                )
                try:
                    page = context.pages[0] if context.pages else await context.new_page()
                    page.set_default_timeout(15_000)
                    expect.set_options(timeout=10_000)
                    yield Journey(hass, sandbox, page, token)
                finally:
                    await context.close()
    finally:
        await hass.stop()
        await sandbox.stop()
