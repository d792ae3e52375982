"""Bring stored config entries to the current version of their data and unique id.

Minor version 2 names a custom server by :func:`~.client.endpoint.normalize_target` in
the unique id, so that every spelling of one host is one entry. Entries stored before it
only had the host lowercased (``custom:<host>:<client_id>``).
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .config_flow import WgtwoConfigFlow, unique_id_for
from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Rewrite an old entry's unique id; refuse entries from a newer major version.

    When another entry already has the new unique id, both configure the same server and
    OAuth client (the duplicate this version prevents). That entry is left as it is,
    still at the old minor version, so the migration runs again once one of them is
    removed; taking the id would give two entries one unique id.
    """
    if entry.version > WgtwoConfigFlow.VERSION:
        _LOGGER.error(
            "Cannot downgrade %s from version %s.%s",
            entry.title,
            entry.version,
            entry.minor_version,
        )
        return False
    if entry.minor_version >= 2:
        return True
    unique_id = unique_id_for(entry.data)
    if unique_id != entry.unique_id:
        other = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
        if other is not None:
            _LOGGER.warning(
                "%s and %s use the same server and OAuth client, so every event is handled"
                " twice; remove one of them",
                entry.title,
                other.title,
            )
            return True
    hass.config_entries.async_update_entry(entry, unique_id=unique_id, minor_version=2)
    return True
