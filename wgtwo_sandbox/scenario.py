"""Scenarios the sandbox can play for the development instance."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import SandboxServer

_LOGGER = logging.getLogger(__name__)

ALICE = "+4791234567"
BOB = "+4798765432"
OUTSIDER = "+4722334455"
# Consents, but never calls: the dev instance shows it anyway.
CAROL = "+4791112233"
SERVICE_ID = "sandbox-demo"

Step = list[dict[str, Any]]


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


_COUNTRIES = {"NO": "Norway", "SE": "Sweden"}


def country_change(owner: str, previous: str, current: str) -> list[Step]:
    """Move the subscriber's phone in another country."""
    change = {
        "msisdn": {"e164": owner},
        "previous": {"code": previous, "name": _COUNTRIES[previous]},
        "current": {"code": current, "name": _COUNTRIES[current]},
    }
    return [[_event(owner, countryChangeEvent=change)]]


def location_update(owner: str, rng: random.Random) -> list[Step]:
    """Move the subscriber to another switch."""

    def where() -> dict[str, Any]:
        n = rng.randint(10, 99)
        return {
            "msc": {"value": f"4792000{n}"},
            "vlr": {"value": f"4792000{n}"},
            "mme": {"value": f"mme{n}.epc.mnc001.mcc242.3gppnetwork.org"},
        }

    update = {"number": {"e164": owner}, "previous": where(), "current": where()}
    return [[_event(owner, locationUpdateEvent=update)]]


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


def demo_story(rng: random.Random) -> Iterator[list[Step]]:
    """Yield episodes forever; each episode is a list of steps played a moment apart."""
    for round_number in itertools.count():
        hidden = round_number % 3 == 2
        yield answered_call(BOB, ALICE)
        yield sms_received(BOB, ALICE, "Are you coming to dinner?")
        # Voicemails from a stranger, from a phonebook name (Bob), then from a hidden number.
        caller = BOB if round_number % 3 == 1 else OUTSIDER
        yield missed_call_with_voicemail(caller, ALICE, hidden=hidden)
        yield sms_sent(ALICE, BOB, "On my way!")
        yield country_change(BOB, "NO", "SE")
        yield answered_call(ALICE, BOB, hidden=hidden)
        yield location_update(ALICE, rng)
        yield country_change(BOB, "SE", "NO")
        yield handset_change(BOB if round_number % 2 else ALICE, rng)


async def play_demo(server: SandboxServer, interval: float, seed: int | None = None) -> None:
    """Play the demo story: first episode at once, then one every ``interval`` seconds."""
    rng = random.Random(seed)
    scopes = sorted(server.authority.granted_scopes)
    for number in (ALICE, BOB, CAROL):
        server.consents.add(number, scopes)
    for episode in demo_story(rng):
        for step in episode:
            await server.publish(step)
            await asyncio.sleep(min(1.0, interval / 4))
        _LOGGER.info("Scenario step published (last sequence %d)", server.broker.last_seq)
        await asyncio.sleep(interval)


SCENARIOS: dict[str, Callable[[SandboxServer, float], Coroutine[Any, Any, None]]] = {
    "demo": play_demo
}
