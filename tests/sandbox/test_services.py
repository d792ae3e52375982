"""Server reflection and the voicemail and SMS fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from custom_components.wgtwo.client.proto.wgtwo.common.v0 import phonenumber_pb2
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2, sms_pb2_grpc
from custom_components.wgtwo.client.proto.wgtwo.voicemail.v0 import (
    voicemail_pb2,
    voicemail_pb2_grpc,
)
from wgtwo_sandbox import SandboxServer

from .conftest import SMS, Client, read_n

Connect = Callable[..., Client]
ALICE = "+4791234567"
BOB = "+4798765432"
REPORT = events_pb2.EventType.SMS_DELIVERY_REPORT_EVENT


def new_voicemail(voicemail_id: str, to: str = ALICE) -> dict[str, Any]:
    return {
        "event": {
            "timestamp": "2026-01-01T10:00:00Z",
            "voicemailEvent": {
                "voicemailId": voicemail_id,
                "type": "NEW_VOICEMAIL",
                "fromNumber": {"e164": BOB},
                "toNumber": {"e164": to},
            },
        }
    }


async def test_reflection_lists_the_services(sandbox: SandboxServer, connect: Connect) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(connect(sandbox).channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    responses = [r async for r in stub.ServerReflectionInfo(iter([request]))]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {
        "wgtwo.events.v0.EventsService",
        "wgtwo.voicemail.v0.VoicemailMediaService",
        "wgtwo.sms.v1.SmsService",
        "wgtwo.mms.v0.MmsService",
    } <= names


async def test_voicemail_lifecycle(sandbox: SandboxServer, connect: Connect) -> None:
    stub = voicemail_pb2_grpc.VoicemailMediaServiceStub(connect(sandbox).channel)
    await sandbox.publish([new_voicemail("vm-1"), new_voicemail("vm-2", to=BOB)])
    await sandbox.publish([{"event": {"voicemailEvent": {"voicemailId": "x"}}}])  # no type

    got = await stub.GetVoicemail(voicemail_pb2.GetVoicemailRequest(voicemail_id="vm-1"))
    assert got.metadata.voicemail_id == "vm-1"
    assert got.metadata.to.e164 == ALICE
    assert getattr(got.metadata, "from").e164 == BOB
    assert not got.metadata.played
    # Recorded on arrival, whatever the event's timestamp says; kept for seven days.
    created = got.metadata.created.ToDatetime(UTC)
    assert abs((created - datetime.now(UTC)).total_seconds()) < 5
    assert got.metadata.expires.ToDatetime(UTC) - created == timedelta(days=7)
    assert got.wav.startswith(b"RIFF")
    assert b"WAVE" in got.wav[:12]

    everything = await stub.GetAllVoicemailMetadata(voicemail_pb2.GetAllVoicemailMetadataRequest())
    assert {m.voicemail_id for m in everything.metadata} == {"vm-1", "vm-2"}
    for_alice = await stub.GetAllVoicemailMetadata(
        voicemail_pb2.GetAllVoicemailMetadataRequest(to=phonenumber_pb2.PhoneNumber(e164=ALICE))
    )
    assert [m.voicemail_id for m in for_alice.metadata] == ["vm-1"]

    await stub.MarkVoicemailAsRead(voicemail_pb2.MarkVoicemailAsReadRequest(voicemail_id="vm-1"))
    got = await stub.GetVoicemail(voicemail_pb2.GetVoicemailRequest(voicemail_id="vm-1"))
    assert got.metadata.played

    await stub.DeleteVoicemail(voicemail_pb2.DeleteVoicemailRequest(voicemail_id="vm-1"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetVoicemail(voicemail_pb2.GetVoicemailRequest(voicemail_id="vm-1"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.DeleteVoicemail(voicemail_pb2.DeleteVoicemailRequest(voicemail_id=""))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_sent_sms_produces_an_sms_event_and_a_delivery_report(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    stream = await client.subscribe(type=[SMS, REPORT])
    stub = sms_pb2_grpc.SmsServiceStub(client.channel)
    response = await stub.SendTextFromSubscriber(
        sms_pb2.SendTextFromSubscriberRequest(
            content="Hello", from_subscriber=ALICE, to_address=BOB
        )
    )
    assert response.status == sms_pb2.SendMessageResponse.SEND_STATUS_OK
    assert response.num_fragments == 1
    sms, report = [m.event for m in await read_n(stream, 2)]
    assert sms.sms_event.id == response.message_id
    assert sms.sms_event.uuid == response.message_id
    assert sms.sms_event.text == "Hello"
    assert sms.sms_event.direction == events_pb2.SmsEvent.FROM_SUBSCRIBER
    assert sms.sms_event.from_e164.e164 == ALICE
    assert sms.sms_event.to_e164.e164 == BOB
    assert sms.owner.phone_number.e164 == ALICE
    delivery = report.sms_delivery_report_event
    assert delivery.sms_id == response.message_id
    assert delivery.status == events_pb2.SmsDeliveryReportEvent.DELIVERED
    assert delivery.direction == events_pb2.SmsDeliveryReportEvent.FROM_SUBSCRIBER
    assert report.owner.phone_number.e164 == ALICE


async def test_sms_to_self_arrives_both_ways_and_text_addresses_work(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    stream = await client.subscribe(type=[SMS, REPORT])
    stub = sms_pb2_grpc.SmsServiceStub(client.channel)
    long_text = "x" * 2000
    response = await stub.SendTextFromSubscriber(
        sms_pb2.SendTextFromSubscriberRequest(
            content=long_text, from_subscriber=ALICE, to_address=ALICE
        )
    )
    assert response.num_fragments == 14
    events = [m.event for m in await read_n(stream, 3)]
    assert [e.sms_event.direction for e in events[:2]] == [
        events_pb2.SmsEvent.FROM_SUBSCRIBER,
        events_pb2.SmsEvent.TO_SUBSCRIBER,
    ]
    assert events[2].HasField("sms_delivery_report_event")
    await stub.SendTextFromSubscriber(
        sms_pb2.SendTextFromSubscriberRequest(
            content="hi", from_subscriber=ALICE, to_address="Bank"
        )
    )
    sms, report = [m.event for m in await read_n(stream, 2)]
    assert sms.sms_event.to_text_address.text_address == "Bank"
    assert report.sms_delivery_report_event.to_text_address.text_address == "Bank"


@pytest.mark.parametrize(
    ("content", "sender", "to"),
    [("", ALICE, BOB), ("x" * 2001, ALICE, BOB), ("hi", "4791234567", BOB), ("hi", ALICE, "")],
)
async def test_sms_validation(
    sandbox: SandboxServer, connect: Connect, content: str, sender: str, to: str
) -> None:
    stub = sms_pb2_grpc.SmsServiceStub(connect(sandbox).channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SendTextFromSubscriber(
            sms_pb2.SendTextFromSubscriberRequest(
                content=content, from_subscriber=sender, to_address=to
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sandbox.stats["published"] == 0
