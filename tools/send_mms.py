"""``scripts/wgtwo send-mms``: an MMS of a text, a picture and a sound, sent once.

From a subscriber (``--from N --to N``) or to a subscriber from an approved sender
(``--to-subscriber N --from-address NAME_OR_NUMBER``); each part's type is told by its
file's ending (``.jpg``/``.jpeg``, ``.png``, ``.wav``, ``.mp3``, ``.amr``, ``.opus``). The
files are sent as they are: the operator's sandbox refuses a message above 300 kB, as
handsets and networks do.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from custom_components.wgtwo.client import MmsPart
from custom_components.wgtwo.client.event_types import (
    SCOPE_MMS_FROM_SUBSCRIBER,
    SCOPE_MMS_TO_SUBSCRIBER,
)
from custom_components.wgtwo.client.mms import (
    AUDIO_FORMATS,
    FORMAT_BY_SUFFIX,
    IMAGE_FORMATS,
    message_size,
)
from tools.wgtwo import (
    EXIT_OK,
    Cli,
    UsageError,
    add_direction_arguments,
    add_timeout_argument,
    ready_provider,
    refused,
    send_once,
    subcommand,
    to_jsonable,
    to_subscriber,
)

_IMAGE_SUFFIXES: Final = sorted(s for s, f in FORMAT_BY_SUFFIX.items() if f in IMAGE_FORMATS)
_AUDIO_SUFFIXES: Final = sorted(s for s, f in FORMAT_BY_SUFFIX.items() if f in AUDIO_FORMATS)


def _arguments(parser: argparse.ArgumentParser) -> None:
    add_direction_arguments(parser)
    parser.add_argument("--text", metavar="T", help="a text part")
    parser.add_argument(
        "--image", type=Path, metavar="FILE", help="a picture: " + ", ".join(_IMAGE_SUFFIXES)
    )
    parser.add_argument(
        "--audio", type=Path, metavar="FILE", help="a sound: " + ", ".join(_AUDIO_SUFFIXES)
    )
    add_timeout_argument(parser)


def _media(flag: str, path: Path, suffixes: list[str]) -> MmsPart:
    """Read a file as a part whose type its ending tells."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise UsageError(f"{flag}: {path.name} is not one of " + ", ".join(suffixes))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{flag}: cannot read {path}: {exc.strerror}") from None
    return MmsPart.of_media(FORMAT_BY_SUFFIX[suffix], data)


def parts_of(args: argparse.Namespace) -> list[MmsPart]:
    """Return the message's parts in order (text, picture, sound); at least one."""
    parts: list[MmsPart] = []
    if args.text:
        parts.append(MmsPart.of_text(args.text))
    if args.image is not None:
        parts.append(_media("--image", args.image, _IMAGE_SUFFIXES))
    if args.audio is not None:
        parts.append(_media("--audio", args.audio, _AUDIO_SUFFIXES))
    if not parts:
        raise UsageError("give at least one of --text, --image, --audio")
    return parts


@subcommand(
    "send-mms",
    "send an MMS from a subscriber, or to one from a sender (sent once, never retried)",
    _arguments,
)
async def send_mms(cli: Cli, args: argparse.Namespace) -> int:
    """Send one MMS; print the server's answer, the parts' kinds and the bytes sent."""
    to_sub = to_subscriber(args)
    parts = parts_of(args)
    scope = SCOPE_MMS_TO_SUBSCRIBER if to_sub else SCOPE_MMS_FROM_SUBSCRIBER
    actions = cli.actions_using(args, await ready_provider(cli, args, scope))
    if to_sub:
        send = actions.send_mms_to_subscriber(args.to_subscriber, args.from_address, parts)
    else:
        send = actions.send_mms_from_subscriber(args.from_number, args.to_address, parts)
    result = await send_once("MMS", send)
    if not result.ok:
        raise refused("MMS", result.status, result.description)
    cli.print_json(
        {
            **to_jsonable(result),
            "parts": [str(part.kind) for part in parts],
            "bytes": message_size(parts),
        }
    )
    return EXIT_OK
