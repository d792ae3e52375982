"""The text budget: at most so many texts per subscriber in any hour, whoever sends them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import grpc
import pytest
from freezegun import freeze_time
from homeassistant.components.notify.const import ATTR_MESSAGE, SERVICE_SEND_MESSAGE
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
    async_fire_time_changed_exact,
)

from custom_components.wgtwo.budget import budget_limit
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2
from custom_components.wgtwo.const import CONF_PHONEBOOK, CONF_SMS_BUDGET, DOMAIN
from custom_components.wgtwo.ids import number_key
from custom_components.wgtwo.origins import (
    UNKNOWN_ORIGIN,
    Origin,
    OriginKind,
    async_origin,
    origin_text,
)
from custom_components.wgtwo.repairs import budget_issue_id
from custom_components.wgtwo.storage import STORAGE_VERSION as FACTS_VERSION
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    wait_for,
)
from .test_sms import add_subscribers, send
from .wgtwo_events import ALICE, BOB, coordinator_of, device_id_of, entity_id

PHONEBOOK = {CONF_PHONEBOOK: {ALICE: "Alice", BOB: "Bob"}}
ID_SECRET = bytes(range(32))  # the entry's secret, stored before setup where a test needs it
ALICE_KEY = number_key(ID_SECRET, ALICE)  # what the budget store keeps


@pytest.fixture
def budget() -> int | None:
    """The entry's budget option (None: not set, the default)."""
    return 2


@pytest.fixture
def entry_options_override(budget: int | None) -> dict[str, Any]:
    return PHONEBOOK if budget is None else {**PHONEBOOK, CONF_SMS_BUDGET: budget}


@pytest.fixture
async def alice(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> dict[str, Any]:
    """A target naming Alice's device (Alice has sent an event)."""
    await add_subscribers(hass, auth_sandbox, setup_integration, ALICE)
    return {"device_id": device_id_of(hass, setup_integration, ALICE)}


def issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    key = coordinator_of(entry).number_key(ALICE)
    return ir.async_get(hass).async_get_issue(DOMAIN, budget_issue_id(entry.entry_id, key))


def _minute_after(moment: Any) -> tuple[int, int]:
    later = moment + timedelta(minutes=1)
    return later.hour, later.minute


async def spent(hass: HomeAssistant, target: dict[str, Any], **kwargs: Any) -> HomeAssistantError:
    """Send once more and return the refusal."""
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "send_sms",
            {**target, "to": BOB, "message": "one too many"},
            blocking=True,
            **kwargs,
        )
    return caught.value


@pytest.mark.parametrize("budget", [None])
async def test_a_looping_automation_costs_at_most_twenty_texts_an_hour(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
) -> None:
    entry = setup_integration
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "nag",
                "alias": "Nag Bob",
                "triggers": [{"trigger": "event", "event_type": "test_go"}],
                "actions": [
                    {
                        "repeat": {
                            "count": 25,
                            "sequence": [
                                {
                                    "action": "wgtwo.send_sms",
                                    "target": alice,
                                    "data": {"to": BOB, "message": "Are you there?"},
                                    "continue_on_error": True,
                                }
                            ],
                        }
                    },
                    {"event": "test_done"},
                ],
            }
        },
    )
    done = async_capture_events(hass, "test_done")

    hass.bus.async_fire("test_go")
    await wait_for(lambda: bool(done), within=30)

    assert len(auth_sandbox.sms.sent) == 20
    found = issue(hass, entry)
    assert found is not None
    assert found.translation_key == "sms_budget_reached"
    placeholders = found.translation_placeholders or {}
    assert placeholders["limit"] == "20"
    assert placeholders["name"] == "Alice"
    assert placeholders["origin"] == "Automation “Nag Bob” (automation.nag_bob)"


async def test_past_the_budget_nothing_reaches_the_operator(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
    hass_admin_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = setup_integration
    first = dt_util.utcnow()
    await send(hass, alice, BOB, "one")
    await send(hass, alice, "Bob", "two")
    assert issue(hass, entry) is None

    refused = await spent(hass, alice, context=Context(user_id=hass_admin_user.id))

    assert refused.translation_key == "sms_budget_reached"
    placeholders = refused.translation_placeholders or {}
    assert placeholders["limit"] == "2"
    # The next text may go when the first has been an hour in the past.
    until = dt_util.parse_time(placeholders["until"])
    assert until is not None
    free = dt_util.as_local(first + timedelta(hours=1))
    assert (until.hour, until.minute) in {(free.hour, free.minute), _minute_after(free)}
    assert "2 texts an hour" in str(refused)
    # The notify entity spends the same budget.
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "notify",
            SERVICE_SEND_MESSAGE,
            {ATTR_ENTITY_ID: entity_id(hass, entry, "notify", ALICE, "sms"), ATTR_MESSAGE: "hi"},
            blocking=True,
        )
    assert caught.value.translation_key == "sms_budget_reached"
    assert [text.content for text in auth_sandbox.sms.sent] == ["one", "two"]
    found = issue(hass, entry)
    assert found is not None
    # The notify call had no user: who asked is not known.
    assert (found.translation_placeholders or {})["origin"].startswith("Unknown")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("custom_components")]
    assert any("budget" in message for message in ours)  # the warning, once
    for message in ours:
        for secret in (ALICE, BOB, ALICE[1:], BOB[1:]):
            assert secret not in message


async def test_the_issue_names_the_user_and_the_script(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
    hass_admin_user: MockUser,
) -> None:
    entry = setup_integration
    notify = entity_id(hass, entry, "notify", ALICE, "sms")
    await send(hass, alice, BOB, "one")
    await send(hass, alice, BOB, "two")

    # A user pressing "send" in the UI (the notify entity, through the same budget).
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            "notify",
            SERVICE_SEND_MESSAGE,
            {ATTR_ENTITY_ID: notify, ATTR_MESSAGE: "hi"},
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
    found = issue(hass, entry)
    assert found is not None
    assert (found.translation_placeholders or {})["origin"] == "User “Mock User”"

    # A script the user starts: the script is named.
    assert await async_setup_component(
        hass,
        "script",
        {
            "script": {
                "alarm_text": {
                    "alias": "Alarm text",
                    "sequence": [
                        {
                            "action": "notify.send_message",
                            "target": {"entity_id": notify},
                            "data": {"message": "Alarm!"},
                        }
                    ],
                }
            }
        },
    )
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            "script",
            "alarm_text",
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )
    found = issue(hass, entry)
    assert found is not None
    assert (found.translation_placeholders or {})["origin"] == (
        "Script “Alarm text” (script.alarm_text)"
    )

    # An automation that runs the script: the automation is what started it all.
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Burglar",
                "triggers": [{"trigger": "event", "event_type": "test_alarm"}],
                "actions": [{"action": "script.alarm_text", "continue_on_error": True}],
            }
        },
    )
    done = async_capture_events(hass, "automation_triggered")
    hass.bus.async_fire("test_alarm")
    await wait_for(lambda: bool(done))
    await hass.async_block_till_done()
    found = issue(hass, entry)
    assert found is not None
    assert (found.translation_placeholders or {})["origin"] == (
        "Automation “Burglar” (automation.burglar)"
    )
    assert len(auth_sandbox.sms.sent) == 2


async def test_refused_and_failed_sends_count_too(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    """A refused or failed send may have cost money: it spends the budget all the same."""
    auth_sandbox.sms.refuse_with = (sms_pb2.SendMessageResponse.SEND_STATUS_REJECT, "barred")
    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, alice, BOB, "refused")
    assert caught.value.translation_key == "operator_rejected"
    auth_sandbox.sms.refuse_with = None
    auth_sandbox.sms.fail_after_send = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, alice, BOB, "lost")
    assert caught.value.translation_key == "no_answer"
    auth_sandbox.sms.fail_after_send = None

    refused = await spent(hass, alice)

    assert refused.translation_key == "sms_budget_reached"
    assert [text.content for text in auth_sandbox.sms.sent] == ["lost"]


async def test_sends_at_the_same_time_cannot_share_the_last_text(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    results = await asyncio.gather(
        *(send(hass, alice, BOB, f"text {i}") for i in range(4)), return_exceptions=True
    )

    refusals = [r for r in results if isinstance(r, HomeAssistantError)]
    assert len(refusals) == 2
    assert {r.translation_key for r in refusals} == {"sms_budget_reached"}
    assert len(auth_sandbox.sms.sent) == 2


async def test_invalid_requests_do_not_count(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    """What is refused before it could reach the operator costs nothing."""
    for to, message in (("Nobody", "hi"), (BOB, ""), (41234567, "hi")):
        with pytest.raises(HomeAssistantError) as caught:
            await send(hass, alice, to, message)
        assert caught.value.translation_key != "sms_budget_reached"
    await send(hass, alice, BOB, "one")
    await send(hass, alice, BOB, "two")
    assert len(auth_sandbox.sms.sent) == 2


async def test_a_restart_does_not_give_the_budget_back(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
    hass_storage: dict[str, Any],
) -> None:
    entry = setup_integration
    await send(hass, alice, BOB, "Your code is 914277")
    await send(hass, alice, BOB, "two")
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}.budget"]["data"]
    # Only when: neither the text nor a number is kept.
    [times] = stored["sent"].values()
    assert len(times) == 2
    for secret in ("914277", ALICE, BOB, ALICE[1:], BOB[1:]):
        assert secret not in repr(stored)

    await async_unload_and_wait(hass, entry, auth_sandbox)
    await async_setup_entry_and_connect(hass, entry)

    refused = await spent(hass, alice)
    assert refused.translation_key == "sms_budget_reached"
    assert len(auth_sandbox.sms.sent) == 2

    # Removing the entry removes what it kept, and its issue.
    assert issue(hass, entry) is not None
    await async_unload_and_wait(hass, entry, auth_sandbox)
    assert any(
        issue_id.startswith(f"sms_budget_{entry.entry_id}")
        for domain, issue_id in ir.async_get(hass).issues
        if domain == DOMAIN
    )
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{entry.entry_id}.budget" not in hass_storage
    assert not any(
        issue_id.startswith(f"sms_budget_{entry.entry_id}")
        for domain, issue_id in ir.async_get(hass).issues
        if domain == DOMAIN
    )


@pytest.mark.parametrize(("budget", "refused"), [(None, True), (0, False)])
async def test_the_option_sets_the_budget_and_zero_is_no_limit(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    refused: bool,
) -> None:
    """Thirty texts in the last hour (stored): the default 20 refuses the next, 0 does not."""
    now = dt_util.utcnow()
    times = [(now - timedelta(minutes=50) + timedelta(seconds=i)).isoformat() for i in range(30)]
    facts = f"{DOMAIN}.{config_entry.entry_id}.facts"
    hass_storage[facts] = {
        "version": FACTS_VERSION,
        "minor_version": 1,
        "key": facts,
        "data": {"id_secret": ID_SECRET.hex(), "subscribers": {}},
    }
    hass_storage[f"{DOMAIN}.{config_entry.entry_id}.budget"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{config_entry.entry_id}.budget",
        "data": {"sent": {ALICE_KEY: [*times, "not a time", 5], "other": "broken"}},
    }
    await async_setup_entry_and_connect(hass, config_entry)
    await add_subscribers(hass, auth_sandbox, config_entry, ALICE)
    alice = {"device_id": device_id_of(hass, config_entry, ALICE)}

    if refused:
        assert (await spent(hass, alice)).translation_placeholders["limit"] == "20"  # type: ignore[index]
        assert auth_sandbox.sms.sent == []
    else:
        await send(hass, alice, BOB, "no limit")
        assert len(auth_sandbox.sms.sent) == 1
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


async def tick(hass: HomeAssistant, frozen: Any, minutes: float) -> None:
    frozen.tick(timedelta(minutes=minutes))
    async_fire_time_changed_exact(hass)
    await hass.async_block_till_done()


async def test_the_issue_clears_when_the_hour_has_passed(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
) -> None:
    entry = setup_integration
    with freeze_time(dt_util.utcnow()) as frozen:
        await send(hass, alice, BOB, "one")
        await tick(hass, frozen, 30)
        await send(hass, alice, BOB, "two")
        await spent(hass, alice)
        assert issue(hass, entry) is not None

        await tick(hass, frozen, 29)
        assert issue(hass, entry) is not None
        await tick(hass, frozen, 2)  # the first text is more than an hour old
        assert issue(hass, entry) is None

        await send(hass, alice, BOB, "three")
        await spent(hass, alice)  # two within the hour again
        assert issue(hass, entry) is not None
    assert [text.content for text in auth_sandbox.sms.sent] == ["one", "two", "three"]


async def test_a_larger_budget_clears_the_issue_on_reload(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
) -> None:
    entry = setup_integration
    await send(hass, alice, BOB, "one")
    await send(hass, alice, BOB, "two")
    await spent(hass, alice)
    assert issue(hass, entry) is not None

    hass.config_entries.async_update_entry(
        entry, options=entry_options(**{**PHONEBOOK, CONF_SMS_BUDGET: 5})
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert issue(hass, entry) is None
    await send(hass, alice, BOB, "three")
    assert len(auth_sandbox.sms.sent) == 3


@pytest.mark.parametrize(("value", "limit"), [(None, 20), (0, 0), (7.0, 7), (-3, 0), ("many", 20)])
def test_budget_option_values(value: Any, limit: int) -> None:
    options = {} if value is None else {CONF_SMS_BUDGET: value}
    assert budget_limit(options) == limit


async def test_origins_in_the_users_language(
    hass: HomeAssistant, setup_integration: MockConfigEntry, hass_admin_user: MockUser
) -> None:
    automation = Origin(OriginKind.AUTOMATION, "Nag Bob", "automation.nag_bob")
    assert origin_text(hass, automation) == "Automation “Nag Bob” (automation.nag_bob)"
    await async_get_translations(hass, "de", "common", [DOMAIN])
    hass.config.language = "de"
    assert origin_text(hass, automation) == "Automatisierung „Nag Bob“ (automation.nag_bob)"
    assert origin_text(hass, UNKNOWN_ORIGIN).startswith("Unbekannt")
    # No context, or a user id nobody has: unknown.
    assert await async_origin(hass, None) == UNKNOWN_ORIGIN
    assert await async_origin(hass, Context(user_id="gone")) == UNKNOWN_ORIGIN
    user = await async_origin(hass, Context(user_id=hass_admin_user.id))
    assert user == Origin(OriginKind.USER, "Mock User")


def test_origins_without_translations(hass: HomeAssistant) -> None:
    # Before the integration's strings are loaded: English.
    assert origin_text(hass, Origin(OriginKind.USER, "Ann")) == "User “Ann”"
