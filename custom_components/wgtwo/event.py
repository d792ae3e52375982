"""Event entities of a subscriber: calls, SMS and voicemail, for automations and the logbook."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .capabilities.base import SubscriberUpdate
from .capabilities.calls import CALL_EVENT_TYPES, EVENT_CALL
from .capabilities.messages import EVENT_SMS, SMS_EVENT_TYPES
from .capabilities.voicemail import EVENT_VOICEMAIL, VOICEMAIL_EVENT_TYPES
from .const import SCOPES_SMS, SCOPES_VOICE, SCOPES_VOICEMAIL
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class WgtwoEventDescription(EventEntityDescription, WgtwoEntityDescription):
    """An event entity fires on the triggers of its key."""

    fires: bool = True


EVENTS: tuple[WgtwoEventDescription, ...] = (
    WgtwoEventDescription(
        key=EVENT_CALL, translation_key="call", event_types=CALL_EVENT_TYPES, scopes=SCOPES_VOICE
    ),
    WgtwoEventDescription(
        key=EVENT_SMS, translation_key="sms", event_types=SMS_EVENT_TYPES, scopes=SCOPES_SMS
    ),
    WgtwoEventDescription(
        key=EVENT_VOICEMAIL,
        translation_key="voicemail",
        event_types=VOICEMAIL_EVENT_TYPES,
        scopes=SCOPES_VOICEMAIL,
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
    """Fires when a capability reports one of this entity's events (same fields as the bus)."""

    entity_description: WgtwoEventDescription
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

    @callback
    def _handle_update(self, update: SubscriberUpdate) -> None:
        for trigger in update.triggers:
            if trigger.key == self.entity_description.key:
                # One state per event, so automations see each of them.
                self._trigger_event(trigger.event_type, trigger.attributes)
                self.async_write_ha_state()
