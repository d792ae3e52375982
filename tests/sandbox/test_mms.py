"""The MMS fake and texts to a subscriber, over raw stubs: events, refusals, validation, stats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.mms.v0 import mms_pb2, mms_pb2_grpc
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2, sms_pb2_grpc
from wgtwo_sandbox import SandboxServer

from .conftest import SMS, Client, read_n

Connect = Callable[..., Client]
ALICE = "+4791234567"
BOB = "+4798765432"
REPORT = events_pb2.EventType.SMS_DELIVERY_REPORT_EVENT


def picture(size: int) -> mms_pb2.MessageContent:
    return mms_pb2.MessageContent(image=mms_pb2.ImageContent(jpg=b"j" * size))


async def test_a_text_to_a_subscriber_is_its_sms_event_from_the_sender_and_a_report(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    stream = await client.subscribe(type=[SMS, REPORT])
    stub = sms_pb2_grpc.SmsServiceStub(client.channel)

    response = await stub.SendTextToSubscriber(
        sms_pb2.SendTextToSubscriberRequest(
            content="Door", to_subscriber=ALICE, from_address="Home"
        )
    )

    assert response.status == sms_pb2.SendMessageResponse.SEND_STATUS_OK
    sms, report = [m.event for m in await read_n(stream, 2)]
    assert sms.owner.phone_number.e164 == ALICE
    assert sms.sms_event.id == response.message_id
    assert sms.sms_event.direction == events_pb2.SmsEvent.TO_SUBSCRIBER
    assert sms.sms_event.from_text_address.text_address == "Home"
    assert sms.sms_event.to_e164.e164 == ALICE
    assert sms.sms_event.text == "Door"
    delivery = report.sms_delivery_report_event
    assert report.owner.phone_number.e164 == ALICE
    assert delivery.sms_id == response.message_id
    assert delivery.direction == events_pb2.SmsDeliveryReportEvent.TO_SUBSCRIBER
    assert delivery.status == events_pb2.SmsDeliveryReportEvent.DELIVERED


async def test_a_text_from_an_unapproved_sender_is_refused_without_events(
    sandbox: SandboxServer, connect: Connect
) -> None:
    stub = sms_pb2_grpc.SmsServiceStub(connect(sandbox).channel)

    response = await stub.SendTextToSubscriber(
        sms_pb2.SendTextToSubscriberRequest(content="hi", to_subscriber=ALICE, from_address="Bank")
    )

    assert response.status == sms_pb2.SendMessageResponse.SEND_STATUS_REJECT
    assert response.description == "sender not approved for this product"
    assert sandbox.stats["published"] == 0
    assert sandbox.stats["sms_to_subscriber"] == {"sent": 0, "refused_senders": 1}


@pytest.mark.parametrize(
    ("content", "to", "sender"),
    [("", ALICE, "Home"), ("hi", "4791234567", "Home"), ("hi", ALICE, "")],
)
async def test_text_to_subscriber_validation(
    sandbox: SandboxServer, connect: Connect, content: str, to: str, sender: str
) -> None:
    stub = sms_pb2_grpc.SmsServiceStub(connect(sandbox).channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SendTextToSubscriber(
            sms_pb2.SendTextToSubscriberRequest(
                content=content, to_subscriber=to, from_address=sender
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_mms_stats_over_http_show_parts_types_and_sizes(
    sandbox: SandboxServer, connect: Connect
) -> None:
    stub = mms_pb2_grpc.MmsServiceStub(connect(sandbox).channel)
    request = mms_pb2.SendMessageToSubscriberRequest(
        message_content=[
            mms_pb2.MessageContent(text=mms_pb2.TextContent(text="Ring")),
            picture(299_996),
        ]
    )
    request.to_subscriber.e164 = ALICE
    request.from_text_address.text_address = "Home"
    accepted = await stub.SendMessageToSubscriber(request)
    request.message_content.append(
        mms_pb2.MessageContent(audio=mms_pb2.AudioContent(wav=b"w"))
    )  # one byte too many
    too_large = await stub.SendMessageToSubscriber(request)

    assert accepted.status == mms_pb2.SendResponse.SEND_OK
    assert too_large.status == mms_pb2.SendResponse.SEND_REJECT
    assert too_large.description == "message too large: 300001 bytes, at most 300000"
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.http_url}/control/stats") as answer,
    ):
        stats = await answer.json()
    assert stats["mms"] == {
        "sent": 1,
        "refused": 1,
        "messages": [
            {
                "rpc": "to_subscriber",
                "parts": [
                    {"kind": "text", "format": "text", "bytes": 4},
                    {"kind": "image", "format": "jpg", "bytes": 299_996},
                ],
                "bytes": 300_000,
            }
        ],
    }


async def test_mms_validation(sandbox: SandboxServer, connect: Connect) -> None:
    stub = mms_pb2_grpc.MmsServiceStub(connect(sandbox).channel)
    no_parts = mms_pb2.SendMessageFromSubscriberRequest()
    no_parts.from_subscriber.e164 = ALICE
    no_parts.to_e164.e164 = BOB
    empty_part = mms_pb2.SendMessageFromSubscriberRequest()
    empty_part.CopyFrom(no_parts)
    empty_part.message_content.append(mms_pb2.MessageContent(image=mms_pb2.ImageContent()))
    bad_number = mms_pb2.SendMessageFromSubscriberRequest(message_content=[picture(1)])
    bad_number.from_subscriber.e164 = "4791234567"
    bad_number.to_e164.e164 = BOB
    no_sender = mms_pb2.SendMessageToSubscriberRequest(message_content=[picture(1)])
    no_sender.to_subscriber.e164 = ALICE
    no_subscriber = mms_pb2.SendMessageToSubscriberRequest(message_content=[picture(1)])
    no_subscriber.from_text_address.text_address = "Home"
    calls: list[Awaitable[mms_pb2.SendResponse]] = [
        stub.SendMessageFromSubscriber(no_parts),
        stub.SendMessageFromSubscriber(empty_part),
        stub.SendMessageFromSubscriber(bad_number),
        stub.SendMessageToSubscriber(no_sender),
        stub.SendMessageToSubscriber(no_subscriber),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sandbox.mms.sent == []
