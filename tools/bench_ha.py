"""Benchmark the integration inside Home Assistant (``scripts/bench-ha``).

One Home Assistant process (``.venv-dev``, a temporary config folder, free ports) runs two
integrations side by side, each fed by its own sandbox process with the same calls
(ringing, answered, ended):

- wgtwo, configured through its own config and options flows;
- ``wgtwo_bench`` (``tools/wgtwo_bench``, copied into the config folder): the least
  an integration must do for the same events (a bare gRPC consumer with manual ack that fires
  the same ``wgtwo_event`` and writes as many entity states per event as wgtwo changes), i.e.
  what Home Assistant itself costs. It also holds the probe that counts and times events
  and state changes inside Home Assistant.

Prints Home Assistant's CPU time per event for both (the process's CPU time over a phase,
from /proc, less its idle rate) and their ratio, events/s at saturation, the latency from
the sandbox publish to the entity state at a steady rate (p50/p99) for both, and the RSS of
Home Assistant over many events after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp

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
CALLERS: Final = 1000  # distinct caller numbers, reused
STEPS: Final = (("CALL_RINGING", "call_ringing"), ("CALL_ANSWERED", "call_answered"))
END: Final = ("CALL_ENDED", "call_ended")
PUBLISH_BATCH: Final = 1000
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
# The integration saves its snapshots 10 s after a change: a phase's CPU is read after that.
SETTLE_S: Final = 11.0
GOAL_RATIO: Final = 1.25
GOAL_P99_MS: Final = 10.0
GOAL_RSS_MB: Final = 20.0


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

    def __init__(self, prefix: str) -> None:
        """Start at call 0, the ids beginning with ``prefix``."""
        self.prefix = prefix
        self.index = 0

    def next(self, stamp: datetime | None = None) -> tuple[dict[str, Any], tuple[str, str]]:
        """Return the next event (in protobuf's JSON mapping) and its (call id, bus type)."""
        call, step = divmod(self.index, 3)
        self.index += 1
        kind, bus_type = (*STEPS, END)[step]
        subscriber = SUBSCRIBERS[call % len(SUBSCRIBERS)]
        call_id = f"{self.prefix}-{call}"
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


@dataclass
class Saturation:
    """One phase of events published as fast as they are taken."""

    cpu_ms: float
    rate: float
    changed: float
    reported: float


class Bench:
    """Home Assistant with both integrations, their sandboxes and the probe's views."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        hass: HomeAssistantInstance,
        ours: Sandbox,
        reference: Sandbox,
        token: str,
    ) -> None:
        """Talk to this instance."""
        self.session = session
        self.hass = hass
        self.sandboxes = {"wgtwo": ours, "reference": reference}
        self.calls = {"wgtwo": Calls("w"), "reference": Calls("r")}
        self.headers = {"Authorization": f"Bearer {token}"}
        self.idle_cpu_per_s = 0.0

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

    async def saturate(self, side: str, count: int, settle: float) -> Saturation:
        """Publish ``count`` events at once; measure from the end of publishing to the last.

        Publishing keeps the sandbox busy, so the window starts once all are published
        (Home Assistant still has most of them to take); the CPU is read after ``settle``.
        """
        await self.command("reset", recording=False)
        waiting = asyncio.create_task(self.command("wait", count=count, timeout=600))
        for start in range(0, count, PUBLISH_BATCH):
            batch = [self.calls[side].next()[0] for _ in range(min(PUBLISH_BATCH, count - start))]
            await self.publish(side, batch)
        cpu, started = self.cpu(), time.monotonic()
        before = (await self.command("probe"))["fired"]
        counts = await waiting
        if not counts["done"]:
            raise RuntimeError(f"{side}: only {counts['fired']} of {count} events arrived")
        elapsed = time.monotonic() - started
        await asyncio.sleep(settle)
        counts = await self.command("probe")
        used = self.cpu() - cpu
        window = time.monotonic() - started
        measured = count - before
        return Saturation(
            cpu_per_event_ms(used, window, self.idle_cpu_per_s, measured),
            measured / elapsed,
            counts["changed"] / count,
            counts["reported"] / count,
        )

    async def steady(self, side: str, count: int, rate: float) -> tuple[list[float], Saturation]:
        """Publish one event at a time at ``rate``; return latencies (ms) and the counts."""
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


async def run(args: argparse.Namespace, config: Path) -> int:
    """Start everything, run the phases, print the figures."""
    _prepare(config, args.integration)
    hass = HomeAssistantInstance(config)
    write_configuration(config, hass.port, (*MINIMAL_COMPONENTS, REFERENCE_DOMAIN))
    ours = Sandbox(config / "sandbox-wgtwo.log")
    reference = Sandbox(config / "sandbox-reference.log")
    print(f"Home Assistant config: {config}", flush=True)
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
        )
        await asyncio.sleep(2)  # both streams open
        print(f"Home Assistant pid {bench.pid}, RSS {bench.rss_mb():.0f} MB", flush=True)

        # Warm up both (devices created, code paths and caches warm).
        warm = await bench.saturate("wgtwo", args.warmup, 0)
        await bench.command("writes", writes_per_event=warm.changed)
        await bench.saturate("reference", args.warmup, 0)
        await asyncio.sleep(args.settle)
        await bench.measure_idle(args.idle)
        print(f"idle: {bench.idle_cpu_per_s * 1000:.1f} ms CPU/s", flush=True)

        # Latency at a steady rate; wgtwo's state writes per event, now that its devices
        # exist, are what the reference writes from then on.
        lat_ours, steady_ours = await bench.steady("wgtwo", args.latency_events, args.rate)
        await bench.command("writes", writes_per_event=steady_ours.changed)
        print(
            f"wgtwo changes {steady_ours.changed:.2f} states per event (and writes "
            f"{steady_ours.reported:.2f} unchanged); so does the reference",
            flush=True,
        )
        lat_ref, steady_ref = await bench.steady("reference", args.latency_events, args.rate)

        # CPU per event and throughput at saturation, in rounds; the best round counts.
        results: dict[str, list[Saturation]] = {"wgtwo": [], "reference": []}
        for round_ in range(1, args.rounds + 1):
            for side, side_results in results.items():
                profile = args.profile and round_ == 1
                if profile:
                    await bench.command("profile", enable=True)
                side_results.append(await bench.saturate(side, args.saturation, args.settle))
                if profile:
                    stats = (await bench.command("profile", enable=False))["stats"]
                    print(f"--- profile of {side}'s phase ---\n{stats}", file=sys.stderr)
            print(
                f"round {round_}: "
                + ", ".join(
                    f"{side} {r[-1].rate:.0f} events/s, {r[-1].cpu_ms:.3f} ms CPU/event"
                    for side, r in results.items()
                ),
                flush=True,
            )
        best = {side: min(r, key=lambda s: s.cpu_ms) for side, r in results.items()}

        # RSS over many events after the warm-up (wgtwo only).
        rss_start = bench.rss_mb()
        samples = [rss_start]
        step = max(1, args.events // 10)
        for done in range(0, args.events, step):
            await bench.saturate("wgtwo", min(step, args.events - done), 0)
            samples.append(bench.rss_mb())
        await asyncio.sleep(args.settle)
        samples.append(bench.rss_mb())

        for side, sandbox in bench.sandboxes.items():
            async with session.get(f"{sandbox.url}/control/stats") as response:
                stats = await response.json()
            if stats["redeliveries"] or stats["ack_timeouts"]:
                print(
                    f"note: {side}'s sandbox redelivered {stats['redeliveries']} events "
                    f"({stats['ack_timeouts']} ack timeouts): its figures include a stall"
                )

    ratio = best["wgtwo"].cpu_ms / best["reference"].cpu_ms
    # Each round's two phases run back to back: their ratio is the least disturbed by load.
    paired = statistics.median(
        ours.cpu_ms / ref.cpu_ms
        for ours, ref in zip(results["wgtwo"], results["reference"], strict=True)
    )
    print()
    print(
        f"CPU per event (saturation, {args.saturation} events, best of {args.rounds}):\n"
        f"  wgtwo     {best['wgtwo'].cpu_ms:.3f} ms  ({best['wgtwo'].rate:.0f} events/s)\n"
        f"  reference {best['reference'].cpu_ms:.3f} ms  ({best['reference'].rate:.0f} events/s)\n"
        f"  ratio {ratio:.2f} (goal <= {GOAL_RATIO}), median of per-round ratios {paired:.2f}\n"
        f"  at {args.rate:g} events/s: wgtwo "
        f"{steady_ours.cpu_ms:.3f} ms, reference {steady_ref.cpu_ms:.3f} ms, ratio "
        f"{steady_ours.cpu_ms / steady_ref.cpu_ms:.2f}"
    )
    print(_latency_line("wgtwo    ", lat_ours, args.rate) + f" (goal p99 < {GOAL_P99_MS:g} ms)")
    print(_latency_line("reference", lat_ref, args.rate))
    growth = samples[-1] - rss_start
    print(
        f"RSS over {args.events} events after warm-up: {rss_start:.0f} -> {samples[-1]:.0f} MB,"
        f" growth {growth:+.1f} MB (goal < {GOAL_RSS_MB:g} MB); samples "
        + " ".join(f"{sample:.0f}" for sample in samples)
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m tools.bench_ha``."""
    parser = argparse.ArgumentParser(prog="scripts/bench-ha", description=__doc__)
    parser.add_argument("--events", type=int, help="events for RSS growth (default 100000)")
    parser.add_argument("--saturation", type=int, help="events per saturation phase")
    parser.add_argument("--latency-events", type=int, help="events at the steady rate")
    parser.add_argument("--rate", type=float, default=100.0, help="steady rate, events/s")
    parser.add_argument("--rounds", type=int, help="saturation rounds; the best counts")
    parser.add_argument("--quick", action="store_true", help="a smoke run (about 2 minutes)")
    parser.add_argument("--profile", action="store_true", help="cProfile each side's first round")
    parser.add_argument("--keep", action="store_true", help="keep the config folder")
    parser.add_argument(
        "--integration", type=Path, help="the wgtwo folder to measure (e.g. an older version's)"
    )
    args = parser.parse_args(argv)
    defaults = (
        {"events": 3000, "saturation": 1000, "latency_events": 300, "rounds": 1}
        if args.quick
        else {"events": 100_000, "saturation": 10_000, "latency_events": 3000, "rounds": 2}
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
    finally:
        if args.keep:
            print(f"kept {config}")
        else:
            shutil.rmtree(config, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
