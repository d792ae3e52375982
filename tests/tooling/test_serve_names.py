"""scripts/wgtwo serve-names, run in-process against the sandbox over loopback."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox, free_port
from tools import wgtwo
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, LOOKUP, LOOKUP_DETAILED

ALICE = "+4791234567"
CALLER = "+4722334455"
PHONEBOOK = "# the family\n+47 22 33 44 55 = Carol\n\n+4798765432 = Bob\n"


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """The tool talks to the sandbox over 127.0.0.1."""


@pytest.fixture
def phonebook(tmp_path: Path) -> Path:
    path = tmp_path / "phonebook.txt"
    path.write_text(PHONEBOOK, encoding="utf-8")
    return path


def on(server: SandboxServer) -> list[str]:
    return [
        "--target", server.grpc_target, "--plaintext", "--token-url", server.token_url,
        "--client-id", TEST_CLIENT_ID, "--client-secret", TEST_CLIENT_SECRET,
    ]  # fmt: skip


class Run:
    """One serve-names run in a task, with its output."""

    def __init__(self, *argv: str) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            wgtwo.async_main(
                ["serve-names", *argv], stdout=self.out, stderr=self.err, stop=self.stop
            )
        )

    async def code(self) -> int:
        return await asyncio.wait_for(self.task, 10)

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]


async def serving(server: SandboxServer, *argv: str) -> Run:
    run = Run(*argv)
    async with asyncio.timeout(10):
        while not server.lookups.streams and not run.task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return run


async def test_answers_from_the_phonebook_until_max_lookups(
    auth_sandbox: SandboxServer, phonebook: Path
) -> None:
    run = await serving(
        auth_sandbox, *on(auth_sandbox), "--phonebook", str(phonebook), "--max-age", "20",
        "--max-lookups", "2",
    )  # fmt: skip

    carol = await auth_sandbox.lookups.ask(CALLER, ALICE)
    unknown = await auth_sandbox.lookups.ask("+4711111111")

    assert await run.code() == wgtwo.EXIT_OK
    assert (carol.name, carol.max_age) == ("Carol", 1200.0)
    assert unknown.name == ""
    assert run.lines == [
        {"name": "Carol", "recipient_named": False},
        {"name": None, "recipient_named": False},
    ]
    err = run.err.getvalue()
    assert f"answering lookups on {auth_sandbox.grpc_target} (2 names)" in err
    assert err.endswith("wgtwo serve-names: answered 2 lookups: 1 named, 1 unknown, 0 errors\n")
    assert CALLER[1:] not in run.out.getvalue() + err
    assert {token.scopes for token in auth_sandbox.authority.tokens.values()} == {
        frozenset({LOOKUP})
    }


async def test_detailed_asks_for_the_recipient_scope(
    auth_sandbox: SandboxServer, phonebook: Path
) -> None:
    run = await serving(
        auth_sandbox, *on(auth_sandbox), "--phonebook", str(phonebook), "--detailed",
        "--max-lookups", "1",
    )  # fmt: skip
    assert (await auth_sandbox.lookups.ask("+4798765432", ALICE)).name == "Bob"

    assert await run.code() == wgtwo.EXIT_OK
    assert run.lines == [{"name": "Bob", "recipient_named": True}]
    assert {token.scopes for token in auth_sandbox.authority.tokens.values()} == {
        frozenset({LOOKUP, LOOKUP_DETAILED})
    }


async def test_stop_ends_cleanly_and_reconnects_in_between(
    sandbox: SandboxServer, phonebook: Path
) -> None:
    target = ["--target", sandbox.grpc_target, "--plaintext"]
    run = await serving(sandbox, *target, "--phonebook", str(phonebook))
    sandbox.lookups.end_streams()
    async with asyncio.timeout(10):
        while sandbox.stats["lookup"]["streams_opened"] < 2 or not sandbox.lookups.streams:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert (await sandbox.lookups.ask(CALLER)).name == "Carol"

    run.stop.set()

    assert await run.code() == wgtwo.EXIT_OK
    assert "disconnected (UNAVAILABLE); retrying in" in run.err.getvalue()
    assert "answered 1 lookups: 1 named" in run.err.getvalue()


async def test_missing_scope_is_one_error_line(make_sandbox: MakeSandbox, phonebook: Path) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {LOOKUP, LOOKUP_DETAILED},
    )
    run = Run(*on(server), "--phonebook", str(phonebook))

    assert await run.code() == wgtwo.EXIT_SCOPE
    assert run.err.getvalue() == (
        "wgtwo serve-names: error: missing scope(s): lookup.number:read\n"
    )


async def test_unreachable_server(phonebook: Path) -> None:
    target = ["--target", f"127.0.0.1:{free_port()}", "--plaintext"]
    run = Run(*target, "--phonebook", str(phonebook), "--connect-timeout", "0.5")

    assert await run.code() == wgtwo.EXIT_UNREACHABLE
    assert "error: cannot reach 127.0.0.1:" in run.err.getvalue()
    assert "within 0.5 s" in run.err.getvalue()


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("+4722334455 = Carol\nCarol\n", [], "--phonebook: line 2 is not '+E164 = name'"),
        ("+4722334455 = A\n0047 22334455 = B\n", [], "line 2 is not '+E164 = name' or repeats"),
        (PHONEBOOK, ["--max-age", "5"], "--max-age must be at least 15 minutes"),
        (PHONEBOOK, ["--max-lookups", "-1"], "--max-lookups must not be negative"),
    ],
)
async def test_bad_arguments(
    sandbox: SandboxServer, tmp_path: Path, content: str, extra: list[str], message: str
) -> None:
    path = tmp_path / "book.txt"
    path.write_text(content, encoding="utf-8")
    target = ["--target", sandbox.grpc_target, "--plaintext"]
    run = Run(*target, "--phonebook", str(path), *extra)

    assert await run.code() == wgtwo.EXIT_USAGE
    assert message in run.err.getvalue()
    assert sandbox.stats["lookup"]["streams_opened"] == 0


async def test_unreadable_phonebook(sandbox: SandboxServer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    run = Run("--target", sandbox.grpc_target, "--plaintext", "--phonebook", str(missing))

    assert await run.code() == wgtwo.EXIT_USAGE
    assert f"--phonebook: cannot read {missing}" in run.err.getvalue()
