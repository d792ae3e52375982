"""Diagnostics for a config entry, without secrets or personal data."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_FORWARDING_NUMBER,
    CONF_OWNERS,
    CONF_PHONEBOOK,
    CONF_SMS_RECIPIENT,
    CONF_SUBSCRIBER_FILTER,
    CONF_SUBSCRIBERS,
)
from .runtime import WgtwoConfigEntry

TO_REDACT: Final = {
    CONF_CLIENT_SECRET,
    CONF_CLIENT_ID,
    "access_token",
    "token",
    "number",
    "owner",
    "from_number",
    "to_number",
    "from_address",
    "to_address",
    "imei",
    "imsi",
    "text",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: WgtwoConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings, the streams' and network reads' state, the subscribers."""
    options = dict(entry.options)
    phonebook = options.get(CONF_PHONEBOOK) or {}
    # Phonebook keys are phone numbers and its values are names: keep only the size.
    options[CONF_PHONEBOOK] = {"entries": len(phonebook)}
    if CONF_SUBSCRIBERS in options:
        # Keyed by subscriber number, with numbers and user ids as values: keep what is
        # set, not who.
        settings = list((options[CONF_SUBSCRIBERS] or {}).values())
        options[CONF_SUBSCRIBERS] = {
            "entries": len(settings),
            CONF_SMS_RECIPIENT: sum(bool(s.get(CONF_SMS_RECIPIENT)) for s in settings),
            CONF_FORWARDING_NUMBER: sum(bool(s.get(CONF_FORWARDING_NUMBER)) for s in settings),
            CONF_OWNERS: sum(bool(s.get(CONF_OWNERS)) for s in settings),
        }
    if CONF_SUBSCRIBER_FILTER in options:
        # The numbers that get a device: how many, not which.
        options[CONF_SUBSCRIBER_FILTER] = {"entries": len(options[CONF_SUBSCRIBER_FILTER] or [])}
    runtime = entry.runtime_data
    subscribers = [
        {
            "subscriber": REDACTED,
            "call_state": str(subscriber.call_state),
            "roaming": subscriber.roaming,
            "home_country": subscriber.home_country,
            "country": subscriber.country.code if subscriber.country is not None else None,
            "missed_calls": subscriber.missed_calls,
            "unheard_voicemails": len(subscriber.voicemails),
            "handset_known": subscriber.handset is not None,
            # The network of the SIM seen last: its generation and MCC/MNC (no IMSI).
            "network": (
                None
                if (network := subscriber.network) is None
                else {
                    "generation": network.generation.label if network.generation else None,
                    "mcc": network.mcc,
                    "mnc": network.mnc,
                    "sims": subscriber.network_sims,
                }
            ),
            "imsi_known": subscriber.imsi is not None,
            # The scopes the subscriber's consent grants (None: not known).
            "scopes": sorted(subscriber.scopes) if subscriber.scopes is not None else None,
            "last_event": (
                subscriber.last_event.isoformat() if subscriber.last_event is not None else None
            ),
        }
        for subscriber in runtime.coordinator.subscribers.values()
    ]
    return {
        "entry": {
            "title": REDACTED,
            "data": async_redact_data(entry.data, TO_REDACT),
            "options": async_redact_data(options, TO_REDACT),
        },
        "connection": async_redact_data(runtime.hub.stats, TO_REDACT),
        "caller_names": (
            {"enabled": False}
            if (caller_names := runtime.hub.caller_names) is None
            else {"enabled": True, **async_redact_data(caller_names.stats, TO_REDACT)}
        ),
        "network": runtime.coordinator.capabilities.network.diagnostics(),
        "consents": runtime.coordinator.capabilities.consent.listing.as_dict(),
        "subscriber_filter": runtime.coordinator.subscriber_filter.diagnostics(),
        "streams": {
            str(stream.kind): async_redact_data(stream.stats, TO_REDACT)
            for stream in runtime.hub.v1_streams
        },
        "subscribers": subscribers,
    }
