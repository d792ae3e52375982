"""A notify entity per subscriber: texts a message from the subscriber's own number.

The recipient is the one chosen in the subscriber's options, by default the subscriber
itself, so "text me when the alarm goes off" needs no other gateway. A person who is
neither an administrator nor one of the subscriber's owners may not send (access.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.notify import NotifyEntity, NotifyEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .compat import NotifyEntityFeature
from .const import SCOPES_SMS_SEND
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry

# Sends cost money and are never retried; one at a time per entity is plenty.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WgtwoNotifyDescription(NotifyEntityDescription, WgtwoEntityDescription):
    """A notify entity of a subscriber."""


SMS_NOTIFY = WgtwoNotifyDescription(key="sms", translation_key="sms", scopes=SCOPES_SMS_SEND)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the notify entity of every subscriber, now and when new ones appear."""
    async_setup_subscriber_entities(
        entry,
        async_add_entities,
        lambda coordinator, sub: [WgtwoSmsNotify(coordinator, sub, SMS_NOTIFY)],
    )


class WgtwoSmsNotify(WgtwoSubscriberEntity, NotifyEntity):
    """Sends the message (the title, if any, as its first line) as an SMS."""

    _attr_supported_features = NotifyEntityFeature.TITLE
    entity_description: WgtwoNotifyDescription

    @property
    def suggested_object_id(self) -> str:
        """Keep the entity id of the name it had, ``notify.<subscriber>_sms``.

        The name says it sends ("Send SMS") to tell it from the SMS event entity.
        """
        return "SMS"

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Text the message to the configured recipient, once.

        ``_context`` is the context of the action call that targeted this entity (Home
        Assistant sets it right before calling).
        """
        context = self._context
        text = f"{title}\n{message}" if title else message
        await self.coordinator.capabilities.messages.async_notify(
            self.subscriber, text, context=context
        )
