"""Scopes the sandbox demands, written from the API sheet independently of the client's table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

_T = events_pb2.EventType

EVENT_SCOPES: Final[Mapping[int, str]] = MappingProxyType(
    {
        _T.VOICE_EVENT: "events.voice.subscribe",
        _T.VOICEMAIL_EVENT: "events.voicemail.subscribe",
        _T.SMS_EVENT: "events.sms.subscribe",
        _T.SMS_DELIVERY_REPORT_EVENT: "events.sms_delivery_report.subscribe",
        _T.LOCATION_UPDATE_EVENT: "events.location.subscribe",
        _T.COUNTRY_CHANGE_EVENT: "events.roaming.subscribe",
        _T.HANDSET_UPDATE_EVENT: "events.handset_update.subscribe",
    }
)

VOICEMAIL_GET: Final = "voicemail.get"
VOICEMAIL_UPDATE: Final = "voicemail.update"
VOICEMAIL_DELETE: Final = "voicemail.delete"
SMS_SEND: Final = "sms.text:send_from_subscriber"
SMS_TO_SUBSCRIBER: Final = "sms.text:send_to_subscriber"
MMS_FROM_SUBSCRIBER: Final = "mms.send.from_subscriber"
MMS_TO_SUBSCRIBER: Final = "mms.send.to_subscriber"
FORWARD_DISABLE: Final = "callforwarding.disable"
FORWARD_TO_NUMBER: Final = "callforwarding.to_number"
FORWARD_TO_VOICEMAIL: Final = "callforwarding.to_voicemail"
LOOKUP: Final = "lookup.number:read"
LOOKUP_DETAILED: Final = "lookup.number_detailed:read"
NETWORK_INFO: Final = "subscription.network_information:read"
SUBSCRIPTION_ID: Final = "subscription.id:read"
# The v1 subscription streams, by kind.
SUBSCRIPTION_STREAM_SCOPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "handset_change": "subscription.handset_details:read",
        "first_attachment": "subscription.first_attachment:read",
        "country_change": "subscription.country_change:read",
        "periodic_country": "subscription.periodic_country:read",
    }
)

ALL_SCOPES: Final = frozenset(
    {
        *EVENT_SCOPES.values(),
        VOICEMAIL_GET,
        VOICEMAIL_UPDATE,
        VOICEMAIL_DELETE,
        SMS_SEND,
        SMS_TO_SUBSCRIBER,
        MMS_FROM_SUBSCRIBER,
        MMS_TO_SUBSCRIBER,
        FORWARD_DISABLE,
        FORWARD_TO_NUMBER,
        FORWARD_TO_VOICEMAIL,
        LOOKUP,
        LOOKUP_DETAILED,
        NETWORK_INFO,
        SUBSCRIPTION_ID,
        *SUBSCRIPTION_STREAM_SCOPES.values(),
    }
)

# Which Event oneof field carries which EventType.
TYPE_BY_FIELD: Final[Mapping[str, int]] = MappingProxyType(
    {
        "voice_event": _T.VOICE_EVENT,
        "voicemail_event": _T.VOICEMAIL_EVENT,
        "location_update_event": _T.LOCATION_UPDATE_EVENT,
        "country_change_event": _T.COUNTRY_CHANGE_EVENT,
        "token_audit_event": _T.TOKEN_AUDIT_EVENT,
        "sms_event": _T.SMS_EVENT,
        "sms_delivery_report_event": _T.SMS_DELIVERY_REPORT_EVENT,
        "consent_revoke_event": _T.CONSENT_REVOKE_EVENT,
        "handset_update_event": _T.HANDSET_UPDATE_EVENT,
        "first_attachment_event": _T.FIRST_ATTACHMENT_EVENT,
        "periodic_country_event": _T.PERIODIC_COUNTRY_EVENT,
    }
)


def scopes_for_types(types: Iterable[int]) -> frozenset[str]:
    """Return the scopes needed to receive the given event types."""
    return frozenset(EVENT_SCOPES[t] for t in types if t in EVENT_SCOPES)
