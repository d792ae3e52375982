"""The `wgtwo_event` bus event: exact schema per type, privacy rules, once per event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.wgtwo.const import CONF_SHARE_SMS_TEXT, DOMAIN, EVENT_SMS_TEXT, EVENT_WGTWO
from custom_components.wgtwo.coordinator import WgtwoCoordinator
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    entry_options,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import (
    ALICE,
    BOB,
    Parties,
    call,
    consent_revoke,
    coordinator_of,
    country,
    delivery_report,
    device_id_of,
    entity_id,
    handset,
    location,
    sms,
    voice,
    voicemail,
)

pytestmark = pytest.mark.usefixtures("quick_missed_calls")


def by_type(events: list[Event[Any]]) -> dict[str, dict[str, Any]]:
    """Events keyed by type (asserting each type came once)."""
    result: dict[str, dict[str, Any]] = {}
    for event in events:
        assert event.data["type"] not in result, f"{event.data['type']} fired twice"
        result[event.data["type"]] = dict(event.data)
    return result


async def test_schema_of_every_type(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    incoming: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
    seqs = await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call(
                "c1",
                ["CALL_INITIATED", "CALL_RINGING", "CALL_ANSWERED", "CALL_ENDED"],
                **incoming,
            ),
            *call("c2", ["CALL_FWD_VOICEMAIL"], start=10, **incoming),
            voicemail("vm1", from_number=BOB, to_number=ALICE, seconds=20),
            sms(
                owner=ALICE, from_number=BOB, to_number=ALICE, direction="TO_SUBSCRIBER", seconds=30
            ),
            sms(
                owner=ALICE,
                from_number=ALICE,
                to_number=BOB,
                direction="FROM_SUBSCRIBER",
                uuid="uuid-2",
                sms_id="sms-2",
                seconds=31,
            ),
            delivery_report(owner=ALICE, to_number=BOB, seconds=32),
            country(ALICE, "SE", "Sweden", previous=("NO", "Norway"), seconds=40),
            location(ALICE, vlr="4790000001", seconds=41),
            handset(ALICE, "356938035643809", seconds=42),
        ],
    )
    await hass.async_block_till_done()
    device_id = device_id_of(hass, entry, ALICE)
    events = by_type(fired)

    # The entity each type is listed with in Activity: the one that shows it, or the roaming
    # country sensor while the serving node and handset sensors are disabled (by default).
    shown_by = {
        "call": "event.4799900001_call",
        "voicemail": "event.4799900001_voicemail",
        "sms": "event.4799900001_sms",
        "roaming": "sensor.4799900001_roaming_country",
        "location": "sensor.4799900001_roaming_country",
        "handset": "sensor.4799900001_roaming_country",
    }

    def envelope(event_type: str, seq_index: int, seconds: int) -> dict[str, Any]:
        return {
            "type": event_type,
            "subscriber": ALICE,
            "device_id": device_id,
            "entity_id": shown_by[event_type.split("_")[0]],
            "timestamp": f"2026-11-27T10:00:{seconds:02d}+00:00",
            "sequence": seqs[seq_index],
        }

    def call_fields(call_id: str) -> dict[str, Any]:
        return {
            "call_id": call_id,
            "direction": "incoming",
            "from_number": BOB,
            "to_number": ALICE,
            "caller_id_hidden": False,
            # Nobody is in the phonebook: no names.
            "from_name": None,
            "to_name": None,
        }

    assert events["call_initiated"] == envelope("call_initiated", 0, 0) | call_fields("c1")
    assert events["call_ringing"] == envelope("call_ringing", 1, 1) | call_fields("c1")
    assert events["call_answered"] == envelope("call_answered", 2, 2) | call_fields("c1")
    # Answered at 10:00:02, ended at 10:00:03.
    assert events["call_ended"] == envelope("call_ended", 3, 3) | call_fields("c1") | {
        "answered": True,
        "duration": 1.0,
    }
    assert events["call_forwarded_to_voicemail"] == envelope(
        "call_forwarded_to_voicemail", 4, 10
    ) | call_fields("c2")
    # The forwarded call was never answered: missed, with the forwarding event's envelope.
    assert events["call_missed"] == envelope("call_missed", 4, 10) | call_fields("c2")
    assert events["voicemail_new"] == envelope("voicemail_new", 5, 20) | {
        "voicemail_id": "vm1",
        "from_number": BOB,
        "to_number": ALICE,
        "from_name": None,
        "to_name": None,
        # The media browser's id of the voicemail: no number in it.
        "media_content_id": (
            f"media-source://wgtwo/{entry.entry_id}/{coordinator_of(entry).number_key(ALICE)}/vm1"
        ),
    }
    addresses_in = {
        "from_address": BOB,
        "from_address_type": "e164",
        "to_address": ALICE,
        "to_address_type": "e164",
        "from_name": None,
        "to_name": None,
    }
    addresses_out = {
        "from_address": ALICE,
        "from_address_type": "e164",
        "to_address": BOB,
        "to_address_type": "e164",
        "from_name": None,
        "to_name": None,
    }
    # No text: sharing SMS text is off by default.
    assert events["sms_received"] == envelope("sms_received", 6, 30) | {
        "sms_id": "sms-1",
        "message_id": "sms-1",
        "uuid": "uuid-1",
        "direction": "to_subscriber",
        **addresses_in,
    }
    assert events["sms_sent"] == envelope("sms_sent", 7, 31) | {
        "sms_id": "sms-2",
        "message_id": "sms-2",
        "uuid": "uuid-2",
        "direction": "from_subscriber",
        **addresses_out,
    }
    assert events["sms_delivery_report"] == envelope("sms_delivery_report", 8, 32) | {
        "report_id": "report-1",
        "sms_id": "sms-1",
        "message_id": "sms-1",
        "status": "delivered",
        "direction": "from_subscriber",
        **addresses_out,
    }
    assert events["roaming_country_changed"] == envelope("roaming_country_changed", 9, 40) | {
        "previous": {"code": "NO", "name": "Norway"},
        "current": {"code": "SE", "name": "Sweden"},
        "roaming": True,
    }
    assert events["location_updated"] == envelope("location_updated", 10, 41) | {
        "previous": None,
        "current": {"msc": "4790000001", "vlr": "4790000001", "sgsn": None, "mme": None},
    }
    # No IMSI on the bus.
    assert events["handset_changed"] == envelope("handset_changed", 11, 42) | {
        "previous": {"imei": "350000000000001", "software_version": "01"},
        "current": {"imei": "356938035643809", "software_version": "02"},
    }
    assert len(fired) == 13


async def test_missed_call_after_unanswered_end(
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
            *call("c1", ["CALL_INITIATED", "CALL_RINGING", "CALL_ENDED"], **incoming),
            *call("c2", ["CALL_INITIATED", "CALL_ENDED", "CALL_ANSWERED"], start=10, **incoming),
        ],
    )
    # The settle time is over: c1's decision runs.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()
    types = [(e.data["type"], e.data["call_id"]) for e in fired]
    # c1 ended unanswered: missed right after ended. c2's late ANSWERED cancels it.
    assert types.count(("call_missed", "c1")) == 1
    assert ("call_missed", "c2") not in types
    assert types.index(("call_ended", "c1")) < types.index(("call_missed", "c1"))
    missed = next(e.data for e in fired if e.data["type"] == "call_missed")
    assert missed["timestamp"] == "2026-11-27T10:00:02+00:00"


async def test_hidden_caller_number_not_on_the_bus(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call(
                "c1",
                ["CALL_INITIATED", "CALL_RINGING", "CALL_FWD_VOICEMAIL"],
                from_number=BOB,
                to_number=ALICE,
                owner=ALICE,
                hidden=True,
            ),
            voicemail("vm1", from_number=BOB, to_number=ALICE, seconds=9),
        ],
    )
    # Later events of the call that do not repeat the flag keep the number hidden.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [voice("c1", "CALL_ENDED", from_number=BOB, to_number=ALICE, owner=ALICE, seconds=8)],
    )
    fired[:] = [e for e in fired if e.data["type"] != "call_ended"]
    assert len(fired) == 5
    for event in fired:
        assert BOB not in repr(event.data)
    assert fired[0].data["caller_id_hidden"] is True
    assert fired[0].data["from_number"] is None
    assert fired[-1].data["type"] == "voicemail_new"
    assert fired[-1].data["from_number"] is None


@pytest.mark.parametrize("share", [True, False])
async def test_sms_text_only_on_its_own_event_when_shared(
    hass: HomeAssistant, auth_sandbox: SandboxServer, share: bool
) -> None:
    """wgtwo_event never carries the text; wgtwo_sms_text does, with the ids to match.

    The recorder stores every bus event; the text (one-time codes) has an event of its own
    so that it can be left out of the database and its backups.
    """
    entry = make_entry(auth_sandbox, options=entry_options(**{CONF_SHARE_SMS_TEXT: share}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    fired = async_capture_events(hass, EVENT_WGTWO)
    texts = async_capture_events(hass, EVENT_SMS_TEXT)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            sms(
                owner=ALICE,
                from_number=BOB,
                to_number=ALICE,
                direction="TO_SUBSCRIBER",
                text="Your code is 914277",
                sms_id="sms-7",
            )
        ],
    )
    [received] = fired
    assert received.data["type"] == "sms_received"
    assert "text" not in received.data
    assert "data" not in received.data
    assert "914277" not in repr(received.data)
    if share:
        [text] = texts
        assert text.data == {
            "type": "sms_received",
            "sms_id": "sms-7",
            "message_id": "sms-7",
            "subscriber": ALICE,
            "device_id": received.data["device_id"],
            "direction": "to_subscriber",
            "text": "Your code is 914277",
            "data": None,
        }
    else:
        assert texts == []
    # The text goes to automations only: entity states end up in the recorder's history.
    sms_entity = hass.states.get(entity_id(hass, entry, "event", ALICE, "sms"))
    assert sms_entity is not None
    assert sms_entity.attributes["event_type"] == "received"
    assert "914277" not in str(sms_entity.attributes)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_automation_reads_the_text_from_its_own_event(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    """The README's example: a text Alice sends turns something on."""
    entry = make_entry(auth_sandbox, options=entry_options(**{CONF_SHARE_SMS_TEXT: True}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Heating on by SMS",
                "triggers": [
                    {
                        "trigger": "event",
                        "event_type": EVENT_SMS_TEXT,
                        "event_data": {"type": "sms_sent", "subscriber": ALICE},
                    }
                ],
                "conditions": [
                    {
                        "condition": "template",
                        "value_template": "{{ trigger.event.data.text | trim | lower"
                        " == 'heating on' }}",
                    }
                ],
                "actions": [{"event": "test_heating_on"}],
            }
        },
    )
    heating = async_capture_events(hass, "test_heating_on")

    def sent(text: str, sms_id: str) -> dict[str, Any]:
        return sms(
            owner=ALICE,
            from_number=ALICE,
            to_number=BOB,
            direction="FROM_SUBSCRIBER",
            text=text,
            sms_id=sms_id,
            uuid=sms_id,
        )

    await publish_and_wait(hass, auth_sandbox, entry, [sent("See you", "s1")])
    await hass.async_block_till_done()
    assert heating == []
    await publish_and_wait(hass, auth_sandbox, entry, [sent(" Heating ON ", "s2")])
    await hass.async_block_till_done()
    assert len(heating) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_redelivered_events_fire_once(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    received = sms(owner=ALICE, from_number=BOB, to_number=ALICE, direction="TO_SUBSCRIBER")
    # The operator redelivers an SMS as a new event with a new id but the same uuid.
    again = sms(
        owner=ALICE, from_number=BOB, to_number=ALICE, direction="TO_SUBSCRIBER", sms_id="sms-9"
    )
    seqs = await publish_and_wait(hass, auth_sandbox, entry, [received, again], expect=1)
    # Another SMS after them: once it is on the bus, the redelivery was handled (dropped).
    other = sms(
        owner=ALICE,
        from_number=BOB,
        to_number=ALICE,
        direction="TO_SUBSCRIBER",
        uuid="uuid-2",
        sms_id="sms-2",
    )
    await publish_and_wait(hass, auth_sandbox, entry, [other])
    assert [(e.data["type"], e.data["sms_id"]) for e in fired] == [
        ("sms_received", "sms-1"),
        ("sms_received", "sms-2"),
    ]
    assert seqs[1] > seqs[0]


async def test_consent_revoke_removes_device_and_raises_issue(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE),
    )
    device_id = device_id_of(hass, entry, ALICE)
    entity_ids = [e.entity_id for e in er.async_entries_for_device(er.async_get(hass), device_id)]
    assert entity_ids
    seqs = await publish_and_wait(hass, auth_sandbox, entry, [consent_revoke(ALICE, seconds=5)])
    assert fired[-1].data == {
        "type": "consent_revoked",
        "subscriber": ALICE,
        "device_id": device_id,
        # The device and its entities go: none to list it with.
        "entity_id": None,
        "timestamp": "2026-11-27T10:00:05+00:00",
        "sequence": seqs[0],
    }
    assert dr.async_get(hass).async_get(device_id) is None
    for entity in entity_ids:
        assert er.async_get(hass).async_get(entity) is None
        assert hass.states.get(entity) is None
    issues = [
        issue
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue.translation_key == "consent_revoked"
    ]
    assert len(issues) == 1
    assert issues[0].translation_placeholders == {"name": ALICE, "entry_title": entry.title}
    assert ALICE not in issues[0].issue_id
    # Consent given again: the device comes back and the issue goes away.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c2", ["CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE, start=9),
    )
    assert device_id_of(hass, entry, ALICE) == device_id
    assert hass.states.get(entity_ids[0]) is not None
    assert ir.async_get(hass).async_get_issue(DOMAIN, issues[0].issue_id) is None


async def test_entity_id_is_looked_up_once_and_follows_a_rename(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    incoming: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
    await publish_and_wait(hass, auth_sandbox, entry, call("c1", ["CALL_RINGING"], **incoming))
    call_entity = entity_id(hass, entry, "event", ALICE, "call")
    assert fired[-1].data["entity_id"] == call_entity

    # Once known, the subscriber's entity ids are not looked up in the registry again.
    registry = er.async_get(hass)
    lookups: list[str] = []
    real_lookup = er.EntityRegistry.async_get_entity_id

    def counting_lookup(self: er.EntityRegistry, domain: str, platform: str, unique_id: str) -> Any:
        lookups.append(unique_id)
        return real_lookup(self, domain, platform, unique_id)

    monkeypatch.setattr(er.EntityRegistry, "async_get_entity_id", counting_lookup)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [*call("c1", ["CALL_ANSWERED", "CALL_ENDED"], start=1, **incoming)],
    )
    assert [e.data["entity_id"] for e in fired[-2:]] == [call_entity, call_entity]
    assert [u for u in lookups if u.startswith(entry.entry_id)] == []

    # The user renames the entity: the next event names it by its new id.
    registry.async_update_entity(call_entity, new_entity_id="event.alice_phone_calls")
    await hass.async_block_till_done()
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c2", ["CALL_RINGING"], start=5, **incoming)
    )
    assert fired[-1].data["entity_id"] == "event.alice_phone_calls"


async def test_revoke_for_unknown_number_still_reported(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(hass, auth_sandbox, entry, [consent_revoke(BOB)])
    assert fired[0].data["type"] == "consent_revoked"
    assert fired[0].data["device_id"] is None
    assert not coordinator_of(entry).subscribers


async def test_event_whose_handling_failed_is_handled_on_redelivery(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    fire = WgtwoCoordinator.fire
    attempts: list[str] = []

    def fail_first(self: WgtwoCoordinator, data: dict[str, Any]) -> None:
        attempts.append(data["type"])
        if len(attempts) == 1:
            raise RuntimeError("the first attempt fails")
        fire(self, data)

    monkeypatch.setattr(WgtwoCoordinator, "fire", fail_first)
    received = sms(owner=ALICE, from_number=BOB, to_number=ALICE, direction="TO_SUBSCRIBER")
    await auth_sandbox.publish([received])
    await wait_for(lambda: bool(fired), within=10)
    await hass.async_block_till_done()
    assert attempts == ["sms_received", "sms_received"]
    assert [event.data["type"] for event in fired] == ["sms_received"]
    assert await hass.config_entries.async_unload(entry.entry_id)
