"""A subscriber's networks (NetworkInfoService) read with the client, against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from custom_components.wgtwo.client import (
    AuthenticationError,
    MissingScopeError,
    NetworkGeneration,
    NetworkInfo,
    TokenProvider,
    WgtwoActions,
)
from custom_components.wgtwo.client.network import SCOPE_NETWORK_INFO, newest
from custom_components.wgtwo.client.proto.wgtwo.subscription.v0 import network_info_pb2
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .helpers import endpoint_of

NUMBER = "+4791234567"


def actions_for(
    server: SandboxServer, session: aiohttp.ClientSession, *, secret: str = TEST_CLIENT_SECRET
) -> WgtwoActions:
    provider = TokenProvider(
        session, TEST_CLIENT_ID, secret, {SCOPE_NETWORK_INFO}, token_url=server.token_url
    )
    return WgtwoActions(endpoint_of(server), provider, timeout=5.0)


async def test_one_network_per_sim(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    phone = auth_sandbox.network.attach(NUMBER, "telia-se", "5G", seen=1_700_000_000.5)
    watch = auth_sandbox.network.attach(NUMBER, "telenor-no", "2G", seen=1_600_000_000)
    actions = actions_for(auth_sandbox, session)
    try:
        first, second = await actions.get_network_info(NUMBER)
        assert await actions.get_network_info("+4700000000") == []
    finally:
        await actions.close()
    assert first == NetworkInfo(
        mcc="240",
        mnc="01",
        generation=NetworkGeneration.G5,
        tadig="SWETR",
        msc=phone.nodes["msc"],
        vlr=phone.nodes["vlr"],
        sgsn=phone.nodes["sgsn"],
        mme=phone.nodes["mme"],
        timestamp=datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
        imsi=phone.imsi,
        iccid=phone.iccid,
    )
    assert (second.generation, second.mcc, second.mme) == (NetworkGeneration.G2, "242", None)
    assert second.imsi == watch.imsi
    assert newest([second, first]) is first
    # The SIM's ids stay out of what is printed or logged.
    for text in (repr(first), str(first.as_dict())):
        assert phone.imsi not in text
        assert phone.iccid not in text
    assert first.as_dict() == {
        "generation": "5G",
        "mcc": "240",
        "mnc": "01",
        "tadig": "SWETR",
        "msc": phone.nodes["msc"],
        "vlr": phone.nodes["vlr"],
        "sgsn": phone.nodes["sgsn"],
        "mme": phone.nodes["mme"],
        "timestamp": "2023-11-14T22:13:20.500000+00:00",
    }


def test_empty_fields_and_unknown_generations_read_as_none() -> None:
    info = NetworkInfo.from_proto(network_info_pb2.NetworkInfo(network_generation=99))  # type: ignore[arg-type]
    assert info == NetworkInfo(mcc=None, mnc=None, generation=None)
    assert info.as_dict()["generation"] is None
    assert info.as_dict()["timestamp"] is None
    timed = NetworkInfo(
        mcc="242", mnc="01", generation=None, timestamp=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert newest([info, timed]) is timed
    assert newest([timed, info]) is timed
    assert newest([]) is None
    assert [generation.label for generation in NetworkGeneration] == ["2G", "3G", "4G", "5G"]


async def test_missing_scope_and_rejected_credentials(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, granted_scopes={"voicemail.get"}
    )
    actions = actions_for(server, session)
    try:
        with pytest.raises(MissingScopeError) as missing:
            await actions.get_network_info(NUMBER)
        assert missing.value.missing_scopes == {SCOPE_NETWORK_INFO}
    finally:
        await actions.close()
    wrong = actions_for(server, session, secret="wrong")
    try:
        with pytest.raises(AuthenticationError):
            await wrong.get_network_info(NUMBER)
    finally:
        await wrong.close()


async def test_a_token_without_the_scope_is_refused_naming_it(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = TokenProvider(
        session,
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        {"voicemail.get"},
        token_url=auth_sandbox.token_url,
    )
    actions = WgtwoActions(endpoint_of(auth_sandbox), provider, timeout=5.0)
    try:
        with pytest.raises(MissingScopeError) as missing:
            await actions.get_network_info(NUMBER)
    finally:
        await actions.close()
    assert missing.value.missing_scopes == {SCOPE_NETWORK_INFO}
