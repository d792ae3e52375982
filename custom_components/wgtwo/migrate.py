"""Unique ids of config entries, and bringing stored entries to the current version.

Minor version 2 names a custom server by :func:`~.client.endpoint.normalize_target` in
the unique id, so that every spelling of one host is one entry. Entries stored before it
only had the host lowercased (``custom:<host>:<client_id>``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .client import InvalidEndpointError
from .client.endpoint import normalize_target
from .const import CONF_CLIENT_ID, CONF_ENVIRONMENT, CONF_HOST, DOMAIN, ENV_CUSTOM

_LOGGER = logging.getLogger(__name__)

# The version the config flow stores entries at.
ENTRY_VERSION: Final = 1
# 2: custom servers are named by normalize_target in the unique id.
ENTRY_MINOR_VERSION: Final = 2


def unique_id_for(data: Mapping[str, Any]) -> str:
    """One entry per environment (and server, for a custom one) and client id.

    A custom server is named by :func:`normalize_target`, so every spelling of one host
    (``LOCALHOST:50051``, ``[::1]:050051``) is one server and its events are not handled
    twice. A stored host that it refuses keeps the form of :func:`legacy_unique_id_for`.
    """
    if data[CONF_ENVIRONMENT] != ENV_CUSTOM:
        return legacy_unique_id_for(data)
    try:
        target = normalize_target(str(data[CONF_HOST]))
    except InvalidEndpointError:
        return legacy_unique_id_for(data)
    return f"{ENV_CUSTOM}:{target}:{data.get(CONF_CLIENT_ID) or ''}"


def legacy_unique_id_for(data: Mapping[str, Any]) -> str:
    """Return the unique id of entries before minor version 2 (the host only lowercased)."""
    environment = data[CONF_ENVIRONMENT]
    parts = [environment]
    if environment == ENV_CUSTOM:
        parts.append(str(data[CONF_HOST]).strip().lower())
    parts.append(data.get(CONF_CLIENT_ID) or "")
    return ":".join(parts)


def unique_id_as_stored(entry: ConfigEntry, client_id: str) -> str:
    """Return the unique id ``entry`` would have with ``client_id``, in its own id's form.

    An entry the migration left alone (another entry already had its new id) still has
    the old form; comparing in the new one would wrongly call its own client another.
    """
    data = {**entry.data, CONF_CLIENT_ID: client_id}
    if entry.unique_id == legacy_unique_id_for(entry.data):
        return legacy_unique_id_for(data)
    return unique_id_for(data)


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Rewrite an old entry's unique id; refuse entries from a newer major version.

    When another entry already has the new unique id, both configure the same server and
    OAuth client (the duplicate this version prevents). That entry is left as it is,
    still at the old minor version, so the migration runs again once one of them is
    removed; taking the id would give two entries one unique id.
    """
    if entry.version > ENTRY_VERSION:
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
