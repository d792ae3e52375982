"""Notify entities per subscriber: a text from its own number, and one to it from a sender.

"SMS" texts the recipient chosen in the subscriber's options, by default the subscriber
itself, from the subscriber's number. "Message from <sender name>" exists while the entry
has a sender name: it texts the subscriber from that name ("Home"), so "text me when the
alarm goes off" does not come from me. A person who is neither an administrator nor one of
the subscriber's owners may not send with either (access.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.notify import NotifyEntity, NotifyEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .capabilities.messages import sender_name
from .compat import NotifyEntityFeature
from .const import SCOPES_SMS_SEND
from .coordinator import WgtwoCoordinator
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry
from .subscriber import Subscriber

# Sends cost money and are never retried; one at a time per entity is plenty.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WgtwoNotifyDescription(NotifyEntityDescription, WgtwoEntityDescription):
    """A notify entity of a subscriber."""


SMS_NOTIFY = WgtwoNotifyDescription(key="sms", translation_key="sms", scopes=SCOPES_SMS_SEND)
MESSAGE_NOTIFY = WgtwoNotifyDescription(key="message", translation_key="message")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the notify entities of every subscriber, now and when new ones appear.

    Without a sender name the message entities of earlier setups leave the registry.
    """
    name = sender_name(entry)
    if not name:
        registry = er.async_get(hass)
        suffix = f"_{MESSAGE_NOTIFY.key}"
        for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
            if registered.domain == "notify" and registered.unique_id.endswith(suffix):
                registry.async_remove(registered.entity_id)

    def _create(coordinator: WgtwoCoordinator, sub: Subscriber) -> list[Entity]:
        entities: list[Entity] = [WgtwoSmsNotify(coordinator, sub, SMS_NOTIFY)]
        if name:
            entities.append(WgtwoSenderNotify(coordinator, sub, MESSAGE_NOTIFY, name))
        return entities

    async_setup_subscriber_entities(entry, async_add_entities, _create)


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


class WgtwoSenderNotify(WgtwoSubscriberEntity, NotifyEntity):
    """Texts the subscriber from the entry's sender name: "Message from Home"."""

    _attr_supported_features = NotifyEntityFeature.TITLE
    entity_description: WgtwoNotifyDescription

    def __init__(
        self,
        coordinator: WgtwoCoordinator,
        subscriber: Subscriber,
        description: WgtwoNotifyDescription,
        sender: str,
    ) -> None:
        """Name the entity after the sender; its entity id stays ``notify.<subscriber>_message``."""
        super().__init__(coordinator, subscriber, description)
        self._attr_translation_placeholders = {"sender": sender}

    @property
    def suggested_object_id(self) -> str | None:
        """Return the object id's part after the device's: ``message``, whatever the sender."""
        return self.entity_description.key

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Text the message (the title, if any, as its first line) from the sender, once."""
        text = f"{title}\n{message}" if title else message
        await self.coordinator.capabilities.messages.async_notify_from_sender(
            self.subscriber, text, context=self._context
        )
