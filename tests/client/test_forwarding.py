"""Call forwarding through the client against the sandbox's CallForwardingService."""

from __future__ import annotations

import aiohttp
import pytest

from custom_components.wgtwo.client import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    Endpoint,
    ForwardingMode,
    ForwardingRejectedError,
    MissingScopeError,
    TokenProvider,
    WgtwoActions,
)
from custom_components.wgtwo.client.forwarding import FORWARDING_SCOPES, check_forwarding_response
from custom_components.wgtwo.client.proto.wgtwo.callforward.v0 import callforward_pb2
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .helpers import endpoint_of

ALICE = "+4791234567"
HOME = "+4722334455"
ALL_FORWARDING = frozenset(FORWARDING_SCOPES.values())


def actions_for(
    server: SandboxServer, session: aiohttp.ClientSession, scopes: frozenset[str] = ALL_FORWARDING
) -> tuple[WgtwoActions, TokenProvider]:
    provider = TokenProvider(
        session, TEST_CLIENT_ID, TEST_CLIENT_SECRET, scopes, token_url=server.token_url
    )
    return WgtwoActions(endpoint_of(server), provider, timeout=5.0), provider


def forwarding(server: SandboxServer) -> dict[str, str] | None:
    subscribers: dict[str, dict[str, str]] = server.stats["call_forwarding"]["subscribers"]
    return subscribers.get(ALICE)


async def test_every_mode_reaches_the_operator(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions, _ = actions_for(auth_sandbox, session)
    try:
        await actions.set_call_forwarding(ALICE, ForwardingMode.NUMBER, HOME)
        assert forwarding(auth_sandbox) == {"mode": "unconditional", "to": HOME}
        await actions.set_call_forwarding(ALICE, "conditional", HOME)
        assert forwarding(auth_sandbox) == {
            "mode": "conditional",
            "busy": HOME,
            "no_reply": HOME,
            "unavailable": HOME,
        }
        await actions.set_call_forwarding(ALICE, ForwardingMode.VOICEMAIL)
        assert forwarding(auth_sandbox) == {"mode": "voicemail"}
        await actions.set_call_forwarding(ALICE, ForwardingMode.OFF)
        assert forwarding(auth_sandbox) == {"mode": "disabled"}
    finally:
        await actions.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("+46701234567", "forwarding to international numbers is not allowed"),
        ("+4782012345", "forwarding to premium-rate numbers is not allowed"),
    ],
)
async def test_a_refusal_carries_the_operators_message(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, target: str, message: str
) -> None:
    actions, _ = actions_for(auth_sandbox, session)
    try:
        with pytest.raises(ForwardingRejectedError) as info:
            await actions.set_call_forwarding(ALICE, ForwardingMode.CONDITIONAL, target)
    finally:
        await actions.close()
    assert info.value.server_message == message
    assert info.value.status == "REJECTED"
    assert message in str(info.value)
    assert forwarding(auth_sandbox) is None


async def test_a_malformed_number_is_an_invalid_argument(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions, _ = actions_for(auth_sandbox, session)
    try:
        with pytest.raises(ActionError) as info:
            await actions.set_call_forwarding(ALICE, ForwardingMode.NUMBER, "22334455")
    finally:
        await actions.close()
    assert info.value.status == "INVALID_ARGUMENT"
    assert not isinstance(info.value, ForwardingRejectedError)


@pytest.mark.parametrize(
    ("mode", "number"),
    [
        (ForwardingMode.NUMBER, None),
        (ForwardingMode.CONDITIONAL, ""),
        (ForwardingMode.OFF, HOME),
        (ForwardingMode.VOICEMAIL, HOME),
    ],
)
async def test_the_number_must_match_the_mode_before_anything_is_sent(
    auth_sandbox: SandboxServer,
    session: aiohttp.ClientSession,
    mode: ForwardingMode,
    number: str | None,
) -> None:
    actions, provider = actions_for(auth_sandbox, session)
    try:
        with pytest.raises(ActionError, match="number") as info:
            await actions.set_call_forwarding(ALICE, mode, number)
    finally:
        await actions.close()
    assert info.value.status == "INVALID_ARGUMENT"
    assert provider.requests == 0
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 0


@pytest.mark.parametrize(
    ("mode", "number", "scope"),
    [
        (ForwardingMode.OFF, None, "callforwarding.disable"),
        (ForwardingMode.VOICEMAIL, None, "callforwarding.to_voicemail"),
        (ForwardingMode.NUMBER, HOME, "callforwarding.to_number"),
        (ForwardingMode.CONDITIONAL, HOME, "callforwarding.to_number"),
    ],
)
async def test_each_mode_asks_for_its_scope(
    make_sandbox: MakeSandbox,
    session: aiohttp.ClientSession,
    mode: ForwardingMode,
    number: str | None,
    scope: str,
) -> None:
    # The product may have every scope except the one this mode needs.
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes=ALL_FORWARDING - {scope},
    )
    actions, _ = actions_for(server, session, frozenset({scope}))
    try:
        with pytest.raises(MissingScopeError) as info:
            await actions.set_call_forwarding(ALICE, mode, number)
    finally:
        await actions.close()
    assert info.value.missing_scopes == {scope}
    assert server.stats["call_forwarding"]["requests"] == 0


async def test_a_token_without_the_scope_is_refused_by_name(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    # A client whose token carries another scope: the server's PERMISSION_DENIED names it.
    provider = TokenProvider(
        session,
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        frozenset({"callforwarding.disable"}),
        token_url=auth_sandbox.token_url,
    )
    actions = WgtwoActions(endpoint_of(auth_sandbox), provider)
    try:
        await actions.set_call_forwarding(ALICE, ForwardingMode.OFF)
        with pytest.raises(MissingScopeError) as info:
            await actions.set_call_forwarding(ALICE, ForwardingMode.NUMBER, HOME)
    finally:
        await actions.close()
    assert info.value.missing_scopes == {"callforwarding.to_number"}
    assert forwarding(auth_sandbox) == {"mode": "disabled"}


async def test_a_rejected_token_is_refreshed_once(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions, provider = actions_for(auth_sandbox, session)
    try:
        await actions.set_call_forwarding(ALICE, ForwardingMode.VOICEMAIL)
        auth_sandbox.revoke_tokens()
        await actions.set_call_forwarding(ALICE, ForwardingMode.NUMBER, HOME)
    finally:
        await actions.close()
    assert provider.requests == 2
    assert forwarding(auth_sandbox) == {"mode": "unconditional", "to": HOME}


async def test_no_token_where_one_is_needed_is_an_auth_error(auth_sandbox: SandboxServer) -> None:
    actions = WgtwoActions(endpoint_of(auth_sandbox), None)
    try:
        with pytest.raises(AuthenticationError):
            await actions.set_call_forwarding(ALICE, ForwardingMode.OFF)
    finally:
        await actions.close()


async def test_unreachable_server_is_cannot_connect() -> None:
    actions = WgtwoActions(Endpoint("127.0.0.1", 9, plaintext=True), None, timeout=2.0)
    try:
        with pytest.raises(CannotConnectError) as info:
            await actions.set_call_forwarding(ALICE, ForwardingMode.OFF)
    finally:
        await actions.close()
    # gRPC cannot tell a request that never left from an answer lost on the way back.
    assert info.value.request_sent is True


async def test_an_unreachable_token_endpoint_sent_nothing(sandbox: SandboxServer) -> None:
    async with aiohttp.ClientSession() as session:
        provider = TokenProvider(
            session,
            TEST_CLIENT_ID,
            TEST_CLIENT_SECRET,
            ALL_FORWARDING,
            token_url="http://127.0.0.1:9/oauth2/token",
        )
        actions = WgtwoActions(endpoint_of(sandbox), provider, timeout=2.0)
        try:
            with pytest.raises(CannotConnectError) as info:
                await actions.set_call_forwarding(ALICE, ForwardingMode.OFF)
        finally:
            await actions.close()
    assert info.value.request_sent is False
    assert forwarding(sandbox) is None


def test_an_unknown_status_is_not_taken_for_success() -> None:
    response = callforward_pb2.CallForwardingResponse()
    with pytest.raises(ActionError) as info:
        check_forwarding_response(response)
    assert info.value.status == "UNKNOWN"
    check_forwarding_response(
        callforward_pb2.CallForwardingResponse(
            status=callforward_pb2.CallForwardingResponse.ACCEPTED
        )
    )
    rejected = callforward_pb2.CallForwardingResponse(
        status=callforward_pb2.CallForwardingResponse.REJECTED
    )
    with pytest.raises(ForwardingRejectedError, match="no reason given") as refusal:
        check_forwarding_response(rejected)
    assert refusal.value.server_message == ""
