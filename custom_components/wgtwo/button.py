"""Buttons of a subscriber: mark voicemails heard, reset the missed calls count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import WgtwoConfigEntry
from .entity import WgtwoSubscriberEntity, async_setup_subscriber_entities
from .subscriber import Subscriber
from .tracker import SubscriberTracker

PARALLEL_UPDATES = 1


async def _mark_heard(tracker: SubscriberTracker, subscriber: Subscriber) -> None:
    await tracker.async_mark_voicemail_heard(subscriber)


async def _reset_missed(tracker: SubscriberTracker, subscriber: Subscriber) -> None:
    tracker.async_reset_missed_calls(subscriber)


@dataclass(frozen=True, kw_only=True)
class WgtwoButtonDescription(ButtonEntityDescription):
    """What pressing the button does."""

    press_fn: Callable[[SubscriberTracker, Subscriber], Awaitable[None]]


BUTTONS: tuple[WgtwoButtonDescription, ...] = (
    WgtwoButtonDescription(
        key="mark_voicemail_heard", translation_key="mark_voicemail_heard", press_fn=_mark_heard
    ),
    WgtwoButtonDescription(
        key="reset_missed_calls", translation_key="reset_missed_calls", press_fn=_reset_missed
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of every subscriber, now and when new ones appear."""
    await async_setup_subscriber_entities(
        hass,
        entry,
        async_add_entities,
        lambda tracker, sub: [WgtwoButton(tracker, sub, description) for description in BUTTONS],
    )


class WgtwoButton(WgtwoSubscriberEntity, ButtonEntity):
    """A button acting on the subscriber's state."""

    entity_description: WgtwoButtonDescription

    async def async_press(self) -> None:
        """Run the button's action."""
        await self.entity_description.press_fn(self.tracker, self.subscriber)
