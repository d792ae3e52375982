"""scripts/listen, run in-process against the sandbox."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from pathlib import Path

import grpc

from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from tools import listen
from wgtwo_sandbox import SandboxServer

from .helpers import publish, publish_voice, wait_for
from .samples import SEED_EXAMPLE

REPO = Path(__file__).resolve().parents[2]


class Run:
    """One in-process run of the tool."""

    def __init__(self, *argv: str) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            listen.async_main(list(argv), stdout=self.out, stderr=self.err, stop=self.stop)
        )

    @property
    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]

    async def finish(self) -> int:
        self.stop.set()
        return await asyncio.wait_for(self.task, 5)


async def test_prints_each_event_as_one_json_line_and_acks(sandbox: SandboxServer) -> None:
    run = Run("--target", sandbox.grpc_target, "--plaintext", "--type", "VOICE_EVENT")
    await wait_for(lambda: "connected" in run.err.getvalue(), message="connected")
    [sequence] = await sandbox.publish([SEED_EXAMPLE])
    await publish(sandbox, "sms")  # not subscribed
    await wait_for(lambda: len(run.lines) == 1, message="one line")
    await wait_for(lambda: sandbox.stats["acks"] == 1, message="ack")
    assert await run.finish() == 0
    [line] = run.lines
    event = line["event"]
    assert isinstance(event, dict)
    assert event["voiceEvent"] == SEED_EXAMPLE["event"]["voiceEvent"]
    assert event["owner"] == SEED_EXAMPLE["event"]["owner"]
    assert event["timestamp"] == "2024-08-02T10:08:55.668065022Z"
    assert event["metadata"]["sequence"] == str(sequence)
    assert len(run.out.getvalue().splitlines()) == 1


async def test_max_events_reconnects_and_durable_options(sandbox: SandboxServer) -> None:
    await publish_voice(sandbox, 2)
    run = Run(
        "--target", sandbox.grpc_target, "--plaintext", "--type", "VOICE_EVENT",
        "--type", "SMS_EVENT", "--client-id", "", "--start", "oldest",
        "--queue-name", "q", "--max-in-flight", "5", "--manual-ack-timeout", "5",
        "--max-events", "4",
    )  # fmt: skip
    await wait_for(lambda: len(run.lines) == 2, message="history")
    sandbox.end_streams(grpc.StatusCode.UNAVAILABLE)
    await wait_for(lambda: "disconnected (UNAVAILABLE)" in run.err.getvalue())
    await wait_for(lambda: run.err.getvalue().count("connected to") == 2, message="back")
    # Read while connected: the server drops a queue without a durable name when it empties.
    assert sandbox.stats["subscriptions"][0]["queue_name"] == "q"
    await publish(sandbox, "sms", "voice")
    assert await asyncio.wait_for(run.task, 5) == 0
    assert len(run.lines) == 4


async def test_with_credentials(auth_sandbox: SandboxServer) -> None:
    run = Run(
        "--target", auth_sandbox.grpc_target, "--plaintext", "--type", "VOICE_EVENT",
        "--token-url", auth_sandbox.token_url, "--client-id", TEST_CLIENT_ID,
        "--client-secret", TEST_CLIENT_SECRET, "--durable-name", "tool",
        "--max-events", "1",
    )  # fmt: skip
    await wait_for(lambda: "connected" in run.err.getvalue(), message="connected")
    await publish_voice(auth_sandbox, 1)
    assert await asyncio.wait_for(run.task, 5) == 0
    assert TEST_CLIENT_SECRET not in run.err.getvalue()


async def test_bad_credentials_give_one_line_and_exit_code(auth_sandbox: SandboxServer) -> None:
    run = Run(
        "--target", auth_sandbox.grpc_target, "--plaintext", "--type", "VOICE_EVENT",
        "--token-url", auth_sandbox.token_url, "--client-id", TEST_CLIENT_ID,
        "--client-secret", "wrong",
    )  # fmt: skip
    assert await asyncio.wait_for(run.task, 5) == listen.EXIT_AUTH
    assert run.err.getvalue().count("\n") == 1
    assert "authentication failed" in run.err.getvalue()
    assert "wrong" not in run.err.getvalue()


async def test_missing_scope_gives_one_line_and_exit_code(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes={"events.voice.subscribe"},
    )
    run = Run(
        "--target", server.grpc_target, "--plaintext", "--type", "VOICE_EVENT",
        "--type", "SMS_EVENT", "--token-url", server.token_url,
        "--client-id", TEST_CLIENT_ID, "--client-secret", TEST_CLIENT_SECRET,
    )  # fmt: skip
    assert await asyncio.wait_for(run.task, 5) == listen.EXIT_SCOPE
    assert run.err.getvalue() == (
        "listen: error: missing scope(s): events.sms.subscribe (for SMS_EVENT)\n"
    )


async def test_unreachable_host_gives_up_after_the_connect_timeout() -> None:
    run = Run(
        "--target", "127.0.0.1:9", "--plaintext", "--type", "VOICE_EVENT",
        "--connect-timeout", "0.5",
    )  # fmt: skip
    assert await asyncio.wait_for(run.task, 5) == listen.EXIT_UNREACHABLE
    last = run.err.getvalue().splitlines()[-1]
    assert last == "listen: error: cannot reach 127.0.0.1:9 (UNAVAILABLE) within 0.5 s"


async def test_server_refusing_the_request_is_an_error(sandbox: SandboxServer) -> None:
    run = Run("--target", sandbox.grpc_target, "--plaintext", "--type", "VOICE_EVENT")
    await wait_for(lambda: "connected" in run.err.getvalue(), message="connected")
    sandbox.end_streams(grpc.StatusCode.INVALID_ARGUMENT, "no")
    assert await asyncio.wait_for(run.task, 5) == listen.EXIT_ERROR
    assert "INVALID_ARGUMENT" in run.err.getvalue()


async def test_usage_errors() -> None:
    cases = [
        ["--target", "10.1.2.3:50051", "--plaintext", "--type", "VOICE_EVENT"],
        ["--target", "127.0.0.1:1", "--type", "VOICE_EVENT", "--start", "yesterday"],
        ["--target", "127.0.0.1:1", "--type", "VOICE_EVENT", "--client-id", "x"],
        ["--target", "127.0.0.1:1", "--type", "VOICE_EVENT", "--client-id", "x",
         "--client-secret", "y", "--token-url", "http://id.example.com/token"],
        ["--target", "127.0.0.1:1", "--type", "NOT_A_TYPE"],
    ]  # fmt: skip
    for argv in cases:
        err = io.StringIO()
        code = await listen.async_main(argv, stdout=io.StringIO(), stderr=err)
        assert code == listen.EXIT_USAGE, argv


def test_wrapper_script_shows_help() -> None:
    result = subprocess.run(
        [str(REPO / "scripts" / "listen"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert "--durable-name" in result.stdout


class _ClosedPipe(io.StringIO):
    def write(self, _text: str) -> int:
        raise BrokenPipeError


async def test_closed_stdout_ends_the_tool(sandbox: SandboxServer) -> None:
    err = io.StringIO()
    task = asyncio.create_task(
        listen.async_main(
            ["--target", sandbox.grpc_target, "--plaintext", "--type", "VOICE_EVENT"],
            stdout=_ClosedPipe(),
            stderr=err,
        )
    )
    await wait_for(lambda: "connected" in err.getvalue(), message="connected")
    await publish_voice(sandbox, 1)
    assert await asyncio.wait_for(task, 5) == 0
