"""scripts/wgtwo, run in-process against the sandbox over loopback (plus one real --help)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from custom_components.wgtwo.client import DEFAULT_TOKEN_URL
from custom_components.wgtwo.client.consents import SCOPE_SUBSCRIPTION_ID
from custom_components.wgtwo.client.event_types import (
    SCOPE_FORWARD_DISABLE,
    SCOPE_FORWARD_TO_NUMBER,
    SCOPE_FORWARD_TO_VOICEMAIL,
    SCOPE_MMS_FROM_SUBSCRIBER,
    SCOPE_MMS_TO_SUBSCRIBER,
    SCOPE_SMS_SEND,
    SCOPE_SMS_TO_SUBSCRIBER,
    SCOPE_VOICEMAIL_GET,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.mms.v0 import mms_pb2
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2
from tests.client.helpers import publish, publish_voice, wait_for
from tests.client.samples import sample_json
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox, free_port
from tools import wgtwo
from wgtwo_sandbox import SandboxServer

REPO = Path(__file__).resolve().parents[2]
SUBSCRIBER = "+46724450024"  # the samples' owner
CALLER = "+4799948352"


@dataclass
class Result:
    """What one run printed and returned."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]

    @property
    def line(self) -> dict[str, Any]:
        [line] = self.lines
        return line

    @property
    def error(self) -> str:
        """The one error line (asserting there is exactly one line on stderr)."""
        assert self.err.endswith("\n")
        [line] = self.err.splitlines()
        return line


async def run(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.wait_for(wgtwo.async_main(list(argv), stdout=out, stderr=err), 20)
    return Result(code, out.getvalue(), err.getvalue())


def on(server: SandboxServer, *, secret: str = TEST_CLIENT_SECRET) -> list[str]:
    """The common flags for a sandbox with credentials."""
    return [
        "--target", server.grpc_target, "--plaintext", "--token-url", server.token_url,
        "--client-id", TEST_CLIENT_ID, "--client-secret", secret,
    ]  # fmt: skip


def requested_scopes(server: SandboxServer) -> set[frozenset[str]]:
    """The scope sets of every token the sandbox issued."""
    return {token.scopes for token in server.authority.tokens.values()}


def published_sms(server: SandboxServer) -> list[events_pb2.SmsEvent]:
    """SMS events the sandbox published (the fake sends one per text it accepted)."""
    events = [events_pb2.Event.FromString(stored.body) for stored in server.broker.history]
    return [event.sms_event for event in events if event.HasField("sms_event")]


async def sandbox_granting(make_sandbox: MakeSandbox, *scopes: str) -> SandboxServer:
    return await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, granted_scopes=set(scopes)
    )


# --- send-sms --------------------------------------------------------------------------


async def test_send_sms_prints_the_answer_and_sends_once(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_SMS_SEND)  # nothing more
    result = await run(
        "send-sms", *on(server), "--from", SUBSCRIBER, "--to", CALLER, "--text", "hello"
    )
    assert result.code == wgtwo.EXIT_OK, result.err
    assert result.err == ""
    answer = result.line
    assert answer == {
        "message_id": answer["message_id"],
        "status": "ok",
        "description": "accepted",
        "num_fragments": 1,
    }
    [sms] = published_sms(server)
    assert sms.id == answer["message_id"]
    assert (sms.from_e164.e164, sms.to_e164.e164, sms.text) == (SUBSCRIBER, CALLER, "hello")
    assert requested_scopes(server) == {frozenset({SCOPE_SMS_SEND})}


async def test_send_sms_without_credentials_and_fragments(sandbox: SandboxServer) -> None:
    text = "x" * 300
    result = await run(
        "send-sms", "--target", sandbox.grpc_target, "--plaintext", "--client-id", "",
        "--client-secret", "", "--from", SUBSCRIBER, "--to", "HomeBank", "--text", text,
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_OK, result.err
    assert result.line["num_fragments"] == 2
    [sms] = published_sms(sandbox)
    assert sms.to_text_address.text_address == "HomeBank"


async def test_send_sms_rejected_by_the_server(auth_sandbox: SandboxServer) -> None:
    result = await run(
        "send-sms", *on(auth_sandbox), "--from", "0724450024", "--to", CALLER, "--text", "hi"
    )
    assert result.code == wgtwo.EXIT_REJECTED
    assert result.out == ""
    assert result.error == "wgtwo send-sms: error: SMS rejected by the server (INVALID_ARGUMENT)"
    assert published_sms(auth_sandbox) == []


async def test_send_sms_refused_in_the_answer(auth_sandbox: SandboxServer) -> None:
    reject = sms_pb2.SendMessageResponse.SEND_STATUS_REJECT
    auth_sandbox.sms.refuse_with = (reject, "recipient blocked")
    result = await run(
        "send-sms", *on(auth_sandbox), "--from", SUBSCRIBER, "--to", CALLER, "--text", "a"
    )
    assert result.code == wgtwo.EXIT_REJECTED
    assert result.out == ""
    assert result.error == "wgtwo send-sms: error: SMS not sent (reject): recipient blocked"
    auth_sandbox.sms.refuse_with = (sms_pb2.SendMessageResponse.SEND_STATUS_ERROR, "")
    error = await run(
        "send-sms", *on(auth_sandbox), "--from", SUBSCRIBER, "--to", CALLER, "--text", "a"
    )
    assert error.code == wgtwo.EXIT_REJECTED
    assert error.error == "wgtwo send-sms: error: SMS not sent (error)"
    assert auth_sandbox.sms.sent == []


@pytest.mark.parametrize(
    ("code", "exit_code", "message"),
    [
        (
            grpc.StatusCode.UNAVAILABLE,
            wgtwo.EXIT_UNREACHABLE,
            "cannot reach {target} (UNAVAILABLE); the SMS may have been sent, not retried",
        ),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            wgtwo.EXIT_UNREACHABLE,
            "cannot reach {target} (DEADLINE_EXCEEDED); the SMS may have been sent, not retried",
        ),
        (
            grpc.StatusCode.INTERNAL,
            wgtwo.EXIT_ERROR,
            "SMS failed (INTERNAL); it may have been sent, not retried",
        ),
    ],
)
async def test_a_send_failing_after_the_server_sent_it_is_not_repeated(
    auth_sandbox: SandboxServer, code: grpc.StatusCode, exit_code: int, message: str
) -> None:
    auth_sandbox.sms.fail_after_send = code
    result = await run(
        "send-sms", *on(auth_sandbox), "--from", SUBSCRIBER, "--to", CALLER, "--text", "once"
    )
    assert result.code == exit_code
    assert result.out == ""
    expected = message.format(target=auth_sandbox.grpc_target)
    assert result.error == f"wgtwo send-sms: error: {expected}"
    assert [request.content for request in auth_sandbox.sms.sent] == ["once"]
    assert len(published_sms(auth_sandbox)) == 1


async def test_send_sms_missing_scope(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_VOICEMAIL_GET)
    result = await run("send-sms", *on(server), "--from", SUBSCRIBER, "--to", CALLER, "--text", "a")
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.error == "wgtwo send-sms: error: missing scope(s): " + SCOPE_SMS_SEND
    assert published_sms(server) == []


async def test_send_sms_rejected_credentials(auth_sandbox: SandboxServer) -> None:
    result = await run(
        "send-sms", *on(auth_sandbox, secret="wrong-secret"), "--from", SUBSCRIBER,
        "--to", CALLER, "--text", "a",
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_AUTH
    assert result.error == (
        "wgtwo send-sms: error: authentication failed: "
        "client credentials rejected by the token endpoint (invalid_client)"
    )
    assert "wrong-secret" not in result.err


async def test_send_sms_cannot_connect_is_not_retried(socket_enabled: None) -> None:
    port = free_port()
    result = await run(
        "send-sms", "--target", f"127.0.0.1:{port}", "--plaintext", "--client-id", "",
        "--from", SUBSCRIBER, "--to", CALLER, "--text", "a",
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_UNREACHABLE
    assert result.error == (
        f"wgtwo send-sms: error: cannot reach 127.0.0.1:{port} (UNAVAILABLE); "
        "the SMS may have been sent, not retried"
    )


async def test_token_endpoint_unreachable(auth_sandbox: SandboxServer) -> None:
    token_url = f"http://127.0.0.1:{free_port()}/oauth2/token"
    result = await run(
        "send-sms", "--target", auth_sandbox.grpc_target, "--plaintext", "--token-url",
        token_url, "--client-id", TEST_CLIENT_ID, "--client-secret", TEST_CLIENT_SECRET,
        "--from", SUBSCRIBER, "--to", CALLER, "--text", "a",
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_UNREACHABLE
    assert result.error.startswith("wgtwo send-sms: error: token endpoint unreachable")
    assert published_sms(auth_sandbox) == []


async def test_send_sms_to_a_subscriber_from_a_sender_name(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_SMS_TO_SUBSCRIBER)  # nothing more
    result = await run(
        "send-sms", *on(server), "--to-subscriber", SUBSCRIBER, "--from-address", "Home",
        "--text", "The alarm went off",
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_OK, result.err
    assert result.line["status"] == "ok"
    [sms] = published_sms(server)
    assert sms.id == result.line["message_id"]
    assert (sms.from_text_address.text_address, sms.to_e164.e164) == ("Home", SUBSCRIBER)
    assert sms.direction == events_pb2.SmsEvent.TO_SUBSCRIBER
    assert requested_scopes(server) == {frozenset({SCOPE_SMS_TO_SUBSCRIBER})}

    unapproved = await run(
        "send-sms", *on(server), "--to-subscriber", SUBSCRIBER, "--from-address", "Bank",
        "--text", "hi",
    )  # fmt: skip
    assert unapproved.code == wgtwo.EXIT_REJECTED
    assert unapproved.error == (
        "wgtwo send-sms: error: SMS not sent (reject): sender not approved for this product"
    )


# --- send-mms --------------------------------------------------------------------------


async def test_send_mms_from_a_subscriber_with_each_part(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_MMS_FROM_SUBSCRIBER)
    image = tmp_path / "door.JPEG"
    image.write_bytes(b"\xff\xd8" + b"j" * 98)
    audio = tmp_path / "ring.opus"
    audio.write_bytes(b"OggS" + b"o" * 6)
    result = await run(
        "send-mms", *on(server), "--from", SUBSCRIBER, "--to", CALLER, "--text", "Door",
        "--image", str(image), "--audio", str(audio),
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_OK, result.err
    answer = result.line
    assert answer == {
        "request_id": answer["request_id"],
        "status": "ok",
        "description": "accepted",
        "parts": ["text", "image", "audio"],
        "bytes": 114,
    }
    assert answer["request_id"]
    [message] = server.stats["mms"]["messages"]
    assert [(p["kind"], p["format"], p["bytes"]) for p in message["parts"]] == [
        ("text", "text", 4),
        ("image", "jpg", 100),
        ("audio", "opus", 10),
    ]
    assert requested_scopes(server) == {frozenset({SCOPE_MMS_FROM_SUBSCRIBER})}


@pytest.mark.parametrize(
    ("suffix", "part_format"),
    [(".png", "png"), (".jpg", "jpg"), (".wav", "wav"), (".mp3", "mp3"), (".amr", "amr")],
)
async def test_send_mms_to_a_subscriber_the_type_from_the_file(
    auth_sandbox: SandboxServer, tmp_path: Path, suffix: str, part_format: str
) -> None:
    media = tmp_path / f"part{suffix}"
    media.write_bytes(b"x" * 10)
    flag = "--image" if suffix in (".png", ".jpg") else "--audio"
    result = await run(
        "send-mms", *on(auth_sandbox), "--to-subscriber", SUBSCRIBER, "--from-address", "Home",
        flag, str(media),
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_OK, result.err
    [sent] = auth_sandbox.mms.sent
    assert isinstance(sent, mms_pb2.SendMessageToSubscriberRequest)
    assert sent.from_text_address.text_address == "Home"
    media_part = getattr(sent.message_content[0], flag.removeprefix("--"))
    assert media_part.WhichOneof("content") == part_format


async def test_send_mms_refused_too_large_or_lost_is_not_repeated(
    auth_sandbox: SandboxServer, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"p" * 300_001)
    too_large = await run(
        "send-mms", *on(auth_sandbox), "--from", SUBSCRIBER, "--to", CALLER, "--image", str(big)
    )
    assert too_large.code == wgtwo.EXIT_REJECTED
    assert too_large.error == (
        "wgtwo send-mms: error: MMS not sent (reject): "
        "message too large: 300001 bytes, at most 300000"
    )
    auth_sandbox.mms.fail_after_send = grpc.StatusCode.INTERNAL
    lost = await run(
        "send-mms", *on(auth_sandbox), "--from", SUBSCRIBER, "--to", CALLER, "--text", "once"
    )
    assert lost.code == wgtwo.EXIT_ERROR
    assert (
        lost.error
        == "wgtwo send-mms: error: MMS failed (INTERNAL); it may have been sent, not retried"
    )
    assert len(auth_sandbox.mms.sent) == 1


async def test_send_mms_missing_scope(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_MMS_FROM_SUBSCRIBER)
    result = await run(
        "send-mms", *on(server), "--to-subscriber", SUBSCRIBER, "--from-address", "Home",
        "--text", "a",
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.error == "wgtwo send-mms: error: missing scope(s): " + SCOPE_MMS_TO_SUBSCRIBER
    assert server.mms.sent == []


# --- voicemails / voicemail ------------------------------------------------------------


async def publish_voicemail(server: SandboxServer, voicemail_id: str, to: str) -> None:
    item = sample_json("voicemail")
    item["event"]["voicemailEvent"]["voicemailId"] = voicemail_id
    item["event"]["voicemailEvent"]["toNumber"] = {"e164": to}
    await server.publish(item)


async def test_voicemails_prints_one_line_per_voicemail_of_the_number(
    make_sandbox: MakeSandbox,
) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_VOICEMAIL_GET)
    await publish_voicemail(server, "vm-a", SUBSCRIBER)
    await publish_voicemail(server, "vm-b", SUBSCRIBER)
    await publish_voicemail(server, "vm-other", "+4798765432")
    result = await run("voicemails", *on(server), "--number", SUBSCRIBER)
    assert result.code == wgtwo.EXIT_OK, result.err
    lines = sorted(result.lines, key=lambda line: str(line["voicemail_id"]))
    assert [line["voicemail_id"] for line in lines] == ["vm-a", "vm-b"]
    for line in lines:
        stored = server.voicemails.voicemails[line["voicemail_id"]].metadata
        assert line == {
            "voicemail_id": stored.voicemail_id,
            "from_number": CALLER,
            "to_number": SUBSCRIBER,
            "duration": float(stored.duration.seconds),
            "played": False,
            "created": stored.created.ToDatetime().isoformat() + "+00:00",
            "expires": stored.expires.ToDatetime().isoformat() + "+00:00",
        }
    assert requested_scopes(server) == {frozenset({SCOPE_VOICEMAIL_GET})}


async def test_voicemails_none_prints_nothing(auth_sandbox: SandboxServer) -> None:
    result = await run("voicemails", *on(auth_sandbox), "--number", SUBSCRIBER)
    assert (result.code, result.out, result.err) == (wgtwo.EXIT_OK, "", "")


async def test_voicemails_missing_scope(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_SMS_SEND)
    result = await run("voicemails", *on(server), "--number", SUBSCRIBER)
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.error == "wgtwo voicemails: error: missing scope(s): " + SCOPE_VOICEMAIL_GET


async def test_voicemail_writes_the_sandboxs_wav(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_VOICEMAIL_GET)
    await publish(server, "voicemail")  # vm-1
    out = tmp_path / "vm-1.wav"
    result = await run("voicemail", *on(server), "--id", "vm-1", "--out", str(out))
    assert result.code == wgtwo.EXIT_OK, result.err
    stored = server.voicemails.voicemails["vm-1"]
    assert out.read_bytes() == stored.wav
    assert stored.wav.startswith(b"RIFF")
    answer = result.line
    assert answer["voicemail_id"] == "vm-1"
    assert (answer["from_number"], answer["to_number"]) == (CALLER, SUBSCRIBER)
    assert answer["duration"] == float(stored.metadata.duration.seconds)
    assert answer["played"] is False
    assert answer["out"] == str(out)
    assert answer["wav_bytes"] == len(stored.wav)
    assert "wav" not in answer
    assert requested_scopes(server) == {frozenset({SCOPE_VOICEMAIL_GET})}


async def test_voicemail_not_found(auth_sandbox: SandboxServer, tmp_path: Path) -> None:
    out = tmp_path / "missing.wav"
    result = await run("voicemail", *on(auth_sandbox), "--id", "nope", "--out", str(out))
    assert result.code == wgtwo.EXIT_NOT_FOUND
    assert result.out == ""
    assert result.error == "wgtwo voicemail: error: voicemail nope not found"
    assert not out.exists()


async def test_voicemail_other_server_errors_and_unwritable_file(
    auth_sandbox: SandboxServer, tmp_path: Path
) -> None:
    await publish(auth_sandbox, "voicemail")
    out = tmp_path / "no-such-dir" / "vm.wav"
    result = await run("voicemail", *on(auth_sandbox), "--id", "vm-1", "--out", str(out))
    assert result.code == wgtwo.EXIT_ERROR
    assert result.error == f"wgtwo voicemail: error: cannot write {out}: No such file or directory"
    bad = await run("voicemail", *on(auth_sandbox), "--id", "", "--out", str(out))
    assert bad.code == wgtwo.EXIT_USAGE
    assert bad.error == "wgtwo voicemail: error: --id must not be empty"


# --- forward ---------------------------------------------------------------------------


async def test_forward_every_mode(auth_sandbox: SandboxServer) -> None:
    home = "+46812345678"
    cases: list[tuple[list[str], dict[str, str]]] = [
        (["--mode", "number", "--number", home], {"mode": "unconditional", "to": home}),
        (
            ["--mode", "conditional", "--number", home],
            {"mode": "conditional", "busy": home, "no_reply": home, "unavailable": home},
        ),
        (["--mode", "voicemail"], {"mode": "voicemail"}),
        (["--mode", "off"], {"mode": "disabled"}),
    ]
    for flags, operator_state in cases:
        result = await run("forward", *on(auth_sandbox), "--subscriber", SUBSCRIBER, *flags)
        assert result.code == wgtwo.EXIT_OK, (flags, result.err)
        assert result.line == {
            "subscriber": SUBSCRIBER,
            "mode": flags[1],
            "number": flags[3] if len(flags) == 4 else None,
            "status": "accepted",
        }
        assert auth_sandbox.forwarding.state[SUBSCRIBER] == operator_state
    assert requested_scopes(auth_sandbox) == {
        frozenset({SCOPE_FORWARD_TO_NUMBER}),
        frozenset({SCOPE_FORWARD_TO_VOICEMAIL}),
        frozenset({SCOPE_FORWARD_DISABLE}),
    }


async def test_forward_rejected_by_the_operator(auth_sandbox: SandboxServer) -> None:
    result = await run(
        "forward", *on(auth_sandbox), "--subscriber", SUBSCRIBER, "--mode", "number",
        "--number", "+4799948352",
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_REJECTED
    assert result.out == ""
    assert result.error == (
        "wgtwo forward: error: call forwarding rejected: "
        "forwarding to international numbers is not allowed"
    )
    assert SUBSCRIBER not in auth_sandbox.forwarding.state
    malformed = await run(
        "forward", *on(auth_sandbox), "--subscriber", "724450024", "--mode", "off"
    )
    assert malformed.code == wgtwo.EXIT_REJECTED
    assert malformed.error == (
        "wgtwo forward: error: call forwarding rejected by the server (INVALID_ARGUMENT)"
    )


async def test_forward_asks_for_the_modes_scope_only(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_FORWARD_DISABLE)
    off = await run("forward", *on(server), "--subscriber", SUBSCRIBER, "--mode", "off")
    assert off.code == wgtwo.EXIT_OK, off.err
    result = await run("forward", *on(server), "--subscriber", SUBSCRIBER, "--mode", "voicemail")
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.error == "wgtwo forward: error: missing scope(s): " + SCOPE_FORWARD_TO_VOICEMAIL


async def test_forward_number_flags_are_checked() -> None:
    common = ["forward", "--target", "127.0.0.1:1", "--plaintext", "--subscriber", SUBSCRIBER]
    needs = await run(*common, "--mode", "conditional")
    assert needs.code == wgtwo.EXIT_USAGE
    assert needs.error == "wgtwo forward: error: --mode conditional needs --number"
    takes = await run(*common, "--mode", "off", "--number", "+46812345678")
    assert takes.code == wgtwo.EXIT_USAGE
    assert takes.error == "wgtwo forward: error: --mode off takes no --number"


# --- consents / watch-consents / watch-subscription ----------------------------------------

FIRST_ATTACHMENT_SCOPE = "subscription.first_attachment:read"
IMSI = "242010000000009"


async def test_consents_prints_one_line_per_consenting_subscriber(
    make_sandbox: MakeSandbox,
) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_SUBSCRIPTION_ID)
    server.consents.add(SUBSCRIBER, ["events.voice.subscribe", "events.roaming.subscribe"])
    server.consents.add_tenant(["events.sms.subscribe"])
    server.consents.add(CALLER, ["events.voice.subscribe"])
    result = await run("consents", *on(server))
    assert result.code == wgtwo.EXIT_OK, result.err
    assert result.lines == [
        {"number": SUBSCRIBER, "scopes": ["events.roaming.subscribe", "events.voice.subscribe"]},
        {"number": CALLER, "scopes": ["events.voice.subscribe"]},
    ]
    # The operator-wide consent is counted, never a number on stderr.
    assert result.error == "wgtwo consents: 1 operator-wide consent(s), naming no subscriber"
    assert requested_scopes(server) == {frozenset({SCOPE_SUBSCRIPTION_ID})}


async def test_consents_none_and_missing_scope(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_SUBSCRIPTION_ID)
    empty = await run("consents", *on(server))
    assert (empty.code, empty.out, empty.err) == (wgtwo.EXIT_OK, "", "")
    refused = await sandbox_granting(make_sandbox, SCOPE_SMS_SEND)
    refused.consents.add(SUBSCRIBER, ["events.voice.subscribe"])
    result = await run("consents", *on(refused))
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.out == ""
    assert result.error == "wgtwo consents: error: missing scope(s): " + SCOPE_SUBSCRIPTION_ID


def queue_stats(server: SandboxServer, topic: str, queue: str) -> dict[str, int]:
    stats = server.stats
    streams = (
        stats["consents"]["stream"] if topic == "consents" else stats["subscription_events"][topic]
    )
    return streams["queues"][queue]  # type: ignore[no-any-return]


async def watching(*argv: str) -> tuple[asyncio.Task[int], io.StringIO, io.StringIO]:
    """Start a watch subcommand; return once its stream is open."""
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.create_task(wgtwo.async_main(list(argv), stdout=out, stderr=err))
    await wait_for(lambda: "connected" in err.getvalue() or task.done(), message="connected")
    assert not task.done(), err.getvalue()
    return task, out, err


async def test_watch_consents_prints_acks_and_stops_after_count(
    auth_sandbox: SandboxServer,
) -> None:
    argv = ["watch-consents", *on(auth_sandbox), "--queue-name", "cli", "--count", "2"]
    task, out, err = await watching(*argv)
    assert err.getvalue() == (
        f"wgtwo watch-consents: connected to {auth_sandbox.grpc_target} (consent_change stream)\n"
    )
    auth_sandbox.consents.add(SUBSCRIBER, ["events.voice.subscribe", "events.sms.subscribe"])
    auth_sandbox.consents.update(SUBSCRIBER, ["events.voice.subscribe"])
    assert await asyncio.wait_for(task, 30) == wgtwo.EXIT_OK
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["kind"], line["change"], line["number"], line["scopes"]) for line in lines] == [
        ("consent_change", "added", SUBSCRIBER, ["events.sms.subscribe", "events.voice.subscribe"]),
        ("consent_change", "updated", SUBSCRIBER, ["events.voice.subscribe"]),
    ]
    assert lines[0]["is_redelivered"] is False
    assert "sequence" not in lines[0]
    assert SUBSCRIBER not in err.getvalue()
    queue = queue_stats(auth_sandbox, "consents", "cli")
    assert (queue["acked"], queue["unacked"]) == (2, 0)
    # The next run of the same queue starts after what was printed: the revocation only
    # (published once the sandbox saw the first run leave, or it could go to that run).
    await wait_for(
        lambda: queue_stats(auth_sandbox, "consents", "cli")["members"] == 0, message="left"
    )
    auth_sandbox.consents.revoke(SUBSCRIBER)
    again = await run("watch-consents", *on(auth_sandbox), "--queue-name", "cli", "--count", "1")
    assert again.code == wgtwo.EXIT_OK, again.err
    assert (again.line["change"], again.line["number"]) == ("revoked", SUBSCRIBER)
    assert queue_stats(auth_sandbox, "consents", "cli")["acked"] == 3


async def test_watch_subscription_prints_the_kind_asked_for(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, FIRST_ATTACHMENT_SCOPE)
    argv = [
        "watch-subscription", *on(server), "--kind", "first_attachment",
        "--queue-name", "cli", "--count", "1",
    ]  # fmt: skip
    task, out, err = await watching(*argv)
    server.subscription_events.publish(
        "first_attachment", {"number": {"e164": SUBSCRIBER}, "imsi": {"value": IMSI}}
    )
    assert await asyncio.wait_for(task, 30) == wgtwo.EXIT_OK
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line == {
        "kind": "first_attachment",
        "timestamp": line["timestamp"],
        "is_redelivered": False,
        "number": SUBSCRIBER,
        "imsi": IMSI,
    }
    assert IMSI not in err.getvalue()
    assert SUBSCRIBER not in err.getvalue()
    assert queue_stats(server, "first_attachment", "cli")["acked"] == 1
    assert requested_scopes(server) == {frozenset({FIRST_ATTACHMENT_SCOPE})}


async def test_watch_without_a_queue_name_acks_too(sandbox: SandboxServer) -> None:
    argv = [
        "watch-subscription", "--target", sandbox.grpc_target, "--plaintext",
        "--kind", "country_change", "--count", "1",
    ]  # fmt: skip
    task, out, _err = await watching(*argv)
    sandbox.subscription_events.publish(
        "country_change",
        {"number": {"e164": SUBSCRIBER}, "current": {"code": "SE", "name": "Sweden"}},
    )
    assert await asyncio.wait_for(task, 30) == wgtwo.EXIT_OK
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    assert (line["kind"], line["current"]) == ("country_change", {"code": "SE", "name": "Sweden"})
    assert sandbox.subscription_events.topics["country_change"].acks == 1


async def test_watch_subscription_missing_scope(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, FIRST_ATTACHMENT_SCOPE)
    result = await run("watch-subscription", *on(server), "--kind", "handset_change")
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.out == ""
    assert result.error == (
        "wgtwo watch-subscription: error: missing scope(s): subscription.handset_details:read"
    )


async def test_watch_gives_up_on_an_unreachable_server(socket_enabled: None) -> None:
    port = free_port()
    result = await run(
        "watch-consents", "--target", f"127.0.0.1:{port}", "--plaintext",
        "--connect-timeout", "0",
    )  # fmt: skip
    assert result.code == wgtwo.EXIT_UNREACHABLE
    assert result.error.startswith(f"wgtwo watch-consents: error: cannot reach 127.0.0.1:{port} (")


# --- listen and the command line -------------------------------------------------------


async def test_listen_subcommand(auth_sandbox: SandboxServer) -> None:
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.create_task(
        wgtwo.async_main(
            ["listen", *on(auth_sandbox), "--type", "VOICE_EVENT", "--max-events", "1"],
            stdout=out,
            stderr=err,
        )
    )
    await wait_for(lambda: "connected" in err.getvalue(), message="connected")
    [sequence] = await publish_voice(auth_sandbox, 1)
    assert await asyncio.wait_for(task, 30) == wgtwo.EXIT_OK
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["event"]["metadata"]["sequence"] == str(sequence)
    assert err.getvalue().startswith(f"wgtwo listen: connected to {auth_sandbox.grpc_target}")
    assert requested_scopes(auth_sandbox) == {frozenset({"events.voice.subscribe"})}


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
async def test_ctrl_c_ends_listen_cleanly(sandbox: SandboxServer) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["listen", "--target", sandbox.grpc_target, "--plaintext", "--type", "VOICE_EVENT"]
    task = asyncio.create_task(wgtwo.async_main(argv, stdout=out, stderr=err))
    await wait_for(lambda: "connected" in err.getvalue(), message="connected")
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(task, 30) == wgtwo.EXIT_OK
    assert "error" not in err.getvalue()


async def test_listen_subcommand_error_line(make_sandbox: MakeSandbox) -> None:
    server = await sandbox_granting(make_sandbox, SCOPE_SMS_SEND)
    result = await run("listen", *on(server), "--type", "VOICE_EVENT")
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.error == (
        "wgtwo listen: error: missing scope(s): events.voice.subscribe (for VOICE_EVENT)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "wgtwo: error: the following arguments are required: SUBCOMMAND"),
        (["nope"], "wgtwo: error: argument SUBCOMMAND: invalid choice: 'nope'"),
        (
            ["send-sms", "--target", "127.0.0.1:1"],
            "wgtwo send-sms: error: the following arguments are required: --text",
        ),
        (
            ["send-sms", "--target", "127.0.0.1:1", "--from", "+1", "--text", "t"],
            "wgtwo send-sms: error: give --from and --to, or --to-subscriber and --from-address",
        ),
        (
            ["send-sms", "--target", "127.0.0.1:1", "--from", "+1", "--to", "+2",
             "--to-subscriber", "+1", "--from-address", "Home", "--text", "t"],
            "wgtwo send-sms: error: give --from and --to, or --to-subscriber and --from-address",
        ),
        (
            ["send-mms", "--target", "127.0.0.1:1", "--from", "+1", "--to", "+2"],
            "wgtwo send-mms: error: give at least one of --text, --image, --audio",
        ),
        (
            ["send-mms", "--target", "127.0.0.1:1", "--to-subscriber", "+1", "--text", "t"],
            "wgtwo send-mms: error: give --from and --to, or --to-subscriber and --from-address",
        ),
        (
            ["send-mms", "--target", "127.0.0.1:1", "--from", "+1", "--to", "+2",
             "--image", "door.gif"],
            "wgtwo send-mms: error: --image: door.gif is not one of .jpeg, .jpg, .png",
        ),
        (
            ["send-mms", "--target", "127.0.0.1:1", "--from", "+1", "--to", "+2",
             "--audio", "door.jpg"],
            "wgtwo send-mms: error: --audio: door.jpg is not one of .amr, .mp3, .opus, .wav",
        ),
        (
            ["send-mms", "--target", "127.0.0.1:1", "--from", "+1", "--to", "+2",
             "--audio", "/nonexistent/ring.wav"],
            "wgtwo send-mms: error: --audio: cannot read /nonexistent/ring.wav: "
            "No such file or directory",
        ),
        (
            ["voicemails", "--target", "10.1.2.3:443", "--plaintext", "--number", SUBSCRIBER],
            "wgtwo voicemails: error: --target: plaintext is only allowed for loopback hosts",
        ),
        (
            ["voicemails", "--target", "127.0.0.1:1", "--client-id", "x", "--number", "+1"],
            "wgtwo voicemails: error: --client-id and --client-secret go together",
        ),
        (
            ["voicemails", "--target", "127.0.0.1:1", "--client-id", "x", "--client-secret",
             "y", "--token-url", "http://id.example.com/token", "--number", "+1"],
            "wgtwo voicemails: error: --token-url: "
            "token URL must use https unless the host is loopback",
        ),
        (
            ["send-sms", "--target", "127.0.0.1:1", "--from", "+1", "--to", "+1", "--text", ""],
            "wgtwo send-sms: error: --text must be 1 to 2000 characters",
        ),
        (
            ["send-sms", "--target", "127.0.0.1:1", "--from", "+1", "--to", "+1",
             "--text", "x" * 2001],
            "wgtwo send-sms: error: --text must be 1 to 2000 characters",
        ),
        (
            ["forward", "--target", "127.0.0.1:1", "--subscriber", "+1", "--mode", "away"],
            "wgtwo forward: error: argument --mode: invalid choice: 'away'",
        ),
        (
            ["listen", "--target", "127.0.0.1:1", "--type", "VOICE_EVENT", "--start", "soon"],
            "wgtwo listen: error: invalid start position 'soon'",
        ),
        (
            ["watch-subscription", "--target", "127.0.0.1:1", "--kind", "weather"],
            "wgtwo watch-subscription: error: argument --kind: invalid choice: 'weather'",
        ),
        (
            ["watch-consents", "--target", "127.0.0.1:1", "--count", "-1"],
            "wgtwo watch-consents: error: --count must not be negative",
        ),
    ],
)  # fmt: skip
async def test_bad_arguments_give_one_line_and_exit_code_2(argv: list[str], message: str) -> None:
    result = await run(*argv)
    assert result.code == wgtwo.EXIT_USAGE
    assert result.out == ""
    assert result.error.startswith(message), result.error


async def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert await wgtwo.async_main(["forward", "--help"]) == 0
    assert "--subscriber" in capsys.readouterr().out


def test_every_subcommand_takes_the_common_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WGTWO_CLIENT_ID", "id-from-env")
    monkeypatch.setenv("WGTWO_CLIENT_SECRET", "secret-from-env")
    parser = wgtwo.build_parser()
    required = {
        "listen": ["--type", "VOICE_EVENT"],
        "send-sms": ["--from", "+1", "--to", "+1", "--text", "t"],
        "send-mms": ["--from", "+1", "--to", "+1", "--text", "t"],
        "voicemails": ["--number", "+1"],
        "voicemail": ["--id", "v", "--out", "f"],
        "forward": ["--subscriber", "+1", "--mode", "off"],
        "consents": [],
        "watch-consents": [],
        "watch-subscription": ["--kind", "country_change"],
    }
    for name, flags in required.items():
        args = parser.parse_args([name, "--target", "h:1", *flags])
        assert (args.target, args.plaintext, args.token_url) == ("h:1", False, DEFAULT_TOKEN_URL)
        assert (args.client_id, args.client_secret) == ("id-from-env", "secret-from-env")


def test_wrapper_script_shows_help() -> None:
    result = subprocess.run(
        [str(REPO / "scripts" / "wgtwo"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in (
        "listen", "send-sms", "send-mms", "voicemails", "voicemail", "forward",
        "consents", "watch-consents", "watch-subscription",
    ):  # fmt: skip
        assert name in result.stdout
