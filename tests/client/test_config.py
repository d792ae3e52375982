"""Endpoints, TLS rules, start positions and subscription settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.wgtwo.client import (
    ENVIRONMENTS,
    EventType,
    InvalidEndpointError,
    StartPosition,
    SubscriptionConfig,
    scopes_for,
)
from custom_components.wgtwo.client.endpoint import Endpoint, check_token_url, is_loopback_host
from custom_components.wgtwo.client.event_types import ACTION_SCOPES, event_types_for_scopes
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("10.0.0.1", False),
        ("api.shamrock.wgtwo.com", False),
        ("localhost.example.com", False),
        ("128.0.0.1", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_plaintext_only_for_loopback() -> None:
    assert Endpoint("127.0.0.1", 50051, plaintext=True).target == "127.0.0.1:50051"
    assert Endpoint("::1", 1, plaintext=True).target == "[::1]:1"
    with pytest.raises(InvalidEndpointError, match="loopback"):
        Endpoint("api.oak.wgtwo.com", 443, plaintext=True)
    with pytest.raises(InvalidEndpointError, match="loopback"):
        Endpoint.parse("192.168.1.5:50051", plaintext=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api.oak.wgtwo.com", Endpoint("api.oak.wgtwo.com", 443)),
        ("api.oak.wgtwo.com:8443", Endpoint("api.oak.wgtwo.com", 8443)),
        ("[::1]:5000", Endpoint("::1", 5000)),
        ("[::1]", Endpoint("::1", 443)),
        (" 127.0.0.1:1 ", Endpoint("127.0.0.1", 1)),
    ],
)
def test_parse_endpoint(text: str, expected: Endpoint) -> None:
    assert Endpoint.parse(text) == expected


@pytest.mark.parametrize("text", ["", "host:port", "host:0", "host:70000", "[::1", "[::1]x", "a b"])
def test_parse_rejects_malformed_targets(text: str) -> None:
    with pytest.raises(InvalidEndpointError):
        Endpoint.parse(text)


def test_environments_use_tls_on_443() -> None:
    assert set(ENVIRONMENTS) == {"eu", "us", "sakura", "sandbox"}
    assert ENVIRONMENTS["eu"].target == "api.shamrock.wgtwo.com:443"
    assert ENVIRONMENTS["sandbox"].target == "sandbox.api.shamrock.wgtwo.com:443"
    assert not any(e.plaintext for e in ENVIRONMENTS.values())


async def test_tls_channel_is_created_for_remote_hosts() -> None:
    channel = ENVIRONMENTS["us"].create_channel(keepalive_time=1, keepalive_timeout=1)
    await channel.close()


def test_token_url_must_be_https_unless_loopback() -> None:
    assert check_token_url("https://id.wgtwo.com/oauth2/token")
    assert check_token_url("http://127.0.0.1:8080/oauth2/token")
    assert check_token_url("http://localhost/oauth2/token")
    for bad in ("http://id.wgtwo.com/oauth2/token", "ftp://x/y", "not a url", "https://"):
        with pytest.raises(InvalidEndpointError):
            check_token_url(bad)


def test_scopes_per_event_type() -> None:
    assert scopes_for([EventType.VOICE_EVENT, "SMS_EVENT"]) == {
        "events.voice.subscribe",
        "events.sms.subscribe",
    }
    assert scopes_for([EventType.COUNTRY_CHANGE_EVENT]) == {"events.roaming.subscribe"}
    assert scopes_for([EventType.SMS_DELIVERY_REPORT_EVENT]) == {
        "events.sms_delivery_report.subscribe"
    }
    assert scopes_for([EventType.CONSENT_REVOKE_EVENT]) == frozenset()
    assert len(scopes_for(list(EventType))) == 7
    assert "sms.text:send_from_subscriber" in ACTION_SCOPES
    assert event_types_for_scopes(
        {"events.voice.subscribe"}, [EventType.VOICE_EVENT, EventType.SMS_EVENT]
    ) == {EventType.VOICE_EVENT}


def test_event_type_names_match_the_wire_enum() -> None:
    assert {t.value for t in EventType} == set(events_pb2.EventType.keys()) - {"UNSPECIFIED"}


def _start(position: StartPosition | None) -> str | None:
    request = SubscriptionConfig(event_types=(EventType.VOICE_EVENT,), start=position)
    return request.build_request().WhichOneof("start_position")


def test_start_positions_set_the_right_oneof() -> None:
    assert _start(None) is None
    assert _start(StartPosition.new()) is None
    assert _start(StartPosition.oldest()) == "start_at_oldest_possible"
    assert _start(StartPosition.last_received()) == "start_with_last_received"
    assert _start(StartPosition.sequence(12)) == "start_at_sequence"
    assert _start(StartPosition.timestamp(datetime(2024, 1, 1))) == "start_at_timestamp"
    assert _start(StartPosition.time_delta(timedelta(minutes=5))) == "start_at_time_delta"
    request = SubscriptionConfig(
        event_types=(EventType.VOICE_EVENT,),
        start=StartPosition.timestamp(datetime(2024, 1, 1, 12, tzinfo=UTC)),
    ).build_request()
    assert request.start_at_timestamp.seconds == 1704110400
    request = SubscriptionConfig(
        event_types=(EventType.VOICE_EVENT,), start=StartPosition.time_delta(timedelta(minutes=5))
    ).build_request()
    assert request.start_at_time_delta.seconds == 300
    with pytest.raises(ValueError, match="negative"):
        StartPosition.sequence(-1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("new", StartPosition.new()),
        ("oldest", StartPosition.oldest()),
        ("LAST", StartPosition.last_received()),
        ("sequence:42", StartPosition.sequence(42)),
    ],
)
def test_parse_start_position(text: str, expected: StartPosition) -> None:
    assert StartPosition.parse(text) == expected


@pytest.mark.parametrize("text", ["", "sequence:x", "sequence:-1", "yesterday"])
def test_parse_start_position_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="invalid start position"):
        StartPosition.parse(text)


def test_subscription_request_carries_every_setting() -> None:
    config = SubscriptionConfig(
        event_types=["VOICE_EVENT", EventType.SMS_EVENT, EventType.VOICE_EVENT],  # type: ignore[arg-type]
        client_id="cid",
        durable_name="durable",
        queue_name="queue",
        max_in_flight=7,
        ack_timeout=12.5,
        start=StartPosition.sequence(3),
    )
    assert config.event_types == (EventType.VOICE_EVENT, EventType.SMS_EVENT)
    request = config.build_request()
    assert list(request.type) == [events_pb2.VOICE_EVENT, events_pb2.SMS_EVENT]
    assert (request.client_id, request.durable_name, request.queue_name) == (
        "cid",
        "durable",
        "queue",
    )
    assert request.max_in_flight == 7
    assert request.manual_ack.enable
    assert request.manual_ack.timeout.ToTimedelta() == timedelta(seconds=12.5)
    assert request.start_at_sequence == 3
    assert config.build_request(StartPosition.oldest()).HasField("start_at_oldest_possible")
    no_ack = SubscriptionConfig(
        event_types="SMS_EVENT",  # type: ignore[arg-type]
        manual_ack=False,
    ).build_request()
    assert not no_ack.HasField("manual_ack")
    assert list(no_ack.type) == [events_pb2.SMS_EVENT]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event_types": ()},
        {"event_types": ("VOICE_EVENT",), "max_in_flight": 0},
        {"event_types": ("VOICE_EVENT",), "max_handler_failures": 0},
        {"event_types": ("VOICE_EVENT",), "dedup_capacity": 0},
        {"event_types": ("VOICE_EVENT",), "durable_name": "d"},
        {"event_types": ("NOT_A_TYPE",)},
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        SubscriptionConfig(**kwargs)  # type: ignore[arg-type]
