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
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import homeassistant

from tools.instance import (
    ALL_EVENT_TYPES,
    PASSWORD,
    ROOT,
    USERNAME,
    HomeAssistantInstance,
    Sandbox,
    configure_integration,
    link_integration,
    onboard,
    run_flow,
    skip_location_step,
)

PORT = 8123  # Home Assistant's default
# The demo scenario's two subscribers, so devices and entity ids get readable names.
PHONEBOOK = "+4791234567 = Alice\n+4798765432 = Bob\n+4722334455 = Carol\n+4791112233 = Dave"
# Caller names on: the sandbox asks for each ringing call and logs what the phone would show
# (config/sandbox.log). The sandbox grants every scope, the lookup ones included.
CALLER_NAMES = {"name_callers": True, "name_max_age": 60}
# Each subscriber's "Reset missed calls" and "Mark voicemail heard" buttons.
RESET_BUTTONS_TEMPLATE = (
    "{{ integration_entities('wgtwo')"
    " | select('search', '^button[.].*_(reset_missed_calls|mark_voicemail_heard)$')"
    " | list | tojson }}"
)


async def _reset_buttons(session: aiohttp.ClientSession, base: str, token: str) -> list[str]:
    async with session.post(
        f"{base}/api/template",
        json={"template": RESET_BUTTONS_TEMPLATE},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        response.raise_for_status()
        return [str(entity_id) for entity_id in json.loads(await response.text())]


async def press_reset_buttons(session: aiohttp.ClientSession, base: str, token: str) -> list[str]:
    """Press every subscriber's reset and mark-heard buttons, as a user catching up does."""
    buttons = await _reset_buttons(session, base, token)
    if buttons:
        async with session.post(
            f"{base}/api/services/button/press",
            json={"entity_id": buttons},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            response.raise_for_status()
    return buttons


async def reset_counts_each_cycle(
    session: aiohttp.ClientSession,
    base: str,
    sandbox_url: str,
    login: Callable[[], Awaitable[str]],
    poll: float = 2.0,
) -> None:
    """Once each cycle of the demo has played, press the buttons that reset what it counted.

    The missed calls and unheard voicemails go back to zero (as a user who called back and
    listened would make them), so they never climb without end. Runs until cancelled; a
    refused token is replaced by logging in again, anything else unreachable is retried.
    """
    token = await login()
    seen: int | None = None
    while True:
        try:
            async with session.get(f"{sandbox_url}/control/stats") as response:
                cycles = int((await response.json())["scenario_cycles"])
            if seen is not None and cycles > seen:
                try:
                    await press_reset_buttons(session, base, token)
                except aiohttp.ClientResponseError as err:
                    if err.status != 401:
                        raise
                    token = await login()
                    await press_reset_buttons(session, base, token)
            seen = cycles
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as err:
            print(f"Demo counts not reset this time: {err!r}", file=sys.stderr, flush=True)
        await asyncio.sleep(poll)


# The sender name the sandbox approves (its default), for texts and MMS to a subscriber.
SENDER_NAME = "Home"
CAMERA_NAME = "Front door"


def demo_picture() -> Path:
    """Return the picture of Home Assistant's demo camera, shipped with Home Assistant."""
    return Path(homeassistant.__file__).parent / "components" / "demo" / "demo_0.jpg"


async def add_camera(session: aiohttp.ClientSession, base: str, token: str, config: Path) -> None:
    """Add a camera showing the demo picture (a local file camera), unless it is there.

    The picture is copied to ``front_door.jpg`` in the config folder: newer releases name
    the camera after its file (``camera.front_door``), older ones take the name given.
    """
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/config/config_entries/entry?domain=local_file"
    async with session.get(url, headers=headers) as response:
        if await response.json():
            return
    picture = config / "front_door.jpg"
    shutil.copyfile(demo_picture(), picture)
    await run_flow(
        session,
        f"{base}/api/config/config_entries/flow",
        {"handler": "local_file"},
        {"name": CAMERA_NAME, "file_path": str(picture.resolve())},
        headers,
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=ROOT / "config")
    parser.add_argument("--grpc-port", type=int, default=50051)
    parser.add_argument("--http-port", type=int, default=50080)
    parser.add_argument("--scenario-interval", type=float, default=4.0)
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM stops everything as Ctrl-C does.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    link_integration(args.config)
    skip_location_step(args.config)
    sandbox = Sandbox(
        args.config / "sandbox.log",
        state=args.config / ".sandbox-state.jsonl",
        grpc_port=args.grpc_port,
        http_port=args.http_port,
    )
    hass = HomeAssistantInstance(args.config, PORT)
    session = aiohttp.ClientSession()
    resets: asyncio.Task[None] | None = None
    try:
        # Quiet while Home Assistant starts and the integration is configured, so the demo's
        # first events find the devices already named from the phonebook.
        await sandbox.start()
        print(
            f"Sandbox running (gRPC 127.0.0.1:{sandbox.grpc_port}), log: config/sandbox.log",
            flush=True,
        )
        print(
            "Starting Home Assistant (the first start installs what it needs and takes a minute"
            " or two), log: config/home-assistant.log",
            flush=True,
        )
        await hass.start(session)
        token = await onboard(session, hass.url)
        await configure_integration(
            session,
            hass.url,
            token,
            sandbox,
            ALL_EVENT_TYPES,
            {
                "general": {
                    "event_types": ALL_EVENT_TYPES,
                    "phonebook": PHONEBOOK,
                    "share_sms_text": False,
                    "sms_budget": 20,
                    "sender_name": SENDER_NAME,
                },
                "caller_names": CALLER_NAMES,
            },
        )
        await add_camera(session, hass.url, token, args.config)
        # Same ports and state file: the integration's durable subscription resumes.
        await sandbox.stop()
        await sandbox.start(
            "--scenario", "demo", "--scenario-interval", str(args.scenario_interval)
        )
        resets = asyncio.create_task(
            reset_counts_each_cycle(
                session, hass.url, sandbox.url, lambda: onboard(session, hass.url)
            )
        )
        print(
            f"\nHome Assistant is running at http://localhost:{PORT}\n"
            f"Login: {USERNAME} / {PASSWORD}\n"
            "The wgtwo integration is configured against the local sandbox, which now plays a "
            "demo scenario\n(Alice and Bob, each: calls, a missed call and voicemail, SMS, a "
            "roaming trip and back, a serving node, a handset; at the end of each cycle their "
            "missed calls\nare reset and voicemails marked heard). Send the camera's picture by "
            "MMS from Settings -> Tools -> Actions:\n"
            "wgtwo.send_mms, target Alice, sender Home, image camera.front_door.\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        assert hass.process is not None
        return await hass.process.wait()
    finally:
        if resets is not None:
            resets.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resets
        await session.close()
        await hass.stop(30)
        await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    """Run until Ctrl-C."""
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(asyncio.run(_run(args)))


if __name__ == "__main__":
    main()
