"""Names of the parties and the length of a call, on the bus and on the event entities."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from homeassistant.core import Event, HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.wgtwo.client import (
    AddressType,
    DeliveryStatus,
    SmsDeliveryReportEvent,
    SmsDirection,
    SmsEvent,
    VoiceEvent,
    VoiceEventKind,
    VoicemailEvent,
    VoicemailEventKind,
    WgtwoEvent,
)
from custom_components.wgtwo.const import CONF_PHONEBOOK, EVENT_WGTWO
from custom_components.wgtwo.coordinator import WgtwoCoordinator
from wgtwo_sandbox import SandboxServer

from .conftest import publish_and_wait
from .wgtwo_events import (
    ALICE,
    BASE_TIME,
    BOB,
    CAROL,
    Parties,
    coordinator_of,
    entity_id,
    handle,
    sms,
    voice,
)

pytestmark = pytest.mark.usefixtures("quick_missed_calls")

_SEQUENCE = count(1)


@pytest.fixture
def entry_options_override() -> dict[str, Any]:
    """Alice (the subscriber) and Bob are in the phonebook; Carol is not."""
    return {CONF_PHONEBOOK: {ALICE: "Alice", BOB: "Bob"}}


def call_event(
    kind: VoiceEventKind,
    seconds: float,
    *,
    call_id: str = "c1",
    from_number: str | None = BOB,
    to_number: str | None = ALICE,
    hidden: bool = False,
) -> VoiceEvent:
    return VoiceEvent(
        sequence=next(_SEQUENCE),
        timestamp=BASE_TIME + timedelta(seconds=seconds),
        owner=ALICE,
        call_id=call_id,
        call_event=kind,
        from_number=from_number,
        to_number=to_number,
        caller_id_hidden=hidden,
    )


async def feed(coordinator: WgtwoCoordinator, *events: WgtwoEvent) -> None:
    for event in events:
        await handle(coordinator, event)


def of_type(fired: list[Event[Any]], event_type: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in fired if e.data["type"] == event_type]


def call_attributes(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    state = hass.states.get(entity_id(hass, entry, "event", ALICE, "call"))
    assert state is not None
    return dict(state.attributes)


async def test_call_names_both_parties_and_lasts_from_answer_to_end(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await feed(
        coordinator_of(entry),
        call_event(VoiceEventKind.CALL_RINGING, 0),
        call_event(VoiceEventKind.CALL_ANSWERED, 4.25),
    )
    assert call_attributes(hass, entry)["from_name"] == "Bob"
    await feed(coordinator_of(entry), call_event(VoiceEventKind.CALL_ENDED, 129.75))
    for data in fired:
        assert (data.data["from_name"], data.data["to_name"]) == ("Bob", "Alice")
    [ended] = of_type(fired, "call_ended")
    assert ended["answered"] is True
    assert ended["duration"] == 125.5
    # Only the end of a call says how it went.
    assert "duration" not in of_type(fired, "call_answered")[0]
    attributes = call_attributes(hass, entry)
    assert attributes["event_type"] == "ended"
    assert (attributes["from_name"], attributes["to_name"]) == ("Bob", "Alice")
    assert (attributes["answered"], attributes["duration"]) == (True, 125.5)


async def test_numbers_outside_the_phonebook_have_no_name(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    fired = async_capture_events(hass, EVENT_WGTWO)
    await feed(
        coordinator_of(setup_integration),
        call_event(VoiceEventKind.CALL_RINGING, 0, call_id="in", from_number=CAROL),
        # Alice calls Carol.
        call_event(
            VoiceEventKind.CALL_INITIATED, 5, call_id="out", from_number=ALICE, to_number=CAROL
        ),
    )
    incoming, outgoing = fired
    assert incoming.data["direction"] == "incoming"
    assert (incoming.data["from_name"], incoming.data["to_name"]) == (None, "Alice")
    assert outgoing.data["direction"] == "outgoing"
    assert (outgoing.data["from_name"], outgoing.data["to_name"]) == ("Alice", None)


async def test_hidden_caller_is_never_named(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    """Bob is in the phonebook, but hid his number: neither it nor his name shows."""
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await feed(
        coordinator_of(entry),
        call_event(VoiceEventKind.CALL_RINGING, 0, hidden=True),
        # Later events of the call do not repeat the flag.
        call_event(VoiceEventKind.CALL_FWD_VOICEMAIL, 20),
        call_event(VoiceEventKind.CALL_ENDED, 21),
        VoicemailEvent(
            sequence=next(_SEQUENCE),
            timestamp=BASE_TIME + timedelta(seconds=60),
            owner=ALICE,
            voicemail_id="vm1",
            voicemail_event=VoicemailEventKind.NEW_VOICEMAIL,
            from_number=BOB,
            to_number=ALICE,
        ),
    )
    types = [e.data["type"] for e in fired]
    assert types == [
        "call_ringing",
        "call_forwarded_to_voicemail",
        "call_missed",
        "call_ended",
        "voicemail_new",
    ]
    for event in fired:
        assert event.data["from_name"] is None
        assert event.data["from_number"] is None
        assert event.data["to_name"] == "Alice"
        assert "Bob" not in repr(event.data)
        assert BOB not in repr(event.data)
    for key in ("call", "voicemail"):
        state = hass.states.get(entity_id(hass, entry, "event", ALICE, key))
        assert state is not None
        assert "Bob" not in repr(state.attributes)
        assert state.attributes["from_name"] is None


async def test_unanswered_call_has_no_duration(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    fired = async_capture_events(hass, EVENT_WGTWO)
    await feed(
        coordinator_of(setup_integration),
        call_event(VoiceEventKind.CALL_RINGING, 0),
        call_event(VoiceEventKind.CALL_ENDED, 30),
    )
    [ended] = of_type(fired, "call_ended")
    assert (ended["answered"], ended["duration"]) == (False, None)


async def test_answer_delivered_after_the_end(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    """call_ended has fired with what was known then; the late answer cancels call_missed."""
    fired = async_capture_events(hass, EVENT_WGTWO)
    await feed(
        coordinator_of(setup_integration),
        call_event(VoiceEventKind.CALL_RINGING, 0),
        call_event(VoiceEventKind.CALL_ENDED, 90),
        call_event(VoiceEventKind.CALL_ANSWERED, 3),
    )
    # The settle time is over: the decision runs (and finds the call answered).
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()
    assert [e.data["type"] for e in fired] == ["call_ringing", "call_ended", "call_answered"]
    [ended] = of_type(fired, "call_ended")
    assert (ended["answered"], ended["duration"]) == (False, None)


async def test_duration_counts_from_the_first_answer(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    """Two answers delivered in reverse order: the earlier one counts."""
    fired = async_capture_events(hass, EVENT_WGTWO)
    coordinator = coordinator_of(setup_integration)
    await feed(
        coordinator,
        call_event(VoiceEventKind.CALL_RINGING, 0),
        call_event(VoiceEventKind.CALL_ANSWERED, 10),
        call_event(VoiceEventKind.CALL_ANSWERED, 5),
        call_event(VoiceEventKind.CALL_ENDED, 65),
        # Another call whose end is stamped before its answer (clocks of two nodes).
        call_event(VoiceEventKind.CALL_ANSWERED, 100, call_id="c2"),
        call_event(VoiceEventKind.CALL_ENDED, 99.5, call_id="c2"),
    )
    durations = {e["call_id"]: e["duration"] for e in of_type(fired, "call_ended")}
    assert durations == {"c1": 60.0, "c2": 0.0}


async def test_sms_and_reports_name_their_parties(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    fired = async_capture_events(hass, EVENT_WGTWO)

    def message(sender: str, sender_type: AddressType, sms_id: str) -> SmsEvent:
        return SmsEvent(
            sequence=next(_SEQUENCE),
            timestamp=BASE_TIME,
            owner=ALICE,
            sms_id=sms_id,
            uuid=f"uuid-{sms_id}",
            from_address=sender,
            from_address_type=sender_type,
            to_address=ALICE,
            to_address_type=AddressType.E164,
            direction=SmsDirection.TO_SUBSCRIBER,
            text="hello",
            data=None,
        )

    await feed(
        coordinator_of(setup_integration),
        message(BOB, AddressType.E164, "s1"),
        # An alphanumeric sender is never a phonebook entry.
        message("Bob", AddressType.TEXT, "s2"),
        SmsDeliveryReportEvent(
            sequence=next(_SEQUENCE),
            timestamp=BASE_TIME,
            owner=ALICE,
            report_id="r1",
            sms_id="s0",
            status=DeliveryStatus.DELIVERED,
            direction=SmsDirection.FROM_SUBSCRIBER,
            from_address=ALICE,
            from_address_type=AddressType.E164,
            to_address=BOB,
            to_address_type=AddressType.E164,
        ),
    )
    names = [(e.data["type"], e.data["from_name"], e.data["to_name"]) for e in fired]
    assert names == [
        ("sms_received", "Bob", "Alice"),
        ("sms_received", None, "Alice"),
        ("sms_delivery_report", "Alice", "Bob"),
    ]


async def test_names_and_duration_through_the_sandbox(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    incoming: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            voice("c1", "CALL_RINGING", **incoming, seconds=0),
            voice("c1", "CALL_ANSWERED", **incoming, seconds=2.5),
            voice("c1", "CALL_ENDED", **incoming, seconds=67.75),
            voice("c2", "CALL_RINGING", **incoming, seconds=70, hidden=True),
            voice("c2", "CALL_ENDED", **incoming, seconds=80),
            sms(owner=ALICE, from_number=CAROL, to_number=ALICE, direction="TO_SUBSCRIBER"),
        ],
    )
    ended = {e["call_id"]: e for e in of_type(fired, "call_ended")}
    assert ended["c1"]["from_name"] == "Bob"
    assert (ended["c1"]["answered"], ended["c1"]["duration"]) == (True, 65.25)
    assert ended["c2"]["from_name"] is None
    assert (ended["c2"]["answered"], ended["c2"]["duration"]) == (False, None)
    [received] = of_type(fired, "sms_received")
    assert (received["from_name"], received["to_name"]) == (None, "Alice")
