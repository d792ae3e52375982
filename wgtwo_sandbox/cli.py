"""Command line: run the sandbox until SIGTERM/SIGINT, printing one line when ready."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from .scenario import SCENARIOS
from .server import SandboxServer

_LOGGER = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/sandbox", description="Local stand-in for the wgtwo events API."
    )
    parser.add_argument("--grpc-port", type=int, default=0, help="gRPC port (0: any free)")
    parser.add_argument("--http-port", type=int, default=0, help="token/control port (0: any)")
    parser.add_argument("--client-id", help="require OAuth2 tokens issued to this client")
    parser.add_argument("--client-secret", help="the client's secret")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime, seconds")
    parser.add_argument("--state", help="journal file keeping state across restarts")
    parser.add_argument(
        "--history-seconds", type=float, default=1800.0, help="how long events are kept"
    )
    parser.add_argument(
        "--grant",
        action="append",
        metavar="SCOPE",
        help="scope the client may request (repeatable; default: all scopes)",
    )
    parser.add_argument(
        "--sender",
        action="append",
        metavar="NAME_OR_NUMBER",
        help="a sender approved for texts and MMS to subscribers (repeatable; default: Home)",
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="play a scenario")
    parser.add_argument(
        "--scenario-interval", type=float, default=5.0, help="seconds between scenario steps"
    )
    parser.add_argument(
        "--no-stall-relay",
        action="store_true",
        help="serve gRPC directly (faster; /control/stall then answers 409)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if bool(args.client_id) != bool(args.client_secret):
        parser.error("--client-id and --client-secret go together")
    if args.scenario_interval <= 0:
        parser.error("--scenario-interval must be positive")
    return args


def build_server(args: argparse.Namespace) -> SandboxServer:
    """Create the server the arguments describe."""
    return SandboxServer(
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        state_file=args.state,
        history_seconds=args.history_seconds,
        granted_scopes=args.grant,
        stall_relay=not args.no_stall_relay,
        senders=args.sender,
    )


async def serve(args: argparse.Namespace, stop: asyncio.Event, out: TextIO | None = None) -> None:
    """Run the server (and scenario) until ``stop`` is set."""
    server = build_server(args)
    await server.start()
    scenario_task: asyncio.Task[None] | None = None
    try:
        if args.scenario:
            scenario_task = asyncio.create_task(
                SCENARIOS[args.scenario](server, args.scenario_interval)
            )
        print(
            f"sandbox ready grpc={server.grpc_target} http={server.http_url}",
            file=out or sys.stdout,
            flush=True,
        )
        await stop.wait()
    finally:
        if scenario_task is not None:
            scenario_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scenario_task
        await server.stop()


async def run(args: argparse.Namespace, out: TextIO | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(args, stop, out)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(run(args))
    return 0
