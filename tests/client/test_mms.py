"""MMS and texts to a subscriber from a sender, against the sandbox's fakes."""

from __future__ import annotations

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client import (
    ActionError,
    CannotConnectError,
    EventType,
    MissingScopeError,
    MmsPart,
    MmsStatus,
    PartFormat,
    PartKind,
    SendStatus,
    SmsDeliveryReportEvent,
    SmsDirection,
    SmsEvent,
    TokenProvider,
)
from custom_components.wgtwo.client.mms import SendMmsResult
from custom_components.wgtwo.client.proto.wgtwo.mms.v0 import mms_pb2
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .helpers import Recorder, fast_config, running
from .test_actions import actions_for

ALICE = "+46724450024"
BOB = "+4799948352"
PICTURE = MmsPart.of_media(PartFormat.JPEG, b"\xff\xd8" + b"j" * 1000)


async def test_mms_from_a_subscriber_carries_its_parts_in_order(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions = actions_for(auth_sandbox, session)
    sound = MmsPart.of_media(PartFormat.AMR, b"#!AMR\n" + b"a" * 10)
    try:
        result = await actions.send_mms_from_subscriber(
            ALICE, BOB, [MmsPart.of_text("Hi"), PICTURE, sound]
        )
    finally:
        await actions.close()

    assert result.ok
    assert result.status is MmsStatus.OK
    assert result.request_id
    [sent] = auth_sandbox.mms.sent
    assert isinstance(sent, mms_pb2.SendMessageFromSubscriberRequest)
    assert (sent.from_subscriber.e164, sent.to_e164.e164) == (ALICE, BOB)
    assert [c.WhichOneof("content") for c in sent.message_content] == ["text", "image", "audio"]
    assert sent.message_content[1].image.jpg == PICTURE.data
    assert sent.message_content[2].audio.amr == sound.data
    assert auth_sandbox.stats["mms"]["messages"] == [
        {
            "rpc": "from_subscriber",
            "parts": [
                {"kind": "text", "format": "text", "bytes": 2},
                {"kind": "image", "format": "jpg", "bytes": 1002},
                {"kind": "audio", "format": "amr", "bytes": 16},
            ],
            "bytes": 1020,
        }
    ]


@pytest.mark.parametrize(
    ("sender", "field"), [("Home", "from_text_address"), ("+4722334455", "from_e164")]
)
async def test_mms_to_a_subscriber_names_its_sender(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession, sender: str, field: str
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, senders={"Home", "+4722334455"}
    )
    actions = actions_for(server, session)
    try:
        result = await actions.send_mms_to_subscriber(ALICE, sender, [PICTURE])
    finally:
        await actions.close()

    assert result.ok
    [sent] = server.mms.sent
    assert isinstance(sent, mms_pb2.SendMessageToSubscriberRequest)
    assert sent.WhichOneof("from_address") == field
    assert sent.to_subscriber.e164 == ALICE


async def test_the_operator_refuses_an_unapproved_sender_and_an_oversized_message(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions = actions_for(auth_sandbox, session)
    big = MmsPart.of_media(PartFormat.PNG, b"p" * 300_001)
    try:
        unapproved = await actions.send_mms_to_subscriber(ALICE, "Bank", [PICTURE])
        too_big = await actions.send_mms_from_subscriber(ALICE, BOB, [big])
    finally:
        await actions.close()

    assert unapproved.status is MmsStatus.REJECT
    assert not unapproved.ok
    assert unapproved.description == "sender not approved for this product"
    assert too_big.status is MmsStatus.REJECT
    assert "300000" in too_big.description
    assert auth_sandbox.mms.sent == []
    assert auth_sandbox.stats["mms"]["refused"] == 2


async def test_an_mms_needs_a_part_and_each_its_scope(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    only_from = actions_for(auth_sandbox, session, frozenset({"mms.send.from_subscriber"}))
    try:
        with pytest.raises(ActionError) as empty:
            await only_from.send_mms_from_subscriber(ALICE, BOB, [])
        with pytest.raises(MissingScopeError) as missing:
            await only_from.send_mms_to_subscriber(ALICE, "Home", [PICTURE])
    finally:
        await only_from.close()

    assert empty.value.status == "INVALID_ARGUMENT"
    assert missing.value.missing_scopes == {"mms.send.to_subscriber"}
    assert auth_sandbox.mms.sent == []


async def test_a_lost_answer_is_not_sent_again(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    auth_sandbox.mms.fail_after_send = grpc.StatusCode.UNAVAILABLE
    actions = actions_for(auth_sandbox, session)
    try:
        with pytest.raises(CannotConnectError) as lost:
            await actions.send_mms_from_subscriber(ALICE, BOB, [PICTURE])
    finally:
        await actions.close()

    assert lost.value.request_sent
    assert len(auth_sandbox.mms.sent) == 1


def test_an_unknown_status_stays_its_number() -> None:
    response = mms_pb2.SendResponse(request_id="r", status=9)  # type: ignore[arg-type]
    result = SendMmsResult.from_proto(response)

    assert result.status == 9
    assert not result.ok
    assert MmsPart.of_text("ÆØ").size == 4  # bytes, as UTF-8
    assert MmsPart.of_media(PartFormat.WAV, b"RIFF").kind is PartKind.AUDIO


async def test_text_to_a_subscriber_from_a_sender_arrives_with_its_report(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions = actions_for(auth_sandbox, session)
    recorder = Recorder()
    events_provider = TokenProvider(
        session,
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        frozenset({"events.sms.subscribe", "events.sms_delivery_report.subscribe"}),
        token_url=auth_sandbox.token_url,
    )
    config = fast_config(EventType.SMS_EVENT, EventType.SMS_DELIVERY_REPORT_EVENT)
    try:
        async with running(auth_sandbox, config, recorder, token_provider=events_provider):
            result = await actions.send_sms_to_subscriber(ALICE, "Home", "The alarm went off")
            refused = await actions.send_sms_to_subscriber(ALICE, "Bank", "hi")
            await recorder.wait_events(2)
    finally:
        await actions.close()

    assert result.status is SendStatus.OK
    assert refused.status is SendStatus.REJECT
    assert refused.description == "sender not approved for this product"
    sms, report = recorder.events
    assert isinstance(sms, SmsEvent)
    assert sms.sms_id == result.message_id
    assert sms.direction is SmsDirection.TO_SUBSCRIBER
    assert (sms.from_address, sms.to_address, sms.text) == ("Home", ALICE, "The alarm went off")
    assert isinstance(report, SmsDeliveryReportEvent)
    assert report.sms_id == result.message_id
    assert [t.from_address for t in auth_sandbox.sms.to_subscriber] == ["Home"]
    assert auth_sandbox.stats["sms_to_subscriber"] == {"sent": 1, "refused_senders": 1}


async def test_text_to_a_subscriber_is_checked_and_needs_its_scope(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions = actions_for(auth_sandbox, session, frozenset({"sms.text:send_from_subscriber"}))
    try:
        with pytest.raises(ActionError, match="1 to 2000"):
            await actions.send_sms_to_subscriber(ALICE, "Home", "")
        with pytest.raises(MissingScopeError) as missing:
            await actions.send_sms_to_subscriber(ALICE, "Home", "hi")
    finally:
        await actions.close()

    assert missing.value.missing_scopes == {"sms.text:send_to_subscriber"}
    assert auth_sandbox.sms.to_subscriber == []
