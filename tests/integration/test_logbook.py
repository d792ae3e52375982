"""The logbook tells every `wgtwo_event` as a sentence, in the user's language."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.recorder.core import Recorder
from homeassistant.const import EVENT_STATE_CHANGED, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er, translation
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.json import load_json_object
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import MockHAClientWebSocket, WebSocketGenerator

from custom_components.wgtwo import logbook as wgtwo_logbook
from custom_components.wgtwo.capabilities.calls import format_duration
from custom_components.wgtwo.const import (
    CONF_EVENT_TYPES,
    CONF_PHONEBOOK,
    CONF_SHARE_SMS_TEXT,
    DOMAIN,
    EVENT_WGTWO,
)
from wgtwo_sandbox import SandboxServer

from .conftest import (
    ALL_EVENT_TYPES,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    change_settings,
    publish_and_wait,
    wait_connected,
    wait_for,
)
from .wgtwo_events import (
    ALICE,
    BOB,
    CAROL,
    Parties,
    call,
    consent_revoke,
    country,
    delivery_report,
    device_id_of,
    handset,
    location,
    sms,
    voice,
    voicemail,
)

pytestmark = pytest.mark.usefixtures("quick_missed_calls")

SECRET_TEXT = "The door code is 4711"
INCOMING: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
FROM_CAROL: Parties = {"from_number": CAROL, "to_number": ALICE, "owner": ALICE}
TO_BOB: Parties = {"from_number": ALICE, "to_number": BOB, "owner": ALICE}
TO_CAROL: Parties = {"from_number": ALICE, "to_number": CAROL, "owner": ALICE}

type Entries = Callable[..., Any]


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass`` starts, as the recorder requires."""


@pytest.fixture
def entry_options_override() -> dict[str, Any]:
    """Alice (the subscriber) and Bob are in the phonebook; Carol is not."""
    return {CONF_PHONEBOOK: {ALICE: "Alice", BOB: "Bob"}}


@pytest.fixture
async def logbook_entries(
    recorder_mock: Recorder, hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> Entries:
    """Read the logbook as the frontend does: the integration's entries since the test began."""
    # The logbook's panel needs the frontend's files, which the test environment lacks.
    hass.config.components.add("frontend")
    assert await async_setup_component(hass, "logbook", {})
    start = dt_util.utcnow() - timedelta(hours=1)
    clients: list[MockHAClientWebSocket] = []

    async def read(**filters: Any) -> list[dict[str, Any]]:
        # Connected on first use, once the integration has registered its views.
        if not clients:
            clients.append(await hass_ws_client())
        client = clients[0]
        await hass.async_block_till_done()
        await async_wait_recording_done(hass)
        await client.send_json_auto_id(
            {"type": "logbook/get_events", "start_time": start.isoformat(), **filters}
        )
        response = await client.receive_json()
        assert response["success"], response
        return [entry for entry in response["result"] if entry.get("domain") == DOMAIN]

    return read


async def connected(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    await async_setup_entry_and_connect(hass, entry)
    return entry


def messages(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["message"] for entry in entries]


def report(status: str, seconds: float) -> dict[str, Any]:
    """A delivery report of Alice's SMS to Bob, one id per status."""
    event = delivery_report(owner=ALICE, to_number=BOB, status=status, seconds=seconds)
    event["event"]["smsDeliveryReportEvent"]["id"] = f"report-{status.lower()}"
    return event


async def test_every_type_is_a_sentence(
    hass: HomeAssistant,
    logbook_entries: Entries,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
) -> None:
    entry = await connected(hass, config_entry)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call("c1", ["CALL_INITIATED", "CALL_RINGING", "CALL_ANSWERED"], **INCOMING),
            voice("c1", "CALL_ENDED", **INCOMING, seconds=127),  # 2:05 after the answer
            *call("c2", ["CALL_RINGING", "CALL_FWD_VOICEMAIL", "CALL_ENDED"], **FROM_CAROL),
            voicemail("vm1", from_number=CAROL, to_number=ALICE, seconds=230),
            *call("c3", ["CALL_INITIATED", "CALL_RINGING", "CALL_ANSWERED"], **TO_BOB, start=300),
            voice("c3", "CALL_ENDED", **TO_BOB, seconds=302 + 3725),
            *call("c4", ["CALL_INITIATED", "CALL_FWD_VOICEMAIL", "CALL_ENDED"], **TO_CAROL),
            sms(
                owner=ALICE,
                from_number=BOB,
                to_number=ALICE,
                direction="TO_SUBSCRIBER",
                text=SECRET_TEXT,
            ),
            sms(
                owner=ALICE,
                from_number=ALICE,
                to_number=CAROL,
                direction="FROM_SUBSCRIBER",
                text=SECRET_TEXT,
                uuid="uuid-2",
                sms_id="sms-2",
            ),
            *(
                report(status, 5000 + i)
                for i, status in enumerate(
                    ["DELIVERED", "TEMPORARY_FAILURE", "FINAL_FAILURE", "EXPIRED", "STATUS_UNKNOWN"]
                )
            ),
            country(ALICE, "SE", "Sweden", previous=("NO", "Norway"), seconds=6000),
            country(ALICE, "NO", "Norway", previous=("SE", "Sweden"), seconds=7000),
            location(ALICE, vlr="4790000001", seconds=7100),
            handset(ALICE, "356938035643809", seconds=7200),
        ],
    )
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c5", ["CALL_RINGING", "CALL_ENDED"], **INCOMING)
    )
    # The settle time is over: the missed call is decided.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()
    entries = await logbook_entries()
    assert messages(entries) == [
        "Incoming call from Bob",
        "Ringing: call from Bob",
        "Call from Bob answered",
        "Call from Bob ended after 2:05",
        f"Ringing: call from {CAROL}",
        f"Call from {CAROL} forwarded to voicemail",
        f"Missed call from {CAROL}",
        f"Call from {CAROL} ended",
        f"New voicemail from {CAROL}",
        "Calling Bob",
        "Call to Bob ringing",
        "Call to Bob answered",
        "Call to Bob ended after 1:02:05",
        f"Calling {CAROL}",
        f"Call to {CAROL} went to voicemail",
        f"Call to {CAROL} ended",
        "SMS received from Bob",
        f"SMS sent to {CAROL}",
        "SMS to Bob delivered",
        "SMS to Bob not delivered yet, the network keeps trying",
        "SMS to Bob could not be delivered",
        "SMS to Bob expired before it was delivered",
        "Delivery report for the SMS to Bob: status unknown",
        "Roaming in Sweden",
        "Back home in Norway",
        "Served by network node 4790000001",
        "Handset changed",
        "Ringing: call from Bob",
        "Call from Bob ended",
        "Missed call from Bob",
    ]
    # Each entry is the subscriber's device, linked to the entity that shows the event
    # (the serving node sensor is disabled by default: no link).
    assert {entry["name"] for entry in entries} == {"Alice"}
    linked = {entry["message"]: entry.get("entity_id") for entry in entries}
    assert linked["Call from Bob answered"] == "event.alice_call"
    assert linked["Missed call from Bob"] == "event.alice_call"
    assert linked[f"New voicemail from {CAROL}"] == "event.alice_voicemail"
    assert linked["SMS received from Bob"] == "event.alice_sms"
    assert linked["SMS to Bob delivered"] == "event.alice_sms"
    assert linked["Roaming in Sweden"] == "sensor.alice_roaming_country"
    assert linked["Served by network node 4790000001"] is None
    # Without an entity to take it from, the entry has an icon of its own.
    icons = {entry["message"]: entry.get("icon") for entry in entries}
    assert icons["Served by network node 4790000001"] == "mdi:radio-tower"
    assert icons["Handset changed"] == "mdi:cellphone"
    # The device's own logbook shows them too: by device, and as Activity filtered to the
    # device asks for them, by the device's entities (those enabled).
    device_id = device_id_of(hass, entry, ALICE)
    assert messages(await logbook_entries(device_ids=[device_id])) == messages(entries)
    device_entities = [
        entity.entity_id for entity in er.async_entries_for_device(er.async_get(hass), device_id)
    ]
    assert messages(await logbook_entries(entity_ids=device_entities)) == messages(entries)
    assert SECRET_TEXT not in repr(entries)

    # Consent revoked: the device goes, the entries stay, named from the phonebook.
    await publish_and_wait(hass, auth_sandbox, entry, [consent_revoke(ALICE, seconds=8000)])
    entries = await logbook_entries()
    assert entries[-1]["message"] == "Consent revoked: this number's events are no longer shared"
    assert {entry["name"] for entry in entries} == {"Alice"}
    assert all("entity_id" not in entry for entry in entries)
    await async_unload_and_wait(hass, entry, auth_sandbox)


@pytest.mark.parametrize(
    "entry_options_override",
    [{CONF_PHONEBOOK: {ALICE: "Alice"}, CONF_EVENT_TYPES: ["voice", "first_attachment"]}],
)
async def test_a_sims_first_attachment_is_a_sentence(
    hass: HomeAssistant,
    logbook_entries: Entries,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
) -> None:
    imsi = "242010000000009"
    entry = await connected(hass, config_entry)
    [stream] = [s for s in entry.runtime_data.hub.v1_streams if s.kind == "first_attachment"]
    await wait_for(lambda: stream.stream.status.state.value == "connected")
    auth_sandbox.subscription_events.publish(
        "first_attachment", {"number": {"e164": ALICE}, "imsi": {"value": imsi}}
    )
    await wait_for(lambda: stream.events_handled == 1)
    entries = await logbook_entries()
    assert [(entry["name"], entry["message"]) for entry in entries] == [
        ("Alice", "A SIM of this number was used in the network for the first time")
    ]
    # Linked to the handset sensor only when enabled (it is not by default).
    assert "entity_id" not in entries[0]
    device_id = device_id_of(hass, entry, ALICE)
    assert messages(await logbook_entries(device_ids=[device_id])) == messages(entries)
    assert imsi not in repr(entries)
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_a_hidden_caller_stays_hidden(
    hass: HomeAssistant,
    logbook_entries: Entries,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
) -> None:
    """Bob is in the phonebook but hid his number: neither his name nor number shows."""
    entry = await connected(hass, config_entry)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call(
                "c1",
                ["CALL_INITIATED", "CALL_RINGING", "CALL_ANSWERED"],
                **INCOMING,
                hidden=True,
            ),
            voice("c1", "CALL_ENDED", **INCOMING, seconds=12),
            *call("c2", ["CALL_RINGING"], **INCOMING, start=20, hidden=True),
            # The rest of the call does not repeat the flag.
            *call("c2", ["CALL_FWD_VOICEMAIL", "CALL_ENDED"], **INCOMING, start=30),
            voicemail("vm1", from_number=BOB, to_number=ALICE, seconds=60),
        ],
    )
    entries = await logbook_entries()
    assert messages(entries) == [
        "Incoming call from a hidden number",
        "Ringing: call from a hidden number",
        "Call from a hidden number answered",
        "Call from a hidden number ended after 0:10",
        "Ringing: call from a hidden number",
        "Call from a hidden number forwarded to voicemail",
        "Missed call from a hidden number",
        "Call from a hidden number ended",
        "New voicemail from a hidden number",
    ]
    assert "Bob" not in repr(entries)
    assert BOB not in repr(entries)
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_what_the_events_leave_open(
    hass: HomeAssistant, logbook_entries: Entries, setup_integration: MockConfigEntry
) -> None:
    """Events with parts missing or unknown still read as sentences."""
    base = {"subscriber": ALICE, "device_id": None}
    for data in (
        {"type": "call_initiated", "direction": "outgoing", "to_number": None},
        {"type": "call_ringing", "direction": "incoming", "from_number": None},
        {"type": "sms_received", "from_address": None},
        {"type": "sms_delivery_report", "status": "rejected", "direction": "from_subscriber"},
        # A report of an SMS to the subscriber.
        {"type": "sms_delivery_report", "status": "delivered", "to_address": ALICE},
        {"type": "roaming_country_changed", "current": {"code": "DK", "name": ""}},
        {"type": "roaming_country_changed", "current": {"code": "NO", "name": "Norway"}},
        {"type": "roaming_country_changed", "current": None, "roaming": None},
        {
            "type": "roaming_country_changed",
            "previous": None,
            "current": {"code": "NO", "name": "Norway"},
            "roaming": False,
        },
        {"type": "location_updated", "current": {"mme": "mme1.example.net", "vlr": "4790"}},
        {"type": "location_updated", "current": None},
        {"type": "location_updated", "current": {"msc": None, "vlr": None, "mme": None}},
        {
            "type": "handset_changed",
            "previous": {"imei": "356938035643809", "software_version": "01"},
            "current": {"imei": "356938035643809", "software_version": "02"},
        },
        {"type": "handset_changed", "current": None},
        {"type": "call_ended", "direction": "incoming", "from_number": BOB, "duration": None},
        {"type": "some_future_type"},
    ):
        hass.bus.async_fire(EVENT_WGTWO, base | data)
    entries = await logbook_entries()
    assert messages(entries) == [
        "Calling an unknown number",
        "Ringing: call from a hidden number",
        "SMS received from an unknown number",
        "Delivery report for the SMS to an unknown number: status unknown",
        f"SMS to {ALICE} delivered",
        "Now in DK",
        "Now in Norway",
        "Country no longer known",
        "At home in Norway",
        "Served by network node mme1.example.net",
        "Serving network node no longer known",
        "Serving network node no longer known",
        "Handset software updated to version 02",
        "Handset no longer known",
        f"Call from {BOB} ended",
        "Event some_future_type",
    ]
    # No device: named from the phonebook, linked to no entity.
    assert {(entry["name"], entry.get("entity_id")) for entry in entries} == {("Alice", None)}


async def test_saving_options_is_not_shown_as_a_lost_connection(
    hass: HomeAssistant,
    logbook_entries: Entries,
    hass_ws_client: WebSocketGenerator,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
) -> None:
    """The reload that saving options starts is no disconnection, in the states or Activity."""
    change_settings(hass, disconnect_grace=15.0)  # the default
    await async_setup_entry_and_connect(hass, config_entry)
    connected = er.async_get(hass).async_get_entity_id(
        "binary_sensor", DOMAIN, f"{config_entry.entry_id}_connected"
    )
    assert connected is not None
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    before = dt_util.utcnow()
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)

    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "general"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_EVENT_TYPES: list(ALL_EVENT_TYPES),
            CONF_PHONEBOOK: "+4799900002 = Bob",
            CONF_SHARE_SMS_TEXT: False,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await wait_connected(hass, config_entry)

    shown = [
        event.data["new_state"].state if event.data["new_state"] else None
        for event in changes
        if event.data["entity_id"] == connected
    ]
    # Home Assistant marks every entity of a reloading entry unavailable for the moment it
    # takes; the sensor never says the connection was lost.
    assert STATE_OFF not in shown
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    client = await hass_ws_client()
    await async_wait_recording_done(hass)
    await client.send_json_auto_id(
        {
            "type": "logbook/get_events",
            "start_time": before.isoformat(),
            "entity_ids": [connected],
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    assert STATE_OFF not in [entry.get("state") for entry in response["result"]]
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


async def test_entry_names_the_device_as_the_user_named_it(
    hass: HomeAssistant,
    logbook_entries: Entries,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
) -> None:
    entry = await connected(hass, config_entry)
    await publish_and_wait(hass, auth_sandbox, entry, call("c1", ["CALL_RINGING"], **INCOMING))
    device_id = device_id_of(hass, entry, ALICE)
    dr.async_get(hass).async_update_device(device_id, name_by_user="Work phone")
    # A number revoked without a device, and not in the phonebook: its number names it.
    hass.bus.async_fire(
        EVENT_WGTWO, {"type": "consent_revoked", "subscriber": CAROL, "device_id": None}
    )
    entries = await logbook_entries()
    assert [(entry["name"], entry["message"]) for entry in entries] == [
        ("Work phone", "Ringing: call from Bob"),
        (CAROL, "Consent revoked: this number's events are no longer shared"),
    ]
    await async_unload_and_wait(hass, entry, auth_sandbox)


def translated(language: str, key: str, **placeholders: str) -> str:
    """What the logbook should say: the language's sentence once translated, else English."""
    folder = Path(wgtwo_logbook.__file__).with_name("translations")
    for lang in (language, "en"):
        path = folder / f"{lang}.json"
        common = load_json_object(path).get("common", {}) if path.exists() else {}
        if isinstance(common, dict) and isinstance(text := common.get(key), str):
            return text.format(**placeholders)
    raise AssertionError(f"{key} is not in en.json")


async def test_german_falls_back_to_english_until_translated(
    hass: HomeAssistant,
    logbook_entries: Entries,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c1", ["CALL_FWD_VOICEMAIL", "CALL_ENDED"], **INCOMING)
    )
    # Set without the config update event: German is not loaded when the logbook asks,
    # so English it is for now (the load it starts is held until this read is over: the
    # logbook describes past events in another thread, which the load could overtake) ...
    hass.config.language = "de"
    assert not translation.async_translations_loaded(hass, {DOMAIN})
    release = asyncio.Event()
    load = translation.async_get_translations

    async def held_load(*args: Any) -> dict[str, str]:
        await release.wait()
        return await load(*args)

    monkeypatch.setattr(f"{wgtwo_logbook.__name__}.async_get_translations", held_load)
    assert messages(await logbook_entries()) == [
        "Call from Bob forwarded to voicemail",
        "Missed call from Bob",
        "Call from Bob ended",
    ]
    # ... and German is loaded for the next time: its sentences where translated.
    release.set()
    await hass.async_block_till_done()
    assert translation.async_translations_loaded(hass, {DOMAIN})
    assert messages(await logbook_entries()) == [
        translated("de", "logbook_call_forwarded_incoming", party="Bob"),
        translated("de", "logbook_call_missed", party="Bob"),
        translated("de", "logbook_call_ended_incoming", party="Bob"),
    ]

    # A German sentence is used; a broken or missing one is said in English.
    cached = translation.async_get_cached_translations
    prefix = f"component.{DOMAIN}.common."

    def with_german(
        hass: HomeAssistant, language: str, category: str, integration: str | None = None
    ) -> dict[str, str]:
        strings = dict(cached(hass, language, category, integration))
        if language == "de":
            strings[prefix + "logbook_call_missed"] = "Verpasster Anruf von {party}"
            strings[prefix + "logbook_call_forwarded_incoming"] = "Anruf von {anrufer} umgeleitet"
            strings.pop(prefix + "logbook_call_ended_incoming", None)
        return strings

    monkeypatch.setattr(wgtwo_logbook, "async_get_cached_translations", with_german)
    assert messages(await logbook_entries()) == [
        "Call from Bob forwarded to voicemail",
        "Verpasster Anruf von Bob",
        "Call from Bob ended",
    ]


async def test_language_changed_in_the_settings(
    hass: HomeAssistant,
    logbook_entries: Entries,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
) -> None:
    """The sentences follow a language chosen in the settings."""
    entry = setup_integration
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    await hass.config.async_update(language="de")
    # Home Assistant loads the new language in a task of its own, if at all by now; should
    # it be missing, describing an event asks for it (and says it in English meanwhile).
    await logbook_entries()
    await wait_for(lambda: translation.async_translations_loaded(hass, {DOMAIN}))
    assert messages(await logbook_entries()) == [
        translated("de", "logbook_voicemail_new", party="Bob")
    ]


async def test_without_any_translation_the_key_is_shown(
    hass: HomeAssistant,
    logbook_entries: Entries,
    setup_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wgtwo_logbook, "async_get_cached_translations", lambda *_: {})
    hass.bus.async_fire(EVENT_WGTWO, {"type": "consent_revoked", "subscriber": ALICE})
    assert messages(await logbook_entries()) == ["logbook_consent_revoked"]


def test_durations_read_like_a_clock() -> None:
    assert [format_duration(s) for s in (0, 0.4, 9.6, 65, 3599.4, 3725, -3)] == [
        "0:00",
        "0:00",
        "0:10",
        "1:05",
        "59:59",
        "1:02:05",
        "0:00",
    ]


def test_logbook_sentences_are_valid_translations() -> None:
    """What hassfest checks of ``common``: slug keys, trimmed texts, no HTML; one section."""
    path = Path(wgtwo_logbook.__file__).with_name("strings.json")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"a key comes twice: {sorted(keys)}"
        return dict(pairs)

    # A section given twice would hide one of them: the last one wins in JSON.
    common = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)["common"]
    assert isinstance(common, dict)
    logbook_keys = [key for key in common if key.startswith("logbook_")]
    assert logbook_keys
    for key in logbook_keys:
        text = common[key]
        assert isinstance(text, str)
        assert key == key.lower()
        assert key.replace("_", "").isalnum()
        assert text == text.strip()
        assert "'{" not in text
        assert "<" not in text
