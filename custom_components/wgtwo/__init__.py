"""Telecom events (calls, voicemail, SMS, roaming) from Working Group Two operators."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.typing import ConfigType

from .api import OperatorApi
from .budget import TextBudget
from .client import MissingScopeError, WgtwoError
from .const import DOMAIN, PLATFORMS, service_identifier
from .coordinator import WgtwoCoordinator
from .errors import setup_error
from .hub import WgtwoHub
from .migrate import async_migrate_entry
from .origins import async_setup_origins
from .repairs import async_create_scope_issue
from .runtime import WgtwoConfigEntry, WgtwoRuntimeData
from .services import async_setup_services
from .settings import endpoint_from_data, get_settings
from .storage import SnapshotStore
from .views import async_register_view

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

__all__ = ["async_migrate_entry"]  # Home Assistant calls it for entries of older versions


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the voicemail audio view once, even while no entry is loaded."""
    async_setup_services(hass)
    async_register_view(hass)
    async_setup_origins(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: WgtwoConfigEntry) -> bool:
    """Check the credentials once, set up the entities and start the event stream.

    The stream itself runs in a background task so setup returns quickly; it reconnects
    on its own and turns rejected credentials into a reauth flow.
    """
    settings = get_settings(hass)
    try:
        endpoint = endpoint_from_data(entry.data, settings)
        hub = WgtwoHub(hass, entry, settings, endpoint)
        await hub.async_prepare()
    except WgtwoError as err:
        if isinstance(err, MissingScopeError):
            async_create_scope_issue(hass, entry, err.missing_scopes)
        raise setup_error(hass, err) from err
    api = OperatorApi(hass, entry.data, endpoint, settings)
    coordinator = WgtwoCoordinator(hass, entry, api, settings, hub)
    await coordinator.async_setup()
    entry.runtime_data = WgtwoRuntimeData(hub=hub, coordinator=coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    coordinator.async_start()
    hub.async_start(
        coordinator.handle_event, coordinator.async_stream_changed, coordinator.caller_name
    )
    return True


async def async_unload_entry(hass: HomeAssistant, entry: WgtwoConfigEntry) -> bool:
    """Stop the event stream, then unload the entities."""
    await entry.runtime_data.hub.async_stop()
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: WgtwoConfigEntry) -> None:
    """Delete what the entry kept: its repair issues, subscriber snapshots and text budget."""
    await SnapshotStore.async_remove(hass, entry.entry_id)
    await TextBudget.async_remove(hass, entry.entry_id)
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and entry.entry_id in issue_id:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: WgtwoConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user remove a subscriber's device; it comes back with its next event.

    The service device (connection status) stays while the entry exists.
    """
    if entry.state is not ConfigEntryState.LOADED:  # no coordinator to tell
        return service_identifier(entry.entry_id) not in device.identifiers
    return entry.runtime_data.coordinator.async_forget_device(device)
