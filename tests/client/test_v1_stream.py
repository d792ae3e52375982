"""The generic v1 stream and the consent calls, against the sandbox over loopback gRPC."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from custom_components.wgtwo.client import (
    ConnectionState,
    ConsentChange,
    ConsentChangeEvent,
    Country,
    CountryChangeEvent,
    FirstAttachmentEvent,
    Handset,
    HandsetUpdateEvent,
    MissingScopeError,
    PeriodicCountryEvent,
    TokenProvider,
    WgtwoActions,
    WgtwoEvent,
)
from custom_components.wgtwo.client.consents import SCOPE_SUBSCRIPTION_ID
from custom_components.wgtwo.client.v1_services import V1_SERVICES, V1Stream
from custom_components.wgtwo.client.v1_stream import V1EventStream, V1StreamConfig
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .helpers import endpoint_of, wait_for

ALICE = "+4791234567"
BOB = "+4798765432"


def provider(
    server: SandboxServer, session: aiohttp.ClientSession, scopes: set[str]
) -> TokenProvider:
    return TokenProvider(
        session, TEST_CLIENT_ID, TEST_CLIENT_SECRET, scopes, token_url=server.token_url
    )


class Handled:
    def __init__(self, fail: int = 0) -> None:
        self.events: list[WgtwoEvent] = []
        self.fail = fail
        self.states: list[ConnectionState] = []

    async def __call__(self, event: WgtwoEvent) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("handler failed")
        self.events.append(event)


@contextlib.asynccontextmanager
async def streaming(
    server: SandboxServer,
    kind: V1Stream,
    handled: Handled,
    token_provider: TokenProvider | None = None,
    **config: Any,
) -> AsyncIterator[V1EventStream]:
    settings: dict[str, Any] = {
        "queue_name": "ha-test",
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "keepalive_time": 5.0,
        "keepalive_timeout": 2.0,
        "stop_timeout": 2.0,
    }
    settings.update(config)
    stream = V1EventStream(
        endpoint_of(server),
        V1_SERVICES[kind],
        V1StreamConfig(**settings),
        handled,
        token_provider=token_provider,
        on_state=lambda status: handled.states.append(status.state),
    )
    task = asyncio.create_task(stream.run())
    try:
        await wait_for(lambda: stream.status.state is ConnectionState.CONNECTED or task.done(), 30)
        if task.done():
            task.result()
        yield stream
    finally:
        await stream.stop()
        assert task.done()
        if not task.cancelled():
            task.result()


async def test_consents_are_listed_page_by_page_and_named(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("custom_components.wgtwo.client.actions.PAGE_SIZE", 2)
    numbers = [f"+479100000{i}" for i in range(5)]
    for number in numbers:
        auth_sandbox.consents.add(number, ["events.voice.subscribe"])
    auth_sandbox.consents.add_tenant(["events.sms.subscribe"])
    actions = WgtwoActions(
        endpoint_of(auth_sandbox), provider(auth_sandbox, session, {SCOPE_SUBSCRIPTION_ID})
    )
    try:
        consents = await actions.list_consents()
        assert len(consents) == 6  # three pages of two
        assert auth_sandbox.consents.listed == 3
        tenants = [c for c in consents if c.tenant is not None]
        assert [(c.tenant, c.scopes) for c in tenants] == [
            ("sandbox", frozenset({"events.sms.subscribe"}))
        ]
        named = [await actions.get_msisdn(c) for c in consents if c.tenant is None]
        assert named == numbers
        assert await actions.get_msisdn(tenants[0]) is None
    finally:
        await actions.close()


async def test_msisdn_without_its_scope_names_it(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, granted_scopes=[]
    )
    server.consents.add(ALICE, ["events.voice.subscribe"])
    actions = WgtwoActions(endpoint_of(server), provider(server, session, set()))
    try:
        (consent,) = await actions.list_consents()
        assert consent.scopes == {"events.voice.subscribe"}
        with pytest.raises(MissingScopeError) as caught:
            await actions.get_msisdn(consent)
        assert caught.value.missing_scopes == {SCOPE_SUBSCRIPTION_ID}
    finally:
        await actions.close()


async def test_consent_changes_are_typed_and_acked(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    handled = Handled()
    async with streaming(
        auth_sandbox, V1Stream.CONSENT_CHANGE, handled, provider(auth_sandbox, session, set())
    ):
        auth_sandbox.consents.add(ALICE, ["events.voice.subscribe", "subscription.id:read"])
        auth_sandbox.consents.update(ALICE, ["events.voice.subscribe"])
        auth_sandbox.consents.revoke(ALICE)
        auth_sandbox.consents.add_tenant(["events.sms.subscribe"])
        await wait_for(lambda: len(handled.events) == 4)
        queue = auth_sandbox.consents.topic.queues["ha-test"]
        await wait_for(lambda: queue.acked == 4)
    changes = [e for e in handled.events if isinstance(e, ConsentChangeEvent)]
    assert [(c.change, c.number, c.tenant, c.scopes) for c in changes] == [
        (
            ConsentChange.ADDED,
            ALICE,
            None,
            {"events.voice.subscribe", "subscription.id:read"},
        ),
        (ConsentChange.UPDATED, ALICE, None, {"events.voice.subscribe"}),
        (ConsentChange.REVOKED, ALICE, None, frozenset()),
        (ConsentChange.ADDED, None, "sandbox", {"events.sms.subscribe"}),
    ]
    assert changes[0].subscriber == ALICE
    assert changes[3].subscriber is None


async def test_subscription_streams_decode_into_the_v0_models(sandbox: SandboxServer) -> None:
    events = sandbox.subscription_events
    handled = {kind: Handled() for kind in V1Stream if kind is not V1Stream.CONSENT_CHANGE}
    async with contextlib.AsyncExitStack() as stack:
        for kind, recorder in handled.items():
            await stack.enter_async_context(streaming(sandbox, kind, recorder))
        events.publish(
            "country_change",
            {
                "number": {"e164": ALICE},
                "previous": {"code": "NO", "name": "Norway"},
                "current": {"code": "SE", "name": "Sweden"},
            },
        )
        events.publish(
            "periodic_country",
            {"number": {"e164": ALICE}, "imsi": {"value": "242011"}, "country": {"code": "SE"}},
        )
        events.publish(
            "handset_change",
            {
                "number": {"e164": BOB},
                "imsi": {"value": "242012"},
                "current": {"imeiSv": {"imei": "3520", "softwareVersion": "07"}},
            },
        )
        events.publish("first_attachment", {"number": {"e164": BOB}, "imsi": {"value": "242013"}})
        await wait_for(lambda: all(len(r.events) == 1 for r in handled.values()))
    (country,) = handled[V1Stream.COUNTRY_CHANGE].events
    assert isinstance(country, CountryChangeEvent)
    assert country.subscriber == ALICE
    assert (country.previous, country.current) == (
        Country("NO", "Norway"),
        Country("SE", "Sweden"),
    )
    assert country.sequence == 0
    (periodic,) = handled[V1Stream.PERIODIC_COUNTRY].events
    assert isinstance(periodic, PeriodicCountryEvent)
    assert (periodic.subscriber, periodic.imsi, periodic.country) == (
        ALICE,
        "242011",
        Country("SE", ""),
    )
    (handset,) = handled[V1Stream.HANDSET_CHANGE].events
    assert isinstance(handset, HandsetUpdateEvent)
    assert (handset.subscriber, handset.imsi, handset.previous, handset.current) == (
        BOB,
        "242012",
        None,
        Handset("3520", "07"),
    )
    (first,) = handled[V1Stream.FIRST_ATTACHMENT].events
    assert isinstance(first, FirstAttachmentEvent)
    assert (first.subscriber, first.imsi) == (BOB, "242013")


async def test_a_stream_without_its_scope_stops_naming_it(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, granted_scopes=[]
    )
    stream = V1EventStream(
        endpoint_of(server),
        V1_SERVICES[V1Stream.COUNTRY_CHANGE],
        V1StreamConfig(queue_name="q", backoff_initial=0.05, backoff_max=0.2),
        Handled(),
        # The token asks for nothing, so the server is the one to refuse.
        token_provider=provider(server, session, set()),
    )
    with pytest.raises(MissingScopeError) as caught:
        await asyncio.wait_for(stream.run(), 30)
    assert caught.value.missing_scopes == {"subscription.country_change:read"}


async def test_unacked_events_come_again_and_are_handled_once(sandbox: SandboxServer) -> None:
    handled = Handled(fail=1)
    async with streaming(sandbox, V1Stream.FIRST_ATTACHMENT, handled, ack_timeout=10.0):
        topic = sandbox.subscription_events.topics["first_attachment"]
        topic.clock = lambda: 0.0  # frozen: redelivery only when the test moves the clock
        sandbox.subscription_events.publish("first_attachment", {"number": {"e164": ALICE}})
        queue = topic.queues["ha-test"]
        await wait_for(lambda: queue.delivered == 1)
        # The handler failed: the event stays unacked until the server sends it again.
        assert handled.events == []
        topic.clock = lambda: 11.0
        topic.publish(topic.events[0].event)  # a wake-up: one more event
        await wait_for(lambda: len(handled.events) == 2)
        await wait_for(lambda: queue.acked == 2)
        assert queue.redelivered == 1
        # The server delivers the handled event once more (its ack was lost): acked, dropped.
        queue.redeliver.append(1)
        topic.publish(topic.events[0].event)
        await wait_for(lambda: queue.acked == 4)
    assert len(handled.events) == 3  # the first once, and the two published after it


async def test_the_stream_reopens_at_once_when_the_server_ends_it(sandbox: SandboxServer) -> None:
    handled = Handled()
    # A backoff far longer than the test: only an at-once reconnect gets the events.
    async with streaming(
        sandbox, V1Stream.COUNTRY_CHANGE, handled, backoff_initial=300.0, backoff_max=600.0
    ) as stream:
        assert sandbox.end_v1_streams() == 1
        await wait_for(lambda: stream.stats.reconnects == 1)
        await wait_for(
            lambda: sandbox.stats["subscription_events"]["country_change"]["open_streams"] == 1
        )
        sandbox.subscription_events.publish("country_change", {"number": {"e164": ALICE}})
        await wait_for(lambda: len(handled.events) == 1)
    assert handled.states.count(ConnectionState.CONNECTED) == 2  # no disconnect shown


async def test_the_durable_queue_keeps_its_place_across_streams(sandbox: SandboxServer) -> None:
    first = Handled()
    async with streaming(sandbox, V1Stream.PERIODIC_COUNTRY, first):
        sandbox.subscription_events.publish("periodic_country", {"number": {"e164": ALICE}})
        await wait_for(lambda: len(first.events) == 1)
    # Published while no one listens: the queue's next stream gets it, and only it.
    sandbox.subscription_events.publish("periodic_country", {"number": {"e164": BOB}})
    second = Handled()
    async with streaming(sandbox, V1Stream.PERIODIC_COUNTRY, second):
        await wait_for(lambda: len(second.events) == 1)
    assert [e.subscriber for e in second.events] == [BOB]


def test_config_refuses_what_the_operator_refuses() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        V1StreamConfig(queue_name="q", max_in_flight=201)
    with pytest.raises(ValueError, match="ack_timeout"):
        V1StreamConfig(queue_name="q", ack_timeout=5)
    regular = V1StreamConfig(queue_name="", start_oldest=True).stream_configuration()
    assert regular.WhichOneof("stream_type") == "regular"
    assert regular.WhichOneof("start_position") == "start_at_oldest_possible"


async def test_a_stop_while_the_stream_winds_down_returns(sandbox: SandboxServer) -> None:
    stream: V1EventStream | None = None
    winding_down = asyncio.Event()
    stuck = asyncio.Event()  # never set: the first drain hangs until cancelled

    async def handler(_event: WgtwoEvent) -> None:
        assert stream is not None
        await stream.stop()  # from the handler: the stream ends itself after this event

    stream = V1EventStream(
        endpoint_of(sandbox),
        V1_SERVICES[V1Stream.FIRST_ATTACHMENT],
        V1StreamConfig(queue_name="q", stop_timeout=1.0),
        handler,
    )
    real_drain = stream._acker.drain
    drains = 0

    async def slow_drain(timeout: float) -> None:  # noqa: ASYNC109
        nonlocal drains
        drains += 1
        if drains == 1:
            winding_down.set()
            await stuck.wait()
        await real_drain(timeout)

    stream._acker.drain = slow_drain  # type: ignore[method-assign]
    task = asyncio.create_task(stream.run())
    await wait_for(lambda: stream.status.state is ConnectionState.CONNECTED, 30)
    sandbox.subscription_events.publish("first_attachment", {"number": {"e164": ALICE}})
    await asyncio.wait_for(winding_down.wait(), 30)
    # stop() from outside now cancels the winding down; it returns all the same.
    await asyncio.wait_for(stream.stop(), 30)
    assert task.done()
    await asyncio.wait_for(stream.stop(), 30)  # and again, at once
