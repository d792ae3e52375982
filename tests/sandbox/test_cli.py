"""The command line, in-process and as a real subprocess (ready line, SIGTERM, SIGKILL + state)."""

from __future__ import annotations

import asyncio
import io
import os
import runpy
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

import wgtwo_sandbox
from tests.sandbox_fixtures import SandboxLauncher
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.cli import build_server, main, parse_args, run, serve

from .conftest import Client, eventually, read, read_n, voice

Connect = Callable[..., Client]


def test_parse_args_defaults_and_flags() -> None:
    args = parse_args([])
    assert (args.grpc_port, args.http_port, args.client_id, args.state) == (0, 0, None, None)
    assert args.token_ttl == 3600.0
    args = parse_args(
        [
            "--grpc-port",
            "5",
            "--http-port",
            "6",
            "--client-id",
            "a",
            "--client-secret",
            "b",
            "--token-ttl",
            "9",
            "--state",
            "s.jsonl",
            "--grant",
            "voicemail.get",
            "--grant",
            "events.voice.subscribe",
            "--scenario",
            "demo",
            "--scenario-interval",
            "2",
            "--history-seconds",
            "60",
        ]
    )
    server = build_server(args)
    assert server.authority.granted_scopes == {"voicemail.get", "events.voice.subscribe"}
    assert server.authority.token_ttl == 9.0
    assert server.broker.history_seconds == 60.0
    assert server.state_file == Path("s.jsonl")
    assert args.scenario == "demo"
    assert server.stall_relay
    assert not build_server(parse_args(["--no-stall-relay"])).stall_relay
    # Senders approved for texts and MMS to subscribers: "Home" unless named.
    assert server.senders == {"Home"}
    named = build_server(parse_args(["--sender", "Cabin", "--sender", "+4722334455"]))
    assert named.senders == {"Cabin", "+4722334455"}
    assert named.sms.senders is named.mms.senders is named.senders


def test_main_runs_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        assert main(["--grpc-port", "0", "--http-port", "0"]) == 0
    finally:
        timer.cancel()
        timer.join()
    assert "sandbox ready grpc=127.0.0.1:" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["--client-id", "a"], ["--scenario-interval", "0"], ["--scenario", "nope"]]
)
def test_parse_args_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


async def test_serve_prints_ready_plays_the_scenario_and_stops(connect: Connect) -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    args = parse_args(["--scenario", "demo", "--scenario-interval", "0.05"])
    task = asyncio.create_task(serve(args, stop, out))
    await eventually(lambda: "ready" in out.getvalue())
    line = out.getvalue().strip()
    assert line.startswith("sandbox ready grpc=127.0.0.1:")
    target = line.split()[2].removeprefix("grpc=")
    stream = await connect(target).subscribe(start_at_oldest_possible={})
    first = await read(stream, 5)
    assert first.event.voice_event.type == 1  # the demo opens with a call
    stop.set()
    await task


async def test_run_stops_on_sigterm() -> None:
    out = io.StringIO()
    task = asyncio.create_task(run(parse_args([]), out))
    await eventually(lambda: "ready" in out.getvalue())
    os.kill(os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(5):
        await task


async def test_subprocess_ready_line_and_clean_sigterm(sandbox_cli: SandboxLauncher) -> None:
    process = await sandbox_cli.start()
    assert process.ready_line == (
        f"sandbox ready grpc={process.grpc_target} http={process.http_url}"
    )
    assert process.kill(signal.SIGTERM) == 0


async def test_state_survives_sigkill(
    sandbox_cli: SandboxLauncher, connect: Connect, tmp_path: Path
) -> None:
    state = str(tmp_path / "state.jsonl")
    first = await sandbox_cli.start("--state", state)
    request = {
        "client_id": "c",
        "durable_name": "d",
        "manual_ack": {"enable": True, "timeout": {"seconds": 30}},
    }
    client = connect(first.grpc_target)
    stream = await client.subscribe(**request)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{first.http_url}/events", json=[voice("1"), voice("2"), voice("3")]
        ) as response:
            assert (await response.json())["sequences"] == [1, 2, 3]
        one, _, three = await read_n(stream, 3)
        await client.ack(one)
        await client.ack(three)
        first.kill(signal.SIGKILL)

        second = await sandbox_cli.start(
            "--state", state, grpc_port=first.grpc_port, http_port=first.http_port
        )
        async with session.post(f"{second.http_url}/events", json=voice("4")) as response:
            assert (await response.json())["sequences"] == [4]
    resumed = await connect(second.grpc_target).subscribe(**request)
    two, four = await read_n(resumed, 2)
    assert (two.event.voice_event.call_id, two.event.metadata.is_redelivered) == ("2", True)
    assert (four.event.voice_event.call_id, four.event.metadata.is_redelivered) == ("4", False)
    assert four.event.metadata.ack_inbox == one.event.metadata.ack_inbox


def test_module_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["wgtwo_sandbox", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("wgtwo_sandbox", run_name="__main__")
    assert exit_info.value.code == 0


def test_package_exports_only_the_server() -> None:
    assert wgtwo_sandbox.SandboxServer is SandboxServer
    with pytest.raises(AttributeError):
        _ = wgtwo_sandbox.Nothing
