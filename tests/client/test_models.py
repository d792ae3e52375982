"""Decoding every event type into typed models, and their JSON-ready form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import json_format

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
