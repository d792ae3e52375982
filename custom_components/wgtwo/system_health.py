"""System health: whether the API is reachable, the stream is up and events arrive."""

from __future__ import annotations

from typing import Any

from homeassistant.components import system_health
from homeassistant.core import HomeAssistant, callback

from .const import DOMAIN
from .runtime import WgtwoConfigEntry
from .settings import get_settings, token_url_from_data


@callback
def async_register(hass: HomeAssistant, register: system_health.SystemHealthRegistration) -> None:
    """Register the system health callback."""
    register.async_register_info(system_health_info)


async def system_health_info(hass: HomeAssistant) -> dict[str, Any]:
    """Report the first loaded entry's connection (most installations have one)."""
    entries: list[WgtwoConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    if not entries:
        return {}
    entry = entries[0]
    hub = entry.runtime_data.hub
    last_event = hub.last_event_time
    return {
        "can_reach_server": system_health.async_check_can_reach_url(
            hass, token_url_from_data(entry.data, get_settings(hass))
        ),
        "connected": hub.connected,
        "last_event": last_event.isoformat() if last_event is not None else "-",
        "events_received": hub.stream.stats.received,
    }
