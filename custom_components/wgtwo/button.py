"""Buttons of a subscriber: mark voicemails heard, reset the missed calls count.

Marking heard acts at the operator and is refused for a person who is neither an
administrator nor one of the subscriber's owners; the missed calls count is Home Assistant's
own bookkeeping, which anyone who may press the button may reset (access.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SCOPES_VOICE, SCOPES_VOICEMAIL
from .coordinator import WgtwoCoordinator
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry
from .subscriber import Subscriber

PARALLEL_UPDATES = 1


async def _mark_heard(
    coordinator: WgtwoCoordinator, subscriber: Subscriber, context: Context | None
) -> None:
    await coordinator.capabilities.voicemail.async_mark_heard(subscriber, context=context)


async def _reset_missed(
    coordinator: WgtwoCoordinator, subscriber: Subscriber, context: Context | None
) -> None:
    coordinator.capabilities.calls.async_reset_missed_calls(subscriber)


@dataclass(frozen=True, kw_only=True)
class WgtwoButtonDescription(ButtonEntityDescription, WgtwoEntityDescription):
    """What pressing the button does (with the context of the press)."""

    press_fn: Callable[[WgtwoCoordinator, Subscriber, Context | None], Awaitable[None]]


BUTTONS: tuple[WgtwoButtonDescription, ...] = (
    WgtwoButtonDescription(
        key="mark_voicemail_heard",
        translation_key="mark_voicemail_heard",
        press_fn=_mark_heard,
        scopes=SCOPES_VOICEMAIL,
    ),
    WgtwoButtonDescription(
        key="reset_missed_calls",
        translation_key="reset_missed_calls",
        press_fn=_reset_missed,
        scopes=SCOPES_VOICE,
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
        """Run the button's action for whoever pressed it (the press action's context)."""
        await self.entity_description.press_fn(self.coordinator, self.subscriber, self._context)
