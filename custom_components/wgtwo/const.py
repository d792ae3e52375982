"""Constants shared by the wgtwo integration's modules."""

from __future__ import annotations

from typing import Final

from homeassistant.const import Platform

from .client import EventType
from .client.v1_services import V1Stream

DOMAIN: Final = "wgtwo"

# Config entry data
CONF_ENVIRONMENT: Final = "environment"
CONF_HOST: Final = "host"  # custom environment only: "host" or "host:port"
CONF_PLAINTEXT: Final = "plaintext"  # custom environment only; loopback hosts only
CONF_TOKEN_URL: Final = "token_url"  # custom environment only
CONF_CLIENT_ID: Final = "client_id"
CONF_CLIENT_SECRET: Final = "client_secret"

ENV_EU: Final = "eu"
ENV_US: Final = "us"
ENV_SAKURA: Final = "sakura"
ENV_SANDBOX: Final = "sandbox"
ENV_CUSTOM: Final = "custom"
ENVIRONMENT_OPTIONS: Final = [ENV_EU, ENV_US, ENV_SAKURA, ENV_SANDBOX, ENV_CUSTOM]

# Config entry options
CONF_EVENT_TYPES: Final = "event_types"
CONF_HOME_COUNTRY: Final = "home_country"  # ISO 3166-1 alpha-2, empty: from the number
CONF_PHONEBOOK: Final = "phonebook"  # dict E.164 -> name
CONF_SHARE_SMS_TEXT: Final = "share_sms_text"
CONF_SMS_BUDGET: Final = "sms_budget"  # texts per subscriber in any hour; 0: no limit
DEFAULT_SMS_BUDGET: Final = 20
# The alphanumeric sender id the operator approved for the product ("Home"): texts and MMS
# to a subscriber come from it, and each subscriber gets a notify entity that uses it.
CONF_SENDER_NAME: Final = "sender_name"
SENDER_NAME_MAX_LENGTH: Final = 11
# Per-subscriber options: {subscriber E.164: {CONF_SMS_RECIPIENT: ..., CONF_FORWARDING_NUMBER: ...,
# CONF_OWNERS: [...]}} (numbers E.164, "" when not set)
CONF_SUBSCRIBERS: Final = "subscribers"
CONF_SMS_RECIPIENT: Final = "sms_recipient"  # the notify entity's recipient; default: itself
CONF_FORWARDING_NUMBER: Final = "forwarding_number"  # target of "number" and "conditional"
CONF_OWNERS: Final = "owners"  # Home Assistant user ids; none: administrators only
# Which subscribers get a device: absent, every one; else the list of their numbers (E.164).
# The events of the others are acknowledged and dropped.
CONF_SUBSCRIBER_FILTER: Final = "subscriber_filter"
# Caller names on the subscribers' handsets (the number lookup stream)
CONF_NAME_CALLERS: Final = "name_callers"  # bool, off by default
CONF_NAME_MAX_AGE: Final = "name_max_age"  # minutes the operator may cache an answer
DEFAULT_NAME_MAX_AGE: Final = 60
MIN_NAME_MAX_AGE: Final = 15

# User-facing event type choices -> API event types. Consent revoke is always on.
EVENT_TYPE_CHOICES: Final[dict[str, EventType]] = {
    "voice": EventType.VOICE_EVENT,
    "voicemail": EventType.VOICEMAIL_EVENT,
    "sms": EventType.SMS_EVENT,
    "sms_delivery_report": EventType.SMS_DELIVERY_REPORT_EVENT,
    "roaming": EventType.COUNTRY_CHANGE_EVENT,
    "location": EventType.LOCATION_UPDATE_EVENT,
    "handset": EventType.HANDSET_UPDATE_EVENT,
}
# The operator's v1 subscription streams, chosen beside the event types (same option).
STREAM_CHOICES: Final[dict[str, V1Stream]] = {
    "country_change": V1Stream.COUNTRY_CHANGE,
    "periodic_country": V1Stream.PERIODIC_COUNTRY,
    "handset_change": V1Stream.HANDSET_CHANGE,
    "first_attachment": V1Stream.FIRST_ATTACHMENT,
}
DEFAULT_EVENT_TYPES: Final = ["voice", "voicemail", "sms", "roaming"]
ALWAYS_ON_EVENT_TYPES: Final = frozenset({EventType.CONSENT_REVOKE_EVENT})

# Bus event fired for every event received
EVENT_WGTWO: Final = "wgtwo_event"
# Bus event with an SMS's text, only when the entry shares it (kept apart from wgtwo_event
# so that the recorder can be told to leave it out)
EVENT_SMS_TEXT: Final = "wgtwo_sms_text"

# Platforms the integration sets up (entities are created per subscriber by the coordinator)
PLATFORMS: Final = [
    Platform.SENSOR,
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.BUTTON,
    Platform.NOTIFY,
    Platform.SELECT,
]

# Repair issue id of a missing OAuth scope (formatted with the config entry id)
ISSUE_MISSING_SCOPES: Final = "missing_scopes_{entry_id}"

MANUFACTURER: Final = "Working Group Two"

# The scopes a subscriber's consent must grant for a feature's entities (any one of them).
SCOPES_VOICE: Final = frozenset({"events.voice.subscribe"})
SCOPES_VOICEMAIL: Final = frozenset({"events.voicemail.subscribe"})
SCOPES_SMS: Final = frozenset({"events.sms.subscribe", "events.sms_delivery_report.subscribe"})
SCOPES_SMS_SEND: Final = frozenset({"sms.text:send_from_subscriber"})
SCOPES_COUNTRY: Final = frozenset(
    {
        "events.roaming.subscribe",
        "subscription.country_change:read",
        "subscription.periodic_country:read",
    }
)
SCOPES_LOCATION: Final = frozenset({"events.location.subscribe"})
SCOPES_NETWORK: Final = frozenset({"subscription.network_information:read"})
SCOPES_HANDSET: Final = frozenset(
    {"events.handset_update.subscribe", "subscription.handset_details:read"}
)
SCOPES_FORWARDING: Final = frozenset(
    {"callforwarding.disable", "callforwarding.to_number", "callforwarding.to_voicemail"}
)


def device_identifier(entry_id: str, number: str) -> tuple[str, str]:
    """Device registry identifier of a subscriber's device."""
    return (DOMAIN, f"{entry_id}_{number}")


def service_identifier(entry_id: str) -> tuple[str, str]:
    """Device registry identifier of the entry's service device (connection status)."""
    return (DOMAIN, entry_id)
