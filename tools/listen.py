"""Print every event of a subscription as one JSON line (``scripts/listen``).

Each received ``SubscribeEventsResponse`` is written to stdout in protobuf's JSON mapping,
then acked; the stream reconnects on failure. Errors the user must fix (credentials,
scopes, an unreachable host) end the tool with one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import aiohttp
from google.protobuf import json_format

from custom_components.wgtwo.client import (
    DEFAULT_TOKEN_URL,
    AuthenticationError,
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    EventSubscription,
    EventType,
    MissingScopeError,
    StartPosition,
    SubscriptionConfig,
    TokenProvider,
    WgtwoError,
    WgtwoEvent,
    scopes_for,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_SCOPE = 4
EXIT_UNREACHABLE = 5
EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(prog="scripts/listen", description=__doc__)
    parser.add_argument("--target", required=True, help="API endpoint HOST:PORT")
    parser.add_argument(
        "--plaintext", action="store_true", help="no TLS (only for a loopback sandbox)"
    )
    parser.add_argument("--token-url", default=DEFAULT_TOKEN_URL)
    parser.add_argument("--client-id", default=os.environ.get("WGTWO_CLIENT_ID", ""))
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("WGTWO_CLIENT_SECRET", ""),
        help="or set WGTWO_CLIENT_SECRET (keeps it out of the process list)",
    )
    parser.add_argument(
        "--type",
        dest="types",
        action="append",
        required=True,
        choices=[t.value for t in EventType],
        metavar="EVENT_TYPE",
        help="event type to receive (repeatable), e.g. VOICE_EVENT",
    )
    parser.add_argument("--durable-name", default="")
    parser.add_argument("--queue-name", default="")
    parser.add_argument("--manual-ack-timeout", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--no-manual-ack", action="store_true", help="let the server auto-ack")
    parser.add_argument("--max-in-flight", type=int, default=50)
    parser.add_argument("--start", default="new", help="oldest | new | last | sequence:N")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up if the first connection is not up within this time",
    )
    parser.add_argument("--keepalive", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--max-events", type=int, default=0, help="exit after N events")
    return parser


def _one_line(message: str, stderr: TextIO) -> None:
    print(f"listen: {message}", file=stderr, flush=True)


async def async_main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the tool; return the process exit code (``stop`` ends it cleanly)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        endpoint = Endpoint.parse(args.target, plaintext=args.plaintext)
        start = StartPosition.parse(args.start)
        config = SubscriptionConfig(
            event_types=tuple(EventType(t) for t in args.types),
            client_id=args.client_id,
            durable_name=args.durable_name,
            queue_name=args.queue_name,
            max_in_flight=args.max_in_flight,
            manual_ack=not args.no_manual_ack,
            ack_timeout=args.manual_ack_timeout,
            start=start,
            keepalive_time=args.keepalive,
            keepalive_timeout=min(10.0, args.keepalive),
            backoff_max=30.0,
        )
    except (ValueError, WgtwoError) as exc:
        _one_line(f"error: {exc}", err)
        return EXIT_USAGE
    if bool(args.client_id) != bool(args.client_secret):
        _one_line("error: --client-id and --client-secret go together", err)
        return EXIT_USAGE

    async with aiohttp.ClientSession() as session:
        provider = None
        if args.client_id:
            try:
                provider = TokenProvider(
                    session,
                    args.client_id,
                    args.client_secret,
                    scopes_for(config.event_types),
                    token_url=args.token_url,
                )
            except WgtwoError as exc:
                _one_line(f"error: {exc}", err)
                return EXIT_USAGE
        return await _listen(endpoint, config, provider, args, out, err, stop)


async def _listen(
    endpoint: Endpoint,
    config: SubscriptionConfig,
    provider: TokenProvider | None,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    stop: asyncio.Event | None,
) -> int:
    done = stop or asyncio.Event()
    printed = 0
    connected_once = False
    last_reason = "no answer"

    def print_raw(response: events_pb2.SubscribeEventsResponse) -> None:
        nonlocal printed
        line = json.dumps(json_format.MessageToDict(response), separators=(",", ":"))
        try:
            out.write(line + "\n")
            out.flush()
        except BrokenPipeError:  # e.g. piped into `head`: the reader is gone
            done.set()
            return
        printed += 1

    async def handle(_event: WgtwoEvent) -> None:
        if args.max_events and printed >= args.max_events:
            done.set()

    def on_state(status: ConnectionStatus) -> None:
        nonlocal connected_once, last_reason
        if status.state is ConnectionState.CONNECTED:
            connected_once = True
            _one_line(f"connected to {endpoint.target}", err)
        elif status.state is ConnectionState.DISCONNECTED:
            last_reason = status.reason or "unknown"
            _one_line(f"disconnected ({last_reason}); retrying in {status.retry_in:.1f} s", err)

    subscription = EventSubscription(
        endpoint,
        config,
        handle,
        token_provider=provider,
        on_state=on_state,
        raw_hook=print_raw,
    )
    runner = asyncio.create_task(subscription.run())
    waiter = asyncio.create_task(done.wait())
    loop = asyncio.get_running_loop()
    installed = _install_signals(loop, done)
    deadline = time.monotonic() + args.connect_timeout
    code = 0
    try:
        while not runner.done() and not done.is_set():
            timeout = None if connected_once else max(0.0, deadline - time.monotonic())
            await asyncio.wait({runner, waiter}, timeout=min(timeout or 0.25, 0.25))
            if not connected_once and not runner.done() and time.monotonic() >= deadline:
                _one_line(
                    f"error: cannot reach {endpoint.target} ({last_reason}) "
                    f"within {args.connect_timeout:g} s",
                    err,
                )
                code = EXIT_UNREACHABLE
                break
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await subscription.stop()
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
    try:
        await runner
    except AuthenticationError as exc:
        _one_line(f"error: authentication failed: {exc}", err)
        return EXIT_AUTH
    except MissingScopeError as exc:
        _one_line(f"error: {exc}", err)
        return EXIT_SCOPE
    except WgtwoError as exc:
        _one_line(f"error: {exc}", err)
        return EXIT_ERROR
    return code


def _install_signals(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> list[int]:
    installed: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, done.set)
        except NotImplementedError, RuntimeError, ValueError:
            continue
        installed.append(sig)
    return installed


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m tools.listen``."""
    return asyncio.run(async_main(argv))


if __name__ == "__main__":
    sys.exit(main())
