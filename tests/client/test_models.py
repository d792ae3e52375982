"""Decoding every event type into typed models, and their JSON-ready form."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import EnumDescriptor

from custom_components.wgtwo.client import (
    AddressType,
    ConsentRevokeEvent,
    Country,
    CountryChangeEvent,
    DeliveryStatus,
    FirstAttachmentEvent,
    Handset,
    HandsetUpdateEvent,
    Locations,
    LocationUpdateEvent,
    OperatorToken,
    PeriodicCountryEvent,
    SmsDeliveryReportEvent,
    SmsDirection,
    SmsEvent,
    TokenAuditEvent,
    TokenOperation,
    UnknownEvent,
    VoiceEvent,
    VoiceEventKind,
    VoicemailEvent,
    VoicemailEventKind,
    event_from_proto,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2

from .samples import SAMPLES, SEED_EXAMPLE, event_with_unknown_field, parse_sample

BASE: dict[str, Any] = {
    "sequence": 7,
    "is_redelivered": True,
    "timestamp": datetime(2024, 8, 2, 10, 8, 55, 668065, tzinfo=UTC),
    "owner": "+46724450024",
    "owner_sub": "66cd-1a",
    "service_id": "tenant-a",
}

EXPECTED = {
    "voice": VoiceEvent(
        **BASE,
        call_id="e70b8117-6e3d-49e1-83f6-0e7f932e5bb2",
        call_event=VoiceEventKind.CALL_INITIATED,
        from_number="+4799948352",
        to_number="+46724450024",
        caller_id_hidden=True,
    ),
    "voicemail": VoicemailEvent(
        **BASE,
        voicemail_id="vm-1",
        voicemail_event=VoicemailEventKind.NEW_VOICEMAIL,
        from_number="+4799948352",
        to_number="+46724450024",
    ),
    "sms": SmsEvent(
        **BASE,
        sms_id="attempt-1",
        uuid="uuid-1",
        from_address="+4799948352",
        from_address_type=AddressType.E164,
        to_address="HomeBank",
        to_address_type=AddressType.TEXT,
        direction=SmsDirection.TO_SUBSCRIBER,
        text="hello",
        data=None,
    ),
    "sms_binary": SmsEvent(
        **BASE,
        sms_id="attempt-2",
        uuid="uuid-2",
        from_address="99948352",
        from_address_type=AddressType.NATIONAL,
        to_address=None,
        to_address_type=None,
        direction=SmsDirection.FROM_SUBSCRIBER,
        text=None,
        data=b"\x00\x01\xff",
    ),
    "sms_delivery_report": SmsDeliveryReportEvent(
        **BASE,
        report_id="report-1",
        sms_id="attempt-1",
        status=DeliveryStatus.TEMPORARY_FAILURE,
        direction=SmsDirection.FROM_SUBSCRIBER,
        from_address="+46724450024",
        from_address_type=AddressType.E164,
        to_address="12345678",
        to_address_type=AddressType.NATIONAL,
    ),
    "country_change": CountryChangeEvent(
        **BASE,
        number="+46724450024",
        previous=Country(code="NO", name="Norway"),
        current=Country(code="SE", name="Sweden"),
    ),
    "location_update": LocationUpdateEvent(
        **BASE,
        number="+46724450024",
        previous=None,
        current=Locations(msc="4790000001", vlr="4790000002", sgsn=None, mme="mme1.example"),
    ),
    "handset_update": HandsetUpdateEvent(
        **BASE,
        number="+46724450024",
        imsi="242010000000001",
        previous=Handset(imei="35000000000001", software_version="01"),
        current=Handset(imei="35000000000002", software_version="07"),
    ),
    "consent_revoke": ConsentRevokeEvent(**BASE, number="+46724450024"),
    "token_audit": TokenAuditEvent(
        **BASE,
        operation=TokenOperation.MODIFIED,
        new=OperatorToken(client_id="c-1", name="new name", rights=("a", "b")),
        old=OperatorToken(client_id="c-1", name="old name", rights=()),
    ),
    "first_attachment": FirstAttachmentEvent(**BASE, number="+46724450024", imsi="242010000000001"),
    "periodic_country": PeriodicCountryEvent(
        **BASE,
        number="+46724450024",
        imsi="242010000000001",
        country=Country(code="SE", name="Sweden"),
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_event_type_decodes_to_exact_values(name: str) -> None:
    response = parse_sample(name, sequence=7, redelivered=True)
    assert event_from_proto(response.event) == EXPECTED[name]


def test_every_sample_has_an_expectation_and_covers_every_payload() -> None:
    assert set(SAMPLES) == set(EXPECTED)
    payloads = {parse_sample(n).event.WhichOneof("event") for n in SAMPLES}
    assert payloads == {f.name for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["event"].fields}


def test_seed_example_decodes() -> None:
    event = json_format.Parse(json.dumps(SEED_EXAMPLE), events_pb2.SubscribeEventsResponse()).event
    model = event_from_proto(event)
    assert isinstance(model, VoiceEvent)
    assert model.kind == "voice"
    assert model.call_event is VoiceEventKind.CALL_INITIATED
    assert model.caller_id_hidden is True
    assert model.from_number == "+4799948352"
    assert model.owner == "+46724450024"
    assert model.timestamp == datetime(2024, 8, 2, 10, 8, 55, 668065, tzinfo=UTC)
    assert model.sequence == 0
    assert model.service_id == ""


def test_as_dict_is_json_ready() -> None:
    data = EXPECTED["sms_binary"].as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["kind"] == "sms"
    assert data["timestamp"] == "2024-08-02T10:08:55.668065+00:00"
    assert data["direction"] == "from_subscriber"
    assert data["from_address_type"] == "national"
    assert data["data"] == "AAH/"
    audit = EXPECTED["token_audit"].as_dict()
    assert audit["new"] == {"client_id": "c-1", "name": "new name", "rights": ["a", "b"]}
    assert audit["operation"] == "modified"
    for model in EXPECTED.values():
        dumped = model.as_dict()
        assert json.loads(json.dumps(dumped)) == dumped
        assert dumped["kind"] == model.kind


def test_models_are_frozen() -> None:
    with pytest.raises(AttributeError):
        EXPECTED["voice"].sequence = 3  # type: ignore[misc]


def test_unknown_payload_field_becomes_unknown_event() -> None:
    event = events_pb2.Event.FromString(event_with_unknown_field(sequence=5))
    model = event_from_proto(event)
    assert isinstance(model, UnknownEvent)
    assert model.payload is None
    assert model.sequence == 5
    assert model.owner == "+46724450024"
    assert model.as_dict()["kind"] == "unknown"


def test_unknown_enum_values_are_kept_as_numbers() -> None:
    response = parse_sample("voice")
    response.event.voice_event.type = 42  # type: ignore[assignment]
    model = event_from_proto(response.event)
    assert isinstance(model, VoiceEvent)
    assert model.call_event == 42
    assert model.as_dict()["call_event"] == 42
    report = parse_sample("sms_delivery_report")
    report.event.sms_delivery_report_event.status = 9  # type: ignore[assignment]
    decoded = event_from_proto(report.event)
    assert isinstance(decoded, SmsDeliveryReportEvent)
    assert decoded.status == 9


def test_empty_payloads_decode_with_empty_values() -> None:
    event = events_pb2.Event()
    event.token_audit_event.SetInParent()
    model = event_from_proto(event)
    assert model == TokenAuditEvent(
        sequence=0,
        timestamp=datetime(1970, 1, 1, tzinfo=UTC),
        operation=TokenOperation.UNDEFINED,
        new=None,
        old=None,
    )
    event = events_pb2.Event()
    event.country_change_event.SetInParent()
    change = event_from_proto(event)
    assert isinstance(change, CountryChangeEvent)
    assert (change.number, change.previous, change.current, change.owner) == (None,) * 4


def test_a_payload_that_cannot_be_decoded_becomes_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from custom_components.wgtwo.client import models

    def broken(*_args: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(models, "_address", broken)
    model = event_from_proto(parse_sample("sms").event)
    assert isinstance(model, UnknownEvent)
    assert model.payload == "sms_event"


def _numbered(name: str) -> bool:
    return "number" in {field.name for field in dataclasses.fields(EXPECTED[name])}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_subscriber_is_the_owner_when_there_is_one(name: str) -> None:
    model = EXPECTED[name]
    assert model.subscriber == model.owner == BASE["owner"]
    assert "subscriber" not in model.as_dict()  # derived, not a field
    assert not hasattr(model, "__dict__")  # still slotted


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_subscriber_without_owner_is_the_payload_number(name: str) -> None:
    model = dataclasses.replace(EXPECTED[name], owner=None)
    expected = "+46724450024" if _numbered(name) else None
    assert model.subscriber == expected


def test_types_with_a_number_field_are_the_documented_ones() -> None:
    assert {name for name in EXPECTED if _numbered(name)} == {
        "country_change",
        "location_update",
        "handset_update",
        "consent_revoke",
        "first_attachment",
        "periodic_country",
    }


def test_subscriber_of_a_decoded_event_without_owner() -> None:
    event = events_pb2.Event()
    event.consent_revoke_event.msisdn.e164 = "+4799948352"
    model = event_from_proto(event)
    assert model.owner is None
    assert model.subscriber == "+4799948352"
    event.owner.phone_number.e164 = "+46724450024"
    assert event_from_proto(event).subscriber == "+46724450024"


def _set_voice(event: events_pb2.Event, number: int) -> Any:
    event.voice_event.type = number  # type: ignore[assignment]
    return lambda model: model.call_event


def _set_voicemail(event: events_pb2.Event, number: int) -> Any:
    event.voicemail_event.type = number  # type: ignore[assignment]
    return lambda model: model.voicemail_event


def _set_sms_direction(event: events_pb2.Event, number: int) -> Any:
    event.sms_event.direction = number  # type: ignore[assignment]
    return lambda model: model.direction


def _set_report_direction(event: events_pb2.Event, number: int) -> Any:
    event.sms_delivery_report_event.direction = number  # type: ignore[assignment]
    return lambda model: model.direction


def _set_report_status(event: events_pb2.Event, number: int) -> Any:
    event.sms_delivery_report_event.status = number  # type: ignore[assignment]
    return lambda model: model.status


def _set_operation(event: events_pb2.Event, number: int) -> Any:
    event.token_audit_event.operation = number  # type: ignore[assignment]
    return lambda model: model.operation


WIRE_ENUMS: list[tuple[EnumDescriptor, Any, type[Enum]]] = [
    (events_pb2.VoiceEvent.VoiceEventType.DESCRIPTOR, _set_voice, VoiceEventKind),
    (events_pb2.VoicemailEvent.VoicemailEventType.DESCRIPTOR, _set_voicemail, VoicemailEventKind),
    (events_pb2.SmsEvent.Direction.DESCRIPTOR, _set_sms_direction, SmsDirection),
    (events_pb2.SmsDeliveryReportEvent.Direction.DESCRIPTOR, _set_report_direction, SmsDirection),
    (events_pb2.SmsDeliveryReportEvent.Status.DESCRIPTOR, _set_report_status, DeliveryStatus),
    (events_pb2.TokenAuditEvent.Operation.DESCRIPTOR, _set_operation, TokenOperation),
]


@pytest.mark.parametrize(
    ("wire", "set_number", "enum_cls"), WIRE_ENUMS, ids=[w[0].full_name for w in WIRE_ENUMS]
)
def test_every_wire_enum_value_decodes_to_a_member(
    wire: EnumDescriptor, set_number: Any, enum_cls: type[Enum]
) -> None:
    seen = set()
    for value in wire.values:
        event = events_pb2.Event()
        read = set_number(event, value.number)
        decoded = read(event_from_proto(event))
        assert isinstance(decoded, enum_cls), value.name
        seen.add(decoded)
    assert seen == set(enum_cls)  # and every member has a wire value


def test_wire_enum_names_decode_to_the_same_name() -> None:
    event = events_pb2.Event()
    event.sms_delivery_report_event.status = events_pb2.SmsDeliveryReportEvent.EXPIRED
    event.sms_delivery_report_event.direction = events_pb2.SmsDeliveryReportEvent.DIRECTION_UNKNOWN
    report = event_from_proto(event)
    assert isinstance(report, SmsDeliveryReportEvent)
    assert (report.status, report.direction) == (DeliveryStatus.EXPIRED, SmsDirection.UNKNOWN)


def test_every_send_status_maps() -> None:
    from custom_components.wgtwo.client import SendStatus, actions

    wire = sms_pb2.SendMessageResponse.SendStatus.DESCRIPTOR
    assert set(actions._SEND_STATUSES) == {value.number for value in wire.values}
    assert set(actions._SEND_STATUSES.values()) == set(SendStatus)
    assert actions._SEND_STATUSES[sms_pb2.SendMessageResponse.SEND_STATUS_OK] is SendStatus.OK
