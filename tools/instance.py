"""Run the sandbox and a Home Assistant instance as processes, onboarded and configured.

Shared by ``scripts/develop``, the browser tests, the soak and the benchmark: each process
runs in its own session (so a signal reaches its children too), Home Assistant finishes
onboarding through its HTTP API and the integration is added through its real config flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import aiohttp

ROOT: Final = Path(__file__).resolve().parent.parent
USERNAME: Final = "dev"
PASSWORD: Final = "dev"
CLIENT_ID: Final = "demo-client"
CLIENT_SECRET: Final = "demo-secret"
ALL_EVENT_TYPES: Final = [
    "voice",
    "voicemail",
    "sms",
    "sms_delivery_report",
    "roaming",
    "location",
    "handset",
]
# What a small instance needs to be onboarded and configured over HTTP, without the
# frontend and the rest of default_config (each would cost start-up time).
MINIMAL_COMPONENTS: Final = ("api", "auth", "config", "onboarding")


# Onboarding's location step sets up what default_config would bring (weather, radio and
# text-to-speech integrations that reach the internet or need ffmpeg): a failed-setup card
# and start-up errors on a new instance that has nothing to do with them. Marked done
# before the first start, it is skipped; the other steps go through the onboarding API.
ONBOARDING_STORE: Final = {
    "version": 4,
    "minor_version": 1,
    "key": "onboarding",
    "data": {"done": ["core_config"]},
}


def skip_location_step(config: Path) -> None:
    """Mark onboarding's location step done in a config folder that was never onboarded."""
    store = config / ".storage" / "onboarding"
    if store.exists():
        return
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(ONBOARDING_STORE))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def link_integration(config: Path) -> None:
    """Link the integration into the config folder's custom_components."""
    links = config / "custom_components"
    links.mkdir(parents=True, exist_ok=True)
    link = links / "wgtwo"
    if not link.is_symlink():
        link.symlink_to(ROOT / "custom_components" / "wgtwo", target_is_directory=True)


def write_configuration(
    config: Path, port: int, components: Sequence[str] = MINIMAL_COMPONENTS, extra: str = ""
) -> None:
    """Write a configuration.yaml serving HTTP on 127.0.0.1:port with these components."""
    lines = [
        "homeassistant:",
        "  name: wgtwo",
        "  time_zone: UTC",
        '  country: "NO"',
        "  unit_system: metric",
        "http:",
        "  server_host: 127.0.0.1",
        f"  server_port: {port}",
        "logger:",
        "  default: warning",
        *(f"{component}:" for component in components),
    ]
    config.mkdir(parents=True, exist_ok=True)
    (config / "configuration.yaml").write_text("\n".join(lines) + "\n" + extra)


async def start_process(
    *command: str,
    log: Path,
    ready: str | None = None,
    ready_within: float = 60,
    cwd: Path = ROOT,
) -> asyncio.subprocess.Process:
    """Start a process in its own session, its output going to log (and to us until ready)."""
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE if ready else output,
            stderr=output,
            start_new_session=True,
        )
    if ready and process.stdout:
        try:
            while True:
                line = (await asyncio.wait_for(process.stdout.readline(), ready_within)).decode()
                if not line:
                    raise RuntimeError(f"{command[0]} exited before it was ready")
                if ready in line:
                    break
        except BaseException:
            await kill_process(process)
            raise
    return process


async def stop_process(process: asyncio.subprocess.Process, grace: float = 30) -> None:
    """SIGTERM the process's session and wait for it; SIGKILL it if it does not end."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            await kill_process(process)


async def kill_process(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the process's session and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


class Sandbox:
    """The sandbox server as a process on fixed ports, restartable with the same state."""

    def __init__(
        self,
        log: Path,
        state: Path | None = None,
        grpc_port: int | None = None,
        http_port: int | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.log = log
        self.state = state
        self.grpc_port = grpc_port or free_port()
        self.http_port = http_port or free_port()
        self.extra_args = list(extra_args)
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Return the base URL of the token and control endpoints."""
        return f"http://127.0.0.1:{self.http_port}"

    def command(self, *extra: str) -> list[str]:
        """Return the sandbox command line."""
        command = [
            sys.executable,
            "-m",
            "wgtwo_sandbox",
            "--grpc-port",
            str(self.grpc_port),
            "--http-port",
            str(self.http_port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ]
        if self.state is not None:
            command += ["--state", str(self.state)]
        return command + self.extra_args + list(extra)

    async def start(self, *extra: str) -> None:
        """Start it and wait until it serves."""
        self.process = await start_process(*self.command(*extra), log=self.log, ready="ready")

    async def stop(self) -> None:
        """Stop it with SIGTERM (the state file is kept)."""
        if self.process is not None:
            await stop_process(self.process)

    async def kill(self) -> None:
        """SIGKILL it (the state file is kept)."""
        if self.process is not None:
            await kill_process(self.process)


class HomeAssistantInstance:
    """A Home Assistant process on its own port and config folder."""

    def __init__(self, config: Path, port: int | None = None) -> None:
        self.config = config
        self.port = port or free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, session: aiohttp.ClientSession, within: float = 600) -> None:
        """Start it and wait until its HTTP server answers."""
        self.process = await start_process(
            sys.executable,
            "-m",
            "homeassistant",
            "--config",
            str(self.config),
            log=self.config / "home-assistant.console.log",
            # Not from the repository: its custom_components package would hide the config
            # folder's (python -m puts the working directory first on the path).
            cwd=self.config,
        )
        try:
            async with asyncio.timeout(within):
                await wait_for_http(session, f"{self.url}/auth/providers", self.process)
        except BaseException:
            await kill_process(self.process)
            raise

    async def stop(self, grace: float = 60) -> None:
        """Stop it with SIGTERM (a clean shutdown), SIGKILL after grace seconds."""
        if self.process is not None:
            await stop_process(self.process, grace)

    async def kill(self) -> None:
        """SIGKILL it."""
        if self.process is not None:
            await kill_process(self.process)


async def wait_for_http(
    session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process | None = None
) -> None:
    """Wait until url answers (any status below 500); fail if the process exits first."""
    while True:
        if process is not None and process.returncode is not None:
            raise RuntimeError(f"the process exited with {process.returncode} before {url}")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url) as response:
                # 400 "onboarding_required" from a new instance counts as up too.
                if response.status < 500:
                    return
        await asyncio.sleep(0.5)


async def _token(session: aiohttp.ClientSession, base: str, code: str) -> str:
    async with session.post(
        f"{base}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": f"{base}/"},
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def onboard(
    session: aiohttp.ClientSession,
    base: str,
    username: str = USERNAME,
    password: str = PASSWORD,
    *,
    complete: bool = True,
) -> str:
    """Finish onboarding once, then log in; return an access token.

    ``complete=False`` only creates the user: the later steps set up integrations (weather,
    radio, ...) that a small instance without default_config does not want.
    """
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
                "username": username,
                "password": password,
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
            json={"username": username, "password": password, "client_id": f"{base}/"},
        ) as response:
            code = (await response.json())["result"]
    token = await _token(session, base, code)
    await confirm_http_config(session, base, token)
    if not complete:
        return token
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


async def confirm_http_config(session: aiohttp.ClientSession, base: str, token: str) -> None:
    """Confirm the HTTP settings read from configuration.yaml, as the frontend's dialog asks.

    Home Assistant moves them into its storage as a trial that it reverts five minutes
    later (restarting on port 8123), or at the next start, unless an admin confirms it.
    """
    async with session.ws_connect(f"{base}/api/websocket") as socket_:
        await socket_.receive_json()  # auth_required
        await socket_.send_json({"type": "auth", "access_token": token})
        if (await socket_.receive_json())["type"] != "auth_ok":
            raise RuntimeError("Home Assistant refused the access token")
        await socket_.send_json({"id": 1, "type": "http/config"})
        pending = (await socket_.receive_json())["result"]["pending"]
        if pending is None or pending.get("error") is not None:
            return
        await socket_.send_json({"id": 2, "type": "http/config/promote"})
        answer = await socket_.receive_json()
        if not answer.get("success"):
            raise RuntimeError(f"Home Assistant kept the HTTP settings unconfirmed: {answer}")


async def entry_states(session: aiohttp.ClientSession, base: str, token: str) -> list[str]:
    """Return the state of each wgtwo config entry."""
    async with session.get(
        f"{base}/api/config/config_entries/entry",
        params={"domain": "wgtwo"},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        response.raise_for_status()
        return [str(entry["state"]) for entry in await response.json()]


async def wait_until_loaded(
    session: aiohttp.ClientSession, base: str, token: str, within: float = 30
) -> None:
    """Wait until the one wgtwo entry is loaded."""
    async with asyncio.timeout(within):
        while True:
            if await entry_states(session, base, token) == ["loaded"]:
                return
            await asyncio.sleep(0.5)


async def configure_integration(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    sandbox: Sandbox,
    event_types: Sequence[str] = ALL_EVENT_TYPES,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Add the integration through its config flow (unless it is there), then options.

    ``options`` maps an options menu choice (``general``, ``caller_names``, ...) to its
    answers; each saves and reloads the entry, which is then waited for.
    """
    headers = {"Authorization": f"Bearer {token}"}
    if await entry_states(session, base, token):
        return
    answers: dict[str, Any] = {
        "environment": "custom",
        "host": f"127.0.0.1:{sandbox.grpc_port}",
        "plaintext": True,
        "token_url": f"{sandbox.url}/oauth2/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "event_types": list(event_types),
    }
    result = await run_flow(
        session, f"{base}/api/config/config_entries/flow", {"handler": "wgtwo"}, answers, headers
    )
    for group, group_answers in (options or {}).items():
        await run_flow(
            session,
            f"{base}/api/config/config_entries/options/flow",
            {"handler": result["result"]["entry_id"]},
            dict(group_answers),
            headers,
            menu_choice=group,
        )
    await wait_until_loaded(session, base, token)


async def run_flow(
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
