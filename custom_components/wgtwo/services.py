"""Actions of the integration: reset a subscriber's missed calls, mark its voicemails heard.

Both are entity actions: Home Assistant resolves the target (subscriber devices, or their
missed-calls sensor / new-voicemail binary sensor) to the entities, and each subscriber
reached is acted on once, however many of its entities the target names.
"""

from __future__ import annotations

from typing import Final

import probatio as vol
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, ServiceCall, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.service import async_register_batched_platform_entity_service

from .call_forwarding import (
    ATTR_MODE,
    ATTR_NUMBER,
    SERVICE_SET_CALL_FORWARDING,
    SET_CALL_FORWARDING_SCHEMA,
)
from .client import ForwardingMode
from .const import DOMAIN
from .coordinator import WgtwoCoordinator
from .entity import WgtwoSubscriberEntity
from .sms import SEND_SMS_SCHEMA, SERVICE_SEND_SMS, async_handle_send_sms
from .subscriber import Subscriber

SERVICE_RESET_MISSED_CALLS: Final = "reset_missed_calls"
SERVICE_MARK_VOICEMAIL_HEARD: Final = "mark_voicemail_heard"
SERVICE_DELETE_VOICEMAIL: Final = "delete_voicemail"
ATTR_VOICEMAIL_ID: Final = "voicemail_id"


def _subscribers(entities: list[Entity]) -> list[tuple[WgtwoCoordinator, Subscriber]]:
    """Return the distinct subscribers behind the targeted entities."""
    found: dict[int, tuple[WgtwoCoordinator, Subscriber]] = {}
    for entity in entities:
        if isinstance(entity, WgtwoSubscriberEntity):
            found.setdefault(id(entity.subscriber), (entity.coordinator, entity.subscriber))
    return list(found.values())


async def _reset_missed_calls(entities: list[Entity], call: ServiceCall) -> None:
    for coordinator, subscriber in _subscribers(entities):
        coordinator.async_reset_missed_calls(subscriber)


async def _mark_voicemail_heard(entities: list[Entity], call: ServiceCall) -> None:
    for coordinator, subscriber in _subscribers(entities):
        await coordinator.async_mark_voicemail_heard(subscriber)


async def _delete_voicemail(entities: list[Entity], call: ServiceCall) -> None:
    """Delete the named voicemail, else each targeted subscriber's newest."""
    targets = _subscribers(entities)
    voicemail_id: str | None = call.data.get(ATTR_VOICEMAIL_ID) or None
    if voicemail_id is not None and len(targets) > 1:
        # An id belongs to one subscriber: deleting it "for" several makes no sense.
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="voicemail_id_needs_one_subscriber"
        )
    for coordinator, subscriber in targets:
        await coordinator.async_delete_voicemail(subscriber, voicemail_id)


async def _set_call_forwarding(entities: list[Entity], call: ServiceCall) -> None:
    mode = ForwardingMode(call.data[ATTR_MODE])
    for coordinator, subscriber in _subscribers(entities):
        await coordinator.async_set_call_forwarding(subscriber, mode, call.data.get(ATTR_NUMBER))


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (from the integration's ``async_setup``)."""
    async_register_batched_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_RESET_MISSED_CALLS,
        entity_domain=Platform.SENSOR,
        func=_reset_missed_calls,
        schema=None,
    )
    async_register_batched_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_MARK_VOICEMAIL_HEARD,
        entity_domain=Platform.BINARY_SENSOR,
        func=_mark_voicemail_heard,
        schema=None,
    )
    async_register_batched_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_DELETE_VOICEMAIL,
        entity_domain=Platform.BINARY_SENSOR,
        func=_delete_voicemail,
        schema={vol.Optional(ATTR_VOICEMAIL_ID): cv.string},
    )
    async_register_batched_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_SET_CALL_FORWARDING,
        entity_domain=Platform.SELECT,
        func=_set_call_forwarding,
        schema=SET_CALL_FORWARDING_SCHEMA,
    )
    # A plain action with a target: its response belongs to one send from one subscriber.
    hass.services.async_register(
        DOMAIN,
        SERVICE_SEND_SMS,
        async_handle_send_sms,
        schema=SEND_SMS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
