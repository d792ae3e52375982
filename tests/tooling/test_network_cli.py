"""scripts/wgtwo network: one JSON line per SIM, against the sandbox over loopback."""

from __future__ import annotations

import pytest

from custom_components.wgtwo.client.network import SCOPE_NETWORK_INFO
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from tools import wgtwo
from wgtwo_sandbox import SandboxServer

from .test_wgtwo_cli import on, requested_scopes, run

NUMBER = "+4791234567"


async def test_one_line_per_sim_without_the_sims_ids(auth_sandbox: SandboxServer) -> None:
    phone = auth_sandbox.network.attach(NUMBER, "telia-se", "5G", seen=1_700_000_000)
    watch = auth_sandbox.network.attach(NUMBER, "telenor-no", "3G", seen=1_600_000_000)
    result = await run("network", *on(auth_sandbox), "--number", NUMBER)
    assert result.code == wgtwo.EXIT_OK, result.err
    assert result.err == ""
    assert result.lines == [
        {
            "generation": "5G",
            "mcc": "240",
            "mnc": "01",
            "tadig": "SWETR",
            **phone.nodes,
            "timestamp": "2023-11-14T22:13:20+00:00",
        },
        {
            "generation": "3G",
            "mcc": "242",
            "mnc": "01",
            "tadig": "NORTM",
            **watch.nodes,
            "mme": None,
            "timestamp": "2020-09-13T12:26:40+00:00",
        },
    ]
    for sim in (phone, watch):
        assert sim.imsi not in result.out
        assert sim.iccid not in result.out
    assert requested_scopes(auth_sandbox) == {frozenset({SCOPE_NETWORK_INFO})}


async def test_a_number_without_a_sim_prints_nothing(sandbox: SandboxServer) -> None:
    result = await run(
        "network", "--target", sandbox.grpc_target, "--plaintext", "--number", NUMBER
    )
    assert (result.code, result.out, result.err) == (wgtwo.EXIT_OK, "", "")


async def test_missing_scope_is_named(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, granted_scopes={"voicemail.get"}
    )
    result = await run("network", *on(server), "--number", NUMBER)
    assert result.code == wgtwo.EXIT_SCOPE
    assert result.out == ""
    assert SCOPE_NETWORK_INFO in result.error


async def test_bad_number_and_missing_flag(sandbox: SandboxServer) -> None:
    result = await run("network", "--target", sandbox.grpc_target, "--plaintext", "--number", "91")
    assert result.code == wgtwo.EXIT_ERROR
    assert "INVALID_ARGUMENT" in result.error
    missing = await run("network", "--target", sandbox.grpc_target)
    assert missing.code == wgtwo.EXIT_USAGE
    assert "--number" in missing.error


def test_takes_the_common_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WGTWO_CLIENT_ID", "id-from-env")
    monkeypatch.setenv("WGTWO_CLIENT_SECRET", "secret-from-env")
    args = wgtwo.build_parser().parse_args(
        ["network", "--target", "h:1", "--number", "+1", "--timeout", "3"]
    )
    assert (args.target, args.client_id, args.client_secret) == (
        "h:1",
        "id-from-env",
        "secret-from-env",
    )
    assert (args.number, args.timeout) == ("+1", 3.0)
