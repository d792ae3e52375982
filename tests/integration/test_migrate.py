"""Migrating stored entries to minor version 2: one unique id per custom server."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wgtwo.config_flow import WgtwoConfigFlow
from custom_components.wgtwo.const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_EVENT_TYPES,
    CONF_HOST,
    CONF_PLAINTEXT,
    CONF_TOKEN_URL,
    DOMAIN,
    ENV_CUSTOM,
    ENV_EU,
)
from custom_components.wgtwo.migrate import async_migrate_entry

from .conftest import entry_options

SECRET = "migrate-secret"


def custom_data(host: str, client_id: str = "c") -> dict[str, Any]:
    return {
        CONF_ENVIRONMENT: ENV_CUSTOM,
        CONF_HOST: host,
        CONF_PLAINTEXT: True,
        CONF_TOKEN_URL: "http://127.0.0.1:8080/oauth2/token",
        CONF_CLIENT_ID: client_id,
        CONF_CLIENT_SECRET: SECRET,
    }


def old_entry(data: dict[str, Any], **kwargs: Any) -> MockConfigEntry:
    """An entry as minor version 1 stored it (the host only lowercased)."""
    unique_id = kwargs.pop("unique_id", None)
    if unique_id is None:
        parts = [data[CONF_ENVIRONMENT]]
        if data[CONF_ENVIRONMENT] == ENV_CUSTOM:
            parts.append(data[CONF_HOST].strip().lower())
        unique_id = ":".join([*parts, data.get(CONF_CLIENT_ID) or ""])
    kwargs.setdefault("minor_version", 1)
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"wgtwo {data.get(CONF_HOST, data[CONF_ENVIRONMENT])}",
        unique_id=unique_id,
        data=data,
        options=entry_options(),
        **kwargs,
    )


def test_flow_version() -> None:
    assert (WgtwoConfigFlow.VERSION, WgtwoConfigFlow.MINOR_VERSION) == (1, 2)


@pytest.mark.parametrize(
    ("host", "unique_id"),
    [
        ("localhost:50051", "custom:127.0.0.1:50051:c"),
        ("LOCALHOST:50051", "custom:127.0.0.1:50051:c"),
        ("127.0.0.1:050051", "custom:127.0.0.1:50051:c"),
        ("[::1]:50051", "custom:127.0.0.1:50051:c"),
        ("127.0.0.1:50051", "custom:127.0.0.1:50051:c"),
        ("API.Example.com", "custom:api.example.com:443:c"),
        ("bücher.example:8443", "custom:xn--bcher-kva.example:8443:c"),
    ],
)
async def test_old_unique_id_is_rewritten(hass: HomeAssistant, host: str, unique_id: str) -> None:
    entry = old_entry(custom_data(host))
    entry.add_to_hass(hass)

    assert await async_migrate_entry(hass, entry) is True

    assert entry.unique_id == unique_id
    assert (entry.version, entry.minor_version) == (1, 2)
    assert entry.data == custom_data(host)  # the host is kept as typed (it is the title)


async def test_migrated_entry_is_found_by_every_spelling(hass: HomeAssistant) -> None:
    entry = old_entry(custom_data("localhost:50051", "test-client"))
    entry.add_to_hass(hass)
    assert await async_migrate_entry(hass, entry)

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_CUSTOM, CONF_EVENT_TYPES: ["voice"]}
    )
    # Another spelling of the migrated entry's server: refused before any request.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: "127.0.0.1:050051",
            CONF_PLAINTEXT: True,
            CONF_TOKEN_URL: "http://127.0.0.1:8080/oauth2/token",
            CONF_CLIENT_ID: "test-client",
            CONF_CLIENT_SECRET: SECRET,
        },
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    "data",
    [
        {CONF_ENVIRONMENT: ENV_EU, CONF_CLIENT_ID: "c", CONF_CLIENT_SECRET: SECRET},
        {CONF_ENVIRONMENT: "sandbox"},
        custom_data("127.0.0.1:50051", ""),
        # Not a valid host: the entry keeps its id (it cannot connect anyway).
        custom_data("bad host"),
    ],
)
async def test_ids_that_stay_only_get_the_new_version(
    hass: HomeAssistant, data: dict[str, Any]
) -> None:
    entry = old_entry(data)
    before = entry.unique_id
    entry.add_to_hass(hass)

    assert await async_migrate_entry(hass, entry) is True

    assert entry.unique_id == before
    assert entry.minor_version == 2


async def test_duplicate_is_left_for_the_user_to_remove(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    first = old_entry(custom_data("localhost:50051"))
    second = old_entry(custom_data("127.0.0.1:050051"))
    first.add_to_hass(hass)
    second.add_to_hass(hass)

    assert await async_migrate_entry(hass, first)
    assert await async_migrate_entry(hass, second) is True

    assert first.unique_id == "custom:127.0.0.1:50051:c"
    # Two entries must not share a unique id: the second keeps its own and its old
    # version, so the migration runs again once one of them is removed.
    assert second.unique_id == "custom:127.0.0.1:050051:c"
    assert second.minor_version == 1
    assert "every event is handled twice; remove one of them" in caplog.text
    assert first.title in caplog.text
    assert second.title in caplog.text
    assert SECRET not in caplog.text

    await hass.config_entries.async_remove(first.entry_id)
    assert await async_migrate_entry(hass, second)
    assert second.unique_id == "custom:127.0.0.1:50051:c"
    assert second.minor_version == 2


async def test_current_entry_is_left_alone(hass: HomeAssistant) -> None:
    entry = old_entry(custom_data("localhost:50051"), unique_id="custom:kept:c", minor_version=2)
    entry.add_to_hass(hass)

    assert await async_migrate_entry(hass, entry) is True

    assert entry.unique_id == "custom:kept:c"


async def test_future_major_version_is_refused(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    entry = old_entry(custom_data("localhost:50051"), version=2, minor_version=1)
    entry.add_to_hass(hass)

    assert await async_migrate_entry(hass, entry) is False

    assert entry.unique_id == "custom:localhost:50051:c"
    assert (entry.version, entry.minor_version) == (2, 1)
    assert "Cannot downgrade" in caplog.text
