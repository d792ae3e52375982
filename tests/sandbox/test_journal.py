"""State journal: restart in-process with the same file; torn lines; expiry; compaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from custom_components.wgtwo.client.proto.wgtwo.voicemail.v0 import (
    voicemail_pb2,
    voicemail_pb2_grpc,
)
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import journal as journal_module

from .conftest import Client, eventually, read, read_n, voice
from .test_services import new_voicemail

Connect = Callable[..., Client]
DURABLE = {
    "client_id": "c",
    "durable_name": "d",
    "manual_ack": {"enable": True, "timeout": {"seconds": 30}},
}


async def test_restart_restores_history_positions_unacked_and_voicemails(
    make_sandbox: MakeSandbox, connect: Connect, tmp_path: Path
) -> None:
    state = tmp_path / "state.jsonl"
    first = await make_sandbox(state_file=state)
    client = connect(first)
    stream = await client.subscribe(**DURABLE)
    await first.publish([voice("1"), voice("2"), new_voicemail("vm-1"), new_voicemail("vm-2")])
    one, two = await read_n(stream, 2)
    await client.ack(one)
    vm = voicemail_pb2_grpc.VoicemailMediaServiceStub(client.channel)
    await vm.MarkVoicemailAsRead(voicemail_pb2.MarkVoicemailAsReadRequest(voicemail_id="vm-1"))
    await vm.DeleteVoicemail(voicemail_pb2.DeleteVoicemailRequest(voicemail_id="vm-2"))
    await client.close()
    await first.stop()
    with state.open("a") as out:
        out.write('{"t": "ev", "s": 9')  # torn by a kill mid-write

    second = await make_sandbox(state_file=state)
    assert second.stats["last_sequence"] == 4
    client = connect(second)
    resumed = await client.subscribe(**DURABLE)
    again = await read(resumed)
    assert again.event.metadata.sequence == two.event.metadata.sequence
    assert again.event.metadata.is_redelivered
    await second.publish([voice("5")])
    assert (await read(resumed)).event.metadata.sequence == 5
    vm = voicemail_pb2_grpc.VoicemailMediaServiceStub(client.channel)
    listed = await vm.GetAllVoicemailMetadata(voicemail_pb2.GetAllVoicemailMetadataRequest())
    assert [(m.voicemail_id, m.played) for m in listed.metadata] == [("vm-1", True)]
    # The file was compacted on start: one line per event plus bookkeeping.
    kinds = [json.loads(line)["t"] for line in state.read_text().splitlines()[:7]]
    assert kinds == ["seq", "ev", "ev", "ev", "ev", "c", "vm"]


async def test_expired_durable_and_old_history_are_not_restored(
    make_sandbox: MakeSandbox, connect: Connect, tmp_path: Path
) -> None:
    state = tmp_path / "state.jsonl"
    first = await make_sandbox(state_file=state, durable_expiry_seconds=0.05)
    client = connect(first)
    stream = await client.subscribe(**DURABLE)
    await first.publish([voice("1")])
    await read(stream)
    await client.close()
    await eventually(lambda: first.stats["subscriptions"] == [])
    await first.stop()
    second = await make_sandbox(state_file=state, history_seconds=0.0)
    assert second.stats["subscriptions"] == []
    assert second.stats["history_size"] == 0
    assert second.stats["first_sequence"] == 2
    assert await second.publish([voice("2")]) == [2]


async def test_journal_compacts_while_running(
    make_sandbox: MakeSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "COMPACT_AFTER_LINES", 10)
    state = tmp_path / "state.jsonl"
    server = await make_sandbox(state_file=state, history_seconds=0.0)
    for index in range(30):
        await server.publish([voice(str(index))])
    assert len(state.read_text().splitlines()) <= 12
    assert server.stats["last_sequence"] == 30
