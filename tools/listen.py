"""Print every event of a subscription as one JSON line (``scripts/listen``, ``wgtwo listen``).

Each received ``SubscribeEventsResponse`` is written to stdout in protobuf's JSON mapping,
then acked; the stream reconnects on failure. Errors the user must fix (credentials,
scopes, an unreachable host) end the tool with one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from google.protobuf import json_format

from custom_components.wgtwo.client import (
    EventSubscription,
    EventType,
    StartPosition,
    SubscriptionConfig,
    WgtwoEvent,
    scopes_for,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from tools.wgtwo import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_SCOPE,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Cli,
    CliParser,
    StreamWatch,
    UsageError,
    add_common_arguments,
    endpoint_from,
    run_subcommand,
    subcommand,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_SCOPE",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "async_main",
    "build_parser",
    "main",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the subscription's own flags (the common ones come from ``tools.wgtwo``)."""
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


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``scripts/listen``."""
    parser = CliParser(prog="scripts/listen", description=__doc__)
    add_common_arguments(parser)
    add_arguments(parser)
    return parser


async def async_main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the tool; return the process exit code (``stop`` ends it cleanly)."""
    cli = Cli(stdout or sys.stdout, stderr or sys.stderr, "listen", stop)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except UsageError as exc:
        return cli.fail(exc.code, exc.message)
    return await run_subcommand(cli, listen, args)


def _config(args: argparse.Namespace) -> SubscriptionConfig:
    try:
        return SubscriptionConfig(
            event_types=tuple(EventType(t) for t in args.types),
            client_id=args.client_id,
            durable_name=args.durable_name,
            queue_name=args.queue_name,
            max_in_flight=args.max_in_flight,
            manual_ack=not args.no_manual_ack,
            ack_timeout=args.manual_ack_timeout,
            start=StartPosition.parse(args.start),
            keepalive_time=args.keepalive,
            keepalive_timeout=min(10.0, args.keepalive),
            backoff_max=30.0,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@subcommand("listen", "print every event as one JSON line and ack it", add_arguments)
async def listen(cli: Cli, args: argparse.Namespace) -> int:
    """Subscribe until stopped (or ``--max-events``); reconnect on transient failures."""
    endpoint = endpoint_from(args)
    config = _config(args)
    provider = cli.token_provider(args, *scopes_for(config.event_types))
    done = cli.stop
    printed = 0
    stream_watch = StreamWatch(
        cli, endpoint, args.connect_timeout, f"connected to {endpoint.target}"
    )

    def print_raw(response: events_pb2.SubscribeEventsResponse) -> None:
        nonlocal printed
        # Keep protobuf's JSON mapping (camelCase, 64-bit numbers as strings).
        if not cli.print_json(json_format.MessageToDict(response)):
            done.set()  # e.g. piped into `head`: the reader is gone
            return
        printed += 1

    async def handle(_event: WgtwoEvent) -> None:
        if args.max_events and printed >= args.max_events:
            done.set()

    subscription = EventSubscription(
        endpoint,
        config,
        handle,
        token_provider=provider,
        on_state=stream_watch.on_state,
        raw_hook=print_raw,
    )
    await stream_watch.run(subscription)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m tools.listen``."""
    return asyncio.run(async_main(argv))


if __name__ == "__main__":
    sys.exit(main())
