"""Fault soak at the Home Assistant level: every published event fires exactly once.

A real Home Assistant (with the integration) and the sandbox run as processes of their own.
SMS events with unique ids are published to the sandbox at a steady rate while faults are
injected one after the other, each given time to recover: the sandbox SIGKILLed and started
again on the same state, every stream ended UNAVAILABLE, a 40 s stall, tokens expired, tokens
revoked, Home Assistant stopped with SIGTERM and started again, Home Assistant SIGKILLed in
the middle of a burst and started again.

A probe integration, written into the instance's config folder, appends the id of every
``wgtwo_event`` to a file as it is fired (a ``@callback`` listener runs inside
``bus.async_fire``, i.e. inside the integration's handler, before the event is acked; one
unbuffered write per event, so a SIGKILL cannot hide a fire). The soak counts how often each
published id fired: a loss is always a failure, a duplicate only outside a crash of Home
Assistant (across a SIGKILL the contract is at least once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import aiohttp

from tools.instance import (
    MINIMAL_COMPONENTS,
    ROOT,
    HomeAssistantInstance,
    Sandbox,
    configure_integration,
    link_integration,
    onboard,
    write_configuration,
)

PROBE_DOMAIN: Final = "wgtwo_soak_probe"
ARTIFACTS: Final = ROOT / "artifacts" / "soak"  # git-ignored; where a failed run's logs go
PROBE_READY: Final = "#ready"
# The subscribers the SMS go to, and who sends them (numbers reserved for the soak).
SUBSCRIBERS: Final = ("+4799910001", "+4799910002", "+4799910003")
SENDER: Final = "+4799919999"
STALL_SECONDS: Final = 40.0
# How long a fault may take to recover before the soak calls it a failure.
RECOVERY_LIMIT: Final = 120.0
HASS_START_LIMIT: Final = 300.0  # a first start may install what Home Assistant needs
TICK: Final = 0.1  # the publisher's batch interval

PROBE_MANIFEST: Final = {
    "domain": PROBE_DOMAIN,
    "name": "wgtwo soak probe",
    "codeowners": [],
    "documentation": "https://example.invalid/wgtwo-soak-probe",
    "iot_class": "local_push",
    "version": "1.0.0",
}
# The probe: one os.write per wgtwo_event (no Python buffering), before the handler returns.
PROBE_SOURCE: Final = '''"""Record the id of each wgtwo_event as it fires (the soak's probe)."""

import os

import voluptuous as vol

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.typing import ConfigType

DOMAIN = "{domain}"
CONFIG_SCHEMA = vol.Schema({{DOMAIN: vol.Any(None, {{}})}}, extra=vol.ALLOW_EXTRA)
RECORD = {record!r}


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Listen to wgtwo_event; the file stays open for the process's life."""
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    @callback
    def record(event: Event) -> None:
        event_id = event.data.get("sms_id") or "type:" + str(event.data.get("type"))
        os.write(fd, (event_id + "\\n").encode())

    hass.bus.async_listen("wgtwo_event", record)
    os.write(fd, b"{ready}\\n")
    return True
'''


# -- bookkeeping ----------------------------------------------------------------------------


@dataclass
class Phase:
    """One fault (or a fault-free stretch) and the events published while it was current."""

    name: str
    duplicates_allowed: bool = False
    ids: list[str] = field(default_factory=list)
    recovery: float | None = None
    recovered: bool = True


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str
    published: int
    lost: int
    duplicated: int
    recovery: float | None
    duplicates_allowed: bool
    runs: int = 1


class Ledger:
    """Which ids were published in which phase, and how often each fired."""

    def __init__(self) -> None:
        self.phases: list[Phase] = []
        self.fired: Counter[str] = Counter()
        # Fires of ids not (yet) published: an event can fire before the sandbox's answer
        # to its publish arrives. What is still here at the end was never published.
        self.unexpected: Counter[str] = Counter()
        self._index: dict[str, int] = {}
        self._unfired: dict[str, int] = {}

    @property
    def published(self) -> int:
        """Return how many events were published so far."""
        return len(self._index)

    @property
    def current(self) -> Phase:
        """Return the phase events are published in now."""
        return self.phases[-1]

    def begin(self, name: str, *, duplicates_allowed: bool = False) -> Phase:
        """Start a phase: what is published from now on belongs to it."""
        phase = Phase(name, duplicates_allowed)
        self.phases.append(phase)
        return phase

    def publish(self, ids: Iterable[str]) -> None:
        """Record ids the sandbox accepted (each once: a second publish is a soak bug)."""
        for event_id in ids:
            if event_id in self._index:
                raise ValueError(f"{event_id} published twice")
            self._index[event_id] = len(self._index)
            self.current.ids.append(event_id)
            if early := self.unexpected.pop(event_id, 0):
                self.fired[event_id] += early
            else:
                self._unfired[event_id] = self._index[event_id]

    def fire(self, event_id: str) -> None:
        """Count one fire the probe recorded."""
        if event_id not in self._index:
            self.unexpected[event_id] += 1
            return
        self.fired[event_id] += 1
        self._unfired.pop(event_id, None)

    @property
    def waiting(self) -> int:
        """Return how many published events have not fired yet."""
        return len(self._unfired)

    def all_fired(self, start: int, end: int) -> bool:
        """Tell whether every event published as number start..end-1 has fired."""
        return not any(start <= index < end for index in self._unfired.values())

    def row(self, phase: Phase) -> Row:
        """Count the phase's losses (never fired) and duplicates (fired more than once)."""
        return Row(
            phase.name,
            len(phase.ids),
            sum(1 for event_id in phase.ids if self.fired[event_id] == 0),
            sum(1 for event_id in phase.ids if self.fired[event_id] > 1),
            phase.recovery,
            phase.duplicates_allowed,
        )

    def rows(self) -> list[Row]:
        """Return one row per phase."""
        return [self.row(phase) for phase in self.phases]

    def by_fault(self) -> list[Row]:
        """Return one row per fault name: its runs summed, the longest recovery."""
        merged: dict[str, Row] = {}
        for row in self.rows():
            seen = merged.get(row.name)
            if seen is None:
                merged[row.name] = row
                continue
            recoveries = [value for value in (seen.recovery, row.recovery) if value is not None]
            merged[row.name] = Row(
                row.name,
                seen.published + row.published,
                seen.lost + row.lost,
                seen.duplicated + row.duplicated,
                max(recoveries) if recoveries else None,
                row.duplicates_allowed,
                seen.runs + 1,
            )
        return list(merged.values())

    def total(self) -> Row:
        """Return the sums over all phases (recovery: the longest)."""
        rows = self.rows()
        recoveries = [row.recovery for row in rows if row.recovery is not None]
        return Row(
            "total",
            sum(row.published for row in rows),
            sum(row.lost for row in rows),
            sum(row.duplicated for row in rows),
            max(recoveries) if recoveries else None,
            False,
        )

    def failures(self) -> list[str]:
        """Return why the soak failed (empty: it passed)."""
        problems: list[str] = []
        for phase, row in zip(self.phases, self.rows(), strict=True):
            if row.lost:
                problems.append(f"{row.name}: {row.lost} events lost")
            if row.duplicated and not row.duplicates_allowed:
                problems.append(f"{row.name}: {row.duplicated} events fired more than once")
            if not phase.recovered:
                problems.append(f"{row.name}: not recovered within {RECOVERY_LIMIT:.0f} s")
        if self.unexpected:
            problems.append(f"{sum(self.unexpected.values())} fires of ids never published")
        return problems


def format_table(rows: list[Row], total: Row) -> str:
    """Render the rows and the total as a Markdown table."""

    def line(row: Row) -> str:
        recovery = "—" if row.recovery is None else f"{row.recovery:.1f}"
        duplicated = f"{row.duplicated}{' (allowed)' if row.duplicates_allowed else ''}"
        name = f"{row.name} x{row.runs}" if row.runs > 1 else row.name
        return f"| {name} | {row.published} | {row.lost} | {duplicated} | {recovery} |"

    header = [
        "| fault | published | lost | duplicated | recovery s |",
        "|---|---:|---:|---:|---:|",
    ]
    return "\n".join([*header, *(line(row) for row in rows), line(total)])


class ProbeFile:
    """Reads the lines the probe appended since the last read (a partial line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read(self) -> list[str]:
        """Return the complete lines written since the last call."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode() for line in lines if line]


def sms_event(event_id: str, owner: str) -> dict[str, Any]:
    """Return an incoming SMS to owner with id (and uuid) event_id, as the sandbox takes it."""
    return {
        "event": {
            "owner": {"phoneNumber": {"e164": owner}, "sub": "soak-" + owner[-4:]},
            "smsEvent": {
                "id": event_id,
                "uuid": event_id,
                "fromE164": {"e164": SENDER},
                "toE164": {"e164": owner},
                "direction": "TO_SUBSCRIBER",
                "text": "soak",
            },
        }
    }


# -- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How hard and how long to push."""

    rate: float  # events per second
    rounds: int  # how often each fault is injected
    events: int  # at least this many events in all
    burst: int  # events published at once right before Home Assistant is SIGKILLed
    lead: float  # seconds of steady events before each fault
    tail: float  # seconds of steady events after each recovery


QUICK: Final = Plan(rate=12.0, rounds=1, events=2000, burst=200, lead=4.0, tail=2.0)
FULL: Final = Plan(rate=25.0, rounds=3, events=10000, burst=500, lead=5.0, tail=3.0)


class Soak:
    """Drives the processes, the publisher and the faults, and keeps the ledger."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.config = workdir / "config"
        self.record = workdir / "fired.log"
        self.ledger = Ledger()
        self.probe = ProbeFile(self.record)
        self.sandbox = Sandbox(workdir / "sandbox.log", state=workdir / "sandbox-state.jsonl")
        self.hass = HomeAssistantInstance(self.config)
        self.ids = (f"soak-{number:06d}" for number in itertools.count(1))
        self.session: aiohttp.ClientSession | None = None
        # Held while an event batch is being posted, so a SIGKILL never cuts one in half.
        self.post_lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.readies = 0
        self.started = time.monotonic()
        self.timeline: TextIO | None = None
        # When the fault ended, if not when its coroutine returned.
        self.over: float | None = None

    def write_probe(self) -> None:
        """Write the probe integration and a configuration.yaml that loads it."""
        probe = self.config / "custom_components" / PROBE_DOMAIN
        probe.mkdir(parents=True, exist_ok=True)
        (probe / "manifest.json").write_text(json.dumps(PROBE_MANIFEST, indent=2))
        (probe / "__init__.py").write_text(
            PROBE_SOURCE.format(domain=PROBE_DOMAIN, record=str(self.record), ready=PROBE_READY)
        )
        link_integration(self.config)
        write_configuration(self.config, self.hass.port, (*MINIMAL_COMPONENTS, PROBE_DOMAIN))

    def drain_probe(self) -> None:
        """Count what the probe recorded since the last look."""
        for line in self.probe.read():
            if line == PROBE_READY:
                self.readies += 1
            else:
                self.ledger.fire(line)

    async def post(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish a batch, retrying while the sandbox is down, then record it."""
        assert self.session is not None
        body = [event for _, event in events]
        while True:
            async with self.post_lock:
                try:
                    async with self.session.post(
                        f"{self.sandbox.url}/events", json=body
                    ) as response:
                        if response.status == 200:
                            self.ledger.publish(event_id for event_id, _ in events)
                            return
                except aiohttp.ClientError, OSError:
                    pass
            await asyncio.sleep(0.2)

    def batch(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        """Make count new events, spread over the subscribers."""
        events = []
        for _ in range(count):
            event_id = next(self.ids)
            owner = SUBSCRIBERS[int(event_id[-6:]) % len(SUBSCRIBERS)]
            events.append((event_id, sms_event(event_id, owner)))
        return events

    async def publisher(self) -> None:
        """Publish at the plan's rate until told to stop (a late tick catches up)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0
        while not self.stopping.is_set():
            due = int((loop.time() - started) * self.plan.rate) - sent
            if due > 0:
                await self.post(self.batch(due))
                sent += due
            await asyncio.sleep(TICK)

    async def watch_probe(self) -> None:
        """Keep the ledger current, and a timeline (timeline.log) once a second."""
        next_line = 0.0
        while True:
            self.drain_probe()
            now = time.monotonic()
            if now >= next_line and self.timeline is not None:
                next_line = now + 1.0
                self.note(self.timeline)
            await asyncio.sleep(0.02)

    def mark(self, what: str) -> None:
        """Note a step of a fault in the timeline."""
        if self.timeline is not None:
            self.note(self.timeline, what)

    def note(self, timeline: TextIO, what: str = "") -> None:
        """Append one line: seconds, phase, published, fired, not yet fired."""
        ledger = self.ledger
        timeline.write(
            f"{time.monotonic() - self.started:8.2f} {ledger.current.name!r} "
            f"published={ledger.published} fired={len(ledger.fired)} "
            f"waiting={ledger.waiting} {what}\n"
        )
        timeline.flush()

    async def wait_fired(
        self, start_index: int, since: float, *, and_next: bool = False
    ) -> float | None:
        """Wait until the events from start_index to now have fired; seconds, None if never.

        With ``and_next`` the first event published after now must have fired too, so a
        recovery counts until events flow again, not only until the backlog is handled.
        """
        end_index = self.ledger.published + (1 if and_next else 0)
        while self.ledger.published < end_index or not self.ledger.all_fired(
            start_index, end_index
        ):
            if time.monotonic() - since > RECOVERY_LIMIT:
                return None
            await asyncio.sleep(0.02)
        return time.monotonic() - since

    async def recover(self, phase: Phase, start_index: int, since: float) -> None:
        """Wait until every event of the phase published by now has fired; time it."""
        phase.recovery = await self.wait_fired(start_index, since, and_next=True)
        phase.recovered = phase.recovered and phase.recovery is not None

    async def control(self, path: str, body: dict[str, Any] | None = None) -> None:
        """Call one of the sandbox's control endpoints."""
        assert self.session is not None
        async with self.session.post(f"{self.sandbox.url}{path}", json=body or {}) as response:
            response.raise_for_status()

    async def start_hass(self) -> None:
        """Start Home Assistant and wait for its HTTP server."""
        assert self.session is not None
        await self.hass.start(self.session, HASS_START_LIMIT)

    # One coroutine per fault; each returns when the fault is over (the recovery clock starts).

    async def sandbox_kill(self) -> None:
        """SIGKILL the sandbox, then start it on the same ports and state."""
        async with self.post_lock:
            await self.sandbox.kill()
        await self.sandbox.start()

    async def end_streams(self) -> None:
        """End every stream with UNAVAILABLE."""
        await self.control("/control/end-streams", {"code": "UNAVAILABLE", "details": "soak"})

    async def stall(self) -> None:
        """Freeze every gRPC connection for 40 s."""
        await self.control("/control/stall", {"stalled": True})
        await asyncio.sleep(STALL_SECONDS)
        await self.control("/control/stall", {"stalled": False})

    async def expire_tokens(self) -> None:
        """Expire every issued token."""
        await self.control("/control/expire-tokens")

    async def revoke_tokens(self) -> None:
        """Revoke every issued token."""
        await self.control("/control/revoke-tokens")

    async def hass_stop(self) -> None:
        """Stop Home Assistant with SIGTERM (events keep coming), then start it again."""
        await self.hass.stop()
        self.mark("stopped; starting again")
        # Recovery counts from the new process: its start-up is part of it.
        self.over = time.monotonic()
        await self.start_hass()

    async def hass_kill(self) -> None:
        """Publish a burst and SIGKILL Home Assistant while it handles it; start it again."""
        events = self.batch(self.plan.burst)
        await self.post(events)
        burst = [event_id for event_id, _ in events]
        # Kill once some of the burst has fired, before all of it has.
        deadline = time.monotonic() + 30
        fired = 0
        while time.monotonic() < deadline:
            self.drain_probe()
            fired = sum(1 for event_id in burst if self.ledger.fired[event_id])
            if fired >= max(1, len(burst) // 10):
                break
            await asyncio.sleep(0.002)
        await self.hass.kill()
        self.mark(f"SIGKILL with {fired} of a burst of {len(burst)} fired; starting again")
        self.over = time.monotonic()
        await self.start_hass()

    def faults(self) -> list[tuple[str, Callable[[], Awaitable[None]], bool]]:
        """Each fault: its name, how to inject it, whether duplicates are allowed."""
        return [
            ("sandbox SIGKILL + restart", self.sandbox_kill, False),
            ("streams ended UNAVAILABLE", self.end_streams, False),
            (f"stall {STALL_SECONDS:.0f} s", self.stall, False),
            ("tokens expired", self.expire_tokens, False),
            ("tokens revoked", self.revoke_tokens, False),
            ("Home Assistant SIGTERM + start", self.hass_stop, False),
            ("Home Assistant SIGKILL mid-burst + start", self.hass_kill, True),
        ]

    async def run_phase(
        self, name: str, inject: Callable[[], Awaitable[None]] | None, duplicates_allowed: bool
    ) -> None:
        """Steady events, the fault, its recovery, steady events again."""
        phase = self.ledger.begin(name, duplicates_allowed=duplicates_allowed)
        start_index = self.ledger.published
        print(f"  {name} ...", end="", flush=True)
        await asyncio.sleep(self.plan.lead)
        if inject is not None:
            self.mark("fault")
            self.over = None
            await inject()
            over = self.over or time.monotonic()
            self.mark("fault over")
            await self.recover(phase, start_index, over)
            self.mark(f"recovered in {phase.recovery} s")
        await asyncio.sleep(self.plan.tail)
        # The phase's last events have fired (or never will) before the next fault starts.
        await self.wait_fired(start_index, time.monotonic())
        print(f" {len(phase.ids)} events", flush=True)

    async def run(self) -> int:
        """Set everything up, run every phase, print the table; return the exit status."""
        main_task = asyncio.current_task()
        assert main_task is not None
        # SIGTERM (a CI timeout) stops both processes as Ctrl-C does.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
        self.write_probe()
        self.timeline = (self.workdir / "timeline.log").open("a")
        loop_tasks: list[asyncio.Task[None]] = []
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            self.session = session
            try:
                await self.sandbox.start()
                print(f"Sandbox on {self.sandbox.url}; starting Home Assistant", flush=True)
                await self.start_hass()
                token = await onboard(session, self.hass.url, complete=False)
                await configure_integration(session, self.hass.url, token, self.sandbox, ["sms"])
                self.drain_probe()
                if not self.readies:
                    raise RuntimeError("the probe integration was not set up")
                print(f"Home Assistant on {self.hass.url} is configured", flush=True)
                loop_tasks = [
                    asyncio.create_task(self.watch_probe()),
                    asyncio.create_task(self.publisher()),
                ]
                await self.run_phase("no fault", None, False)
                for _ in range(self.plan.rounds):
                    for name, inject, allowed in self.faults():
                        await self.run_phase(name, inject, allowed)
                if self.ledger.published < self.plan.events:
                    phase = self.ledger.begin("no fault, to the event count")
                    print(f"  {phase.name} ...", end="", flush=True)
                    while True:
                        if self.ledger.published >= self.plan.events:
                            break
                        await asyncio.sleep(TICK)
                    print(f" {len(phase.ids)} events", flush=True)
                self.stopping.set()
                await loop_tasks.pop()
                await self.wait_fired(0, time.monotonic())
                # A clean stop last: anything it fired too late would be counted.
                await self.hass.stop()
                self.drain_probe()
            finally:
                for task in loop_tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await self.hass.stop()
                await self.sandbox.stop()
                self.timeline.close()
        total = self.ledger.total()
        table = format_table(self.ledger.by_fault(), total)
        print(f"\n{table}\n\n{time.monotonic() - started:.0f} s in all")
        each = format_table(self.ledger.rows(), total)
        (self.workdir / "table.md").write_text(f"{table}\n\nEach run:\n\n{each}\n")
        problems = self.ledger.failures()
        for problem in problems:
            print(f"FAIL: {problem}", file=sys.stderr)
        return 1 if problems else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="every fault once, about 2,000 events (CI)"
    )
    parser.add_argument("--rate", type=float, help="events per second")
    parser.add_argument("--rounds", type=int, help="how often each fault is injected")
    parser.add_argument("--events", type=int, help="at least this many events")
    parser.add_argument("--keep", action="store_true", help="keep the logs even when it passes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the soak; exit non-zero on a loss or a duplicate outside a crash."""
    args = _parse_args(argv)
    plan = QUICK if args.quick else FULL
    plan = Plan(
        rate=args.rate or plan.rate,
        rounds=args.rounds or plan.rounds,
        events=args.events or plan.events,
        burst=plan.burst,
        lead=plan.lead,
        tail=plan.tail,
    )
    workdir = Path(tempfile.mkdtemp(prefix="wgtwo-soak-"))
    status = 1
    try:
        status = asyncio.run(Soak(plan, workdir).run())
    finally:
        if status != 0:
            keep_artifacts(workdir)
        if status == 0 and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"Logs kept in {workdir}", file=sys.stderr)
    sys.exit(status)


def keep_artifacts(workdir: Path, artifacts: Path = ARTIFACTS) -> Path:
    """Copy the table, the timeline and both processes' logs where CI keeps them."""
    target = artifacts / workdir.name
    target.mkdir(parents=True, exist_ok=True)
    for name in (
        "table.md",
        "timeline.log",
        "sandbox.log",
        "config/home-assistant.log",
        "config/home-assistant.console.log",
    ):
        if (workdir / name).exists():
            shutil.copy(workdir / name, target / Path(name).name)
    print(f"Logs copied to {target}", file=sys.stderr)
    return target


if __name__ == "__main__":
    main()
