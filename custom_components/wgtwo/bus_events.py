"""Schema of the `wgtwo_event` bus event: one function per payload, documented in the README.

Every bus event carries ``type``, ``subscriber`` (E.164), ``device_id``, ``timestamp`` (ISO
8601, UTC, from the network) and ``sequence`` (the stream's sequence number), then the
payload fields below. Numbers of callers that hid their number are never included.

Call, voicemail and SMS events also carry ``from_name`` and ``to_name``: the phonebook's
name of each party, None when the number has no name or was hidden (:func:`party_names`).
``call_ended`` adds ``answered`` and ``duration`` (:func:`call_end_payload`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from .call_state import Call, CallDirection
from .client import (
    CountryChangeEvent,
    HandsetUpdateEvent,
    LocationUpdateEvent,
    SmsDeliveryReportEvent,
    SmsEvent,
    VoiceEvent,
    VoicemailEvent,
    WgtwoEvent,
)
from .phonebook import Phonebook

ATTR_TYPE: Final = "type"
ATTR_SUBSCRIBER: Final = "subscriber"
ATTR_DEVICE_ID: Final = "device_id"
ATTR_TIMESTAMP: Final = "timestamp"
ATTR_SEQUENCE: Final = "sequence"

TYPE_CALL_INITIATED: Final = "call_initiated"
TYPE_CALL_RINGING: Final = "call_ringing"
TYPE_CALL_ANSWERED: Final = "call_answered"
TYPE_CALL_ENDED: Final = "call_ended"
TYPE_CALL_MISSED: Final = "call_missed"
TYPE_CALL_FORWARDED: Final = "call_forwarded_to_voicemail"
TYPE_VOICEMAIL_NEW: Final = "voicemail_new"
TYPE_SMS_RECEIVED: Final = "sms_received"
TYPE_SMS_SENT: Final = "sms_sent"
TYPE_SMS_DELIVERY_REPORT: Final = "sms_delivery_report"
TYPE_ROAMING: Final = "roaming_country_changed"
TYPE_LOCATION: Final = "location_updated"
TYPE_HANDSET: Final = "handset_changed"
TYPE_CONSENT_REVOKED: Final = "consent_revoked"


def envelope(
    event: WgtwoEvent, event_type: str, subscriber: str, device_id: str | None
) -> dict[str, Any]:
    """Fields every bus event carries."""
    return {
        ATTR_TYPE: event_type,
        ATTR_SUBSCRIBER: subscriber,
        ATTR_DEVICE_ID: device_id,
        ATTR_TIMESTAMP: event.timestamp.isoformat(),
        ATTR_SEQUENCE: event.sequence,
    }


def call_payload(event: VoiceEvent, direction: CallDirection, hidden: bool) -> dict[str, Any]:
    """Call fields: call_id, direction, from_number (None if hidden), to_number, hidden flag."""
    return {
        "call_id": event.call_id,
        "direction": str(direction),
        "from_number": None if hidden else event.from_number,
        "to_number": event.to_number,
        "caller_id_hidden": hidden,
    }


def party_names(
    phonebook: Phonebook, from_number: str | None, to_number: str | None, *, hidden: bool = False
) -> dict[str, Any]:
    """Names of both parties (None when unknown); a hidden caller is never named."""
    return {
        "from_name": None if hidden else phonebook.name_for(from_number),
        "to_name": phonebook.name_for(to_number),
    }


def call_end_payload(call: Call, ended: datetime) -> dict[str, Any]:
    """End-of-call fields: whether it was answered, and seconds from answer to end.

    Both come from what was handled before the end: an answer delivered after it (out of
    order) is not reflected, so ``answered`` is False and ``duration`` None then.
    """
    return {"answered": call.answered, "duration": call.duration(ended)}


def voicemail_payload(event: VoicemailEvent, hidden: bool) -> dict[str, Any]:
    """Voicemail fields: voicemail_id, from_number (None for a hidden caller), to_number."""
    return {
        "voicemail_id": event.voicemail_id,
        "from_number": None if hidden else event.from_number,
        "to_number": event.to_number,
    }


def _addresses(event: SmsEvent | SmsDeliveryReportEvent) -> dict[str, Any]:
    return {
        "from_address": event.from_address,
        "from_address_type": _text(event.from_address_type),
        "to_address": event.to_address,
        "to_address_type": _text(event.to_address_type),
    }


def _text(value: object) -> str | None:
    """Enum members as their lower-case value; unknown wire numbers as a string."""
    return None if value is None else str(value)


def sms_payload(event: SmsEvent, share_text: bool) -> dict[str, Any]:
    """SMS fields (``message_id`` is the SMS id); ``text`` and ``data`` only when sharing is on."""
    payload: dict[str, Any] = {
        "sms_id": event.sms_id,
        # What sending returned, so an automation can wait for the message's report.
        "message_id": event.sms_id,
        "uuid": event.uuid,
        **_addresses(event),
        "direction": _text(event.direction),
    }
    if share_text:
        content = event.as_dict()
        payload["text"] = content["text"]
        payload["data"] = content["data"]
    return payload


def delivery_report_payload(event: SmsDeliveryReportEvent) -> dict[str, Any]:
    """Report fields: report_id, sms_id = message_id (the SMS), status, direction, addresses."""
    return {
        "report_id": event.report_id,
        "sms_id": event.sms_id,
        "message_id": event.sms_id,  # the sent message's id, as the send responded
        "status": _text(event.status),
        "direction": _text(event.direction),
        **_addresses(event),
    }


def country_payload(event: CountryChangeEvent, roaming: bool | None) -> dict[str, Any]:
    """Country fields: previous and current ({code, name} or None) and roaming (bool/None)."""
    return {
        "previous": event.previous.as_dict() if event.previous else None,
        "current": event.current.as_dict() if event.current else None,
        "roaming": roaming,
    }


def location_payload(event: LocationUpdateEvent) -> dict[str, Any]:
    """Location fields: previous and current ({msc, vlr, sgsn, mme} or None)."""
    return {
        "previous": event.previous.as_dict() if event.previous else None,
        "current": event.current.as_dict() if event.current else None,
    }


def handset_payload(event: HandsetUpdateEvent) -> dict[str, Any]:
    """Handset fields: previous and current ({imei, software_version} or None); no IMSI."""
    return {
        "previous": event.previous.as_dict() if event.previous else None,
        "current": event.current.as_dict() if event.current else None,
    }
