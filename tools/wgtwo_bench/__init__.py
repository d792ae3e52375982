"""The benchmark's reference integration and probe, run inside Home Assistant by bench-ha.

``scripts/bench-ha`` copies this folder into its temporary config folder as the custom
integration ``wgtwo_bench``. It holds two things:

- the reference: the least an integration must do for the same events as wgtwo (a bare
  gRPC consumer with manual ack, on a channel with wgtwo's options, that fires the same
  ``wgtwo_event`` and writes as many entity states per event as wgtwo changes, to entities
  of the event's subscriber as wgtwo does: its call event entity with the call's fields,
  the rest its sensors, with attributes of the size of wgtwo's last caller's), so Home
  Assistant's own cost is measured in the same process and wgtwo's can be given as a
  ratio of it. Like Home Assistant's own integrations, it keeps what changes with every
  event out of the recorder (``_unrecorded_attributes``);
- the probe: counts bus events and state writes, and while recording, times each
  ``wgtwo_event`` and the last state change it caused (for the latency publish -> state).

The benchmark drives both over authenticated HTTP views under ``/api/wgtwo_bench/``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import cProfile
import hashlib
import io
import pstats
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import grpc
from aiohttp import web
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.discovery import async_load_platform
from homeassistant.helpers.http import HomeAssistantView
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey

from custom_components.wgtwo.client import Endpoint
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2, events_pb2_grpc

if TYPE_CHECKING:
    from .event import ReferenceCallEvent
    from .sensor import ReferenceSensor

DOMAIN: Final = "wgtwo_bench"
DATA: HassKey[Bench] = HassKey(DOMAIN)
# Set up from configuration.yaml (``wgtwo_bench:``), without options.
CONFIG_SCHEMA: Final = cv.empty_config_schema(DOMAIN)
EVENT_WGTWO: Final = "wgtwo_event"
SUBSCRIBER_MODEL: Final = "Mobile subscription"  # the model of wgtwo's subscriber devices
# wgtwo's entities of one subscriber are written by that subscriber's events only: the
# reference has as many subscribers' worth of entities (the bench has four), one call event
# entity and two sensors each, the first subscriber seen taking the first of them.
SUBSCRIBER_SLOTS: Final = 4
SENSORS_PER_SLOT: Final = 2
MAX_IN_FLIGHT: Final = 50
ACK_TIMEOUT_S: Final = 30
# The integration's cap on the stream's reconnect backoff (its settings' backoff_max).
RECONNECT_BACKOFF_MAX_S: Final = 60.0
_VOICE = events_pb2.VoiceEvent
CALL_TYPES: Final = {
    _VOICE.CALL_INITIATED: "call_initiated",
    _VOICE.CALL_RINGING: "call_ringing",
    _VOICE.CALL_ANSWERED: "call_answered",
    _VOICE.CALL_ENDED: "call_ended",
    _VOICE.CALL_FWD_VOICEMAIL: "call_forwarded_to_voicemail",
}


class Probe:
    """Counts what Home Assistant saw; times events and their state changes while recording."""

    def __init__(self) -> None:
        """Start with nothing counted and recording off."""
        self.fired = 0
        self.changed = 0
        self.reported = 0
        self.recording = False
        # [call_id, type, fired at, last state change at] (time.time()).
        self.records: list[list[Any]] = []
        self._current: list[Any] | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def reset(self, recording: bool) -> None:
        """Zero the counters and the records."""
        self.fired = self.changed = self.reported = 0
        self.records = []
        self._current = None
        self.recording = recording

    @callback
    def on_fired(self, event: Event) -> None:
        """Count a wgtwo_event (from either integration)."""
        self.fired += 1
        if self.recording:
            now = time.time()
            self._current = [event.data.get("call_id"), event.data.get("type"), now, now]
            self.records.append(self._current)
        if self._waiters:
            for count, future in list(self._waiters):
                if self.fired >= count and not future.done():
                    future.set_result(None)

    @callback
    def on_changed(self, _event: Event[Any]) -> None:
        """Count a state change; it belongs to the latest wgtwo_event."""
        self.changed += 1
        if self._current is not None:
            self._current[3] = time.time()

    @callback
    def on_reported(self, _event: Event[Any]) -> None:
        """Count a state write that changed nothing."""
        self.reported += 1

    async def wait(self, count: int, within: float) -> bool:
        """Wait until ``count`` wgtwo_events were fired since the last reset."""
        if self.fired >= count:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (count, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(within):
                await future
        except TimeoutError:
            return False
        finally:
            self._waiters.remove(waiter)
        return True

    def counts(self) -> dict[str, int]:
        """Return the counters."""
        return {"fired": self.fired, "changed": self.changed, "reported": self.reported}


def open_channel(target: str) -> grpc.aio.Channel:
    """Open a plaintext channel with the options of wgtwo's event stream.

    Built by the same client code as wgtwo's, with its defaults (keepalive, connect timeout)
    and the integration's backoff cap: every option wgtwo sets (retries off, a subchannel
    pool of its own, keepalive pings, reconnect backoffs) is set here too.
    """
    return Endpoint.parse(target, plaintext=True).create_channel(
        reconnect_backoff_max=RECONNECT_BACKOFF_MAX_S
    )


class Reference:
    """The minimal consumer: receive, ack, fire the same bus event, write states."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Not connected until started."""
        self.hass = hass
        self.call_entities: list[ReferenceCallEvent] = []
        self.entities: list[ReferenceSensor] = []
        self.writes_per_event = 1.0
        self._owed = 0.0
        self._slots: dict[str, int] = {}
        self._answered: dict[str, datetime] = {}
        # The phonebook's names by number, as wgtwo's payloads carry them.
        self.names: dict[str, str] = {}
        # A device id per subscriber, as long as Home Assistant's (wgtwo's payloads carry it).
        self._device_ids: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._pending: set[Any] = set()

    async def start(self, target: str, token_url: str, client_id: str, secret: str) -> None:
        """Get a token and subscribe to voice events from now on."""
        credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                token_url,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {credentials}"},
            ) as response,
        ):
            response.raise_for_status()
            token = (await response.json())["access_token"]
        self._task = self.hass.async_create_background_task(
            self._run(target, (("authorization", f"Bearer {token}"),)), "wgtwo_bench reference"
        )

    async def stop(self) -> None:
        """End the stream."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, target: str, metadata: tuple[tuple[str, str], ...]) -> None:
        request = events_pb2.SubscribeEventsRequest(
            type=[events_pb2.EventType.Value("VOICE_EVENT")],
            client_id=DOMAIN,
            queue_name=DOMAIN,
            durable_name=DOMAIN,
            max_in_flight=MAX_IN_FLIGHT,
        )
        request.manual_ack.enable = True
        request.manual_ack.timeout.seconds = ACK_TIMEOUT_S
        async with open_channel(target) as channel:
            stub = events_pb2_grpc.EventsServiceStub(channel)
            async for response in stub.Subscribe(request, metadata=metadata):
                event = response.event
                self.handle(event)
                ack = stub.Ack(
                    events_pb2.AckRequest(
                        inbox=event.metadata.ack_inbox, sequence=event.metadata.sequence
                    ),
                    metadata=metadata,
                    timeout=ACK_TIMEOUT_S,
                )
                self._pending.add(ack)
                ack.add_done_callback(self._pending.discard)

    def _device_id(self, owner: str) -> str:
        if (device_id := self._device_ids.get(owner)) is None:
            device_id = self._device_ids[owner] = hashlib.sha256(owner.encode()).hexdigest()[:32]
        return device_id

    @callback
    def handle(self, event: Any) -> None:
        """Fire the bus event wgtwo fires for this call event and write the states."""
        voice = event.voice_event
        owner = event.owner.phone_number.e164
        stamp = event.timestamp.ToDatetime(tzinfo=UTC)
        from_number = voice.from_number.e164 or None
        to_number = voice.to_number.e164 or None
        hidden = voice.caller_id_hidden
        kind = CALL_TYPES.get(voice.type, "call_initiated")
        # The call's fields, which the event entity shows; the bus event adds the envelope.
        fields: dict[str, Any] = {
            "call_id": voice.call_id,
            "direction": "incoming" if to_number == owner else "outgoing",
            "from_number": None if hidden else from_number,
            "to_number": to_number,
            "caller_id_hidden": hidden,
            "from_name": None if hidden else self.names.get(from_number or ""),
            "to_name": self.names.get(to_number or ""),
        }
        if voice.type == _VOICE.CALL_ANSWERED:
            self._answered[voice.call_id] = stamp
        elif voice.type == _VOICE.CALL_ENDED:
            answered = self._answered.pop(voice.call_id, None)
            fields["answered"] = answered is not None
            fields["duration"] = (stamp - answered).total_seconds() if answered else None
        payload = {
            "type": kind,
            "subscriber": owner,
            "device_id": self._device_id(owner),
            "timestamp": stamp.isoformat(),
            "sequence": event.metadata.sequence,
            **fields,
        }
        if (slot := self._slots.get(owner)) is None:
            slot = self._slots[owner] = len(self._slots) % SUBSCRIBER_SLOTS
        # As wgtwo's, the entity the event is listed with in Activity (the call event
        # entity), its id known beforehand rather than looked up per event.
        payload["entity_id"] = self.call_entities[slot].entity_id if self.call_entities else None
        self.hass.bus.async_fire(EVENT_WGTWO, payload)
        # The first write is the subscriber's call event entity's, the next its first
        # sensor's, a third (every few events) its second sensor's: as wgtwo writes its call
        # state on every call event and its last caller once per call.
        if self.call_entities:
            self.call_entities[slot].show(kind.removeprefix("call_"), fields)
        self._owed += self.writes_per_event - 1
        sensor = slot * SENSORS_PER_SLOT
        while self._owed >= 1 and self.entities:
            self._owed -= 1
            self.entities[sensor].show(payload)
            sensor = min(sensor + 1, (slot + 1) * SENSORS_PER_SLOT - 1)


class Bench:
    """What the views reach: the probe, the reference and a profiler of the event loop."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Nothing running yet."""
        self.probe = Probe()
        self.reference = Reference(hass)
        self.profiler: cProfile.Profile | None = None


class BenchView(HomeAssistantView):
    """POST /api/wgtwo_bench/{command} with a JSON body; answers JSON."""

    url = "/api/wgtwo_bench/{command}"
    name = "api:wgtwo_bench"

    def __init__(self, bench: Bench) -> None:
        """Serve this bench."""
        self.bench = bench

    async def post(self, request: web.Request, command: str) -> web.Response:
        """Run one command."""
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        bench = self.bench
        match command:
            case "reference":
                await bench.reference.start(
                    body["target"], body["token_url"], body["client_id"], body["client_secret"]
                )
                bench.reference.names = dict(body.get("names", {}))
                return self.json({})
            case "writes":
                bench.reference.writes_per_event = float(body["writes_per_event"])
                return self.json({})
            case "reset":
                bench.probe.reset(bool(body.get("recording")))
                return self.json({})
            case "wait":
                done = await bench.probe.wait(int(body["count"]), float(body["timeout"]))
                return self.json({"done": done, **bench.probe.counts()})
            case "probe":
                return self.json({**bench.probe.counts(), "records": bench.probe.records})
            case "entities":
                registry = er.async_get(bench.reference.hass)
                return self.json(
                    {
                        side: [
                            entry.entity_id
                            for entry in registry.entities.values()
                            if entry.platform == platform
                        ]
                        for side, platform in (("wgtwo", "wgtwo"), ("reference", DOMAIN))
                    }
                )
            case "profile":
                return self.json({"stats": self._profile(bool(body["enable"]))})
            case "devices":
                return self.json(_wgtwo_devices(bench.reference.hass))
            case "save":
                return self.json({"ms": await _time_save(bench.reference.hass, int(body["index"]))})
        return self.json({"error": command}, status_code=404)

    def _profile(self, enable: bool) -> str:
        """Start profiling the event loop, or stop and return the hottest functions."""
        if enable:
            self.bench.profiler = cProfile.Profile()
            self.bench.profiler.enable()
            return ""
        profiler, self.bench.profiler = self.bench.profiler, None
        if profiler is None:
            return ""
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        # The integrations' own functions, however small each is.
        stats.sort_stats("cumulative").print_stats("custom_components", 60)
        return out.getvalue()


def _wgtwo_devices(hass: HomeAssistant) -> dict[str, int]:
    """Count wgtwo's subscriber devices and entities.

    The scale mode's setup is done when every subscriber has its device.
    """
    registry = dr.async_get(hass)
    return {
        "devices": sum(
            1
            for entry in hass.config_entries.async_entries("wgtwo")
            for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
            if device.model == SUBSCRIBER_MODEL
        ),
        "entities": sum(
            1 for entry in er.async_get(hass).entities.values() if entry.platform == "wgtwo"
        ),
    }


async def _time_save(hass: HomeAssistant, index: int) -> float:
    """Change one subscriber's snapshot as an event would, and time writing it (ms).

    The time from asking wgtwo's coordinator to save now until the write is done: its
    snapshots gathered on the event loop, serialized and written by Home Assistant's store.
    """
    entry = hass.config_entries.async_loaded_entries("wgtwo")[0]
    coordinator = entry.runtime_data.coordinator
    numbers = list(coordinator.subscribers)
    subscriber = coordinator.subscribers[numbers[index % len(numbers)]]
    subscriber.missed_calls += 1  # what a missed call changes
    try:
        coordinator.save(subscriber.number)  # the subscriber whose snapshot changed
    except TypeError:  # a version that saves every subscriber's snapshot each time
        coordinator.save()
    started = time.perf_counter()
    await coordinator.async_save_now()
    return (time.perf_counter() - started) * 1000


@callback
def _every_report(_data: Mapping[str, Any]) -> bool:
    """Let every state report through (Home Assistant requires a filter for them)."""
    return True


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Listen as the probe, serve the views, add the reference's entities."""
    bench = hass.data[DATA] = Bench(hass)
    hass.bus.async_listen(EVENT_WGTWO, bench.probe.on_fired)
    hass.bus.async_listen(EVENT_STATE_CHANGED, bench.probe.on_changed)
    hass.bus.async_listen(EVENT_STATE_REPORTED, bench.probe.on_reported, event_filter=_every_report)
    hass.http.register_view(BenchView(bench))
    for platform in ("event", "sensor"):
        hass.async_create_task(async_load_platform(hass, platform, DOMAIN, {}, config))
    return True
