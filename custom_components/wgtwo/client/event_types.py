"""API event types and the OAuth scopes each of them needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class EventType(StrEnum):
    """Event types as named on the wire (``wgtwo.events.v0.EventType``)."""

    VOICE_EVENT = "VOICE_EVENT"
    VOICEMAIL_EVENT = "VOICEMAIL_EVENT"
    LOCATION_UPDATE_EVENT = "LOCATION_UPDATE_EVENT"
    COUNTRY_CHANGE_EVENT = "COUNTRY_CHANGE_EVENT"
    TOKEN_AUDIT_EVENT = "TOKEN_AUDIT_EVENT"
    SMS_EVENT = "SMS_EVENT"
    SMS_DELIVERY_REPORT_EVENT = "SMS_DELIVERY_REPORT_EVENT"
    CONSENT_REVOKE_EVENT = "CONSENT_REVOKE_EVENT"
    HANDSET_UPDATE_EVENT = "HANDSET_UPDATE_EVENT"
    FIRST_ATTACHMENT_EVENT = "FIRST_ATTACHMENT_EVENT"
    PERIODIC_COUNTRY_EVENT = "PERIODIC_COUNTRY_EVENT"


# Types without an entry need no scope (consent revoke) or have no documented one.
EVENT_TYPE_SCOPES: Final[Mapping[EventType, str]] = MappingProxyType(
    {
        EventType.VOICE_EVENT: "events.voice.subscribe",
        EventType.VOICEMAIL_EVENT: "events.voicemail.subscribe",
        EventType.SMS_EVENT: "events.sms.subscribe",
        EventType.SMS_DELIVERY_REPORT_EVENT: "events.sms_delivery_report.subscribe",
        EventType.LOCATION_UPDATE_EVENT: "events.location.subscribe",
        EventType.COUNTRY_CHANGE_EVENT: "events.roaming.subscribe",
        EventType.HANDSET_UPDATE_EVENT: "events.handset_update.subscribe",
    }
)

SCOPE_VOICEMAIL_GET: Final = "voicemail.get"
SCOPE_VOICEMAIL_UPDATE: Final = "voicemail.update"
SCOPE_VOICEMAIL_DELETE: Final = "voicemail.delete"
SCOPE_SMS_SEND: Final = "sms.text:send_from_subscriber"
SCOPE_SMS_TO_SUBSCRIBER: Final = "sms.text:send_to_subscriber"
SCOPE_MMS_FROM_SUBSCRIBER: Final = "mms.send.from_subscriber"
SCOPE_MMS_TO_SUBSCRIBER: Final = "mms.send.to_subscriber"
SCOPE_FORWARD_DISABLE: Final = "callforwarding.disable"
SCOPE_FORWARD_TO_NUMBER: Final = "callforwarding.to_number"
SCOPE_FORWARD_TO_VOICEMAIL: Final = "callforwarding.to_voicemail"
SCOPE_LOOKUP: Final = "lookup.number:read"
SCOPE_LOOKUP_DETAILED: Final = "lookup.number_detailed:read"
ACTION_SCOPES: Final = frozenset(
    {
        SCOPE_VOICEMAIL_GET,
        SCOPE_VOICEMAIL_UPDATE,
        SCOPE_VOICEMAIL_DELETE,
        SCOPE_SMS_SEND,
        SCOPE_SMS_TO_SUBSCRIBER,
        SCOPE_MMS_FROM_SUBSCRIBER,
        SCOPE_MMS_TO_SUBSCRIBER,
        SCOPE_FORWARD_DISABLE,
        SCOPE_FORWARD_TO_NUMBER,
        SCOPE_FORWARD_TO_VOICEMAIL,
    }
)


def scopes_for(event_types: Iterable[EventType | str]) -> frozenset[str]:
    """Return the scopes a token needs to receive the given event types."""
    scopes = set()
    for event_type in event_types:
        scope = EVENT_TYPE_SCOPES.get(EventType(event_type))
        if scope is not None:
            scopes.add(scope)
    return frozenset(scopes)


def event_types_for_scopes(
    scopes: Iterable[str], event_types: Iterable[EventType]
) -> frozenset[EventType]:
    """Return which of ``event_types`` need one of ``scopes`` (to explain a missing grant)."""
    wanted = set(scopes)
    return frozenset(t for t in event_types if EVENT_TYPE_SCOPES.get(t) in wanted)
