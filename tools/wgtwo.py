"""Developer command line over the client package (``scripts/wgtwo SUBCOMMAND ...``).

Every subcommand talks to the API with the same client the integration uses
(``custom_components/wgtwo/client``), asks for a token carrying only the scope it needs,
prints the server's answer as one JSON line per object on stdout and, on failure, prints
one line ``wgtwo SUBCOMMAND: error: ...`` on stderr and exits with one of the ``EXIT_*``
codes below. Nothing that acts is ever retried: an SMS or an MMS goes out at most once.

Adding a subcommand is one function registered in the table (``SUBCOMMANDS``)::

    def _arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--number", required=True)

    @subcommand("my-thing", "one line of help", _arguments)
    async def my_thing(cli: Cli, args: argparse.Namespace) -> int:
        actions = cli.actions(args, SCOPE_VOICEMAIL_GET)  # closed when the run ends
        ...
        cli.print_json(answer)  # a dataclass, a dict, a list ...
        return EXIT_OK

Raise ``CliError(code, message)`` (or ``UsageError(message)``) to end with an error line;
the client's errors (``WgtwoError``) are turned into a code and a line by ``describe``.
A subcommand living in another module registers itself the same way when imported: add
the module to ``SUBCOMMAND_MODULES``.

Reusable helpers:

- ``CliParser``: an ``ArgumentParser`` whose errors raise ``UsageError`` (one line, no
  usage dump); ``add_common_arguments(parser)`` adds ``--target``, ``--plaintext``,
  ``--token-url``, ``--client-id``, ``--client-secret`` (``WGTWO_CLIENT_ID`` /
  ``WGTWO_CLIENT_SECRET`` from the environment); ``add_timeout_argument(parser)``.
- ``endpoint_from(args)``: the ``Endpoint`` the flags name (``UsageError`` if malformed).
- ``Cli``: one run's output and resources: ``print_json(obj)`` writes one JSON line,
  ``fail(code, message)`` the one-line error, ``note(message)`` a progress line on stderr,
  ``token_provider(args, *scopes)`` a provider for exactly those scopes (``None`` without
  credentials), ``actions(args, *scopes)`` a ``WgtwoActions`` using it (or
  ``actions_using(args, provider)`` one you made), ``stop`` an event
  that ends long-running subcommands; inside ``with cli.stop_on_signals():`` SIGINT and
  SIGTERM set it (a long-running subcommand waits for it there, see ``tools/listen.py``).
- ``run_subcommand(cli, run, args)``: runs one subcommand with an HTTP session, maps its
  errors to exit codes and closes what it opened (``tools/listen.py`` uses it standalone).
- ``to_jsonable(obj)``: dataclasses, enums, datetimes (ISO 8601), durations (seconds) and
  sets (sorted lists).
- ``send_once(what, send)``, ``refused(what, status, description)``: a paid send awaited
  once, its failures as error lines that say it is not retried;
  ``add_direction_arguments(parser)`` and ``to_subscriber(args)``: ``--from``/``--to`` or
  ``--to-subscriber``/``--from-address``; ``ready_provider(cli, args, scope)``: tokens
  fetched before anything is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Final, NoReturn, Protocol, TextIO

import aiohttp

from custom_components.wgtwo.client import (
    DEFAULT_TOKEN_URL,
    ActionError,
    AuthenticationError,
    CannotConnectError,
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    ForwardingMode,
    ForwardingRejectedError,
    InvalidEndpointError,
    MissingScopeError,
    TokenProvider,
    WgtwoActions,
    WgtwoError,
)
from custom_components.wgtwo.client.event_types import (
    SCOPE_SMS_SEND,
    SCOPE_SMS_TO_SUBSCRIBER,
    SCOPE_VOICEMAIL_GET,
)
from custom_components.wgtwo.client.forwarding import FORWARDING_SCOPES, NEEDS_NUMBER

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1  # any other failure the server or the client reported
EXIT_USAGE: Final = 2  # bad arguments
EXIT_AUTH: Final = 3  # credentials or token rejected
EXIT_SCOPE: Final = 4  # the OAuth client lacks a scope
EXIT_UNREACHABLE: Final = 5  # the API or the token endpoint cannot be reached
EXIT_REJECTED: Final = 6  # the server refused the request (SMS, forwarding)
EXIT_NOT_FOUND: Final = 7  # no such object (voicemail)

PROG: Final = "wgtwo"
DEFAULT_TIMEOUT: Final = 15.0
# Modules whose import registers further subcommands (imported when the parser is built).
SUBCOMMAND_MODULES: Final[tuple[str, ...]] = (
    "tools.listen",
    "tools.serve_names",
    "tools.network",
    "tools.v1",
    "tools.send_mms",
)


class CliError(Exception):
    """Ends a subcommand with ``code`` and one line on stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UsageError(CliError):
    """Bad arguments: exit code ``EXIT_USAGE``."""

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(EXIT_USAGE, message)
        self.prog = prog


class CliParser(argparse.ArgumentParser):
    """Argument errors raise ``UsageError``, so they end as one line like every failure."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting."""
        raise UsageError(message, self.prog)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Add where the API is and the OAuth client credentials (env defaults for the secret)."""
    parser.add_argument("--target", required=True, help="API endpoint HOST:PORT")
    parser.add_argument(
        "--plaintext", action="store_true", help="no TLS (only for a loopback sandbox)"
    )
    parser.add_argument("--token-url", default=DEFAULT_TOKEN_URL)
    parser.add_argument(
        "--client-id",
        default=os.environ.get("WGTWO_CLIENT_ID", ""),
        help="OAuth client id (or set WGTWO_CLIENT_ID); none: no token is sent",
    )
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("WGTWO_CLIENT_SECRET", ""),
        help="or set WGTWO_CLIENT_SECRET (keeps it out of the process list)",
    )


def add_timeout_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--timeout`` for one API call."""
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up on the call after this time (default {DEFAULT_TIMEOUT:g})",
    )


def endpoint_from(args: argparse.Namespace) -> Endpoint:
    """Return the endpoint named by ``--target`` / ``--plaintext``."""
    try:
        return Endpoint.parse(args.target, plaintext=args.plaintext)
    except InvalidEndpointError as exc:
        raise UsageError(f"--target: {exc}") from None


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as JSON-ready data (dataclass fields, enum values, ISO times)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(to_jsonable(v) for v in value)
    return value


def describe(error: WgtwoError) -> tuple[int, str]:
    """Return the exit code and the one-line message for a client error."""
    if isinstance(error, AuthenticationError):
        return EXIT_AUTH, f"authentication failed: {error}"
    if isinstance(error, MissingScopeError):
        return EXIT_SCOPE, str(error)
    if isinstance(error, CannotConnectError):
        return EXIT_UNREACHABLE, str(error)
    if isinstance(error, InvalidEndpointError):
        return EXIT_USAGE, str(error)
    return EXIT_ERROR, str(error)


class Cli:
    """One run: where output goes, the HTTP session and the API clients to close."""

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        prog: str = PROG,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.out = out
        self.err = err
        self.prog = prog
        self.stop = stop or asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._actions: list[WgtwoActions] = []

    @property
    def session(self) -> aiohttp.ClientSession:
        """The run's HTTP session (for token requests)."""
        if self._session is None:
            raise RuntimeError("no session outside run_subcommand()")
        return self._session

    def print_json(self, value: Any) -> bool:
        """Write one JSON line; return False when the reader is gone (closed pipe)."""
        line = json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False)
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except BrokenPipeError:
            return False
        return True

    def note(self, message: str) -> None:
        """Write a progress line on stderr."""
        print(f"{self.prog}: {message}", file=self.err, flush=True)

    def fail(self, code: int, message: str) -> int:
        """Write the one-line error and return ``code``."""
        self.note(f"error: {message}")
        return code

    @contextlib.contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """Set ``stop`` on SIGINT/SIGTERM while inside (a clean end instead of a traceback)."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except NotImplementedError, RuntimeError, ValueError:
                continue  # not the main thread, or no signals on this platform
            installed.append(sig)
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def token_provider(self, args: argparse.Namespace, *scopes: str) -> TokenProvider | None:
        """Return a provider of tokens for exactly ``scopes``, or None without credentials."""
        if bool(args.client_id) != bool(args.client_secret):
            raise UsageError("--client-id and --client-secret go together")
        if not args.client_id:
            return None
        try:
            return TokenProvider(
                self.session,
                args.client_id,
                args.client_secret,
                frozenset(scopes),
                token_url=args.token_url,
            )
        except InvalidEndpointError as exc:
            raise UsageError(f"--token-url: {exc}") from None

    def actions(self, args: argparse.Namespace, *scopes: str) -> WgtwoActions:
        """Return unary API calls whose tokens carry only ``scopes`` (closed after the run)."""
        return self.actions_using(args, self.token_provider(args, *scopes))

    def actions_using(
        self, args: argparse.Namespace, provider: TokenProvider | None
    ) -> WgtwoActions:
        """Return unary API calls with the given tokens (closed after the run)."""
        endpoint = endpoint_from(args)
        actions = WgtwoActions(
            endpoint, provider, timeout=getattr(args, "timeout", DEFAULT_TIMEOUT)
        )
        self._actions.append(actions)
        return actions

    async def execute(self, run: Runner, args: argparse.Namespace) -> int:
        """Run ``run`` with an HTTP session; close every client it opened."""
        async with aiohttp.ClientSession() as session:
            self._session = session
            try:
                return await run(self, args)
            finally:
                for actions in self._actions:
                    await actions.close()
                self._actions.clear()
                self._session = None


class LongLivedStream(Protocol):
    """A client stream that runs until stopped (the events, a v1 stream, the lookups)."""

    async def run(self) -> None:
        """Run until stopped; raise the error that ended it."""

    async def stop(self) -> None:
        """End the stream (what was handled is acked first)."""


class StreamWatch:
    """Run one long-lived client stream for a command, saying on stderr how it stands.

    Give :meth:`on_state` to the stream as its ``on_state``. :meth:`run` returns once
    ``cli.stop`` is set (by the command, or by SIGINT/SIGTERM) or the stream ended; a stream
    that never connected within ``connect_timeout`` seconds is given up with
    ``EXIT_UNREACHABLE``, and the client's own fatal error is raised as it is.
    """

    def __init__(
        self, cli: Cli, endpoint: Endpoint, connect_timeout: float, connected: str
    ) -> None:
        """Watch for a command; ``connected`` is the note written on each connection."""
        self._cli = cli
        self._endpoint = endpoint
        self._connect_timeout = connect_timeout
        self._connected_note = connected
        self._connected_once = False
        self._last_reason = "no answer"

    def on_state(self, status: ConnectionStatus) -> None:
        """Note a connection, or a loss with the reason and the retry."""
        if status.state is ConnectionState.CONNECTED:
            self._connected_once = True
            self._cli.note(self._connected_note)
        elif status.state is ConnectionState.DISCONNECTED:
            self._last_reason = status.reason or "unknown"
            self._cli.note(
                f"disconnected ({self._last_reason}); retrying in {status.retry_in:.1f} s"
            )

    async def run(self, stream: LongLivedStream) -> None:
        """Run ``stream`` until done, stopped or unreachable; then stop it."""
        done = self._cli.stop
        runner = asyncio.create_task(stream.run())
        waiter = asyncio.create_task(done.wait())
        deadline = time.monotonic() + self._connect_timeout
        unreachable = False
        try:
            with self._cli.stop_on_signals():
                while not runner.done() and not done.is_set():
                    left = max(0.0, deadline - time.monotonic())
                    await asyncio.wait(
                        {runner, waiter},
                        timeout=None if self._connected_once else left,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if (
                        not self._connected_once
                        and not runner.done()
                        and time.monotonic() >= deadline
                    ):
                        unreachable = True
                        break
        finally:
            await stream.stop()  # acks what was handled before it returns
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        if not runner.cancelled():
            await runner  # raises the client's error, if it ended on one
        if unreachable:
            raise CliError(
                EXIT_UNREACHABLE,
                f"cannot reach {self._endpoint.target} ({self._last_reason}) within "
                f"{self._connect_timeout:g} s",
            )


Runner = Callable[[Cli, argparse.Namespace], Awaitable[int]]
Configure = Callable[[argparse.ArgumentParser], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Subcommand:
    """One entry of the table: its help line, its own arguments and what it runs."""

    help: str
    configure: Configure | None
    run: Runner


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(
    name: str, help_line: str, configure: Configure | None = None
) -> Callable[[Runner], Runner]:
    """Register ``run`` as ``scripts/wgtwo NAME`` (the common flags are added for it)."""

    def register(run: Runner) -> Runner:
        SUBCOMMANDS[name] = Subcommand(help_line, configure, run)
        return run

    return register


async def run_subcommand(cli: Cli, run: Runner, args: argparse.Namespace) -> int:
    """Run one subcommand; map its errors to an exit code and one line on stderr."""
    try:
        return await cli.execute(run, args)
    except CliError as exc:
        return cli.fail(exc.code, exc.message)
    except WgtwoError as exc:
        return cli.fail(*describe(exc))


# --- send-sms --------------------------------------------------------------------------

# Status codes meaning the server refused the request as such (nothing was sent).
_REFUSED_BEFORE_SENDING: Final = frozenset({"INVALID_ARGUMENT", "FAILED_PRECONDITION"})


async def send_once[T](what: str, send: Awaitable[T]) -> T:
    """Await one paid send; turn its failure into an error line that says it is not retried.

    ``what`` names the message ("SMS", "MMS"). A failure after the request went out may
    mean it was sent: it is never sent again.
    """
    try:
        return await send
    except CannotConnectError as exc:
        # The request may have reached the server: sending again could send it twice.
        raise CliError(
            EXIT_UNREACHABLE, f"{exc}; the {what} may have been sent, not retried"
        ) from None
    except ActionError as exc:
        if exc.status in _REFUSED_BEFORE_SENDING:
            raise CliError(EXIT_REJECTED, f"{what} rejected by the server ({exc.status})") from None
        raise CliError(
            EXIT_ERROR, f"{what} failed ({exc.status}); it may have been sent, not retried"
        ) from None


def refused(what: str, status: Any, description: str) -> CliError:
    """Return the error of a send the server answered without taking it."""
    detail = f": {description}" if description else ""
    return CliError(EXIT_REJECTED, f"{what} not sent ({to_jsonable(status)}){detail}")


def add_direction_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the two ways a message goes: from a subscriber, or to one from a sender."""
    parser.add_argument("--from", dest="from_number", metavar="N", help="sender, E.164")
    parser.add_argument("--to", dest="to_address", metavar="N", help="recipient's number")
    parser.add_argument("--to-subscriber", metavar="N", help="the subscriber to send to, E.164")
    parser.add_argument(
        "--from-address",
        metavar="NAME_OR_NUMBER",
        help='a sender the operator approved: a name ("Home") or a number',
    )


def to_subscriber(args: argparse.Namespace) -> bool:
    """Return whether the message goes to a subscriber (else from one); check the pairs."""
    from_pair = args.from_number is not None or args.to_address is not None
    to_pair = args.to_subscriber is not None or args.from_address is not None
    if from_pair == to_pair or (
        (from_pair and not (args.from_number and args.to_address))
        or (to_pair and not (args.to_subscriber and args.from_address))
    ):
        raise UsageError("give --from and --to, or --to-subscriber and --from-address")
    return to_pair


async def ready_provider(cli: Cli, args: argparse.Namespace, scope: str) -> TokenProvider | None:
    """Return a token provider for ``scope`` with its token fetched.

    Token trouble ends the run here, when nothing can have been sent yet.
    """
    endpoint_from(args)  # a malformed target is a usage error before anything is asked
    provider = cli.token_provider(args, scope)
    if provider is not None:
        await provider.get_token()
    return provider


def _send_sms_arguments(parser: argparse.ArgumentParser) -> None:
    add_direction_arguments(parser)
    parser.add_argument("--text", required=True, metavar="T", help="1 to 2000 characters")
    add_timeout_argument(parser)


@subcommand(
    "send-sms",
    "send a text from a subscriber, or to one from a sender (sent once, never retried)",
    _send_sms_arguments,
)
async def send_sms(cli: Cli, args: argparse.Namespace) -> int:
    """Send one SMS; print the server's answer (message id, status, fragments)."""
    to_sub = to_subscriber(args)
    if not 1 <= len(args.text) <= 2000:
        raise UsageError("--text must be 1 to 2000 characters")
    scope = SCOPE_SMS_TO_SUBSCRIBER if to_sub else SCOPE_SMS_SEND
    actions = cli.actions_using(args, await ready_provider(cli, args, scope))
    if to_sub:
        send = actions.send_sms_to_subscriber(args.to_subscriber, args.from_address, args.text)
    else:
        send = actions.send_sms(args.from_number, args.to_address, args.text)
    result = await send_once("SMS", send)
    if not result.ok:
        raise refused("SMS", result.status, result.description)
    cli.print_json(result)
    return EXIT_OK


# --- voicemail -------------------------------------------------------------------------


def _voicemail_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--id", dest="voicemail_id", required=True, metavar="ID", help="the voicemail's id"
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="file to write the WAV to"
    )
    add_timeout_argument(parser)


@subcommand("voicemail", "write a voicemail's audio (WAV) to a file", _voicemail_arguments)
async def voicemail(cli: Cli, args: argparse.Namespace) -> int:
    """Fetch one voicemail, write its WAV and print its metadata with the file written."""
    if not args.voicemail_id:
        raise UsageError("--id must not be empty")
    actions = cli.actions(args, SCOPE_VOICEMAIL_GET)
    try:
        found = await actions.get_voicemail(args.voicemail_id)
    except ActionError as exc:
        if exc.not_found:
            raise CliError(EXIT_NOT_FOUND, f"voicemail {args.voicemail_id} not found") from None
        raise
    out: Path = args.out
    try:
        # A few kilobytes, once: a thread would outlive the run for nothing.
        out.write_bytes(found.wav)  # noqa: ASYNC240
    except OSError as exc:
        raise CliError(EXIT_ERROR, f"cannot write {out}: {exc.strerror}") from None
    answer = to_jsonable(found)
    del answer["wav"]
    cli.print_json({**answer, "out": str(out), "wav_bytes": len(found.wav)})
    return EXIT_OK


def _voicemails_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--number", required=True, metavar="N", help="the subscriber's number, E.164"
    )
    add_timeout_argument(parser)


@subcommand(
    "voicemails",
    "list a subscriber's voicemails (metadata, one JSON line each)",
    _voicemails_arguments,
)
async def voicemails(cli: Cli, args: argparse.Namespace) -> int:
    """Print one JSON line per voicemail the operator holds for the number (none: no line)."""
    actions = cli.actions(args, SCOPE_VOICEMAIL_GET)
    for info in await actions.list_voicemails(args.number):
        if not cli.print_json(info):
            break
    return EXIT_OK


# --- forward ---------------------------------------------------------------------------


def _forward_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subscriber", required=True, metavar="N", help="whose calls, E.164")
    parser.add_argument(
        "--mode",
        required=True,
        choices=[mode.value for mode in ForwardingMode],
        help="off, voicemail, number (every call) or conditional (busy, no reply, unreachable)",
    )
    parser.add_argument("--number", metavar="N", help="target of number and conditional")
    add_timeout_argument(parser)


@subcommand("forward", "set where a subscriber's calls go", _forward_arguments)
async def forward(cli: Cli, args: argparse.Namespace) -> int:
    """Set the forwarding; print what the operator accepted."""
    mode = ForwardingMode(args.mode)
    needs_number = mode in NEEDS_NUMBER
    if needs_number and not args.number:
        raise UsageError(f"--mode {mode} needs --number")
    if not needs_number and args.number:
        raise UsageError(f"--mode {mode} takes no --number")
    actions = cli.actions(args, FORWARDING_SCOPES[mode])
    try:
        await actions.set_call_forwarding(args.subscriber, mode, args.number)
    except ForwardingRejectedError as exc:
        raise CliError(EXIT_REJECTED, str(exc)) from None
    except ActionError as exc:
        raise CliError(
            EXIT_REJECTED, f"call forwarding rejected by the server ({exc.status})"
        ) from None
    cli.print_json(
        {
            "subscriber": args.subscriber,
            "mode": mode,
            "number": args.number,
            "status": "accepted",
        }
    )
    return EXIT_OK


# --- the command line ------------------------------------------------------------------


def load_subcommands() -> None:
    """Import the modules that register further subcommands."""
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module)


def build_parser() -> CliParser:
    """Return the parser of every registered subcommand."""
    load_subcommands()
    parser = CliParser(
        prog=PROG,
        description="Developer command line for the wgtwo API (scripts/wgtwo).",
        epilog="Exit codes: 0 ok, 1 error, 2 bad arguments, 3 credentials rejected, "
        "4 missing scope, 5 cannot connect, 6 rejected by the server, 7 not found.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for name, entry in sorted(SUBCOMMANDS.items()):
        sub = subparsers.add_parser(name, help=entry.help, description=entry.help)
        add_common_arguments(sub)
        if entry.configure is not None:
            entry.configure(sub)
    return parser


async def async_main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the command line; return the exit code (``stop`` ends a long-running one)."""
    cli = Cli(stdout or sys.stdout, stderr or sys.stderr, PROG, stop)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except UsageError as exc:
        cli.prog = exc.prog or PROG
        return cli.fail(exc.code, exc.message)
    cli.prog = f"{PROG} {args.command}"
    return await run_subcommand(cli, SUBCOMMANDS[args.command].run, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/wgtwo``."""
    return asyncio.run(async_main(argv))


if __name__ == "__main__":
    # Run the imported module, not this copy, so subcommands register in one table.
    from tools.wgtwo import main as _main

    sys.exit(_main())
