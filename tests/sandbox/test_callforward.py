"""The call forwarding fake: per-subscriber state, scopes and the operator's refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp
import grpc
import pytest
from google.protobuf.empty_pb2 import Empty
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from custom_components.wgtwo.client.proto.wgtwo.callforward.v0 import (
    callforward_pb2 as cf,
    callforward_pb2_grpc,
)
from custom_components.wgtwo.client.proto.wgtwo.common.v0.phonenumber_pb2 import PhoneNumber
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.callforward_service import UNKNOWN_STATUS, calling_code

from .conftest import Client

Connect = Callable[..., Client]
if TYPE_CHECKING:
    Stub = callforward_pb2_grpc.CallForwardingServiceAsyncStub
ALICE = "+4791234567"
HOME = "+4722334455"
ACCEPTED = cf.CallForwardingResponse.ACCEPTED
REJECTED = cf.CallForwardingResponse.REJECTED


def stub_for(server: SandboxServer, connect: Connect) -> Stub:
    return callforward_pb2_grpc.CallForwardingServiceStub(connect(server).channel)


def metadata(server: SandboxServer, *scopes: str) -> tuple[tuple[str, str], ...]:
    token, _ = server.authority.issue(
        TEST_CLIENT_ID, TEST_CLIENT_SECRET, "client_credentials", " ".join(scopes)
    )
    return (("authorization", f"Bearer {token}"),)


def to_number(target: str, subscriber: str = ALICE) -> cf.NumberCallForwardingRequest:
    return cf.NumberCallForwardingRequest(
        subscriber=PhoneNumber(e164=subscriber),
        unconditional=cf.Unconditional(forward_to_number=PhoneNumber(e164=target)),
    )


def state(server: SandboxServer) -> dict[str, dict[str, str]]:
    subscribers: dict[str, dict[str, str]] = server.stats["call_forwarding"]["subscribers"]
    return subscribers


async def test_each_mode_changes_the_subscribers_state(
    sandbox: SandboxServer, connect: Connect
) -> None:
    stub = stub_for(sandbox, connect)
    assert state(sandbox) == {}
    response = await stub.SetToNumber(to_number(HOME))
    assert response.status == ACCEPTED
    assert state(sandbox) == {ALICE: {"mode": "unconditional", "to": HOME}}

    conditional = cf.NumberCallForwardingRequest(
        subscriber=PhoneNumber(e164=ALICE),
        conditional=cf.Conditional(busy=PhoneNumber(e164=HOME), no_reply=PhoneNumber(e164=HOME)),
    )
    assert (await stub.SetToNumber(conditional)).status == ACCEPTED
    assert state(sandbox)[ALICE] == {"mode": "conditional", "busy": HOME, "no_reply": HOME}

    voicemail = cf.VoicemailCallForwardingRequest(
        subscriber=PhoneNumber(e164=ALICE), default=Empty()
    )
    assert (await stub.SetToVoicemail(voicemail)).status == ACCEPTED
    assert state(sandbox)[ALICE] == {"mode": "voicemail"}

    to_box = cf.VoicemailCallForwardingRequest(
        subscriber=PhoneNumber(e164=ALICE), phone_number=PhoneNumber(e164="+4722000000")
    )
    assert (await stub.SetToVoicemail(to_box)).status == ACCEPTED
    assert state(sandbox)[ALICE] == {"mode": "voicemail", "to": "+4722000000"}

    disable = cf.DisableCallForwardingRequest(subscriber=PhoneNumber(e164=ALICE))
    assert (await stub.Disable(disable)).status == ACCEPTED
    assert state(sandbox) == {ALICE: {"mode": "disabled"}}
    assert sandbox.stats["call_forwarding"]["requests"] == 5
    assert sandbox.stats["call_forwarding"]["rejected"] == 0


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("+46701234567", "forwarding to international numbers is not allowed"),
        ("+12025550100", "forwarding to international numbers is not allowed"),
        ("+4782012345", "forwarding to premium-rate numbers is not allowed"),
        ("+4782912345", "forwarding to premium-rate numbers is not allowed"),
        (ALICE, "cannot forward a subscriber to itself"),
    ],
)
async def test_refused_targets_are_rejected_and_change_nothing(
    sandbox: SandboxServer, connect: Connect, target: str, reason: str
) -> None:
    stub = stub_for(sandbox, connect)
    assert (await stub.SetToNumber(to_number(HOME))).status == ACCEPTED
    response = await stub.SetToNumber(to_number(target))
    assert response.status == REJECTED
    assert response.error_message == reason
    conditional = cf.NumberCallForwardingRequest(
        subscriber=PhoneNumber(e164=ALICE),
        conditional=cf.Conditional(
            busy=PhoneNumber(e164=HOME), unavailable=PhoneNumber(e164=target)
        ),
    )
    assert (await stub.SetToNumber(conditional)).error_message == reason
    assert state(sandbox) == {ALICE: {"mode": "unconditional", "to": HOME}}
    assert sandbox.stats["call_forwarding"]["rejected"] == 2


async def test_premium_rule_applies_only_to_its_prefixes(
    sandbox: SandboxServer, connect: Connect
) -> None:
    stub = stub_for(sandbox, connect)
    # 830 is an ordinary Norwegian number, +46900 premium only in Sweden.
    assert (await stub.SetToNumber(to_number("+4783012345"))).status == ACCEPTED
    swede = "+46701234567"
    assert (await stub.SetToNumber(to_number("+46900123456", swede))).status == REJECTED
    assert (await stub.SetToNumber(to_number("+46812345678", swede))).status == ACCEPTED
    us = "+12025550100"
    assert (await stub.SetToNumber(to_number("+19005550100", us))).status == REJECTED
    assert (await stub.SetToNumber(to_number("+13105550100", us))).status == ACCEPTED


async def test_a_lost_answer_after_the_forwarding_was_carried_out(
    sandbox: SandboxServer, connect: Connect
) -> None:
    """The fault hook: each queued fault hits one request, after the request took effect."""
    stub = stub_for(sandbox, connect)
    sandbox.forwarding.fail_after_apply = [grpc.StatusCode.DEADLINE_EXCEEDED, UNKNOWN_STATUS]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SetToNumber(to_number(HOME))
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert state(sandbox) == {ALICE: {"mode": "unconditional", "to": HOME}}
    disable = cf.DisableCallForwardingRequest(subscriber=PhoneNumber(e164=ALICE))
    assert (await stub.Disable(disable)).status == cf.CallForwardingResponse.UNKNOWN
    assert state(sandbox) == {ALICE: {"mode": "disabled"}}
    # The queue is empty again: answers are back to normal.
    assert (await stub.SetToNumber(to_number(HOME))).status == ACCEPTED
    assert sandbox.forwarding.fail_after_apply == []


def test_calling_codes_follow_the_e164_assignment() -> None:
    assert calling_code("+12025550100") == "1"
    assert calling_code("+79161234567") == "7"
    assert calling_code("+4791234567") == "47"
    assert calling_code("+358401234567") == "358"
    assert calling_code("+35312345678") == "353"


@pytest.mark.parametrize(
    "request_",
    [
        to_number("004722334455"),
        to_number("+47"),
        to_number(HOME, subscriber="91234567"),
        cf.NumberCallForwardingRequest(subscriber=PhoneNumber(e164=ALICE)),
        cf.NumberCallForwardingRequest(
            subscriber=PhoneNumber(e164=ALICE), conditional=cf.Conditional()
        ),
    ],
)
async def test_malformed_requests_are_invalid_arguments(
    sandbox: SandboxServer, connect: Connect, request_: cf.NumberCallForwardingRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub_for(sandbox, connect).SetToNumber(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert state(sandbox) == {}


async def test_voicemail_number_is_checked_like_a_target(
    sandbox: SandboxServer, connect: Connect
) -> None:
    request = cf.VoicemailCallForwardingRequest(
        subscriber=PhoneNumber(e164=ALICE), phone_number=PhoneNumber(e164="+46701234567")
    )
    response = await stub_for(sandbox, connect).SetToVoicemail(request)
    assert response.status == REJECTED
    assert state(sandbox) == {}


async def test_trunks_are_refused(sandbox: SandboxServer, connect: Connect) -> None:
    request = cf.TrunkCallForwardingRequest(
        subscriber=PhoneNumber(e164=ALICE),
        unconditional_trunk_forwarding=cf.UnconditionalTrunkForwarding(
            forward_to_trunk=cf.Trunk(id="pbx")
        ),
    )
    response = await stub_for(sandbox, connect).SetToTrunk(request)
    assert response.status == REJECTED
    assert response.error_message == "no trunk is configured for this product"


async def test_each_rpc_needs_its_own_scope(auth_sandbox: SandboxServer, connect: Connect) -> None:
    stub = stub_for(auth_sandbox, connect)
    md = metadata(auth_sandbox, "callforwarding.to_voicemail")
    disable = cf.DisableCallForwardingRequest(subscriber=PhoneNumber(e164=ALICE))
    voicemail = cf.VoicemailCallForwardingRequest(
        subscriber=PhoneNumber(e164=ALICE), default=Empty()
    )
    assert (await stub.SetToVoicemail(voicemail, metadata=md)).status == ACCEPTED
    refused = await _error(stub.Disable(disable, metadata=md))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "callforwarding.disable" in str(refused.details())
    refused = await _error(stub.SetToNumber(to_number(HOME), metadata=md))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "callforwarding.to_number" in str(refused.details())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Disable(disable)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert state(auth_sandbox) == {ALICE: {"mode": "voicemail"}}
    md_all = metadata(auth_sandbox, "callforwarding.disable", "callforwarding.to_number")
    assert (await stub.Disable(disable, metadata=md_all)).status == ACCEPTED
    assert (await stub.SetToNumber(to_number(HOME), metadata=md_all)).status == ACCEPTED


async def _error(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err
    raise AssertionError("the call succeeded")


async def test_state_shows_in_control_stats_and_reflection(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    await callforward_pb2_grpc.CallForwardingServiceStub(client.channel).SetToNumber(
        to_number(HOME)
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.http_url}/control/stats") as response,
    ):
        stats = await response.json()
    assert stats["call_forwarding"]["subscribers"] == {ALICE: {"mode": "unconditional", "to": HOME}}
    reflection = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    responses = [r async for r in reflection.ServerReflectionInfo(iter([request]))]
    names = {s.name for s in responses[0].list_services_response.service}
    assert "wgtwo.callforward.v0.CallForwardingService" in names
