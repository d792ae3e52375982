"""OAuth2 token endpoint and bearer-token checks on every gRPC service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2, sms_pb2_grpc
from custom_components.wgtwo.client.proto.wgtwo.voicemail.v0 import (
    voicemail_pb2,
    voicemail_pb2_grpc,
)
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import SMS, VOICE, Client, basic_auth, read, voice

Connect = Callable[..., Client]
VOICE_SCOPE = "events.voice.subscribe"
SMS_SCOPE = "events.sms.subscribe"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def request_token(
    session: aiohttp.ClientSession,
    server: SandboxServer,
    scope: str,
    client_id: str = TEST_CLIENT_ID,
    secret: str = TEST_CLIENT_SECRET,
) -> tuple[int, dict[str, Any]]:
    async with session.post(
        server.token_url,
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": basic_auth(client_id, secret)},
    ) as response:
        return response.status, await response.json()


async def token(session: aiohttp.ClientSession, server: SandboxServer, scope: str) -> str:
    status, body = await request_token(session, server, scope)
    assert status == 200, body
    return str(body["access_token"])


def bearer(value: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {value}"),)


async def status_of(client: Client, metadata: Any, **request: Any) -> grpc.StatusCode:
    stream = await client.subscribe(metadata=metadata, **request)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(stream)
    return err.value.code()


async def test_token_endpoint_issues_bearer_tokens(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    status, body = await request_token(session, auth_sandbox, f"{VOICE_SCOPE} {SMS_SCOPE}")
    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split()) == {VOICE_SCOPE, SMS_SCOPE}
    assert len(body["access_token"]) > 20
    assert auth_sandbox.stats["tokens_issued"] == 1


async def test_token_ttl_is_configurable(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(client_id="a", client_secret="b", token_ttl=0.5)
    status, body = await request_token(session, server, VOICE_SCOPE, "a", "b")
    assert status == 200
    assert body["expires_in"] == 0.5


async def test_bad_credentials_are_refused(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    status, body = await request_token(session, auth_sandbox, VOICE_SCOPE, secret="wrong")
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await request_token(session, auth_sandbox, VOICE_SCOPE, client_id="other")
    assert (status, body["error"]) == (401, "invalid_client")
    async with session.post(
        auth_sandbox.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic !!!"},
    ) as response:
        assert response.status == 401


async def test_client_credentials_in_the_form_and_wrong_grant_type(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    form = {"client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET, "scope": ""}
    async with session.post(
        auth_sandbox.token_url, data={**form, "grant_type": "client_credentials"}
    ) as response:
        body = await response.json()
        assert response.status == 200
        assert VOICE_SCOPE in body["scope"].split()  # no scope asked: all granted ones
    async with session.post(
        auth_sandbox.token_url, data={**form, "grant_type": "password"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"


async def test_scope_not_granted_is_invalid_scope(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, granted_scopes={VOICE_SCOPE}
    )
    status, body = await request_token(session, server, f"{VOICE_SCOPE} {SMS_SCOPE}")
    assert (status, body["error"]) == (400, "invalid_scope")
    assert SMS_SCOPE in body["error_description"]
    status, _ = await request_token(session, server, VOICE_SCOPE)
    assert status == 200


async def test_no_credentials_sandbox_refuses_tokens(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    status, body = await request_token(session, sandbox, VOICE_SCOPE)
    assert (status, body["error"]) == (401, "invalid_client")


async def test_stream_needs_a_valid_token(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    client = connect(auth_sandbox)
    assert await status_of(client, None) == grpc.StatusCode.UNAUTHENTICATED
    assert await status_of(client, bearer("bogus")) == grpc.StatusCode.UNAUTHENTICATED
    basic = (("authorization", "Basic abc"),)
    assert await status_of(client, basic) == grpc.StatusCode.UNAUTHENTICATED
    good = await token(session, auth_sandbox, VOICE_SCOPE)
    stream = await client.subscribe(metadata=bearer(good), type=[VOICE])
    await auth_sandbox.publish([voice("1")])
    assert (await read(stream)).event.voice_event.call_id == "1"


async def test_missing_scope_is_permission_denied_naming_it(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    client = connect(auth_sandbox)
    only_voice = await token(session, auth_sandbox, VOICE_SCOPE)
    stream = await client.subscribe(metadata=bearer(only_voice), type=[VOICE, SMS])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(stream)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert err.value.details() == f"missing scopes: {SMS_SCOPE}"


async def test_consent_revoke_needs_no_scope(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    client = connect(auth_sandbox)
    nothing = await token(session, auth_sandbox, VOICE_SCOPE)
    consent = events_pb2.EventType.CONSENT_REVOKE_EVENT
    stream = await client.subscribe(metadata=bearer(nothing), type=[consent])
    await auth_sandbox.publish([{"event": {"consentRevokeEvent": {"msisdn": {"e164": "+47"}}}}])
    assert (await read(stream)).event.HasField("consent_revoke_event")


@pytest.mark.parametrize("fault", ["expire", "revoke"])
async def test_expired_and_revoked_tokens(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect, fault: str
) -> None:
    client = connect(auth_sandbox)
    value = await token(session, auth_sandbox, VOICE_SCOPE)
    open_stream = await client.subscribe(metadata=bearer(value))
    if fault == "expire":
        auth_sandbox.expire_tokens()
    else:
        auth_sandbox.revoke_tokens()
    assert await status_of(client, bearer(value)) == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await client.stub.Ack(
            events_pb2.AckRequest(inbox="_INBOX.x", sequence=1), metadata=bearer(value)
        )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Streams already open keep running (tokens are checked when a call starts).
    await auth_sandbox.publish([voice("still")])
    assert (await read(open_stream)).event.voice_event.call_id == "still"
    fresh = await token(session, auth_sandbox, VOICE_SCOPE)
    await client.subscribe(metadata=bearer(fresh))


async def test_token_lifetime_runs_out(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession, connect: Connect
) -> None:
    server = await make_sandbox(client_id="a", client_secret="b", token_ttl=0.2)
    status, body = await request_token(session, server, VOICE_SCOPE, "a", "b")
    assert status == 200
    await asyncio.sleep(0.3)
    assert await status_of(connect(server), bearer(body["access_token"])) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


async def test_open_sandbox_rejects_a_bogus_token(sandbox: SandboxServer, connect: Connect) -> None:
    client = connect(sandbox)
    assert await status_of(client, bearer("bogus")) == grpc.StatusCode.UNAUTHENTICATED
    await client.subscribe()  # and no token at all is fine


async def test_actions_check_their_scopes(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    channel = connect(auth_sandbox).channel
    voicemail = voicemail_pb2_grpc.VoicemailMediaServiceStub(channel)
    sms = sms_pb2_grpc.SmsServiceStub(channel)
    get_only = bearer(await token(session, auth_sandbox, "voicemail.get"))
    calls: list[Awaitable[Any]] = [
        voicemail.GetVoicemail(
            voicemail_pb2.GetVoicemailRequest(voicemail_id="x"), metadata=get_only
        ),
        voicemail.GetAllVoicemailMetadata(
            voicemail_pb2.GetAllVoicemailMetadataRequest(), metadata=get_only
        ),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await calls[0]
    assert err.value.code() == grpc.StatusCode.NOT_FOUND  # allowed, just unknown
    assert list((await calls[1]).metadata) == []
    checks: list[tuple[Awaitable[Any], str]] = [
        (
            voicemail.MarkVoicemailAsRead(
                voicemail_pb2.MarkVoicemailAsReadRequest(voicemail_id="x"), metadata=get_only
            ),
            "voicemail.update",
        ),
        (
            voicemail.DeleteVoicemail(
                voicemail_pb2.DeleteVoicemailRequest(voicemail_id="x"), metadata=get_only
            ),
            "voicemail.delete",
        ),
        (
            sms.SendTextFromSubscriber(
                sms_pb2.SendTextFromSubscriberRequest(
                    content="hi", from_subscriber="+4791234567", to_address="+4798765432"
                ),
                metadata=get_only,
            ),
            "sms.text:send_from_subscriber",
        ),
    ]
    for call, scope in checks:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert scope in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await sms.SendTextFromSubscriber(sms_pb2.SendTextFromSubscriberRequest(content="hi"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
