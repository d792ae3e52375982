"""A new user's way through the integration in a real browser, step by step.

The steps run in order on one page and build on each other: the entry the config flow
creates is the one the options flow changes, the first event creates the device whose page
stays open for the next one. Expected texts come from the integration's English
translations, so a changed string changes what is looked for, not the test.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from playwright.async_api import Locator, expect

from tests.integration.wgtwo_events import Parties, call, voice, voicemail

from .conftest import STRINGS, Journey

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALICE: Final = "+4791234567"
BOB: Final = "+4798765432"
PHONEBOOK: Final = f"{ALICE} = Alice\n{BOB} = Bob"
BROKEN_LINE: Final = f"Bob {BOB}"
CLIENT_ID: Final = "demo-client"
CLIENT_SECRET: Final = "demo-secret"
FIRST_CALL: Final[Parties] = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
# Home Assistant's own words, not the integration's.
OPTIONS_SAVED: Final = "Options successfully saved."


def text(*path: str, **placeholders: str) -> str:
    """Return an English string of the integration, its placeholders filled."""
    value: Any = STRINGS
    for key in path:
        value = value[key]
    return str(value).format(**placeholders)


def entity_name(platform: str, key: str) -> str:
    """Return an entity's translated name."""
    return text("entity", platform, key, "name")


def call_state(state: str) -> str:
    """Return a translated state of the call state sensor."""
    return text("entity", "sensor", "call_state", "state", state)


def error_alert(journey: Journey, message: str) -> Locator:
    """A form's error alert saying ``message`` (the text is slotted into ``ha-alert``)."""
    return journey.page.locator("ha-alert", has_text=message)


async def test_login(journey: Journey) -> None:
    """The user created by onboarding logs in through the login form."""
    page = journey.page
    await page.goto(journey.hass.url)
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await page.get_by_role("textbox", name="Username").fill("dev")
    await page.get_by_role("textbox", name="Password").fill("dev")
    await journey.shot("login")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("link", name="Settings")).to_be_visible()
    await journey.shot("overview")


async def test_add_integration(journey: Journey) -> None:
    """Add integration, custom server, a wrong secret (error shown, input kept), the right one."""
    page = journey.page
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name="Devices & services").click()
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_placeholder("Search for a brand name").fill("Working Group Two")
    await journey.shot("add-integration-search")
    await page.get_by_role("button", name="Working Group Two events").click()

    await expect(page.get_by_text(text("config", "step", "user", "title"))).to_be_visible()
    custom = text("selector", "environment", "options", "custom")
    await page.get_by_role("radio", name=custom).check()
    await journey.shot("environment")
    await page.get_by_role("button", name="Submit").click()

    field = text("config", "step", "custom", "data", "host")
    host = page.get_by_role("textbox", name=field)
    # The step's own field first: until it shows, the previous step's "Custom server" option
    # may still be on the page beside the new title.
    await expect(host).to_be_visible()
    await expect(page.get_by_text(text("config", "step", "custom", "title"))).to_be_visible()
    token_url = page.get_by_role(
        "textbox", name=text("config", "step", "custom", "data", "token_url")
    )
    client_id = page.get_by_role(
        "textbox", name=text("config", "step", "custom", "data", "client_id")
    )
    secret = page.get_by_role(
        "textbox", name=text("config", "step", "custom", "data", "client_secret")
    )
    plaintext = page.get_by_role("switch")
    await host.fill(f"127.0.0.1:{journey.sandbox.grpc_port}")
    # The switch's own input lies under its track; a person clicks the switch.
    await page.locator("ha-switch").click()
    await expect(plaintext).to_be_checked()
    await token_url.fill(f"{journey.sandbox.url}/oauth2/token")
    await client_id.fill(CLIENT_ID)
    await secret.fill("not-the-secret")
    await page.get_by_role("button", name="Submit").click()

    await expect(error_alert(journey, text("config", "error", "invalid_auth"))).to_be_visible()
    await expect(host).to_have_value(f"127.0.0.1:{journey.sandbox.grpc_port}")
    await expect(plaintext).to_be_checked()
    await expect(token_url).to_have_value(f"{journey.sandbox.url}/oauth2/token")
    await expect(client_id).to_have_value(CLIENT_ID)
    await expect(secret).to_have_value("not-the-secret")
    await journey.shot("wrong-secret")
    assert await journey.entries() == []

    await secret.fill(CLIENT_SECRET)
    await page.get_by_role("button", name="Submit").click()
    await expect(page.get_by_role("button", name="Skip and finish")).to_be_visible()
    await journey.shot("entry-created")
    await page.get_by_role("button", name="Skip and finish").click()
    entries = await journey.entries()
    assert [(entry["domain"], entry["state"]) for entry in entries] == [("wgtwo", "loaded")]


async def test_options_phonebook(journey: Journey) -> None:
    """Options menu, general: a broken phonebook line is named, a good phonebook is saved."""
    page = journey.page
    await page.get_by_role("link", name="Working Group Two events").first.click()
    await page.wait_for_url("**/config/integrations/integration/wgtwo**")
    await page.get_by_role("button", name="Configure").click()
    await expect(page.get_by_text(text("options", "step", "init", "description"))).to_be_visible()
    await journey.shot("options-menu")
    await page.get_by_text(text("options", "step", "init", "menu_options", "general")).click()

    phonebook = page.get_by_role(
        "textbox", name=text("options", "step", "general", "data", "phonebook")
    )
    await phonebook.fill(f"{ALICE} = Alice\n{BROKEN_LINE}")
    await page.get_by_role("button", name="Submit").click()
    broken = text("options", "error", "invalid_phonebook_line", line=BROKEN_LINE)
    await expect(error_alert(journey, broken)).to_be_visible()
    await journey.shot("options-broken-phonebook")

    connected = await journey.connected_sensor()
    before = datetime.now(UTC)
    await phonebook.fill(PHONEBOOK)
    await page.get_by_role("button", name="Submit").click()
    await expect(page.get_by_text(OPTIONS_SAVED)).to_be_visible()
    await journey.shot("options-saved")
    await page.get_by_role("button", name="Finish").click()

    # Saving reloaded the entry: the Connected sensor's history since then has it back on,
    # and never "Disconnected" (Home Assistant's own "Unavailable" while it reloads aside).
    states: list[str] = []
    deadline = time.monotonic() + 60
    while not ("unavailable" in states and states[-1] == "on"):
        assert time.monotonic() < deadline, states
        states = await journey.history(connected, before)
        await asyncio.sleep(0.5)
    assert "off" not in states, states


async def test_device_page_after_first_event(journey: Journey) -> None:
    """The first event creates the subscriber's device, named from the phonebook."""
    page = journey.page
    await journey.publish(voice("call-1", "CALL_RINGING", **FIRST_CALL))
    device = page.get_by_role("button", name=re.compile(r"^Alice Mobile subscription"))
    await expect(device).to_be_visible()
    await device.click()
    await page.wait_for_url("**/config/devices/device/**")
    for platform, key in (
        ("sensor", "call_state"),
        ("sensor", "last_caller"),
        ("sensor", "missed_calls"),
        ("binary_sensor", "new_voicemail"),
        ("select", "call_forwarding"),
        ("button", "reset_missed_calls"),
    ):
        await expect(page.get_by_text(entity_name(platform, key)).first).to_be_visible()
    await expect(row(journey, "call_state")).to_contain_text(call_state("ringing"))
    await journey.shot("device-page")


def row(journey: Journey, key: str) -> Locator:
    """The device page's row of a sensor."""
    return journey.page.locator("hui-sensor-entity-row", has_text=entity_name("sensor", key))


async def test_call_state_follows_an_event_within_2_s(journey: Journey) -> None:
    """An event posted to the sandbox changes "Call state" on the open device page."""
    started = time.monotonic()
    await journey.publish(voice("call-1", "CALL_ANSWERED", **FIRST_CALL, seconds=5))
    await expect(row(journey, "call_state")).to_contain_text(call_state("talking"), timeout=2000)
    assert time.monotonic() - started < 2.0
    await journey.shot("call-state-talking")


def forwarding(option: str) -> str:
    """Return a translated option of the call forwarding select."""
    return text("entity", "select", "call_forwarding", "state", option)


async def test_call_forwarding_select_shows_only_what_the_operator_accepted(
    journey: Journey,
) -> None:
    """Voicemail is accepted; a number is refused (none in the options), worded for the select.

    The refused option is taken back by the time the error shows.
    """
    page = journey.page
    row = page.locator("hui-select-entity-row", has_text=entity_name("select", "call_forwarding"))
    select = row.locator("ha-select")
    await select.click()
    await page.get_by_role("menuitem", name=forwarding("voicemail")).click()
    await expect(select).to_have_js_property("value", "voicemail")
    await journey.shot("forwarding-voicemail")

    await select.click()
    await page.get_by_role("menuitem", name=forwarding("number")).click()
    missing = text("exceptions", "forwarding_number_missing_select", "message", name="Alice")
    toast = page.locator("span.message", has_text=missing)
    await expect(toast).to_be_visible()
    assert "action" not in missing
    # Read once, as the error shows: the option that holds, not the refused one.
    assert await select.evaluate("element => element.value") == "voicemail"
    await journey.shot("forwarding-refused")


async def test_logbook_names_the_missed_call(journey: Journey) -> None:
    """A missed call from Bob reads as a sentence on the Activity page."""
    page = journey.page
    await journey.publish(
        [
            voice("call-1", "CALL_ENDED", **FIRST_CALL, seconds=9),
            *call("call-2", ["CALL_RINGING", "CALL_ENDED"], **FIRST_CALL, start=20),
        ]
    )
    await expect(row(journey, "call_state")).to_contain_text(call_state("idle"))
    device_page = page.url
    await page.get_by_role("link", name="Activity").click()
    await page.wait_for_url("**/logbook**")
    await expect(
        page.get_by_text(text("common", "logbook_call_missed", party="Bob"))
    ).to_be_visible()
    await journey.shot("logbook-missed-call")

    # The device page's Activity link: Activity filtered to Alice's device lists the
    # sentences too, each event once.
    device_id = device_page.rstrip("/").rsplit("/", 1)[-1]
    await page.goto(f"{journey.hass.url}/logbook?device_id={device_id}&back=1")
    missed = text("common", "logbook_call_missed", party="Bob")
    await expect(page.get_by_text(missed)).to_be_visible()
    for sentence in (
        missed,
        text("common", "logbook_call_answered_incoming", party="Bob"),
    ):
        await expect(page.get_by_text(sentence)).to_have_count(1)
    await journey.shot("device-activity")


async def test_voicemail_plays_from_media(journey: Journey) -> None:
    """Media, Working Group Two, Alice: Bob's new voicemail plays in the browser."""
    page = journey.page
    await journey.publish(voicemail("vm-1", from_number=BOB, to_number=ALICE, seconds=40))
    await page.get_by_role("link", name="Media").click()
    await page.locator("ha-card", has_text="Working Group Two").click()
    await page.locator("ha-card", has_text="Alice").click()
    await expect(page.get_by_role("heading", name="Alice")).to_be_visible()
    # The title up to the time, e.g. "New · Bob · ": the caller named from the phonebook.
    template = str(STRINGS["common"]["voicemail_title_unplayed"])
    title = template.split("{time}")[0].format(caller="Bob")
    item = page.get_by_text(re.compile("^" + re.escape(title)))
    await expect(item.first).to_be_visible()
    await journey.shot("media-voicemails")
    async with page.expect_response(
        lambda response: "/api/wgtwo/voicemail/" in response.url
    ) as audio:
        await page.get_by_role("button", name="Play media").click()
    response = await audio.value
    assert response.status == 200
    assert response.headers["content-type"] == "audio/wav"
    # The player bar shows the voicemail playing: a pause button, and the position moves on.
    await expect(page.get_by_role("button", name="Pause")).to_be_visible()
    await expect(page.get_by_text("00:01", exact=True)).to_be_visible(timeout=5000)
    await journey.shot("voicemail-playing")
