"""Actions of the integration: reset a subscriber's missed calls, mark its voicemails heard.

Both target subscriber devices or any of their entities.
"""

from __future__ import annotations

from typing import Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    entity_registry as er,
    target as target_helpers,
)

from .const import DOMAIN
from .data import WgtwoConfigEntry
from .subscriber import Subscriber
from .tracker import SubscriberTracker

SERVICE_RESET_MISSED_CALLS: Final = "reset_missed_calls"
SERVICE_MARK_VOICEMAIL_HEARD: Final = "mark_voicemail_heard"


def _targeted(hass: HomeAssistant, call: ServiceCall) -> list[tuple[SubscriberTracker, Subscriber]]:
    """Resolve the call's target to subscribers of loaded entries."""
    selected = target_helpers.async_extract_referenced_entity_ids(
        hass, target_helpers.TargetSelection(call.data), primary_entities_only=False
    )
    device_ids = set(selected.referenced_devices)
    registry = er.async_get(hass)
    for entity_id in selected.referenced | selected.indirectly_referenced:
        if (entry := registry.async_get(entity_id)) is not None and entry.device_id:
            device_ids.add(entry.device_id)
    found: list[tuple[SubscriberTracker, Subscriber]] = []
    config_entry: WgtwoConfigEntry
    for config_entry in hass.config_entries.async_entries(DOMAIN):
        if config_entry.state is not ConfigEntryState.LOADED:
            continue
        tracker = config_entry.runtime_data.tracker
        for device_id in device_ids:
            if (subscriber := tracker.subscriber_for_device(device_id)) is not None:
                found.append((tracker, subscriber))
    if not found:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="no_subscriber_targeted"
        )
    return found


async def _reset_missed_calls(call: ServiceCall) -> None:
    for tracker, subscriber in _targeted(call.hass, call):
        tracker.async_reset_missed_calls(subscriber)


async def _mark_voicemail_heard(call: ServiceCall) -> None:
    for tracker, subscriber in _targeted(call.hass, call):
        await tracker.async_mark_voicemail_heard(subscriber)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (from the integration's ``async_setup``; safe to call again)."""
    if hass.services.has_service(DOMAIN, SERVICE_RESET_MISSED_CALLS):
        return
    schema = cv.make_entity_service_schema({})
    hass.services.async_register(
        DOMAIN, SERVICE_RESET_MISSED_CALLS, _reset_missed_calls, schema=schema
    )
    hass.services.async_register(
        DOMAIN, SERVICE_MARK_VOICEMAIL_HEARD, _mark_voicemail_heard, schema=schema
    )
