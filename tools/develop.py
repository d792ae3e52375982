"""Run a Home Assistant development instance wired to a local sandbox server.

Starts the sandbox (playing the demo scenario) and Home Assistant on
http://localhost:8123, finishes onboarding with a development login, and adds
the wgtwo integration through its real config flow, so a newcomer sees devices
and entities change within a minute. Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PORT = 8123  # Home Assistant's default
USERNAME = "dev"
PASSWORD = "dev"
CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret"
EVENT_TYPES = ["voice", "voicemail", "sms", "sms_delivery_report", "roaming", "location", "handset"]
# The demo scenario's two subscribers, so devices and entity ids get readable names.
PHONEBOOK = "+4791234567 = Alice\n+4798765432 = Bob\n+4722334455 = Carol"
# Caller names on: the sandbox asks for each ringing call and logs what the phone would show
# (config/sandbox.log). The sandbox grants every scope, the lookup ones included.
CALLER_NAMES = {"name_callers": True, "name_max_age": 60}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=ROOT / "config")
    parser.add_argument("--grpc-port", type=int, default=50051)
    parser.add_argument("--http-port", type=int, default=50080)
    parser.add_argument("--scenario-interval", type=float, default=4.0)
    return parser.parse_args(argv)


def _prepare_config(config: Path) -> None:
    """Link the integration into the config folder."""
    links = config / "custom_components"
    links.mkdir(parents=True, exist_ok=True)
    link = links / "wgtwo"
    if not link.is_symlink():
        link.symlink_to(ROOT / "custom_components" / "wgtwo", target_is_directory=True)


async def _start(*command: str, log: Path, ready: str | None = None) -> asyncio.subprocess.Process:
    """Start a process in its own session, its output going to log (and to us until ready)."""
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE if ready else output,
            stderr=output,
            start_new_session=True,
        )
    if ready and process.stdout:
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
            if not line:
                raise RuntimeError(f"{command[0]} exited before it was ready")
            if ready in line:
                break
    return process


async def _wait_for_http(session: aiohttp.ClientSession, url: str) -> None:
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url) as response:
                # 400 "onboarding_required" from a new instance counts as up too.
                if response.status < 500:
                    return
        await asyncio.sleep(1)


async def _token(session: aiohttp.ClientSession, base: str, code: str) -> str:
    async with session.post(
        f"{base}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": f"{base}/"},
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def _onboard(session: aiohttp.ClientSession, base: str) -> str:
    """Finish onboarding once, then log in; return an access token."""
    async with session.get(f"{base}/api/onboarding") as response:
        # Once onboarding is done, Home Assistant no longer serves this view.
        steps = (
            {step["step"]: step["done"] for step in await response.json()}
            if response.status == 200
            else {"user": True, "core_config": True, "analytics": True, "integration": True}
        )
    if not steps.get("user"):
        async with session.post(
            f"{base}/api/onboarding/users",
            json={
                "name": "Developer",
                "username": USERNAME,
                "password": PASSWORD,
                "client_id": f"{base}/",
                "language": "en",
            },
        ) as response:
            response.raise_for_status()
            code = (await response.json())["auth_code"]
    else:
        async with session.post(
            f"{base}/auth/login_flow",
            json={
                "client_id": f"{base}/",
                "handler": ["homeassistant", None],
                "redirect_uri": f"{base}/",
            },
        ) as response:
            flow = await response.json()
        async with session.post(
            f"{base}/auth/login_flow/{flow['flow_id']}",
            json={"username": USERNAME, "password": PASSWORD, "client_id": f"{base}/"},
        ) as response:
            code = (await response.json())["result"]
    token = await _token(session, base, code)
    headers = {"Authorization": f"Bearer {token}"}
    for step, body in (
        ("core_config", {}),
        ("analytics", {}),
        ("integration", {"client_id": f"{base}/", "redirect_uri": f"{base}/?auth_callback=1"}),
    ):
        if not steps.get(step):
            async with session.post(
                f"{base}/api/onboarding/{step}", json=body, headers=headers
            ) as response:
                response.raise_for_status()
    return token


async def _configure_integration(
    session: aiohttp.ClientSession, base: str, token: str, grpc_port: int, http_port: int
) -> None:
    """Add the integration through its own config and options flows, unless it is there."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(
        f"{base}/api/config/config_entries/entry", params={"domain": "wgtwo"}, headers=headers
    ) as response:
        if await response.json():
            return
    answers: dict[str, Any] = {
        "environment": "custom",
        "host": f"127.0.0.1:{grpc_port}",
        "plaintext": True,
        "token_url": f"http://127.0.0.1:{http_port}/oauth2/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "event_types": EVENT_TYPES,
    }
    result = await _run_flow(
        session, f"{base}/api/config/config_entries/flow", {"handler": "wgtwo"}, answers, headers
    )
    options = {"event_types": EVENT_TYPES, "phonebook": PHONEBOOK, "share_sms_text": False}
    for group, answers in (("general", options), ("caller_names", CALLER_NAMES)):
        await _run_flow(
            session,
            f"{base}/api/config/config_entries/options/flow",
            {"handler": result["result"]["entry_id"]},
            answers,
            headers,
            menu_choice=group,
        )
    # New options reload the entry; let it connect before the sandbox restarts.
    async with asyncio.timeout(30):
        while True:
            async with session.get(
                f"{base}/api/config/config_entries/entry",
                params={"domain": "wgtwo"},
                headers=headers,
            ) as response:
                if [entry["state"] for entry in await response.json()] == ["loaded"]:
                    return
            await asyncio.sleep(0.5)


async def _run_flow(
    session: aiohttp.ClientSession,
    url: str,
    start: dict[str, Any],
    answers: dict[str, Any],
    headers: dict[str, str],
    menu_choice: str | None = None,
) -> dict[str, Any]:
    """Answer each form of a data entry flow with the matching answers until it ends.

    A menu (the options flow starts with one) is answered with ``menu_choice``.
    """
    async with session.post(url, json=start, headers=headers) as response:
        step: dict[str, Any] = await response.json()
    if step.get("type") == "menu" and menu_choice is not None:
        async with session.post(
            f"{url}/{step['flow_id']}", json={"next_step_id": menu_choice}, headers=headers
        ) as response:
            step = await response.json()
    while step.get("type") == "form":
        if step.get("errors"):
            raise RuntimeError(f"flow step {step['step_id']}: {step['errors']}")
        fields = {field["name"] for field in step.get("data_schema", [])}
        async with session.post(
            f"{url}/{step['flow_id']}",
            json={key: value for key, value in answers.items() if key in fields},
            headers=headers,
        ) as response:
            step = await response.json()
    if step.get("type") != "create_entry":
        raise RuntimeError(f"flow ended with {json.dumps(step)}")
    return step


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 30)


async def _run(args: argparse.Namespace) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM stops everything as Ctrl-C does.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    _prepare_config(args.config)
    python = sys.executable
    sandbox_command = [
        python,
        "-m",
        "wgtwo_sandbox",
        "--grpc-port",
        str(args.grpc_port),
        "--http-port",
        str(args.http_port),
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--state",
        str(args.config / ".sandbox-state.jsonl"),
    ]
    sandbox_log = args.config / "sandbox.log"
    # Quiet while Home Assistant starts and the integration is configured, so the demo's
    # first events find the devices already named from the phonebook.
    sandbox = await _start(*sandbox_command, log=sandbox_log, ready="ready")
    print(f"Sandbox running (gRPC 127.0.0.1:{args.grpc_port}), log: config/sandbox.log", flush=True)
    print(
        "Starting Home Assistant (the first start installs what it needs and takes a minute or"
        " two), log: config/home-assistant.log",
        flush=True,
    )
    hass = await _start(
        python,
        "-m",
        "homeassistant",
        "--config",
        str(args.config),
        log=args.config / "home-assistant.console.log",
    )
    base = f"http://127.0.0.1:{PORT}"
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(600):
                await _wait_for_http(session, f"{base}/auth/providers")
            token = await _onboard(session, base)
            await _configure_integration(session, base, token, args.grpc_port, args.http_port)
        # Same ports and state file: the integration's durable subscription resumes.
        await _stop(sandbox)
        sandbox = await _start(
            *sandbox_command,
            "--scenario",
            "demo",
            "--scenario-interval",
            str(args.scenario_interval),
            log=sandbox_log,
            ready="ready",
        )
        print(
            f"\nHome Assistant is running at http://localhost:{PORT}\n"
            f"Login: {USERNAME} / {PASSWORD}\n"
            "The wgtwo integration is configured against the local sandbox, which now plays a "
            "demo scenario\n(Alice and Bob: calls, a missed call and voicemail, SMS, a roaming "
            "trip). Press Ctrl-C to stop.\n",
            flush=True,
        )
        return await hass.wait()
    finally:
        await _stop(hass)
        await _stop(sandbox)


def main(argv: list[str] | None = None) -> None:
    """Run until Ctrl-C."""
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(asyncio.run(_run(args)))


if __name__ == "__main__":
    main()
