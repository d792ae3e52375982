"""Answer the operator's caller-name lookups from a phonebook file (``scripts/wgtwo serve-names``).

The file has one ``+4712345678 = Alice`` per line (blank lines and lines starting with
``#`` are skipped), as in the integration's options. The lookup stream is the client's
:class:`NumberLookupResponder`, the one the integration runs: it reconnects on its own and
ends on rejected credentials or a missing scope. Each answer is printed as one JSON line
with the name given (``null``: unknown) and never the number; the counts go to stderr
when the command ends (Ctrl-C, or ``--max-lookups``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from custom_components.wgtwo.client.lookup import (
    MIN_MAX_AGE,
    LookupConfig,
    NumberLookupResponder,
    lookup_scopes,
)
from custom_components.wgtwo.phonebook import Phonebook, PhonebookError, parse_phonebook
from tools.wgtwo import (
    EXIT_OK,
    Cli,
    StreamWatch,
    UsageError,
    endpoint_from,
    subcommand,
)

DEFAULT_MAX_AGE_MINUTES: Final = 60.0


def read_phonebook(path: Path) -> dict[str, str]:
    """Return the file's E.164 -> name entries; a bad file is a usage error naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--phonebook: cannot read {path}: {exc}") from None
    lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
    try:
        return parse_phonebook("\n".join(lines))
    except PhonebookError as exc:
        number = next(i for i, line in enumerate(lines, 1) if line.strip() == exc.line)
        raise UsageError(
            f"--phonebook: line {number} is not '+E164 = name' or repeats a number"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the phonebook, the cache time and when to end."""
    parser.add_argument(
        "--phonebook", required=True, type=Path, metavar="FILE", help="'+4712345678 = Alice' lines"
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE_MINUTES,
        metavar="MINUTES",
        help=f"how long the operator may cache a name (default {DEFAULT_MAX_AGE_MINUTES:g},"
        f" at least {MIN_MAX_AGE / 60:g})",
    )
    parser.add_argument(
        "--detailed",
        action="store_true",
        help="also ask for lookup.number_detailed:read (the server names the called subscriber)",
    )
    parser.add_argument(
        "--max-lookups", type=int, default=0, metavar="N", help="stop after N answers (0: never)"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up if the server cannot be reached for this long at the start",
    )


@subcommand(
    "serve-names", "answer caller-name lookups from a phonebook file until stopped", add_arguments
)
async def serve_names(cli: Cli, args: argparse.Namespace) -> int:
    """Keep the lookup stream open and answer from the phonebook until stopped."""
    if args.max_age < MIN_MAX_AGE / 60:
        raise UsageError(f"--max-age must be at least {MIN_MAX_AGE / 60:g} minutes")
    if args.max_lookups < 0:
        raise UsageError("--max-lookups must not be negative")
    phonebook = Phonebook(read_phonebook(args.phonebook))
    endpoint = endpoint_from(args)
    provider = cli.token_provider(args, *lookup_scopes(detailed=args.detailed))
    done = cli.stop
    answered = 0
    stream_watch = StreamWatch(
        cli,
        endpoint,
        args.connect_timeout,
        f"answering lookups on {endpoint.target} ({len(phonebook)} names)",
    )

    def resolve(number: str, recipient: str | None) -> str | None:
        nonlocal answered
        name = phonebook.name_for(number)
        answered += 1
        if not cli.print_json({"name": name, "recipient_named": recipient is not None}):
            done.set()  # the reader is gone
        if args.max_lookups and answered >= args.max_lookups:
            done.set()
        return name

    responder = NumberLookupResponder(
        endpoint,
        resolve,
        config=LookupConfig(
            max_age=args.max_age * 60, scopes=lookup_scopes(detailed=args.detailed)
        ),
        token_provider=provider,
        on_state=stream_watch.on_state,
    )
    await stream_watch.run(responder)
    stats = responder.stats
    cli.note(
        f"answered {stats.asked} lookups: {stats.named} named, {stats.unknown} unknown,"
        f" {stats.errors} errors"
    )
    return EXIT_OK
