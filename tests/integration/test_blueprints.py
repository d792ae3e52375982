"""The automation blueprints in blueprints/automation/wgtwo, run by Home Assistant.

Each blueprint is copied into the test instance's blueprint folder, an automation is created
from it with inputs, and events published to the sandbox (over loopback gRPC) drive it; the
service calls it makes are recorded. The phone is a mobile_app device whose notify action
(``notify.mobile_app_<device name>``, as the app registers it) records what it is sent.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pytest
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import importer
from homeassistant.components.blueprint.errors import MissingInput
from homeassistant.components.blueprint.models import BlueprintInputs
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr, selector
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    async_mock_service,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import CONF_PHONEBOOK, DOMAIN
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    entry_options,
    hub_of,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import ALICE, BOB, CAROL, Parties, call, country, handset, voicemail

REPO: Final = Path(__file__).resolve().parents[2]
BLUEPRINTS: Final = REPO / "blueprints" / "automation" / "wgtwo"
RAW_URL: Final = (
    "https://raw.githubusercontent.com/wgtwo-ha/wgtwo/main/blueprints/automation/wgtwo/"
)

INCOMING: Final[Parties] = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
OUTGOING: Final[Parties] = {"from_number": ALICE, "to_number": BOB, "owner": ALICE}
# Carol hides her number when she calls.
HIDDEN: Final[Parties] = {"from_number": CAROL, "to_number": ALICE, "owner": ALICE}
IMPORT_URL: Final = "https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url="
PHONE_NAME: Final = "Pixel 9 Pro"
NOTIFY_SERVICE: Final = "mobile_app_pixel_9_pro"


# -- the test instance -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def blueprint_folder(hass: HomeAssistant, tmp_path: Path) -> Path:
    """Give the instance its own configuration folder holding our blueprints."""
    hass.config.config_dir = str(tmp_path)
    target = Path(hass.config.path("blueprints/automation/wgtwo"))
    shutil.copytree(BLUEPRINTS, target)
    return target


async def subscriber_entry(
    hass: HomeAssistant, server: SandboxServer, phonebook: dict[str, str] | None = None
) -> tuple[MockConfigEntry, str]:
    """A connected entry with Alice's device (made by a first event); the device id."""
    entry = make_entry(server, options=entry_options(**{CONF_PHONEBOOK: phonebook or {}}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(hass, server, entry, [handset(ALICE, "350000000000002")])
    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    return entry, device.id


async def publish(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, events: list[Any]
) -> None:
    """Publish events through the sandbox; return once the integration handled them.

    Unlike ``publish_and_wait`` this does not wait for every task: an automation from a
    blueprint may be waiting for the end of a call.
    """
    hub = hub_of(entry)
    before = hub.events_handled
    await server.publish(events)
    await wait_for(lambda: hub.events_handled >= before + len(events))


async def use_blueprint(hass: HomeAssistant, path: str, inputs: dict[str, Any]) -> str:
    """Create one automation from a blueprint; fail unless it is valid. Its entity id."""
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "id": "from_blueprint",
                    "alias": "From blueprint",
                    "use_blueprint": {"path": f"wgtwo/{path}", "input": inputs},
                }
            ]
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("automation.from_blueprint")
    assert state is not None
    assert state.state == STATE_ON, state.attributes
    return state.entity_id


# -- a phone with the Home Assistant app ------------------------------------------------


@pytest.fixture
def phone(hass: HomeAssistant) -> str:
    """A phone's mobile_app device, named as the app registers it; its device id."""
    entry = MockConfigEntry(domain="mobile_app", title=PHONE_NAME)
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={("mobile_app", "phone-1")},
        name=PHONE_NAME,
        manufacturer="Google",
        model="Pixel 9",
    )
    # Renaming it in Home Assistant leaves the app's notify action as it is.
    dr.async_get(hass).async_update_device(device.id, name_by_user="My phone")
    return device.id


@pytest.fixture
def pushes(hass: HomeAssistant) -> list[ServiceCall]:
    """What the phone's notify action is asked to show."""
    calls: list[ServiceCall] = async_mock_service(hass, "notify", NOTIFY_SERVICE)
    return calls


def notification(push: ServiceCall) -> dict[str, Any]:
    """Title, message and data of one notification."""
    return dict(push.data)


# -- every blueprint -----------------------------------------------------------------------


def blueprint_files() -> list[str]:
    return sorted(path.name for path in BLUEPRINTS.glob("*.yaml"))


async def test_every_blueprint_is_valid_and_tested(hass: HomeAssistant) -> None:
    """Each file loads as an automation blueprint, its defaults fit its selectors, and it
    has a test here named after it."""
    files = blueprint_files()
    assert files, "no blueprints found"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tests = {name for name in globals() if name.startswith("test_")}
    for name in files:
        stem = name.removesuffix(".yaml")
        assert any(test.startswith(f"test_{stem}") for test in tests), f"{name} has no test"
        blueprint = await async_get_blueprints(hass).async_get_blueprint(f"wgtwo/{name}")
        assert blueprint.domain == "automation"
        assert blueprint.validate() is None
        assert blueprint.metadata["source_url"] == RAW_URL + name
        # The README's import button points at the same file.
        assert IMPORT_URL + quote(RAW_URL + name, safe="") + ")" in readme, name
        assert blueprint.metadata["description"]
        for key, spec in blueprint.inputs.items():
            assert spec.get("name"), f"{name}: input {key} has no name"
            if "default" in spec:
                validate: Any = selector.selector(spec["selector"])
                validate(spec["default"])
        # The subscriber is always the user's to pick: no automation without it.
        assert "default" not in blueprint.inputs["subscriber"]
        missing = BlueprintInputs(blueprint, {"use_blueprint": {"path": name, "input": {}}})
        with pytest.raises(MissingInput, match="subscriber"):
            missing.validate()


async def test_every_blueprint_imports_from_its_url(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """The import button's URL gives Home Assistant's importer the blueprint as it is here."""
    for name in blueprint_files():
        text = (BLUEPRINTS / name).read_text(encoding="utf-8")
        aioclient_mock.get(RAW_URL + name, text=text)
        imported = await importer.fetch_blueprint_from_url(hass, RAW_URL + name)
        assert imported.raw_data == text
        assert imported.suggested_filename == "wgtwo-ha/" + name.removesuffix(".yaml")
        assert imported.blueprint.domain == "automation"
        assert imported.blueprint.metadata["source_url"] == RAW_URL + name


# -- ring_lights ---------------------------------------------------------------------------


async def test_ring_lights_flash_until_answered(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox)
    created = async_mock_service(hass, "scene", "create")
    restored = async_mock_service(hass, "scene", "turn_on")
    lights_on = async_mock_service(hass, "light", "turn_on")
    lights_off = async_mock_service(hass, "light", "turn_off")
    automation = await use_blueprint(
        hass,
        "ring_lights.yaml",
        {
            "subscriber": alice,
            "lights": ["light.hall", "light.porch"],
            "ring_mode": "flash",
            "flash_interval": 0.5,
        },
    )
    scene_id = "wgtwo_ring_lights_" + automation.split(".")[1]

    await publish(hass, auth_sandbox, entry, call("c1", ["CALL_RINGING"], **INCOMING))
    await wait_for(lambda: len(lights_on) >= 2 and len(lights_off) >= 1)
    assert [call.data for call in created] == [
        {"scene_id": scene_id, "snapshot_entities": ["light.hall", "light.porch"]}
    ]
    assert restored == []
    # On and off in turn, all lights together.
    assert lights_on[0].data["entity_id"] == ["light.hall", "light.porch"]
    assert lights_off[0].data["entity_id"] == ["light.hall", "light.porch"]
    assert lights_on[0].context.id == lights_off[0].context.id

    await publish(hass, auth_sandbox, entry, call("c1", ["CALL_ANSWERED"], start=1, **INCOMING))
    await wait_for(lambda: len(restored) == 1)
    assert restored[0].data["entity_id"] == [f"scene.{scene_id}"]
    steps = len(lights_on) + len(lights_off)
    # Once restored, flashing has stopped (two more intervals pass without a step).
    await asyncio.sleep(1.1)
    assert len(lights_on) + len(lights_off) == steps
    assert abs(len(lights_on) - len(lights_off)) <= 1


async def test_ring_lights_on_until_missed_and_only_for_incoming(
    hass: HomeAssistant, auth_sandbox: SandboxServer, quick_missed_calls: None
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox)
    created = async_mock_service(hass, "scene", "create")
    restored = async_mock_service(hass, "scene", "turn_on")
    lights_on = async_mock_service(hass, "light", "turn_on")
    lights_off = async_mock_service(hass, "light", "turn_off")
    await use_blueprint(
        hass,
        "ring_lights.yaml",
        {"subscriber": alice, "lights": ["light.hall"], "ring_mode": "on"},
    )
    bus = async_capture_events(hass, "wgtwo_event")

    # Alice calling out does not ring.
    await publish(hass, auth_sandbox, entry, call("out", ["CALL_INITIATED"], **OUTGOING))
    await hass.async_block_till_done()
    assert created == []
    assert lights_on == []

    # A call initiated and then ringing turns the lights on once, until it is over. Its id
    # looks like a number: it is still matched as text.
    ringing = "20261127100002"
    await publish(
        hass, auth_sandbox, entry, call(ringing, ["CALL_INITIATED", "CALL_RINGING"], **INCOMING)
    )
    await wait_for(lambda: len(lights_on) == 1)
    assert lights_on[0].data == {"entity_id": ["light.hall"]}
    assert len(created) == 1
    # Alice's own call ending meanwhile is not the end of the ringing one.
    await publish(hass, auth_sandbox, entry, call("out", ["CALL_ENDED"], start=1, **OUTGOING))
    await asyncio.sleep(0.2)
    assert restored == []
    await publish(hass, auth_sandbox, entry, call(ringing, ["CALL_ENDED"], start=2, **INCOMING))
    await wait_for(lambda: len(restored) == 1)
    assert lights_off == []
    assert len(lights_on) == 1
    # Its call_missed follows 50 ms after the end: let it pass before the next call.
    await wait_for(lambda: any(event.data["type"] == "call_missed" for event in bus))

    # The next call rings again.
    await publish(hass, auth_sandbox, entry, call("c3", ["CALL_RINGING"], start=10, **INCOMING))
    await wait_for(lambda: len(lights_on) == 2)
    await publish(
        hass, auth_sandbox, entry, call("c3", ["CALL_FWD_VOICEMAIL"], start=12, **INCOMING)
    )
    await wait_for(lambda: len(restored) == 2)


# -- missed_call_notify --------------------------------------------------------------------


async def test_missed_call_notify_names_the_caller(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    pushes: list[ServiceCall],
    phone: str,
    quick_missed_calls: None,
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox, {ALICE: "Alice", BOB: "Bob"})
    await use_blueprint(
        hass, "missed_call_notify.yaml", {"subscriber": alice, "notify_device": phone}
    )

    await publish(hass, auth_sandbox, entry, call("c1", ["CALL_RINGING", "CALL_ENDED"], **INCOMING))
    await wait_for(lambda: len(pushes) == 1)
    push = pushes[0]
    assert notification(push) == {
        "title": "Alice: missed call",
        "message": "Missed call from Bob",
        "data": {"tag": "wgtwo-call-c1", "group": "wgtwo"},
    }

    # An answered call is not missed.
    await publish(
        hass,
        auth_sandbox,
        entry,
        call("c2", ["CALL_RINGING", "CALL_ANSWERED", "CALL_ENDED"], start=10, **INCOMING),
    )
    await hass.async_block_till_done()
    assert len(pushes) == 1


async def test_missed_call_notify_hidden_and_unnamed_callers(
    hass: HomeAssistant, auth_sandbox: SandboxServer, pushes: list[ServiceCall], phone: str
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox)
    await use_blueprint(
        hass, "missed_call_notify.yaml", {"subscriber": alice, "notify_device": phone}
    )

    # Forwarded to voicemail: missed at once. The number is not in the phonebook.
    await publish(
        hass, auth_sandbox, entry, call("c1", ["CALL_RINGING", "CALL_FWD_VOICEMAIL"], **INCOMING)
    )
    await wait_for(lambda: len(pushes) == 1)
    assert pushes[0].data["message"] == f"Missed call from {BOB}"
    assert pushes[0].data["title"] == f"{ALICE}: missed call"

    await publish(
        hass,
        auth_sandbox,
        entry,
        call("c2", ["CALL_RINGING", "CALL_FWD_VOICEMAIL"], start=10, **HIDDEN, hidden=True),
    )
    await wait_for(lambda: len(pushes) == 2)
    assert pushes[1].data["message"] == "Missed call from a hidden number"
    assert CAROL not in str(pushes[1].data)

    # The caller who hid the number leaves a voicemail: still hidden.
    await publish(
        hass, auth_sandbox, entry, [voicemail("vm-1", from_number=CAROL, to_number=ALICE)]
    )
    await wait_for(lambda: len(pushes) == 3)
    assert notification(pushes[2]) == {
        "title": f"{ALICE}: new voicemail",
        "message": "New voicemail from a hidden number",
        "data": {
            "tag": "wgtwo-voicemail-vm-1",
            "group": "wgtwo",
            "audio": audio_path(voicemail_media_id(hass)),
        },
    }
    assert CAROL not in str(pushes[2].data)


async def test_missed_call_notify_voicemail_only(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    auth_sandbox: SandboxServer,
    pushes: list[ServiceCall],
    phone: str,
    quick_missed_calls: None,
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox, {BOB: "Bob"})
    played = async_mock_service(hass, "media_player", "play_media")
    await use_blueprint(
        hass,
        "missed_call_notify.yaml",
        {
            "subscriber": alice,
            "notify_device": phone,
            "missed_calls": False,
            "voicemail_player": ["media_player.kitchen"],
        },
    )

    await publish(
        hass, auth_sandbox, entry, call("c1", ["CALL_RINGING", "CALL_FWD_VOICEMAIL"], **INCOMING)
    )
    await publish(hass, auth_sandbox, entry, [voicemail("vm-2", from_number=BOB, to_number=ALICE)])
    await wait_for(lambda: len(pushes) == 1)
    push = pushes[0]
    assert push.data["title"] == f"{ALICE}: new voicemail"
    assert push.data["message"] == "New voicemail from Bob"
    media_content_id = voicemail_media_id(hass)
    assert push.data["data"]["audio"] == audio_path(media_content_id)
    # The app fetches that path with its login, as this client does: the voicemail's WAV.
    client = await hass_client()
    response = await client.get(push.data["data"]["audio"])
    assert response.status == 200
    assert response.content_type == "audio/wav"
    assert await response.read() == auth_sandbox.voicemails.voicemails["vm-2"].wav
    await wait_for(lambda: len(played) == 1)
    assert played[0].data == {
        "entity_id": ["media_player.kitchen"],
        "media_content_id": media_content_id,
        "media_content_type": "music",
    }


def voicemail_media_id(hass: HomeAssistant) -> str:
    """The media_content_id the voicemail event entity got for the last voicemail."""
    states = [state for state in hass.states.async_all("event") if "voicemail" in state.entity_id]
    assert len(states) == 1
    media_content_id = states[0].attributes.get("media_content_id")
    assert isinstance(media_content_id, str), "voicemail events carry no media_content_id yet"
    assert media_content_id.startswith("media-source://wgtwo/")
    return media_content_id


def audio_path(media_content_id: str) -> str:
    """The path of the integration's voicemail view for a voicemail's media id."""
    return media_content_id.replace("media-source://wgtwo/", "/api/wgtwo/voicemail/", 1)


# -- roaming_notify ------------------------------------------------------------------------


async def test_roaming_notify_trip(
    hass: HomeAssistant, auth_sandbox: SandboxServer, pushes: list[ServiceCall], phone: str
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox, {ALICE: "Alice"})
    await use_blueprint(hass, "roaming_notify.yaml", {"subscriber": alice, "notify_device": phone})

    # The first country ever seen, at home: nothing to tell.
    await publish(hass, auth_sandbox, entry, [country(ALICE, "NO", "Norway", seconds=-60)])
    await hass.async_block_till_done()
    assert pushes == []

    await publish(
        hass, auth_sandbox, entry, [country(ALICE, "SE", "Sweden", previous=("NO", "Norway"))]
    )
    await wait_for(lambda: len(pushes) == 1)
    assert notification(pushes[0]) == {
        "title": "Alice: roaming",
        "message": "Roaming in Sweden",
        "data": {"tag": f"wgtwo-roaming-{alice}", "group": "wgtwo"},
    }
    await publish(
        hass,
        auth_sandbox,
        entry,
        [country(ALICE, "DK", "Denmark", previous=("SE", "Sweden"), seconds=60)],
    )
    await wait_for(lambda: len(pushes) == 2)
    assert pushes[1].data["message"] == "Roaming in Denmark"
    await publish(
        hass,
        auth_sandbox,
        entry,
        [country(ALICE, "NO", "Norway", previous=("DK", "Denmark"), seconds=120)],
    )
    await wait_for(lambda: len(pushes) == 3)
    assert pushes[2].data["title"] == "Alice: back home"
    assert pushes[2].data["message"] == "Back home in Norway"

    # The same country again is no news.
    await publish(
        hass,
        auth_sandbox,
        entry,
        [country(ALICE, "NO", "Norway", previous=("NO", "Norway"), seconds=180)],
    )
    await hass.async_block_till_done()
    assert len(pushes) == 3


async def test_roaming_notify_without_back_home(
    hass: HomeAssistant, auth_sandbox: SandboxServer, pushes: list[ServiceCall], phone: str
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox)
    await use_blueprint(
        hass,
        "roaming_notify.yaml",
        {"subscriber": alice, "notify_device": phone, "back_home": False},
    )
    await publish(
        hass,
        auth_sandbox,
        entry,
        [
            country(ALICE, "SE", "Sweden", previous=("NO", "Norway")),
            country(ALICE, "NO", "Norway", previous=("SE", "Sweden"), seconds=60),
        ],
    )
    await wait_for(lambda: len(pushes) == 1)
    await hass.async_block_till_done()
    assert [push.data["message"] for push in pushes] == ["Roaming in Sweden"]
    assert pushes[0].data["title"] == f"{ALICE}: roaming"


# -- announce_caller -----------------------------------------------------------------------


async def test_announce_caller_pauses_and_resumes(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox, {BOB: "Bob"})
    spoken = async_mock_service(hass, "tts", "speak")
    paused = async_mock_service(hass, "media_player", "media_pause")
    resumed = async_mock_service(hass, "media_player", "media_play")
    hass.states.async_set("media_player.kitchen", "playing")
    await use_blueprint(
        hass,
        "announce_caller.yaml",
        {
            "subscriber": alice,
            "media_player": "media_player.kitchen",
            "tts_entity": "tts.piper",
        },
    )

    number_like = "4700000001"
    await publish(hass, auth_sandbox, entry, call(number_like, ["CALL_RINGING"], **INCOMING))
    await wait_for(lambda: len(spoken) == 1)
    assert [call.data for call in paused] == [{"entity_id": ["media_player.kitchen"]}]
    assert spoken[0].data == {
        "entity_id": ["tts.piper"],
        "media_player_entity_id": "media_player.kitchen",
        "message": "Call from Bob",
    }
    # Still paused while the call goes on.
    await publish(
        hass, auth_sandbox, entry, call(number_like, ["CALL_ANSWERED"], start=1, **INCOMING)
    )
    # Another call of Alice's ending (one she made meanwhile) is not this one.
    await publish(hass, auth_sandbox, entry, call("other", ["CALL_ENDED"], start=5, **OUTGOING))
    await asyncio.sleep(0.2)
    assert resumed == []
    await publish(
        hass, auth_sandbox, entry, call(number_like, ["CALL_ENDED"], start=30, **INCOMING)
    )
    await wait_for(lambda: len(resumed) == 1)
    assert resumed[0].data == {"entity_id": ["media_player.kitchen"]}


async def test_announce_caller_number_or_hidden_when_idle(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox)
    spoken = async_mock_service(hass, "tts", "speak")
    paused = async_mock_service(hass, "media_player", "media_pause")
    resumed = async_mock_service(hass, "media_player", "media_play")
    hass.states.async_set("media_player.kitchen", "idle")
    await use_blueprint(
        hass,
        "announce_caller.yaml",
        {
            "subscriber": alice,
            "media_player": "media_player.kitchen",
            "tts_entity": "tts.piper",
            "announcement": "Anrop fra",
        },
    )

    await publish(hass, auth_sandbox, entry, call("c1", ["CALL_INITIATED"], **INCOMING))
    await wait_for(lambda: len(spoken) == 1)
    assert spoken[0].data["message"] == "Anrop fra " + " ".join(BOB)
    await publish(hass, auth_sandbox, entry, call("c1", ["CALL_ENDED"], start=5, **INCOMING))

    await publish(
        hass, auth_sandbox, entry, call("c2", ["CALL_RINGING"], start=10, **HIDDEN, hidden=True)
    )
    await wait_for(lambda: len(spoken) == 2)
    assert spoken[1].data["message"] == "Anrop fra a hidden number"
    await publish(
        hass, auth_sandbox, entry, call("c2", ["CALL_ENDED"], start=15, **HIDDEN, hidden=True)
    )
    await hass.async_block_till_done()
    # Nothing was playing: nothing paused, nothing resumed.
    assert paused == []
    assert resumed == []


# -- doorbell_mms ----------------------------------------------------------------------------


def ring(hass: HomeAssistant, sensor: str) -> None:
    """Ring the doorbell sensor once (off, then on)."""
    hass.states.async_set(sensor, "off")
    hass.states.async_set(sensor, "on")


async def minute_passes(hass: HomeAssistant) -> None:
    """Let the blueprint's minute after a picture pass, and what it held run to its end."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done()


async def test_doorbell_mms_sends_the_snapshot_to_each_subscriber_at_most_once_a_minute(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry, alice = await subscriber_entry(hass, auth_sandbox)
    await publish(hass, auth_sandbox, entry, [handset(BOB, "350000000000003")])
    bob = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_{BOB}"), entry.entry_id
    )
    assert bob is not None
    sent = async_mock_service(hass, DOMAIN, "send_mms")
    hass.states.async_set("binary_sensor.doorbell", "off")
    await use_blueprint(
        hass,
        "doorbell_mms.yaml",
        {
            "subscriber": [alice, bob.id],
            "doorbell_sensor": ["binary_sensor.doorbell"],
            "camera": "camera.front_door",
        },
    )

    ring(hass, "binary_sensor.doorbell")
    await wait_for(lambda: len(sent) == 2)
    assert [call.data for call in sent] == [
        {
            "device_id": device,
            "sender": "Home",
            "message": "Someone is at the door.",
            "image": "camera.front_door",
        }
        for device in (alice, bob.id)
    ]
    # Rung again within the minute: that ring is dropped, not kept for later.
    ring(hass, "binary_sensor.doorbell")
    await minute_passes(hass)
    assert len(sent) == 2
    # A minute after the picture went: the next ring sends again.
    ring(hass, "binary_sensor.doorbell")
    await wait_for(lambda: len(sent) == 4)
    await minute_passes(hass)


async def test_doorbell_mms_from_an_event_entity_with_its_own_text(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    _, alice = await subscriber_entry(hass, auth_sandbox)
    sent = async_mock_service(hass, DOMAIN, "send_mms")
    hass.states.async_set("event.doorbell", "unknown")
    await use_blueprint(
        hass,
        "doorbell_mms.yaml",
        {
            "subscriber": alice,
            "doorbell_event": "event.doorbell",
            "camera": "camera.porch",
            "sender": "Hytta",
            "message": "Det ringer på døra.",
        },
    )

    hass.states.async_set("event.doorbell", "2026-05-01T10:00:00+00:00")
    await wait_for(lambda: len(sent) == 1)
    assert sent[0].data == {
        "device_id": alice,
        "sender": "Hytta",
        "message": "Det ringer på døra.",
        "image": "camera.porch",
    }
    await minute_passes(hass)
    # The entity becoming unavailable (and back) is no ring.
    hass.states.async_set("event.doorbell", "unavailable")
    hass.states.async_set("event.doorbell", "2026-05-01T10:00:00+00:00")
    await hass.async_block_till_done()
    assert len(sent) == 1
