"""Buttons of a subscriber: mark voicemails heard, reset the missed calls count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import WgtwoCoordinator
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry
from .subscriber import Subscriber

PARALLEL_UPDATES = 1


async def _mark_heard(coordinator: WgtwoCoordinator, subscriber: Subscriber) -> None:
    await coordinator.capabilities.voicemail.async_mark_heard(subscriber)


async def _reset_missed(coordinator: WgtwoCoordinator, subscriber: Subscriber) -> None:
    coordinator.capabilities.calls.async_reset_missed_calls(subscriber)


@dataclass(frozen=True, kw_only=True)
class WgtwoButtonDescription(ButtonEntityDescription, WgtwoEntityDescription):
    """What pressing the button does."""

    press_fn: Callable[[WgtwoCoordinator, Subscriber], Awaitable[None]]


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
    async_setup_subscriber_entities(
        entry,
        async_add_entities,
        lambda coordinator, sub: [
            WgtwoButton(coordinator, sub, description) for description in BUTTONS
        ],
    )


class WgtwoButton(WgtwoSubscriberEntity, ButtonEntity):
    """A button acting on the subscriber's state."""

    entity_description: WgtwoButtonDescription

    async def async_press(self) -> None:
        """Run the button's action."""
        await self.entity_description.press_fn(self.coordinator, self.subscriber)
