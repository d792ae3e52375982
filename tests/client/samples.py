"""Sample events for every payload type, in protobuf's JSON mapping (as the sandbox takes them)."""

from __future__ import annotations

import copy
import json
from typing import Any

from google.protobuf import json_format

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

OWNER = {"phoneNumber": {"e164": "+46724450024"}, "sub": "66cd-1a"}
TIMESTAMP = "2024-08-02T10:08:55.668065022Z"

# The example event from the API sheet, verbatim.
SEED_EXAMPLE: dict[str, Any] = json.loads(
    '{"event":{"timestamp":"2024-08-02T10:08:55.668065022Z","voiceEvent":{"callId":'
    '"e70b8117-6e3d-49e1-83f6-0e7f932e5bb2","type":"CALL_INITIATED","fromNumber":'
    '{"e164":"+4799948352"},"toNumber":{"e164":"+46724450024"},"callerIdHidden":true},'
    '"owner":{"phoneNumber":{"e164":"+46724450024"},"sub":"66cd\\u20261a"}}}'
)

_PAYLOADS: dict[str, dict[str, Any]] = {
    "voice": {"voiceEvent": copy.deepcopy(SEED_EXAMPLE["event"]["voiceEvent"])},
    "voicemail": {
        "voicemailEvent": {
            "voicemailId": "vm-1",
            "type": "NEW_VOICEMAIL",
            "fromNumber": {"e164": "+4799948352"},
            "toNumber": {"e164": "+46724450024"},
        }
    },
    "sms": {
        "smsEvent": {
            "id": "attempt-1",
            "uuid": "uuid-1",
            "fromE164": {"e164": "+4799948352"},
            "toTextAddress": {"textAddress": "HomeBank"},
            "direction": "TO_SUBSCRIBER",
            "text": "hello",
        }
    },
    "sms_binary": {
        "smsEvent": {
            "id": "attempt-2",
            "uuid": "uuid-2",
            "fromNationalPhoneNumber": {"nationalPhoneNumber": "99948352"},
            "direction": "FROM_SUBSCRIBER",
            "bytes": "AAH/",
        }
    },
    "sms_delivery_report": {
        "smsDeliveryReportEvent": {
            "id": "report-1",
            "smsId": "attempt-1",
            "status": "TEMPORARY_FAILURE",
            "direction": "FROM_SUBSCRIBER",
            "fromE164": {"e164": "+46724450024"},
            "toNationalPhoneNumber": {"nationalPhoneNumber": "12345678"},
        }
    },
    "country_change": {
        "countryChangeEvent": {
            "msisdn": {"e164": "+46724450024"},
            "previous": {"code": "NO", "name": "Norway"},
            "current": {"code": "SE", "name": "Sweden"},
        }
    },
    "location_update": {
        "locationUpdateEvent": {
            "number": {"e164": "+46724450024"},
            "current": {
                "msc": {"value": "4790000001"},
                "vlr": {"value": "4790000002"},
                "mme": {"value": "mme1.example"},
            },
        }
    },
    "handset_update": {
        "handsetUpdateEvent": {
            "number": {"e164": "+46724450024"},
            "imsi": {"value": "242010000000001"},
            "previous": {"imeiSv": {"imei": "35000000000001", "softwareVersion": "01"}},
            "current": {"imeiSv": {"imei": "35000000000002", "softwareVersion": "07"}},
        }
    },
    "consent_revoke": {"consentRevokeEvent": {"msisdn": {"e164": "+46724450024"}}},
    "token_audit": {
        "tokenAuditEvent": {
            "operation": "MODIFIED",
            "operatorToken": {
                "new": {"clientId": "c-1", "name": "new name", "rights": ["a", "b"]},
                "old": {"clientId": "c-1", "name": "old name"},
            },
        }
    },
    "first_attachment": {
        "firstAttachmentEvent": {
            "number": {"e164": "+46724450024"},
            "imsi": {"value": "242010000000001"},
        }
    },
    "periodic_country": {
        "periodicCountryEvent": {
            "number": {"e164": "+46724450024"},
            "imsi": {"value": "242010000000001"},
            "country": {"code": "SE", "name": "Sweden"},
        }
    },
}

SAMPLES = tuple(_PAYLOADS)

# Which subscription event type delivers each sample.
SAMPLE_TYPES = {
    "voice": "VOICE_EVENT",
    "voicemail": "VOICEMAIL_EVENT",
    "sms": "SMS_EVENT",
    "sms_binary": "SMS_EVENT",
    "sms_delivery_report": "SMS_DELIVERY_REPORT_EVENT",
    "country_change": "COUNTRY_CHANGE_EVENT",
    "location_update": "LOCATION_UPDATE_EVENT",
    "handset_update": "HANDSET_UPDATE_EVENT",
    "consent_revoke": "CONSENT_REVOKE_EVENT",
    "token_audit": "TOKEN_AUDIT_EVENT",
    "first_attachment": "FIRST_ATTACHMENT_EVENT",
    "periodic_country": "PERIODIC_COUNTRY_EVENT",
}


def sample_json(name: str, *, with_metadata: bool = False, **meta: Any) -> dict[str, Any]:
    """The sample as ``SubscribeEventsResponse`` JSON (without metadata the server fills it)."""
    event: dict[str, Any] = {
        "timestamp": TIMESTAMP,
        "serviceId": "tenant-a",
        "owner": copy.deepcopy(OWNER),
        **copy.deepcopy(_PAYLOADS[name]),
    }
    if with_metadata:
        event["metadata"] = {
            "sequence": str(meta.get("sequence", 1)),
            "isRedelivered": meta.get("redelivered", False),
            "ackInbox": "inbox",
        }
    return {"event": event}


def parse_sample(
    name: str, *, sequence: int = 1, redelivered: bool = False
) -> events_pb2.SubscribeEventsResponse:
    """The sample as a message, with metadata as the server would set it."""
    data = sample_json(name, with_metadata=True, sequence=sequence, redelivered=redelivered)
    return json_format.Parse(json.dumps(data), events_pb2.SubscribeEventsResponse())


def event_with_unknown_field(sequence: int = 0) -> bytes:
    """An ``Event`` whose only payload is field 99, which our proto does not know."""
    event = json_format.Parse(
        json.dumps({k: v for k, v in sample_json("voice")["event"].items() if k != "voiceEvent"}),
        events_pb2.Event(),
    )
    if sequence:
        event.metadata.sequence = sequence
    payload = b"\x0a\x05hello"  # a nested message with one string field
    tag = _varint((99 << 3) | 2)
    return event.SerializeToString() + tag + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
