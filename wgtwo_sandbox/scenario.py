"""Scenarios the sandbox can play for the development instance."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

from .network_service import NetworkRegistry

if TYPE_CHECKING:
    from .server import SandboxServer

_LOGGER = logging.getLogger(__name__)

ALICE = "+4791234567"
BOB = "+4798765432"
OUTSIDER = "+4722334455"
# Consents, but never calls: the dev instance shows it anyway.
DAVE = "+4791112233"
SERVICE_ID = "sandbox-demo"

# One publish: events as protobuf-JSON dicts ({"event": {...}}) or Event messages.
Step = list[dict[str, Any] | events_pb2.Event]


def _event(owner: str, **payload: Any) -> dict[str, Any]:
    return {
        "event": {"serviceId": SERVICE_ID, "owner": {"phoneNumber": {"e164": owner}}, **payload}
    }


def _call(owner: str, caller: str, callee: str, kind: str, call_id: str, hidden: bool) -> Step:
    return [
        _event(
            owner,
            voiceEvent={
                "callId": call_id,
                "type": kind,
                "fromNumber": {"e164": caller},
                "toNumber": {"e164": callee},
                "callerIdHidden": hidden,
            },
        )
    ]


def answered_call(caller: str, callee: str, *, hidden: bool = False) -> list[Step]:
    """Play a call that rings, is answered and ends."""
    call_id = str(uuid.uuid4())
    kinds = ("CALL_INITIATED", "CALL_RINGING", "CALL_ANSWERED", "CALL_ENDED")
    return [_call(callee, caller, callee, kind, call_id, hidden) for kind in kinds]


def missed_call_with_voicemail(caller: str, callee: str, *, hidden: bool = False) -> list[Step]:
    """Play a call that goes to voicemail, then the voicemail notification."""
    call_id = str(uuid.uuid4())
    kinds = ("CALL_INITIATED", "CALL_RINGING", "CALL_FWD_VOICEMAIL", "CALL_ENDED")
    steps = [_call(callee, caller, callee, kind, call_id, hidden) for kind in kinds]
    voicemail = {
        "voicemailId": str(uuid.uuid4()),
        "type": "NEW_VOICEMAIL",
        "fromNumber": {"e164": caller},
        "toNumber": {"e164": callee},
    }
    steps.append([_event(callee, voicemailEvent=voicemail)])
    return steps


def sms_received(sender: str, owner: str, text: str) -> list[Step]:
    """Deliver a text for a subscriber."""
    sms_id = str(uuid.uuid4())
    sms = {
        "id": sms_id,
        "uuid": sms_id,
        "fromE164": {"e164": sender},
        "toE164": {"e164": owner},
        "direction": "TO_SUBSCRIBER",
        "text": text,
    }
    return [[_event(owner, smsEvent=sms)]]


def sms_sent(owner: str, recipient: str, text: str) -> list[Step]:
    """Send a text from a subscriber, then its delivery report."""
    sms_id = str(uuid.uuid4())
    addresses = {"fromE164": {"e164": owner}, "toE164": {"e164": recipient}}
    sms = {"id": sms_id, "uuid": sms_id, "direction": "FROM_SUBSCRIBER", "text": text, **addresses}
    report = {
        "id": str(uuid.uuid4()),
        "smsId": sms_id,
        "direction": "FROM_SUBSCRIBER",
        "status": "DELIVERED",
        **addresses,
    }
    return [[_event(owner, smsEvent=sms)], [_event(owner, smsDeliveryReportEvent=report)]]


def seed_demo_network(network: NetworkRegistry) -> None:
    """Attach the demo subscribers' SIMs at home, unless they are attached already.

    Alice has one SIM (4G); Bob a phone (5G) and a watch (4G) sharing his number; Dave, who
    consented but never calls, one SIM (3G) on holiday in Sweden.
    """
    if ALICE not in network.sims:
        network.attach(ALICE, "telenor-no", "4G")
    if BOB not in network.sims:
        network.attach(BOB, "telenor-no", "5G")
        network.attach(BOB, "telenor-no", "4G")
    if DAVE not in network.sims:
        network.attach(DAVE, "telia-se", "3G")


def move(network: NetworkRegistry, owner: str, country: str | None = None) -> list[Step]:
    """Move the subscriber's phone to another country, or to other nodes (a location update)."""
    return [list(network.move(owner, country=country))]


def handset_change(owner: str, rng: random.Random) -> list[Step]:
    """Put the subscriber's SIM into another phone."""

    def handset() -> dict[str, Any]:
        imei = "".join(str(rng.randint(0, 9)) for _ in range(14))
        return {"imeiSv": {"imei": imei, "softwareVersion": f"{rng.randint(10, 99)}"}}

    update = {
        "number": {"e164": owner},
        "imsi": {"value": "242019876543210"},
        "previous": handset(),
        "current": handset(),
    }
    return [[_event(owner, handsetUpdateEvent=update)]]


def demo_cycle(round_number: int, rng: random.Random, network: NetworkRegistry) -> list[list[Step]]:
    """One cycle of the demo: every feature on each subscriber, Alice's and Bob's in turn.

    Each gets an answered call, a missed call that goes to voicemail (the caller changes from
    cycle to cycle and hides the number every third one), an SMS in and one out (with its
    delivery report), a trip abroad and back, a new serving node and a new handset. Moves go
    through ``network``, so the subscribers' networks and the events sent for them agree.
    """
    hidden = round_number % 3 == 2
    # Voicemails from a stranger (Carol is only in the demo's phonebook), then a known name.
    alice_caller = BOB if round_number % 2 else OUTSIDER
    bob_caller = OUTSIDER if round_number % 2 else ALICE
    return [
        answered_call(BOB, ALICE),
        answered_call(ALICE, BOB, hidden=hidden),
        sms_received(BOB, ALICE, "Are you coming to dinner?") + sms_sent(ALICE, BOB, "On my way!"),
        sms_received(ALICE, BOB, "Bring dessert?") + sms_sent(BOB, ALICE, "Ice cream it is."),
        missed_call_with_voicemail(alice_caller, ALICE, hidden=hidden),
        missed_call_with_voicemail(bob_caller, BOB),
        move(network, ALICE, "SE") + move(network, BOB, "DK"),
        move(network, ALICE) + move(network, BOB),
        handset_change(ALICE, rng) + handset_change(BOB, rng),
        move(network, ALICE, "NO") + move(network, BOB, "NO"),
    ]


def demo_story(
    rng: random.Random, network: NetworkRegistry | None = None
) -> Iterator[list[list[Step]]]:
    """Yield the demo's cycles forever; a cycle is episodes, each steps played a moment apart.

    Moves go through ``network`` (a registry of its own, the demo's SIMs attached, when none
    is given).
    """
    if network is None:
        network = NetworkRegistry()
        seed_demo_network(network)
    for round_number in itertools.count():
        yield demo_cycle(round_number, rng, network)


async def play_demo(server: SandboxServer, interval: float, seed: int | None = None) -> None:
    """Play the demo story: first episode at once, then one every ``interval`` seconds.

    ``server.scenario_cycles`` (``scenario_cycles`` in the stats) counts the cycles played
    to their end, so a client can do once a cycle what a user would (the development
    instance resets the counts the cycle raised). The subscribers' SIMs are attached first,
    so their networks can be read before any event.
    """
    rng = random.Random(seed)
    scopes = sorted(server.authority.granted_scopes)
    for number in (ALICE, BOB, DAVE):
        server.consents.add(number, scopes)
    seed_demo_network(server.network)
    for cycle in demo_story(rng, server.network):
        for episode in cycle:
            for step in episode:
                await server.publish(step)
                await asyncio.sleep(min(1.0, interval / 4))
            _LOGGER.info("Scenario step published (last sequence %d)", server.broker.last_seq)
            if episode is cycle[-1]:
                server.scenario_cycles += 1
                _LOGGER.info("Scenario cycle %d played", server.scenario_cycles)
            await asyncio.sleep(interval)


SCENARIOS: dict[str, Callable[[SandboxServer, float], Coroutine[Any, Any, None]]] = {
    "demo": play_demo
}
