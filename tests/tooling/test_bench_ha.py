"""scripts/bench-ha's statistics, /proc parsing and event builder (no timing here)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from tools import bench_ha


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unordered input
    assert bench_ha.percentile(values, 0.5) == 50.0
    assert bench_ha.percentile(values, 0.99) == 99.0
    assert bench_ha.percentile(values, 1.0) == 100.0
    assert bench_ha.percentile([7.0], 0.99) == 7.0
    assert bench_ha.percentile([1.0, 2.0, 3.0], 0.5) == 2.0


def test_cpu_seconds_reads_user_and_system_time_after_a_tricky_name() -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    # The command name may hold spaces and parentheses.
    fields = ["S", *["0"] * 10, str(3 * ticks), str(ticks // 2), "999", "999"]
    line = f"1234 (python (x) y) {' '.join(fields)} 20 0 1"
    assert bench_ha.cpu_seconds(line) == pytest.approx(3.5)


def test_cpu_seconds_of_this_process_grows() -> None:
    stat = Path(f"/proc/{os.getpid()}").joinpath("stat")
    before = bench_ha.cpu_seconds(stat.read_text())
    sum(i * i for i in range(3_000_000))
    assert bench_ha.cpu_seconds(stat.read_text()) > before


def test_rss_bytes() -> None:
    status = "Name:\tpython\nVmPeak:\t  900 kB\nVmRSS:\t  272000 kB\nThreads:\t9\n"
    assert bench_ha.rss_bytes(status) == 272000 * 1024
    assert bench_ha.rss_bytes(Path("/proc/self/status").read_text()) > 1_000_000
    with pytest.raises(ValueError, match="VmRSS"):
        bench_ha.rss_bytes("Name:\tkthread\n")


def test_cpu_per_event_subtracts_the_idle_rate() -> None:
    # 2 s of CPU over 10 s, idle 0.05 s/s: 1.5 s for 1000 events.
    assert bench_ha.cpu_per_event_ms(2.0, 10.0, 0.05, 1000) == pytest.approx(1.5)
    # Noise can make the idle share exceed what was measured: never negative.
    assert bench_ha.cpu_per_event_ms(0.1, 10.0, 0.05, 1000) == 0.0


def test_latencies_pair_each_record_with_its_publish_time() -> None:
    published = {("w-0", "call_ringing"): 100.0, ("w-0", "call_answered"): 100.5}
    records = [
        ["w-0", "call_ringing", 100.001, 100.003],
        ["w-0", "call_answered", 100.502, 100.502],
        ["r-9", "call_ringing", 100.6, 100.7],  # not published in this phase
    ]
    assert bench_ha.latencies_ms(records, published) == pytest.approx([3.0, 2.0])


def test_calls_ring_answer_and_end_with_unique_ids() -> None:
    calls = bench_ha.Calls("w-")
    events = [calls.next() for _ in range(3 * len(bench_ha.SUBSCRIBERS) + 1)]
    kinds = [event["event"]["voiceEvent"]["type"] for event, _ in events[:3]]
    assert kinds == ["CALL_RINGING", "CALL_ANSWERED", "CALL_ENDED"]
    assert [key for _, key in events[:3]] == [
        ("w-0", "call_ringing"),
        ("w-0", "call_answered"),
        ("w-0", "call_ended"),
    ]
    # Each call goes to the next subscriber, from the subscriber's point of view incoming.
    owners = [event["event"]["owner"]["phoneNumber"]["e164"] for event, _ in events[::3]]
    assert owners == [*bench_ha.SUBSCRIBERS, bench_ha.SUBSCRIBERS[0]]
    for event, _ in events:
        voice = event["event"]["voiceEvent"]
        assert voice["toNumber"] == event["event"]["owner"]["phoneNumber"]
        assert event["event"]["timestamp"].endswith("Z")
    assert len({key for _, key in events}) == len(events)


def test_reference_folder_is_named_after_its_domain() -> None:
    # hassfest checks every manifest.json of the repository: a domain must name its folder.
    manifest = json.loads((bench_ha.REFERENCE / "manifest.json").read_text())
    assert manifest["domain"] == bench_ha.REFERENCE.name == bench_ha.REFERENCE_DOMAIN


def test_median_ratio_pairs_each_round() -> None:
    assert bench_ha.median_ratio([1.0, 3.0, 2.2], [1.0, 1.0, 2.0]) == pytest.approx(1.1)
    with pytest.raises(ValueError, match="longer"):
        bench_ha.median_ratio([1.0], [1.0, 2.0])


def test_reference_channel_has_every_option_of_wgtwos_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import grpc

    from custom_components.wgtwo.client import Endpoint
    from tools import wgtwo_bench

    seen: list[list[tuple[str, Any]]] = []
    monkeypatch.setattr(
        grpc.aio, "insecure_channel", lambda _target, options: seen.append(list(options))
    )
    wgtwo_bench.open_channel("127.0.0.1:50051")
    # wgtwo's stream: the client's defaults and the integration's backoff cap (60 s).
    Endpoint("127.0.0.1", 50051, plaintext=True).create_channel(reconnect_backoff_max=60.0)
    reference, wgtwo = seen
    assert reference == wgtwo
    assert {"grpc.enable_retries", "grpc.keepalive_time_ms", "grpc.use_local_subchannel_pool"} <= {
        key for key, _ in reference
    }


class _Shown:
    """Stands in for a reference entity: records what it was asked to show."""

    def __init__(self, entity_id: str) -> None:
        self.entity_id = entity_id
        self.shown: list[tuple[Any, ...]] = []

    def show(self, *args: Any) -> None:
        self.shown.append(args)


def test_reference_writes_each_subscribers_entities_as_wgtwo_does() -> None:
    from unittest.mock import MagicMock

    from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
    from tools import wgtwo_bench

    hass = MagicMock()
    reference = wgtwo_bench.Reference(hass)
    reference.names = dict(bench_ha.PHONEBOOK_NAMES)
    calls = [_Shown(f"event.call_{n}") for n in range(wgtwo_bench.SUBSCRIBER_SLOTS)]
    sensors = [_Shown(f"sensor.s_{n}") for n in range(wgtwo_bench.SUBSCRIBER_SLOTS * 2)]
    reference.call_entities = calls  # type: ignore[assignment]
    reference.entities = sensors  # type: ignore[assignment]
    reference.writes_per_event = 7 / 3  # wgtwo: call event, call state, last caller once
    events = bench_ha.Calls("r-")
    for sequence in range(1, 7):  # two calls: Alice's, then Bob's
        message = events_pb2.Event()
        json_format.ParseDict(events.next()[0]["event"], message)
        message.metadata.sequence = sequence
        reference.handle(message)
    fired = [call.args[1] for call in hass.bus.async_fire.call_args_list]
    assert [data["type"] for data in fired[:3]] == ["call_ringing", "call_answered", "call_ended"]
    assert fired[0]["subscriber"] == bench_ha.SUBSCRIBERS[0]
    assert fired[0]["to_name"] == "Alice"
    assert len(fired[0]["device_id"]) == 32
    # The entity the event is listed with, as wgtwo's wgtwo_event names it.
    assert [data["entity_id"] for data in fired] == ["event.call_0"] * 3 + ["event.call_1"] * 3
    assert fired[2]["answered"] is True
    # The call event entity shows the call's fields, without the bus event's envelope.
    kind, fields = calls[0].shown[0]
    assert kind == "ringing"
    assert "sequence" not in fields
    assert fields["call_id"] == "r-0"
    # Each subscriber's entities: its call entity every event, its first sensor every
    # event, its second once per three.
    assert [len(entity.shown) for entity in calls] == [3, 3, 0, 0]
    assert [len(entity.shown) for entity in sensors] == [3, 1, 3, 1, 0, 0, 0, 0]


def _point(subscribers: int, **figures: float) -> bench_ha.ScalePoint:
    values: dict[str, Any] = {
        "setup_s": 1.0,
        "cpu_ms": 0.5,
        "rate": 1500.0,
        "rss_mb": 280.0,
        "save_ms": 1.0,
        "save_bytes": 1000,
        "store_bytes": 1000,
    }
    return bench_ha.ScalePoint(subscribers=subscribers, **(values | figures))


def test_scale_line_compares_the_most_subscribers_with_the_fewest() -> None:
    points = [
        _point(10, cpu_ms=0.400, rss_mb=280.4, setup_s=0.6),
        _point(100, cpu_ms=0.900, rss_mb=300.0, setup_s=2.0, save_ms=9.0),
        _point(1000, cpu_ms=0.452, rss_mb=331.2, setup_s=12.34, save_ms=7.25),
    ]
    assert bench_ha.scale_line(points) == (
        "scale: 10 -> 1000 subscribers: CPU/event x1.13, setup 12.3 s, RSS +51 MB, save 7.2 ms"
    )
    # A shorter list names its first and last count; memory may shrink.
    assert bench_ha.scale_line([_point(5, rss_mb=300.0), _point(50, rss_mb=296.0)]) == (
        "scale: 5 -> 50 subscribers: CPU/event x1.00, setup 1.0 s, RSS -4 MB, save 1.0 ms"
    )


def test_scale_table_has_a_row_per_count() -> None:
    header, *rows = bench_ha.scale_table([_point(10), _point(1000, save_bytes=4096)])
    assert header.startswith("subscribers | setup s | CPU ms/event")
    assert [row.split(" | ")[0] for row in rows] == ["10", "1000"]
    assert rows[1].split(" | ")[6] == "4096"


def test_subscribers_option_takes_a_list_of_counts() -> None:
    assert bench_ha.parse_subscribers("10,100,1000") == [10, 100, 1000]
    assert bench_ha.parse_subscribers("5") == [5]
    for wrong in ("", "10,x", "0,10", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_ha.parse_subscribers(wrong)


def test_scale_numbers_are_distinct_subscribers_called_in_turn() -> None:
    numbers = bench_ha.scale_numbers(1000)
    assert len(set(numbers)) == 1000
    assert all(number.startswith("+479") and len(number) == 11 for number in numbers)
    calls = bench_ha.Calls("w-", numbers[:3])
    owners = [calls.next()[0]["event"]["owner"]["phoneNumber"]["e164"] for _ in range(12)]
    assert owners[::3] == [*numbers[:3], numbers[0]]
