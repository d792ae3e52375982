"""Voicemail and SMS calls against the sandbox's fakes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from custom_components.wgtwo.client import (
    ACTION_SCOPES,
    ActionError,
    AuthenticationError,
    CannotConnectError,
    Endpoint,
    EventType,
    MissingScopeError,
    SendStatus,
    SmsDeliveryReportEvent,
    SmsEvent,
    TokenProvider,
    VoicemailInfo,
    WgtwoActions,
)
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .helpers import Recorder, endpoint_of, fast_config, publish, running


def actions_for(
    server: SandboxServer, session: aiohttp.ClientSession, scopes: frozenset[str] = ACTION_SCOPES
) -> WgtwoActions:
    provider = TokenProvider(
        session, TEST_CLIENT_ID, TEST_CLIENT_SECRET, scopes, token_url=server.token_url
    )
    return WgtwoActions(endpoint_of(server), provider, timeout=5.0)


async def test_get_mark_and_delete_a_voicemail(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    await publish(auth_sandbox, "voicemail")
    actions = actions_for(auth_sandbox, session)
    try:
        voicemail = await actions.get_voicemail("vm-1")
        assert voicemail.voicemail_id == "vm-1"
        assert voicemail.from_number == "+4799948352"
        assert voicemail.to_number == "+46724450024"
        held = auth_sandbox.voicemails.voicemails["vm-1"]
        assert voicemail.wav == held.wav
        assert voicemail.wav.startswith(b"RIFF")
        assert voicemail.played is False
        assert voicemail.duration == timedelta(seconds=held.seconds)
        assert voicemail.created is not None
        assert voicemail.expires is not None
        assert voicemail.expires - voicemail.created == timedelta(days=7)
        await actions.mark_voicemail_read("vm-1")
        assert (await actions.get_voicemail("vm-1")).played is True
        await actions.delete_voicemail("vm-1")
        with pytest.raises(ActionError) as info:
            await actions.get_voicemail("vm-1")
        assert info.value.not_found
        assert info.value.status == "NOT_FOUND"
        with pytest.raises(ActionError) as bad:
            await actions.delete_voicemail("")
        assert bad.value.status == "INVALID_ARGUMENT"
        assert not bad.value.not_found
    finally:
        await actions.close()
        await actions.close()


def _voicemail(voicemail_id: str, to_number: str) -> dict[str, Any]:
    return {
        "event": {
            "voicemailEvent": {
                "voicemailId": voicemail_id,
                "type": "NEW_VOICEMAIL",
                "fromNumber": {"e164": "+4799948352"},
                "toNumber": {"e164": to_number},
            }
        }
    }


async def test_list_voicemails_of_one_subscriber_without_audio(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    await auth_sandbox.publish(
        [
            _voicemail("vm-1", "+46724450024"),
            _voicemail("vm-2", "+46724450024"),
            _voicemail("vm-other", "+4711111111"),
        ]
    )
    auth_sandbox.voicemails.apply_change("vm-2", played=True, deleted=False)  # heard on the phone
    actions = actions_for(auth_sandbox, session, scopes=frozenset({"voicemail.get"}))
    try:
        listed = await actions.list_voicemails("+46724450024")
        assert await actions.list_voicemails("+4700000000") == []
    finally:
        await actions.close()
    assert [type(info) for info in listed] == [VoicemailInfo, VoicemailInfo]
    by_id = {info.voicemail_id: info for info in listed}
    assert set(by_id) == {"vm-1", "vm-2"}
    assert (by_id["vm-1"].played, by_id["vm-2"].played) == (False, True)
    first = by_id["vm-1"]
    assert first.from_number == "+4799948352"
    assert first.to_number == "+46724450024"
    assert first.duration == timedelta(seconds=auth_sandbox.voicemails.voicemails["vm-1"].seconds)
    assert first.created is not None
    assert first.expires == first.created + timedelta(days=7)


async def test_listing_voicemails_needs_voicemail_get(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions = actions_for(auth_sandbox, session, scopes=frozenset({"voicemail.delete"}))
    try:
        with pytest.raises(MissingScopeError) as info:
            await actions.list_voicemails("+46724450024")
    finally:
        await actions.close()
    assert info.value.missing_scopes == {"voicemail.get"}


async def test_send_sms_produces_events(
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
            result = await actions.send_sms(
                "+46724450024", "+4799948352", "hello", delivery_deadline=timedelta(hours=1)
            )
            await recorder.wait_events(2)
    finally:
        await actions.close()
    assert result.ok
    assert result.status is SendStatus.OK
    assert result.message_id
    assert result.num_fragments == 1
    sms, report = recorder.events
    assert isinstance(sms, SmsEvent)
    assert sms.text == "hello"
    assert isinstance(report, SmsDeliveryReportEvent)
    assert report.sms_id == sms.sms_id


async def test_sms_content_is_checked_before_sending(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions = actions_for(auth_sandbox, session)
    try:
        with pytest.raises(ActionError, match="1 to 2000"):
            await actions.send_sms("+46724450024", "+4799948352", "")
        with pytest.raises(ActionError, match="1 to 2000"):
            await actions.send_sms("+46724450024", "+4799948352", "x" * 2001)
    finally:
        await actions.close()


async def test_missing_action_scope_is_named(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    actions = actions_for(auth_sandbox, session, scopes=frozenset({"voicemail.get"}))
    await publish(auth_sandbox, "voicemail")
    try:
        await actions.get_voicemail("vm-1")
        with pytest.raises(MissingScopeError) as info:
            await actions.delete_voicemail("vm-1")
    finally:
        await actions.close()
    assert info.value.missing_scopes == {"voicemail.delete"}


async def test_rejected_token_is_refreshed_once(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = TokenProvider(
        session, TEST_CLIENT_ID, TEST_CLIENT_SECRET, ACTION_SCOPES, token_url=auth_sandbox.token_url
    )
    actions = WgtwoActions(endpoint_of(auth_sandbox), provider)
    await publish(auth_sandbox, "voicemail")
    try:
        await actions.mark_voicemail_read("vm-1")
        auth_sandbox.revoke_tokens()
        await actions.mark_voicemail_read("vm-1")
    finally:
        await actions.close()
    assert provider.requests == 2


async def test_tokens_rejected_twice_raise_authentication_error(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, token_ttl=0.0
    )
    actions = actions_for(server, session)
    try:
        with pytest.raises(AuthenticationError):
            await actions.mark_voicemail_read("vm-1")
    finally:
        await actions.close()


async def test_no_token_where_one_is_needed_is_an_auth_error(auth_sandbox: SandboxServer) -> None:
    actions = WgtwoActions(endpoint_of(auth_sandbox), None)
    try:
        with pytest.raises(AuthenticationError):
            await actions.get_voicemail("vm-1")
    finally:
        await actions.close()


async def test_unreachable_server_is_cannot_connect() -> None:
    actions = WgtwoActions(Endpoint("127.0.0.1", 9, plaintext=True), None, timeout=2.0)
    try:
        with pytest.raises(CannotConnectError):
            await actions.get_voicemail("vm-1")
    finally:
        await actions.close()


async def test_without_auth_sandbox_actions_work_without_token(sandbox: SandboxServer) -> None:
    await publish(sandbox, "voicemail")
    actions = WgtwoActions(endpoint_of(sandbox), None)
    try:
        await actions.mark_voicemail_read("vm-1")
        assert (await actions.get_voicemail("vm-1")).played
    finally:
        await actions.close()
