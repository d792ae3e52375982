"""Event entities of a subscriber: calls, SMS and voicemail, for automations and the logbook."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import (
    CALL_EVENT_TYPES,
    EVENT_CALL,
    EVENT_SMS,
    EVENT_VOICEMAIL,
    SMS_EVENT_TYPES,
    VOICEMAIL_EVENT_TYPES,
    SubscriberUpdate,
    WgtwoCoordinator,
)
from .data import WgtwoConfigEntry
from .entity import WgtwoSubscriberEntity, async_setup_subscriber_entities
from .subscriber import Subscriber

PARALLEL_UPDATES = 0

EVENTS: tuple[EventEntityDescription, ...] = (
    EventEntityDescription(key=EVENT_CALL, translation_key="call", event_types=CALL_EVENT_TYPES),
    EventEntityDescription(key=EVENT_SMS, translation_key="sms", event_types=SMS_EVENT_TYPES),
    EventEntityDescription(
        key=EVENT_VOICEMAIL, translation_key="voicemail", event_types=VOICEMAIL_EVENT_TYPES
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the event entities of every subscriber, now and when new ones appear."""
    async_setup_subscriber_entities(
        entry,
        async_add_entities,
        lambda coordinator, sub: [
            WgtwoEventEntity(coordinator, sub, description) for description in EVENTS
        ],
    )


class WgtwoEventEntity(WgtwoSubscriberEntity, EventEntity):
    """Fires when the coordinator reports one of this entity's events (same fields as the bus)."""

    # Each event's own ids, numbers and duration are recorded once, with its wgtwo_event bus
    # event; the entity's history keeps the kind of each event (attributes that repeat, so
    # the recorder shares one row of them) rather than a new row for every event.
    _unrecorded_attributes = frozenset(
        {
            "call_id",
            "duration",
            "from_number",
            "to_number",
            "voicemail_id",
            "media_content_id",
            "sms_id",
            "message_id",
            "uuid",
            "report_id",
            "from_address",
            "to_address",
        }
    )

    def __init__(
        self,
        coordinator: WgtwoCoordinator,
        subscriber: Subscriber,
        description: EventEntityDescription,
    ) -> None:
        """Listen only for updates that carry this entity's events."""
        super().__init__(coordinator, subscriber, description)
        self.trigger_key = description.key

    @callback
    def _handle_update(self, update: SubscriberUpdate) -> None:
        for trigger in update.triggers:
            if trigger.key == self.entity_description.key:
                # One state per event, so automations see each of them.
                self._trigger_event(trigger.event_type, trigger.attributes)
                self.async_write_ha_state()
