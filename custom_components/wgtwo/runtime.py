"""What a loaded config entry owns, typed: the connection (hub) and the subscribers."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .const import DOMAIN
from .coordinator import WgtwoCoordinator
from .hub import WgtwoHub
from .ids import is_entry_id, is_key
from .subscriber import Subscriber


@dataclass
class WgtwoRuntimeData:
    """What a loaded entry owns: the connection (hub) and the per-subscriber state."""

    hub: WgtwoHub
    coordinator: WgtwoCoordinator


type WgtwoConfigEntry = ConfigEntry[WgtwoRuntimeData]


def loaded_coordinators(hass: HomeAssistant) -> list[WgtwoCoordinator]:
    """Return the coordinator of every loaded entry."""
    entries: list[WgtwoConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    return [entry.runtime_data.coordinator for entry in entries]


def find_subscriber(
    hass: HomeAssistant, entry_id: str, key: str
) -> tuple[WgtwoCoordinator, Subscriber] | None:
    """Return the coordinator and subscriber a voicemail media id names, if loaded.

    Malformed ids name none.
    """
    if not is_entry_id(entry_id) or not is_key(key):
        return None
    for coordinator in loaded_coordinators(hass):
        if coordinator.entry.entry_id != entry_id:
            continue
        for subscriber in coordinator.subscribers.values():
            if hmac.compare_digest(coordinator.number_key(subscriber.number), key):
                return coordinator, subscriber
    return None
