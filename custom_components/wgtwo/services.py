"""The integration's actions, registered once; each calls the capability that owns it.

Reset missed calls, mark voicemail heard, delete a voicemail and set call forwarding are
entity actions: Home Assistant resolves the target (subscriber devices or their entities)
and each subscriber reached is acted on once, however many of its entities the target
names. ``send_sms`` and ``send_mms`` are plain actions with a target, since the response
belongs to one send of one subscriber.

Every action but resetting the missed calls (Home Assistant's own count) acts on the line
at the operator, so the call's context goes to the capability, which refuses a person who is
neither an administrator nor an owner (access.py). With several subscribers targeted, all
are checked before any is acted on.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from homeassistant.const import Platform
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.service import async_register_batched_platform_entity_service
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids
from homeassistant.helpers.typing import VolDictType

from .access import async_check_owner
from .capabilities.forwarding import (
    ATTR_MODE,
    ATTR_NUMBER,
    SERVICE_SET_CALL_FORWARDING,
    SET_CALL_FORWARDING_SCHEMA,
)
from .capabilities.messages import (
    ATTR_MESSAGE,
    ATTR_SENDER,
    ATTR_TO,
    SEND_SMS_SCHEMA,
    SERVICE_SEND_SMS,
    check_direction,
)
from .capabilities.mms import SEND_MMS_SCHEMA, SERVICE_SEND_MMS
from .client import ForwardingMode
from .compat import vol
from .const import DOMAIN
from .coordinator import WgtwoCoordinator
from .entity import WgtwoSubscriberEntity
from .runtime import loaded_coordinators
from .subscriber import Subscriber

type EntityAction = Callable[[list[Entity], ServiceCall], Coroutine[Any, Any, None]]

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


def _targeted_subscribers(
    hass: HomeAssistant, call: ServiceCall
) -> list[tuple[WgtwoCoordinator, Subscriber]]:
    """Return the distinct subscribers whose devices (or entities) a plain action targets."""
    selected = async_extract_referenced_entity_ids(
        hass, TargetSelection(call.data), primary_entities_only=False
    )
    device_ids = set(selected.referenced_devices)
    registry = er.async_get(hass)
    for entity_id in selected.referenced | selected.indirectly_referenced:
        entity = registry.async_get(entity_id)
        if entity is not None and entity.platform == DOMAIN and entity.device_id:
            device_ids.add(entity.device_id)
    found: dict[tuple[str, str], tuple[WgtwoCoordinator, Subscriber]] = {}
    for coordinator in loaded_coordinators(hass):
        for device_id in device_ids:
            if (subscriber := coordinator.subscriber_for_device(device_id)) is not None:
                found[(coordinator.entry.entry_id, subscriber.number)] = (coordinator, subscriber)
    return list(found.values())


async def _check_owner_of_all(
    call: ServiceCall, targets: list[tuple[WgtwoCoordinator, Subscriber]]
) -> None:
    """Refuse the whole call when its person may not act on one of the subscribers."""
    for coordinator, subscriber in targets:
        await async_check_owner(
            call.hass, call.context, coordinator.entry.options, subscriber.number
        )


async def _reset_missed_calls(entities: list[Entity], call: ServiceCall) -> None:
    for coordinator, subscriber in _subscribers(entities):
        coordinator.capabilities.calls.async_reset_missed_calls(subscriber)


async def _mark_voicemail_heard(entities: list[Entity], call: ServiceCall) -> None:
    targets = _subscribers(entities)
    await _check_owner_of_all(call, targets)
    for coordinator, subscriber in targets:
        await coordinator.capabilities.voicemail.async_mark_heard(subscriber, context=call.context)


async def _delete_voicemail(entities: list[Entity], call: ServiceCall) -> None:
    """Delete the named voicemail, else each targeted subscriber's newest."""
    targets = _subscribers(entities)
    voicemail_id: str | None = call.data.get(ATTR_VOICEMAIL_ID) or None
    if voicemail_id is not None and len(targets) > 1:
        # An id belongs to one subscriber: deleting it "for" several makes no sense.
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="voicemail_id_needs_one_subscriber"
        )
    await _check_owner_of_all(call, targets)
    for coordinator, subscriber in targets:
        await coordinator.capabilities.voicemail.async_delete(
            subscriber, voicemail_id, context=call.context
        )


async def _set_call_forwarding(entities: list[Entity], call: ServiceCall) -> None:
    mode = ForwardingMode(call.data[ATTR_MODE])
    number: str | None = call.data.get(ATTR_NUMBER)
    targets = _subscribers(entities)
    for coordinator, subscriber in targets:
        await coordinator.capabilities.forwarding.async_authorize(
            subscriber, mode, number, call.context
        )
    for coordinator, subscriber in targets:
        await coordinator.capabilities.forwarding.async_set(
            subscriber, mode, number, context=call.context
        )


def _one_subscriber(call: ServiceCall) -> tuple[WgtwoCoordinator, Subscriber]:
    """Return the one subscriber a send targets, or refuse none and several."""
    targets = _targeted_subscribers(call.hass, call)
    if not targets:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sms_no_subscriber")
    if len(targets) > 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_several_subscribers",
            translation_placeholders={"count": str(len(targets))},
        )
    return targets[0]


async def _send_sms(call: ServiceCall) -> ServiceResponse:
    """Send one text from (or to) the one targeted subscriber; respond with the answer."""
    to, sender = call.data.get(ATTR_TO), call.data.get(ATTR_SENDER)
    check_direction(to, sender)
    coordinator, subscriber = _one_subscriber(call)
    messages = coordinator.capabilities.messages
    message = call.data[ATTR_MESSAGE]
    if to is not None:
        result = await messages.async_send(subscriber, to, message, context=call.context)
    else:
        result = await messages.async_send_from_sender(
            subscriber, sender, message, context=call.context
        )
    response: dict[str, Any] = {
        "message_id": result.message_id,
        "status": str(result.status),
        "fragments": result.num_fragments,
    }
    return response


async def _send_mms(call: ServiceCall) -> ServiceResponse:
    """Send one MMS from (or to) the one targeted subscriber; respond with the answer."""
    coordinator, subscriber = _one_subscriber(call)
    result = await coordinator.capabilities.mms.async_send(
        subscriber, dict(call.data), context=call.context
    )
    return {"request_id": result.request_id, "status": str(result.status)}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (from the integration's ``async_setup``)."""
    entity_actions: tuple[tuple[str, Platform, EntityAction, VolDictType | None], ...] = (
        (SERVICE_RESET_MISSED_CALLS, Platform.SENSOR, _reset_missed_calls, None),
        (SERVICE_MARK_VOICEMAIL_HEARD, Platform.BINARY_SENSOR, _mark_voicemail_heard, None),
        (
            SERVICE_DELETE_VOICEMAIL,
            Platform.BINARY_SENSOR,
            _delete_voicemail,
            {vol.Optional(ATTR_VOICEMAIL_ID): cv.string},
        ),
        (
            SERVICE_SET_CALL_FORWARDING,
            Platform.SELECT,
            _set_call_forwarding,
            SET_CALL_FORWARDING_SCHEMA,
        ),
    )
    for name, domain, func, schema in entity_actions:
        async_register_batched_platform_entity_service(
            hass, DOMAIN, name, entity_domain=domain, func=func, schema=schema
        )
    for service, send, send_schema in (
        (SERVICE_SEND_SMS, _send_sms, SEND_SMS_SCHEMA),
        (SERVICE_SEND_MMS, _send_mms, SEND_MMS_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN,
            service,
            send,
            schema=send_schema,
            supports_response=SupportsResponse.OPTIONAL,
        )
