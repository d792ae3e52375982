"""Benchmark the integration inside Home Assistant (``scripts/bench-ha``).

One Home Assistant process (``.venv-dev``, a temporary config folder, free ports) runs two
integrations side by side, each fed by its own sandbox process with the same calls
(ringing, answered, ended):

- wgtwo, configured through its own config and options flows;
- ``wgtwo_bench`` (``tools/wgtwo_bench``, copied into the config folder): the least
  an integration must do for the same events (a bare gRPC consumer with manual ack, on a
  channel with wgtwo's options, that fires the same ``wgtwo_event`` and writes as many
  entity states per event as wgtwo changes, with attributes of wgtwo's size), i.e. what
  Home Assistant itself costs. It also holds the probe that counts and times events and
  state changes inside Home Assistant.

Two modes, each in a Home Assistant process of its own, both run by default:

- default: no recorder, no client. Prints Home Assistant's CPU time per event for both (the
  process's CPU time over a phase, from /proc, less its idle rate) and their ratio (the
  median of the per-round ratios, and the best rounds'), events/s at saturation, the
  latency from the sandbox publish to the entity state at a steady rate (p50/p99) for both,
  and the RSS of Home Assistant over many events after a warm-up;
- realistic: the recorder on (SQLite, its default commit interval) and one websocket
  client subscribed to every state change, as an open dashboard. Prints the median of the
  per-round CPU ratios and the database bytes each side adds per event (``tools.bench_db``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp

from tools.bench_db import RecorderDatabase, Usage
from tools.instance import (
    ALL_EVENT_TYPES,
    CLIENT_ID,
    CLIENT_SECRET,
    MINIMAL_COMPONENTS,
    ROOT,
    HomeAssistantInstance,
    Sandbox,
    configure_integration,
    link_integration,
    onboard,
    write_configuration,
)

REFERENCE: Final = ROOT / "tools" / "wgtwo_bench"
REFERENCE_DOMAIN: Final = "wgtwo_bench"
SUBSCRIBERS: Final = ("+4791234567", "+4798765432", "+4722334455", "+4741234567")
PHONEBOOK: Final = "+4791234567 = Alice\n+4798765432 = Bob\n+4722334455 = Carol\n"
# The same names for the reference's payloads (from_name, to_name).
PHONEBOOK_NAMES: Final = {
    number.strip(): name.strip()
    for number, name in (line.split("=") for line in PHONEBOOK.splitlines())
}
CALLERS: Final = 1000  # distinct caller numbers, reused
STEPS: Final = (("CALL_RINGING", "call_ringing"), ("CALL_ANSWERED", "call_answered"))
END: Final = ("CALL_ENDED", "call_ended")
PUBLISH_BATCH: Final = 1000
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
# The integration saves its snapshots 10 s after a change: a phase's CPU is read after that.
SETTLE_S: Final = 11.0
# The recorder's default commit interval (s): what it holds is written at most this late.
RECORDER_COMMIT_S: Final = 5.0
# The call ids each side's events carry (Calls' prefixes): how the database rows are told apart.
CALL_PREFIXES: Final = {"wgtwo": "w-", "reference": "r-"}
GOAL_RATIO: Final = 1.10
GOAL_RATIO_REALISTIC: Final = 1.25
GOAL_DATABASE_RATIO: Final = 1.5
GOAL_P99_MS: Final = 10.0
GOAL_RSS_MB: Final = 20.0
# The scale mode: one entry with this many consenting subscribers each.
SCALE_SUBSCRIBERS: Final = "10,100,1000"
GOAL_SCALE_CPU: Final = 1.2  # CPU per event at the most subscribers over at the fewest
GOAL_SETUP_S: Final = 20.0  # setup until every device exists, at the most subscribers
GOAL_SAVE_MS: Final = 50.0  # one snapshot save, at the most subscribers
SAVES: Final = 5  # snapshot saves timed per count (the median counts)


# -- statistics and /proc parsing (tested in tests/tooling/test_bench_ha.py) ------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 < fraction <= 1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil without floats drifting
    return ordered[min(len(ordered), int(rank)) - 1]


def cpu_seconds(stat: str) -> float:
    """User + system CPU seconds of a process from its /proc/<pid>/stat line."""
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of a process's threads, summed by name without digits (``SyncWorker_``).

    Threads that ended are not counted: the process's own total is :func:`cpu_seconds`.
    """
    groups: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (
                "MainThread"  # the event loop's
                if task.name == str(pid)
                else (task / "comm").read_text().strip().rstrip("0123456789")
            )
            seconds = cpu_seconds((task / "stat").read_text())
        except FileNotFoundError, ProcessLookupError:
            continue  # ended meanwhile
        groups[name] = groups.get(name, 0.0) + seconds
    return groups


def rss_bytes(status: str) -> int:
    """Resident set size from /proc/<pid>/status."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            assert unit == "kB"
            return int(value) * 1024
    raise ValueError("no VmRSS in status")


def cpu_per_event_ms(cpu_s: float, elapsed_s: float, idle_cpu_per_s: float, events: int) -> float:
    """CPU milliseconds per event over a phase, less what the idle process spends."""
    return max(0.0, cpu_s - idle_cpu_per_s * elapsed_s) / events * 1000


def median_ratio(ours: Sequence[float], reference: Sequence[float]) -> float:
    """Median of the per-round ratios (each round's two phases run back to back)."""
    return statistics.median(o / r for o, r in zip(ours, reference, strict=True))


def latencies_ms(
    records: Iterable[Sequence[Any]], published: Mapping[tuple[str, str], float]
) -> list[float]:
    """Publish -> last state change of each recorded event that was published here.

    A record is ``[call_id, bus type, fired at, last state change at]`` from the probe.
    """
    return [
        (record[3] - published[key]) * 1000
        for record in records
        if (key := (record[0], record[1])) in published
    ]


# -- events ------------------------------------------------------------------------------


class Calls:
    """Voice events of calls to the subscribers: ringing, answered, ended, with unique ids."""

    def __init__(self, prefix: str, subscribers: Sequence[str] = SUBSCRIBERS) -> None:
        """Start at call 0, the ids beginning with ``prefix`` (e.g. ``w-``).

        Each call goes to the next of ``subscribers``, round and round.
        """
        self.prefix = prefix
        self.subscribers = tuple(subscribers)
        self.index = 0

    def next(self, stamp: datetime | None = None) -> tuple[dict[str, Any], tuple[str, str]]:
        """Return the next event (in protobuf's JSON mapping) and its (call id, bus type)."""
        call, step = divmod(self.index, 3)
        self.index += 1
        kind, bus_type = (*STEPS, END)[step]
        subscriber = self.subscribers[call % len(self.subscribers)]
        call_id = f"{self.prefix}{call}"
        event: dict[str, Any] = {
            "serviceId": "bench",
            "timestamp": (stamp or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
            "owner": {"phoneNumber": {"e164": subscriber}, "sub": "bench"},
            "voiceEvent": {
                "callId": call_id,
                "type": kind,
                "fromNumber": {"e164": f"+479900{call % CALLERS:04d}"},
                "toNumber": {"e164": subscriber},
            },
        }
        return {"event": event}, (call_id, bus_type)


# -- the running instance ----------------------------------------------------------------


class BenchError(Exception):
    """A phase did not go as planned: its figures would not mean what they say."""


@dataclass
class Saturation:
    """One phase of events published as fast as they are taken."""

    cpu_ms: float
    rate: float
    changed: float
    reported: float
    database: Usage | None = None
    # CPU ms per event of each group of threads (the idle rate not taken off).
    threads: dict[str, float] = field(default_factory=dict)


class StateWatcher:
    """A websocket client subscribed to every state change, as an open dashboard is.

    It asks for coalesced messages, as the frontend does, and counts the state changes it
    receives; it also answers the bench's questions to the recorder (``recorder/info``).
    """

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        """Not connected until started."""
        self.session = session
        self.url = url
        self.token = token
        self.state_changes = 0
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._next_id = 1
        self._results: dict[int, asyncio.Future[Any]] = {}
        self.closed_by: str | None = None

    async def start(self) -> None:
        """Log in, enable coalescing, subscribe to state_changed."""
        socket_ = self._socket = await self.session.ws_connect(
            f"{self.url}/api/websocket", max_msg_size=0
        )
        await socket_.receive_json()  # auth_required
        await socket_.send_json({"type": "auth", "access_token": self.token})
        if (await socket_.receive_json())["type"] != "auth_ok":
            raise BenchError("Home Assistant refused the websocket client's token")
        self._reader = asyncio.create_task(self._read())
        await self.command("supported_features", features={"coalesce_messages": 1})
        await self.command("subscribe_events", event_type="state_changed")

    async def command(self, kind: str, **body: Any) -> Any:
        """Send a command and return its result."""
        assert self._socket is not None
        message_id = self._next_id = self._next_id + 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[message_id] = future
        await self._socket.send_json({"id": message_id, "type": kind, **body})
        async with asyncio.timeout(30):
            return await future

    async def _read(self) -> None:
        assert self._socket is not None
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            text: str = message.data
            self.state_changes += text.count('"event_type":"state_changed"')
            if '"type":"result"' in text:
                self._resolve(json.loads(text))
        self.closed_by = f"Home Assistant closed the websocket ({self._socket.close_code})"
        for future in self._results.values():
            if not future.done():
                future.set_exception(BenchError(self.closed_by))

    def _resolve(self, decoded: Any) -> None:
        for message in decoded if isinstance(decoded, list) else [decoded]:
            if message.get("type") != "result":
                continue
            future = self._results.pop(message["id"], None)
            if future is None or future.done():
                continue
            if message.get("success"):
                future.set_result(message.get("result"))
            else:
                future.set_exception(BenchError(f"websocket command failed: {message}"))

    def check(self) -> None:
        """Fail if Home Assistant dropped the client (it does when one falls behind)."""
        if self.closed_by is not None:
            raise BenchError(f"the websocket client was dropped: {self.closed_by}")

    async def recorder_drained(self, within: float = 300) -> None:
        """Wait until the recorder's queue is empty, then for its next commit."""
        async with asyncio.timeout(within):
            while (await self.command("recorder/info"))["backlog"]:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
        await asyncio.sleep(RECORDER_COMMIT_S + 1)

    async def stop(self) -> None:
        """Close the connection."""
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            # wait(), not await: the reader's end is no error here, and a cancellation of
            # the bench (Ctrl-C) must not be swallowed.
            await asyncio.wait([self._reader])


class Bench:
    """Home Assistant with both integrations, their sandboxes and the probe's views."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        hass: HomeAssistantInstance,
        ours: Sandbox,
        reference: Sandbox | None,
        token: str,
    ) -> None:
        """Talk to this instance (wgtwo's side only when there is no reference sandbox)."""
        self.session = session
        self.hass = hass
        self.sandboxes = {"wgtwo": ours} | ({"reference": reference} if reference else {})
        self.calls = {side: Calls(prefix) for side, prefix in CALL_PREFIXES.items()}
        self.headers = {"Authorization": f"Bearer {token}"}
        self.idle_cpu_per_s = 0.0
        # Realistic mode: the dashboard's websocket, the recorder's database, each side's
        # entity ids.
        self.watcher: StateWatcher | None = None
        self.database: RecorderDatabase | None = None
        self.entity_ids: dict[str, list[str]] = {}

    @property
    def pid(self) -> int:
        """Home Assistant's process id."""
        assert self.hass.process is not None
        return self.hass.process.pid

    def cpu(self) -> float:
        """Home Assistant's CPU seconds so far."""
        return cpu_seconds(Path(f"/proc/{self.pid}/stat").read_text())

    def rss_mb(self) -> float:
        """Home Assistant's resident set size in MB."""
        return rss_bytes(Path(f"/proc/{self.pid}/status").read_text()) / 1e6

    async def command(self, name: str, **body: Any) -> dict[str, Any]:
        """POST a command to the probe's view."""
        async with self.session.post(
            f"{self.hass.url}/api/{REFERENCE_DOMAIN}/{name}", json=body, headers=self.headers
        ) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def wait_until_running(self, within: float = 300) -> None:
        """Wait until Home Assistant has started (the reference is set up late)."""
        async with asyncio.timeout(within):
            while True:
                async with self.session.get(
                    f"{self.hass.url}/api/config", headers=self.headers
                ) as response:
                    if response.status == 200 and (await response.json())["state"] == "RUNNING":
                        return
                await asyncio.sleep(0.5)

    async def publish(self, side: str, events: list[dict[str, Any]]) -> None:
        """Publish events to one side's sandbox."""
        async with self.session.post(f"{self.sandboxes[side].url}/events", json=events) as response:
            response.raise_for_status()

    async def measure_idle(self, seconds: float) -> None:
        """Home Assistant's CPU rate with both streams open and nothing arriving."""
        cpu, started = self.cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        self.idle_cpu_per_s = (self.cpu() - cpu) / (time.monotonic() - started)

    async def settle(self, seconds: float) -> None:
        """Wait for what follows a phase: the snapshot save, the recorder's commit."""
        await asyncio.sleep(seconds)
        if self.watcher is not None:
            await self.watcher.recorder_drained()
            self.watcher.check()

    async def saturate(self, side: str, count: int, settle: float) -> Saturation:
        """Publish ``count`` events at once; measure from the end of publishing to the last.

        Publishing keeps the sandbox busy, so the window starts once all are published
        (Home Assistant still has most of them to take); the CPU is read after ``settle``
        (and, with the recorder, once it has written everything). With the recorder, the
        rows the side added to its database are counted too.
        """
        marks = self.database.marks() if self.database is not None else None
        await self.command("reset", recording=False)
        waiting = asyncio.create_task(self.command("wait", count=count, timeout=600))
        for start in range(0, count, PUBLISH_BATCH):
            batch = [self.calls[side].next()[0] for _ in range(min(PUBLISH_BATCH, count - start))]
            await self.publish(side, batch)
        cpu, started = self.cpu(), time.monotonic()
        threads = thread_cpu_seconds(self.pid)
        before = (await self.command("probe"))["fired"]
        counts = await waiting
        if not counts["done"]:
            raise BenchError(
                f"{side}: only {counts['fired']} of {count} events arrived at saturation"
            )
        elapsed = time.monotonic() - started
        await self.settle(settle)
        counts = await self.command("probe")
        used = self.cpu() - cpu
        window = time.monotonic() - started
        measured = count - before
        result = Saturation(
            cpu_per_event_ms(used, window, self.idle_cpu_per_s, measured),
            measured / elapsed,
            counts["changed"] / count,
            counts["reported"] / count,
            threads={
                name: (seconds - threads.get(name, 0.0)) / measured * 1000
                for name, seconds in thread_cpu_seconds(self.pid).items()
            },
        )
        if self.database is not None and marks is not None:
            result.database, recorded = self.database.usage(
                marks, self.entity_ids[side], CALL_PREFIXES[side]
            )
            if recorded != count:
                raise BenchError(
                    f"{side}: the recorder holds {recorded} of the {count} bus events of the phase"
                )
        return result

    async def steady(self, side: str, count: int, rate: float) -> tuple[list[float], Saturation]:
        """Publish one event at a time at ``rate``; return latencies (ms) and the counts.

        Fails unless every event arrived: a latency over the events that made it would
        hide the ones that did not.
        """
        await self.command("reset", recording=True)
        published: dict[tuple[str, str], float] = {}
        cpu, started = self.cpu(), time.monotonic()
        next_at = started
        for _ in range(count):
            event, key = self.calls[side].next()
            published[key] = time.time()
            await self.publish(side, [event])
            next_at += 1 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        counts = await self.command("wait", count=count, timeout=60)
        if not counts["done"]:
            raise BenchError(
                f"{side}: only {counts['fired']} of {count} events arrived at "
                f"{rate:g} events/s (within 60 s of the last publish)"
            )
        elapsed = time.monotonic() - started
        used = self.cpu() - cpu
        records = (await self.command("probe"))["records"]
        await self.command("reset", recording=False)
        return latencies_ms(records, published), Saturation(
            cpu_per_event_ms(used, elapsed, self.idle_cpu_per_s, count),
            count / elapsed,
            counts["changed"] / count,
            counts["reported"] / count,
        )

    async def rounds(self, args: argparse.Namespace, label: str) -> dict[str, list[Saturation]]:
        """Saturation phases of both sides, one after the other, ``args.rounds`` times."""
        results: dict[str, list[Saturation]] = {"wgtwo": [], "reference": []}
        for round_ in range(1, args.rounds + 1):
            # Each side goes first every other round: what follows a phase (a late commit,
            # a timer) weighs on both alike.
            sides = list(results) if round_ % 2 else list(results)[::-1]
            for side in sides:
                side_results = results[side]
                profile = args.profile and round_ == 1
                if profile:
                    await self.command("profile", enable=True)
                side_results.append(await self.saturate(side, args.saturation, args.settle))
                if profile:
                    stats = (await self.command("profile", enable=False))["stats"]
                    print(f"--- profile of {side}'s phase ({label}) ---\n{stats}", file=sys.stderr)
            ratio = results["wgtwo"][-1].cpu_ms / results["reference"][-1].cpu_ms
            print(
                f"{label} round {round_}: "
                + ", ".join(
                    f"{side} {r[-1].rate:.0f} events/s, {r[-1].cpu_ms:.3f} ms CPU/event"
                    for side, r in results.items()
                )
                + f", ratio {ratio:.2f}",
                flush=True,
            )
        return results


def _prepare(config: Path, integration: Path | None) -> None:
    if integration is not None:
        # Another version of wgtwo (to compare): linked first, so link_integration keeps it.
        (config / "custom_components").mkdir(parents=True)
        (config / "custom_components" / "wgtwo").symlink_to(integration.resolve())
    link_integration(config)
    # Home Assistant runs in the repository, whose custom_components is a regular package:
    # the config folder's must be one too to come first, or the reference is not found.
    (config / "custom_components" / "__init__.py").touch()
    shutil.copytree(
        REFERENCE,
        config / "custom_components" / REFERENCE_DOMAIN,
        ignore=shutil.ignore_patterns("__pycache__"),
    )


def _latency_line(label: str, values: list[float], rate: float) -> str:
    return (
        f"{label} publish -> state at {rate:g} events/s: p50 {percentile(values, 0.5):.1f} ms,"
        f" p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms (n={len(values)})"
    )


@contextlib.asynccontextmanager
async def instance(
    args: argparse.Namespace, config: Path, *, realistic: bool
) -> AsyncIterator[Bench]:
    """Home Assistant with both integrations streaming, warmed up; stopped on exit.

    After the warm-up the reference writes as many states per event as wgtwo changed.
    """
    _prepare(config, args.integration)
    hass = HomeAssistantInstance(config)
    components = (*MINIMAL_COMPONENTS, REFERENCE_DOMAIN, *(("recorder",) if realistic else ()))
    write_configuration(config, hass.port, components)
    ours = Sandbox(config / "sandbox-wgtwo.log")
    reference = Sandbox(config / "sandbox-reference.log")
    mode = "realistic" if realistic else "default"
    print(f"{mode} mode: Home Assistant config {config}", flush=True)
    async with aiohttp.ClientSession() as session, contextlib.AsyncExitStack() as stack:
        await ours.start()
        stack.push_async_callback(ours.stop)
        await reference.start()
        stack.push_async_callback(reference.stop)
        stack.push_async_callback(hass.stop)
        await hass.start(session)
        token = await onboard(session, hass.url)
        await configure_integration(
            session,
            hass.url,
            token,
            ours,
            options={
                "general": {
                    "event_types": ALL_EVENT_TYPES,
                    "phonebook": PHONEBOOK,
                    "share_sms_text": False,
                }
            },
        )
        bench = Bench(session, hass, ours, reference, token)
        await bench.wait_until_running()
        await bench.command(
            "reference",
            target=f"127.0.0.1:{reference.grpc_port}",
            token_url=f"{reference.url}/oauth2/token",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            names=PHONEBOOK_NAMES,
        )
        if realistic:
            bench.watcher = StateWatcher(session, hass.url, token)
            await bench.watcher.start()
            stack.push_async_callback(bench.watcher.stop)
        await asyncio.sleep(2)  # both streams open
        print(f"Home Assistant pid {bench.pid}, RSS {bench.rss_mb():.0f} MB", flush=True)

        # Warm up both (devices created, code paths and caches warm), then count wgtwo's
        # state writes per event now that its devices exist: the reference copies them.
        await bench.saturate("wgtwo", args.warmup, 0)
        counted = await bench.saturate("wgtwo", max(300, args.warmup // 3), 0)
        await bench.command("writes", writes_per_event=counted.changed)
        await bench.saturate("reference", args.warmup, 0)
        print(
            f"wgtwo changes {counted.changed:.2f} states per event (and writes "
            f"{counted.reported:.2f} unchanged); so does the reference",
            flush=True,
        )
        if realistic:
            bench.entity_ids = await bench.command("entities")
            bench.database = RecorderDatabase(config / "home-assistant_v2.db")
            stack.callback(bench.database.close)
        await bench.settle(args.settle)
        await bench.measure_idle(args.idle)
        print(f"idle: {bench.idle_cpu_per_s * 1000:.1f} ms CPU/s", flush=True)
        yield bench
        for side, sandbox in bench.sandboxes.items():
            async with session.get(f"{sandbox.url}/control/stats") as response:
                stats = await response.json()
            if stats["redeliveries"] or stats["ack_timeouts"]:
                print(
                    f"note: {side}'s sandbox redelivered {stats['redeliveries']} events "
                    f"({stats['ack_timeouts']} ack timeouts): its figures include a stall"
                )


def threads_line(label: str, results: Sequence[Saturation]) -> str:
    """Return the threads' CPU per event over the rounds (medians), the busiest first."""
    names = {name for result in results for name in result.threads}
    medians = {
        name: statistics.median(result.threads.get(name, 0.0) for result in results)
        for name in names
    }
    busiest = sorted(medians.items(), key=lambda item: -item[1])
    return f"  CPU ms per event by thread, {label}: " + ", ".join(
        f"{name} {value:.3f}" for name, value in busiest if value >= 0.005
    )


async def default_mode(args: argparse.Namespace, config: Path) -> list[str]:
    """Run without recorder or client: CPU per event, latency, RSS; return the summary."""
    async with instance(args, config, realistic=False) as bench:
        lat_ours, steady_ours = await bench.steady("wgtwo", args.latency_events, args.rate)
        lat_ref, steady_ref = await bench.steady("reference", args.latency_events, args.rate)
        results = await bench.rounds(args, "default")

        # RSS over many events after the warm-up (wgtwo only).
        rss_start = bench.rss_mb()
        samples = [rss_start]
        step = max(1, args.events // 10)
        for done in range(0, args.events, step):
            await bench.saturate("wgtwo", min(step, args.events - done), 0)
            samples.append(bench.rss_mb())
        await asyncio.sleep(args.settle)
        samples.append(bench.rss_mb())

    best = {side: min(r, key=lambda s: s.cpu_ms) for side, r in results.items()}
    paired = median_ratio(
        [r.cpu_ms for r in results["wgtwo"]], [r.cpu_ms for r in results["reference"]]
    )
    growth = samples[-1] - rss_start
    return [
        f"default: median ratio {paired:.2f} of {args.rounds} rounds' CPU per event at "
        f"saturation (goal <= {GOAL_RATIO}); per-round ratios "
        + " ".join(
            f"{o.cpu_ms / r.cpu_ms:.2f}"
            for o, r in zip(results["wgtwo"], results["reference"], strict=True)
        ),
        f"CPU per event (saturation, {args.saturation} events, best of {args.rounds}):\n"
        f"  wgtwo     {best['wgtwo'].cpu_ms:.3f} ms  ({best['wgtwo'].rate:.0f} events/s)\n"
        f"  reference {best['reference'].cpu_ms:.3f} ms  ({best['reference'].rate:.0f} events/s)\n"
        f"  ratio of the best rounds {best['wgtwo'].cpu_ms / best['reference'].cpu_ms:.2f}\n"
        f"  at {args.rate:g} events/s: wgtwo "
        f"{steady_ours.cpu_ms:.3f} ms, reference {steady_ref.cpu_ms:.3f} ms, ratio "
        f"{steady_ours.cpu_ms / steady_ref.cpu_ms:.2f}",
        f"wgtwo changes {steady_ours.changed:.2f} states per event at {args.rate:g} events/s "
        f"(and writes {steady_ours.reported:.2f} unchanged)",
        threads_line("wgtwo", results["wgtwo"]),
        threads_line("reference", results["reference"]),
        _latency_line("wgtwo    ", lat_ours, args.rate) + f" (goal p99 < {GOAL_P99_MS:g} ms)",
        _latency_line("reference", lat_ref, args.rate),
        f"RSS over {args.events} events after warm-up: {rss_start:.0f} -> {samples[-1]:.0f} MB,"
        f" growth {growth:+.1f} MB (goal < {GOAL_RSS_MB:g} MB); samples "
        + " ".join(f"{sample:.0f}" for sample in samples),
    ]


async def realistic_mode(args: argparse.Namespace, config: Path) -> list[str]:
    """Run with the recorder and a dashboard's websocket: CPU per event, database bytes."""
    async with instance(args, config, realistic=True) as bench:
        assert bench.watcher is not None
        seen = bench.watcher.state_changes
        results = await bench.rounds(args, "realistic")
        changed = sum(round(r.changed * args.saturation) for side in results.values() for r in side)
        received = bench.watcher.state_changes - seen
        bench.watcher.check()
    if received < changed:
        raise BenchError(f"the websocket client received {received} of {changed} state changes")
    paired = median_ratio(
        [r.cpu_ms for r in results["wgtwo"]], [r.cpu_ms for r in results["reference"]]
    )
    events = args.rounds * args.saturation
    usage: dict[str, Usage] = {}
    for side, side_results in results.items():
        usage[side] = Usage()
        for result in side_results:
            assert result.database is not None
            usage[side].add(result.database)
    per_event = {side: usage[side].total_bytes / events for side in usage}
    return [
        f"realistic: median ratio {paired:.2f}, database {per_event['wgtwo']:.0f} vs "
        f"{per_event['reference']:.0f} bytes per event",
        f"  goals: median ratio <= {GOAL_RATIO_REALISTIC}, database <= "
        f"{GOAL_DATABASE_RATIO}x the reference's (now "
        f"{per_event['wgtwo'] / per_event['reference']:.2f}x); per-round ratios "
        + " ".join(
            f"{o.cpu_ms / r.cpu_ms:.2f}"
            for o, r in zip(results["wgtwo"], results["reference"], strict=True)
        )
        + "; CPU per event, medians: wgtwo "
        f"{statistics.median(r.cpu_ms for r in results['wgtwo']):.3f} ms, reference "
        f"{statistics.median(r.cpu_ms for r in results['reference']):.3f} ms",
        threads_line("wgtwo", results["wgtwo"]),
        threads_line("reference", results["reference"]),
        f"  database, wgtwo:     {usage['wgtwo'].describe(events)}",
        f"  database, reference: {usage['reference'].describe(events)}",
        f"  the websocket client received {received} state changes ({changed} made)",
    ]


async def run(args: argparse.Namespace, config: Path) -> int:
    """Run the chosen modes one after the other, then print their figures."""
    lines: list[str] = []
    if args.subscribers is not None:
        lines += await scale_mode(args, config)
        print()
        print("\n".join(lines))
        return 0
    if args.mode in ("all", "default"):
        lines += await default_mode(args, config / "default")
    if args.mode in ("all", "realistic"):
        lines += await realistic_mode(args, config / "realistic")
    print()
    print("\n".join(lines))
    return 0


# -- the scale mode: one entry with many subscribers -------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScalePoint:
    """What one entry with ``subscribers`` consenting subscribers costs."""

    subscribers: int
    setup_s: float  # from the config flow's start until every subscriber's device exists
    cpu_ms: float  # Home Assistant's CPU per event at saturation (median of the rounds)
    rate: float  # events/s at saturation (best round)
    rss_mb: float  # after the rounds, settled
    save_ms: float  # one snapshot save after one subscriber changed (median)
    save_bytes: int  # what that save wrote
    store_bytes: int  # the whole snapshot store on disk
    entities: int = 0


def parse_subscribers(text: str) -> list[int]:
    """Parse ``--subscribers`` (``10,100,1000``): positive counts, in the given order."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"counts must be at least 1: {text!r}")
    return counts


def scale_numbers(count: int) -> list[str]:
    """Return ``count`` distinct subscriber numbers (Norwegian mobile numbers)."""
    return [f"+479{index:07d}" for index in range(count)]


def scale_line(points: Sequence[ScalePoint]) -> str:
    """Return the scale mode's last line: the most subscribers against the fewest.

    The ratio of the CPU per event, the setup time, the RSS difference and one save at the
    last count of the list, against the first.
    """
    first, last = points[0], points[-1]
    return (
        f"scale: {first.subscribers} -> {last.subscribers} subscribers: "
        f"CPU/event x{last.cpu_ms / first.cpu_ms:.2f}, setup {last.setup_s:.1f} s, "
        f"RSS {last.rss_mb - first.rss_mb:+.0f} MB, save {last.save_ms:.1f} ms"
    )


def scale_table(points: Sequence[ScalePoint]) -> list[str]:
    """Return the figures of every count, one row each."""
    rows = [
        "subscribers | setup s | CPU ms/event | events/s | RSS MB | save ms | "
        "save bytes | store bytes | entities"
    ]
    rows += [
        f"{p.subscribers} | {p.setup_s:.1f} | {p.cpu_ms:.3f} | {p.rate:.0f} | {p.rss_mb:.0f} | "
        f"{p.save_ms:.1f} | {p.save_bytes} | {p.store_bytes} | {p.entities}"
        for p in points
    ]
    return rows


def _store_files(config: Path) -> dict[str, tuple[int, int, int]]:
    """Return the snapshot store's files: name -> (inode, mtime ns, size)."""
    files: dict[str, tuple[int, int, int]] = {}
    for path in (config / ".storage").glob("wgtwo.*.facts*"):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            files[path.name] = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return files


async def _add_consents(
    session: aiohttp.ClientSession, sandbox: Sandbox, numbers: list[str]
) -> None:
    """Let every number consent at the sandbox, with every scope it grants."""
    from wgtwo_sandbox.scopes import ALL_SCOPES  # the scale mode only

    scopes = sorted(ALL_SCOPES)

    async def add(number: str) -> None:
        async with session.post(
            f"{sandbox.url}/control/consents/add", json={"number": number, "scopes": scopes}
        ) as response:
            response.raise_for_status()

    for start in range(0, len(numbers), 50):
        await asyncio.gather(*(add(number) for number in numbers[start : start + 50]))


async def _wait_for_devices(bench: Bench, count: int, within: float = 600) -> dict[str, int]:
    """Wait until wgtwo has a device for each of ``count`` subscribers."""
    try:
        async with asyncio.timeout(within):
            while (found := await bench.command("devices"))["devices"] < count:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    except TimeoutError:
        found = await bench.command("devices")
        raise BenchError(
            f"only {found['devices']} of {count} subscribers had a device after {within:g} s"
        ) from None
    return found


async def scale_point(args: argparse.Namespace, config: Path, count: int) -> ScalePoint:
    """One Home Assistant with one wgtwo entry of ``count`` consenting subscribers."""
    _prepare(config, args.integration)
    hass = HomeAssistantInstance(config)
    write_configuration(config, hass.port, (*MINIMAL_COMPONENTS, REFERENCE_DOMAIN))
    sandbox = Sandbox(config / "sandbox-wgtwo.log")
    numbers = scale_numbers(count)
    print(f"scale mode, {count} subscribers: Home Assistant config {config}", flush=True)
    async with aiohttp.ClientSession() as session, contextlib.AsyncExitStack() as stack:
        await sandbox.start()
        stack.push_async_callback(sandbox.stop)
        await _add_consents(session, sandbox, numbers)
        stack.push_async_callback(hass.stop)
        await hass.start(session)
        token = await onboard(session, hass.url)
        bench = Bench(session, hass, sandbox, None, token)
        bench.calls["wgtwo"] = Calls(CALL_PREFIXES["wgtwo"], numbers)
        await bench.wait_until_running()
        if args.profile:
            await bench.command("profile", enable=True)
        started = time.monotonic()
        await configure_integration(session, hass.url, token, sandbox)
        found = await _wait_for_devices(bench, count)
        setup_s = time.monotonic() - started
        if args.profile:
            stats = (await bench.command("profile", enable=False))["stats"]
            print(f"--- profile of the setup ({count}) ---\n{stats}", file=sys.stderr)
        # A call for each subscriber, then the warm-up, spread over all of them.
        await bench.saturate("wgtwo", 3 * count, 0)
        await bench.saturate("wgtwo", args.warmup, 0)
        await bench.settle(args.settle)
        await bench.measure_idle(args.idle)
        results: list[Saturation] = []
        for round_ in range(1, args.rounds + 1):
            if args.profile and round_ == 1:
                await bench.command("profile", enable=True)
            results.append(await bench.saturate("wgtwo", args.saturation, args.settle))
            if args.profile and round_ == 1:
                stats = (await bench.command("profile", enable=False))["stats"]
                print(f"--- profile of a round ({count}) ---\n{stats}", file=sys.stderr)
            print(
                f"scale {count} round {round_}: {results[-1].rate:.0f} events/s, "
                f"{results[-1].cpu_ms:.3f} ms CPU/event",
                flush=True,
            )
        rss_mb = bench.rss_mb()
        saves: list[tuple[float, int]] = []
        for index in range(SAVES):
            before = _store_files(config)
            ms = (await bench.command("save", index=index))["ms"]
            after = _store_files(config)
            written = sum(
                size for name, (*_, size) in after.items() if before.get(name) != after[name]
            )
            saves.append((ms, written))
        store_bytes = sum(size for *_, size in _store_files(config).values())
    save_ms = statistics.median(ms for ms, _ in saves)
    point = ScalePoint(
        subscribers=count,
        setup_s=setup_s,
        cpu_ms=statistics.median(r.cpu_ms for r in results),
        rate=max(r.rate for r in results),
        rss_mb=rss_mb,
        save_ms=save_ms,
        save_bytes=int(statistics.median(written for _, written in saves)),
        store_bytes=store_bytes,
        entities=found["entities"],
    )
    print(
        f"scale {count}: setup {point.setup_s:.1f} s, CPU {point.cpu_ms:.3f} ms/event, "
        f"RSS {point.rss_mb:.0f} MB, save {point.save_ms:.1f} ms "
        f"({point.save_bytes} of {point.store_bytes} bytes), {point.entities} entities",
        flush=True,
    )
    return point


async def scale_mode(args: argparse.Namespace, config: Path) -> list[str]:
    """Run each count in a Home Assistant of its own; return the table and the scale line."""
    points = [
        await scale_point(args, config / f"scale-{count}", count) for count in args.subscribers
    ]
    return [
        *scale_table(points),
        f"  goals at the most subscribers: CPU/event x <= {GOAL_SCALE_CPU}, setup <= "
        f"{GOAL_SETUP_S:g} s, save <= {GOAL_SAVE_MS:g} ms; load average "
        + " ".join(f"{value:.2f}" for value in os.getloadavg()),
        scale_line(points),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m tools.bench_ha``."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench-ha",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mode",
        choices=("all", "default", "realistic"),
        default="all",
        help="which modes to run (default: both, one after the other)",
    )
    parser.add_argument("--events", type=int, help="events for RSS growth (default 100000)")
    parser.add_argument("--saturation", type=int, help="events per saturation phase")
    parser.add_argument("--latency-events", type=int, help="events at the steady rate")
    parser.add_argument("--rate", type=float, default=100.0, help="steady rate, events/s")
    parser.add_argument(
        "--rounds", type=int, help="saturation rounds per mode; the median ratio counts"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of both modes (about two minutes)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile each side's first round")
    parser.add_argument(
        "--subscribers",
        type=parse_subscribers,
        nargs="?",
        const=parse_subscribers(SCALE_SUBSCRIBERS),
        metavar="N[,N...]",
        help="the scale mode instead: one entry with N consenting subscribers, for each N "
        f"(default {SCALE_SUBSCRIBERS})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the config folders")
    parser.add_argument(
        "--integration", type=Path, help="the wgtwo folder to measure (e.g. an older version's)"
    )
    args = parser.parse_args(argv)
    defaults = (
        {"events": 3000, "saturation": 1000, "latency_events": 300, "rounds": 1}
        if args.quick
        else {"events": 100_000, "saturation": 10_000, "latency_events": 3000, "rounds": 3}
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.warmup = 600 if args.quick else 3000
    args.settle = 2.0 if args.quick else SETTLE_S
    args.idle = 2.0 if args.quick else 5.0
    config = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    try:
        return asyncio.run(run(args, config))
    except BenchError as err:
        print(f"scripts/bench-ha: error: {err}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {config}")
        else:
            shutil.rmtree(config, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
