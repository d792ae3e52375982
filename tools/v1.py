"""The operator's newer services on the command line: consents and the v1 event streams.

- ``wgtwo consents``: one JSON line per consenting subscriber (``number``, ``scopes``),
  the subscriptions turned into numbers with ``subscription.id:read``; operator-wide
  consents name no subscriber and are only counted on stderr.
- ``wgtwo watch-consents``: the consent change stream, one JSON line per change.
- ``wgtwo watch-subscription --kind KIND``: one of the four v1 subscription streams.

Both streams run as the integration runs them (:class:`V1EventStream`): an event is acked
after its line was printed, ``--count N`` ends the run after N events, Ctrl-C ends it
cleanly. The numbers printed are the user's own output; they are never logged.
"""

from __future__ import annotations

import argparse
from typing import Any

from custom_components.wgtwo.client import WgtwoEvent
from custom_components.wgtwo.client.consents import SCOPE_SUBSCRIPTION_ID
from custom_components.wgtwo.client.v1_services import V1_SERVICES, V1Stream
from custom_components.wgtwo.client.v1_stream import V1EventStream, V1StreamConfig
from tools.wgtwo import (
    EXIT_OK,
    Cli,
    StreamWatch,
    UsageError,
    add_timeout_argument,
    endpoint_from,
    subcommand,
    to_jsonable,
)

# The streams ``watch-subscription --kind`` offers (the consent stream has its own command).
SUBSCRIPTION_KINDS = tuple(str(s) for s in V1Stream if s is not V1Stream.CONSENT_CHANGE)

# --- consents --------------------------------------------------------------------------


@subcommand(
    "consents",
    "list the consenting subscribers (number and granted scopes, one JSON line each)",
    add_timeout_argument,
)
async def consents(cli: Cli, args: argparse.Namespace) -> int:
    """Print one JSON line per consenting subscriber, in the operator's order."""
    actions = cli.actions(args, SCOPE_SUBSCRIPTION_ID)
    tenants = unnamed = 0
    for consent in await actions.list_consents():
        if consent.subscription_id is None:
            tenants += 1
            continue
        number = await actions.get_msisdn(consent)
        if number is None:
            unnamed += 1
            continue
        if not cli.print_json({"number": number, "scopes": sorted(consent.scopes)}):
            break
    if tenants:
        cli.note(f"{tenants} operator-wide consent(s), naming no subscriber")
    if unnamed:
        cli.note(f"{unnamed} subscription(s) the operator gave no number for")
    return EXIT_OK


# --- watch-consents / watch-subscription -----------------------------------------------


def _watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--count", type=int, default=0, metavar="N", help="exit after N events (default: never)"
    )
    parser.add_argument(
        "--queue-name",
        default="",
        metavar="NAME",
        help="durable queue to read from (kept by the operator across runs); "
        "default: a stream of this run only",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up if the first connection is not up within this time",
    )


def _subscription_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, choices=SUBSCRIPTION_KINDS, help="which stream")
    _watch_arguments(parser)


# Fields of the client's event models that only v0 events fill in.
_V0_ONLY = ("sequence", "owner", "owner_sub", "service_id")


def event_line(event: WgtwoEvent) -> dict[str, Any]:
    """Return one event as its JSON line: its kind, then its fields (the v1 ones only)."""
    line: dict[str, Any] = {"kind": event.kind, **to_jsonable(event)}
    for name in _V0_ONLY:
        line.pop(name, None)
    return line


@subcommand(
    "watch-consents",
    "print every consent change as one JSON line, acked after it is printed",
    _watch_arguments,
)
async def watch_consents(cli: Cli, args: argparse.Namespace) -> int:
    """Follow the consent change stream until stopped (or ``--count``)."""
    return await watch(cli, args, V1Stream.CONSENT_CHANGE)


@subcommand(
    "watch-subscription",
    "print every event of a v1 subscription stream as one JSON line, acked after it is printed",
    _subscription_arguments,
)
async def watch_subscription(cli: Cli, args: argparse.Namespace) -> int:
    """Follow one v1 subscription stream until stopped (or ``--count``)."""
    return await watch(cli, args, V1Stream(args.kind))


async def watch(cli: Cli, args: argparse.Namespace, kind: V1Stream) -> int:
    """Run one v1 stream; print each event, then let the stream ack it."""
    if args.count < 0:
        raise UsageError("--count must not be negative")
    endpoint = endpoint_from(args)
    service = V1_SERVICES[kind]
    provider = cli.token_provider(args, *service.scopes)
    done = cli.stop
    printed = 0
    stream_watch = StreamWatch(
        cli, endpoint, args.connect_timeout, f"connected to {endpoint.target} ({kind} stream)"
    )

    async def handle(event: WgtwoEvent) -> None:
        nonlocal printed
        if not cli.print_json(event_line(event)):
            done.set()
            # Not printed, so not acked: the operator sends it again to the next reader.
            raise BrokenPipeError("the reader is gone")
        printed += 1
        if args.count and printed >= args.count:
            # Called from the handler, this only asks the stream to end: it acks this
            # event first, hands no further one to the handler and then returns.
            await stream.stop()

    stream = V1EventStream(
        endpoint,
        service,
        V1StreamConfig(queue_name=args.queue_name, backoff_max=30.0),
        handle,
        token_provider=provider,
        on_state=stream_watch.on_state,
    )
    await stream_watch.run(stream)
    return EXIT_OK
