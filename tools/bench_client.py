"""Benchmark the event client against the sandbox (``scripts/bench-client``).

One sandbox (a separate process, so it does not compete with the consumer for the
interpreter) and N events for each consumer:

(a) a bare ``grpc.aio`` consumer with manual ack (acks issued concurrently): what the
    protocol itself costs on this machine;
(b) ``EventSubscription`` with a handler and manual ack: our client;
(c) the bare consumer without manual ack: the transport ceiling.

Prints events/s for each, the ratio b/a, and the latency from publishing to the handler
for (b) at a steady publish rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import pstats
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from custom_components.wgtwo.client import (
    Endpoint,
    EventSubscription,
    EventType,
    StartPosition,
    SubscriptionConfig,
    WgtwoEvent,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2, events_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
PUBLISH_BATCH = 2000


@dataclass(frozen=True)
class Result:
    """Throughput and the consumer process's CPU time per event."""

    rate: float
    cpu_us: float


@dataclass
class Sandbox:
    """The sandbox process and its addresses."""

    process: subprocess.Popen[str]
    grpc_target: str
    http_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[Sandbox]:
    """Start ``scripts/sandbox`` on free ports and stop it afterwards."""
    grpc_port, http_port = _free_port(), _free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - readiness is read in a thread
        [
            str(ROOT / "scripts" / "sandbox"),
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        if "ready" not in line:
            raise RuntimeError(f"sandbox did not start: {line!r}")
        yield Sandbox(process, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}")
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if process.stdout is not None:
            process.stdout.close()


def _voice_event(index: int, stamp: datetime | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "serviceId": "bench",
        "owner": {"phoneNumber": {"e164": "+46724450024"}, "sub": "bench"},
        "voiceEvent": {
            "callId": f"call-{index}",
            "type": "CALL_RINGING",
            "fromNumber": {"e164": "+4799948352"},
            "toNumber": {"e164": "+46724450024"},
        },
    }
    if stamp is not None:
        event["timestamp"] = stamp.isoformat().replace("+00:00", "Z")
    return {"event": event}


async def publish(session: aiohttp.ClientSession, sandbox: Sandbox, count: int) -> int:
    """Publish ``count`` voice events; return the first sequence number."""
    first = 0
    for start in range(0, count, PUBLISH_BATCH):
        items = [_voice_event(i) for i in range(start, min(count, start + PUBLISH_BATCH))]
        async with session.post(f"{sandbox.http_url}/events", json=items) as response:
            response.raise_for_status()
            sequences = (await response.json())["sequences"]
        first = first or sequences[0]
    return first


def _request(first: int, max_in_flight: int, manual_ack: bool) -> Any:
    config = SubscriptionConfig(
        event_types=(EventType.VOICE_EVENT,),
        max_in_flight=max_in_flight,
        manual_ack=manual_ack,
        start=StartPosition.sequence(first),
    )
    return config.build_request()


async def bare_consumer(
    target: str, first: int, count: int, max_in_flight: int, *, manual_ack: bool
) -> Result:
    """Consume ``count`` events with plain grpc.aio (acks included)."""
    channel = grpc.aio.insecure_channel(target)
    stub = events_pb2_grpc.EventsServiceStub(channel)
    pending: set[Any] = set()
    received = 0
    started = time.perf_counter()
    cpu = time.process_time()
    call = stub.Subscribe(_request(first, max_in_flight, manual_ack))
    try:
        async for response in call:
            received += 1
            if manual_ack:
                meta = response.event.metadata
                ack = stub.Ack(events_pb2.AckRequest(inbox=meta.ack_inbox, sequence=meta.sequence))
                pending.add(ack)
                ack.add_done_callback(pending.discard)
            if received >= count:
                break
        if pending:
            await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        call.cancel()
        await channel.close()
    return Result(count / elapsed, cpu / count * 1e6)


async def client_consumer(
    target: str, first: int, count: int, max_in_flight: int, profile: bool
) -> Result:
    """Consume ``count`` events with EventSubscription (acks included)."""
    done = asyncio.Event()
    handled = 0

    async def handler(_event: WgtwoEvent) -> None:
        nonlocal handled
        handled += 1
        if handled >= count:
            done.set()

    config = SubscriptionConfig(
        event_types=(EventType.VOICE_EVENT,),
        max_in_flight=max_in_flight,
        start=StartPosition.sequence(first),
    )
    endpoint = Endpoint.parse(target, plaintext=True)
    subscription = EventSubscription(endpoint, config, handler)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    cpu = time.process_time()
    if profiler is not None:
        profiler.enable()
    task = asyncio.create_task(subscription.run())
    await done.wait()
    while subscription.stats.acked < count:  # noqa: ASYNC110 - acks finish in callbacks
        await asyncio.sleep(0.0005)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
    await subscription.stop()
    await task
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    return Result(count / elapsed, cpu / count * 1e6)


async def client_latency(
    session: aiohttp.ClientSession, sandbox: Sandbox, count: int, rate: float, mif: int
) -> list[float]:
    """Publish at ``rate`` events/s while our client consumes; return latencies (s)."""
    latencies: list[float] = []
    done = asyncio.Event()

    async def handler(event: WgtwoEvent) -> None:
        latencies.append(time.time() - event.timestamp.timestamp())
        if len(latencies) >= count:
            done.set()

    config = SubscriptionConfig(event_types=(EventType.VOICE_EVENT,), max_in_flight=mif)
    subscription = EventSubscription(
        Endpoint.parse(sandbox.grpc_target, plaintext=True), config, handler
    )
    task = asyncio.create_task(subscription.run())
    await asyncio.sleep(0.5)  # connected and idle
    batch = 10
    interval = batch / rate
    next_at = time.monotonic()
    for start in range(0, count, batch):
        now = datetime.now(UTC)
        items = [_voice_event(i, now) for i in range(start, min(count, start + batch))]
        async with session.post(f"{sandbox.http_url}/events", json=items) as response:
            response.raise_for_status()
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.wait_for(done.wait(), 30)
    await subscription.stop()
    await task
    return latencies


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(args: argparse.Namespace) -> int:
    """Run the three consumers (in rounds) and the latency measurement; print the figures."""
    count, mif = args.events, args.max_in_flight
    async with sandbox_process() as sandbox, aiohttp.ClientSession() as session:
        # Warm up connections and code paths so the first measurement is not penalized.
        first = await publish(session, sandbox, 500)
        await bare_consumer(sandbox.grpc_target, first, 500, mif, manual_ack=True)
        await client_consumer(sandbox.grpc_target, first, 500, mif, False)

        results: dict[str, list[Result]] = {"a": [], "b": [], "c": []}
        for round_ in range(1, args.rounds + 1):
            first = await publish(session, sandbox, count)
            results["a"].append(
                await bare_consumer(sandbox.grpc_target, first, count, mif, manual_ack=True)
            )
            first = await publish(session, sandbox, count)
            profile = args.profile and round_ == 1
            results["b"].append(
                await client_consumer(sandbox.grpc_target, first, count, mif, profile)
            )
            first = await publish(session, sandbox, count)
            results["c"].append(
                await bare_consumer(sandbox.grpc_target, first, count, mif, manual_ack=False)
            )
            print(
                f"round {round_}: "
                + ", ".join(
                    f"{k} {results[k][-1].rate:.0f}/s ({results[k][-1].cpu_us:.0f} us CPU/event)"
                    for k in "abc"
                ),
                flush=True,
            )
        # The best round of each is the one least disturbed by other load on the machine.
        best = {k: max(results[k], key=lambda r: r.rate) for k in "abc"}
        labels = {
            "a": "(a) bare grpc.aio, manual ack:    ",
            "b": "(b) EventSubscription, manual ack:",
            "c": "(c) bare grpc.aio, no ack:        ",
        }
        for key, label in labels.items():
            print(
                f"{label} {best[key].rate:7.0f} events/s, "
                f"consumer CPU {best[key].cpu_us:5.0f} us/event"
            )
        rate_a, rate_b, rate_c = (best[k].rate for k in "abc")
        paired = statistics.median(
            b.rate / a.rate for a, b in zip(results["a"], results["b"], strict=True)
        )
        print(
            f"ratio b/a = {rate_b / rate_a:.2f} (best rounds; goal >= 0.8), "
            f"median of per-round ratios {paired:.2f}; b/c = {rate_b / rate_c:.2f}"
        )
        latencies = await client_latency(
            session, sandbox, args.latency_events, args.latency_rate, mif
        )
        p50 = _percentile(latencies, 0.5) * 1000
        p99 = _percentile(latencies, 0.99) * 1000
        print(
            f"(b) latency publish -> handler at {args.latency_rate:g} events/s: "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {statistics.fmean(latencies) * 1000:.1f} ms"
            f" (n={len(latencies)})"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m tools.bench_client``."""
    parser = argparse.ArgumentParser(prog="scripts/bench-client", description=__doc__)
    parser.add_argument("--events", type=int, default=20000, help="events per consumer")
    parser.add_argument("--max-in-flight", type=int, default=50)
    parser.add_argument("--latency-events", type=int, default=2000)
    parser.add_argument("--latency-rate", type=float, default=1000.0, help="events/s")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best counts")
    parser.add_argument("--profile", action="store_true", help="cProfile (b) to stderr")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
