"""Pytest fixtures that run the sandbox server (registered from tests/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wgtwo_sandbox import SandboxServer

REPO = Path(__file__).resolve().parent.parent
TEST_CLIENT_ID = "test-client"
TEST_CLIENT_SECRET = "test-secret"

MakeSandbox = Callable[..., Awaitable[SandboxServer]]


@pytest.fixture
async def make_sandbox(socket_enabled: None) -> AsyncIterator[MakeSandbox]:
    """Return an async factory taking SandboxServer keyword arguments; stops all at teardown.

    Requesting it allows sockets for the test (Home Assistant's plugin blocks them).
    """
    servers: list[SandboxServer] = []

    async def factory(**kwargs: Any) -> SandboxServer:
        server = SandboxServer(**kwargs)
        servers.append(server)
        await server.start()
        return server

    yield factory
    for server in reversed(servers):
        await server.stop()


@pytest.fixture
async def sandbox(make_sandbox: MakeSandbox) -> SandboxServer:
    """Return a started sandbox without authentication."""
    return await make_sandbox()


@pytest.fixture
async def auth_sandbox(make_sandbox: MakeSandbox) -> SandboxServer:
    """Return a started sandbox requiring tokens for test-client / test-secret."""
    return await make_sandbox(client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET)


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SandboxProcess:
    """A sandbox started as a subprocess through scripts/sandbox."""

    process: subprocess.Popen[bytes]
    grpc_port: int
    http_port: int
    ready_line: str

    @property
    def grpc_target(self) -> str:
        """Return the address clients dial."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        """Return the base URL of the token and control endpoints."""
        return f"http://127.0.0.1:{self.http_port}"

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Send a signal and wait for the process to exit; return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=10)


async def _read_line(process: subprocess.Popen[bytes], limit: float) -> str:
    """Read the first stdout line without a thread (HA's test plugin forbids leftovers)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    os.set_blocking(fd, False)
    buffer = b""
    async with asyncio.timeout(limit):
        while b"\n" not in buffer:
            chunk = None
            with contextlib.suppress(BlockingIOError):
                chunk = os.read(fd, 4096)
            if chunk == b"" or (chunk is None and process.poll() is not None):
                break
            if chunk:
                buffer += chunk
            else:
                await asyncio.sleep(0.02)
    return buffer.decode(errors="replace").split("\n", 1)[0].strip()


class SandboxLauncher:
    """Starts scripts/sandbox subprocesses; the fixture kills them at teardown."""

    def __init__(self) -> None:
        self.processes: list[SandboxProcess] = []

    async def start(
        self, *args: str, grpc_port: int | None = None, http_port: int | None = None
    ) -> SandboxProcess:
        """Start scripts/sandbox with extra args on free (or given) ports; wait until ready."""
        grpc_port = grpc_port or free_port()
        http_port = http_port or free_port()
        command = [
            str(REPO / "scripts" / "sandbox"),
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
            *args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(  # noqa: ASYNC220 - polled without blocking below
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        handle = SandboxProcess(process, grpc_port, http_port, "")
        self.processes.append(handle)
        handle.ready_line = await _read_line(process, limit=20.0)
        if "ready" not in handle.ready_line:
            raise RuntimeError(f"sandbox did not start: {handle.ready_line!r}")
        return handle

    def close(self) -> None:
        """Kill every process still running."""
        for handle in self.processes:
            if handle.process.poll() is None:
                handle.process.kill()
            handle.process.wait(timeout=10)
            if handle.process.stdout is not None:
                handle.process.stdout.close()


@pytest.fixture
def sandbox_cli(socket_enabled: None) -> Iterator[SandboxLauncher]:
    """Return a launcher for scripts/sandbox subprocesses (all killed at teardown)."""
    launcher = SandboxLauncher()
    yield launcher
    launcher.close()


__all__ = [
    "TEST_CLIENT_ID",
    "TEST_CLIENT_SECRET",
    "MakeSandbox",
    "SandboxLauncher",
    "SandboxProcess",
    "free_port",
]
