"""Sensors of a subscriber: last caller, call state, roaming country, missed calls, diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .call_state import CallState
from .capabilities.serving_node import serving_node
from .const import SCOPES_COUNTRY, SCOPES_HANDSET, SCOPES_LOCATION, SCOPES_VOICE
from .coordinator import WgtwoCoordinator
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry
from .subscriber import Aspect, Subscriber

PARALLEL_UPDATES = 0

STATE_HIDDEN = "hidden"


@dataclass(frozen=True, kw_only=True)
class WgtwoSensorDescription(SensorEntityDescription, WgtwoEntityDescription):
    """How a sensor reads and describes the subscriber state, and what it depends on."""

    value_fn: Callable[[WgtwoCoordinator, Subscriber], StateType | datetime]
    attrs_fn: Callable[[WgtwoCoordinator, Subscriber], dict[str, Any] | None] = (
        lambda _coordinator, _sub: None
    )
    # Whether the value is only true while the stream is up (a stale "idle" is a lie).
    needs_stream: bool = False


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _last_caller_value(coordinator: WgtwoCoordinator, sub: Subscriber) -> str | None:
    """Name the caller when the phonebook knows the number: what a dashboard shows."""
    caller = sub.last_caller
    if caller is None:
        return None
    if caller.hidden:
        return STATE_HIDDEN
    if caller.number is None:
        return None
    return coordinator.phonebook.name_for(caller.number) or caller.number


def _last_caller_attrs(coordinator: WgtwoCoordinator, sub: Subscriber) -> dict[str, Any] | None:
    caller = sub.last_caller
    if caller is None:
        return None
    return {
        "number": None if caller.hidden else caller.number,
        "name": None if caller.hidden else coordinator.phonebook.name_for(caller.number),
        "call_id": caller.call_id,
        "time": _iso(caller.time),
    }


def _country_attrs(_coordinator: WgtwoCoordinator, sub: Subscriber) -> dict[str, Any] | None:
    if sub.country is None:
        return None
    previous = sub.previous_country
    return {
        "country_code": sub.country.code,
        "previous_country": previous.name if previous else None,
        "previous_country_code": previous.code if previous else None,
        "imsi": sub.imsi,
    }


def _handset_attrs(_coordinator: WgtwoCoordinator, sub: Subscriber) -> dict[str, Any] | None:
    if sub.handset is None:
        return None
    return {"software_version": sub.handset.software_version, "imsi": sub.imsi}


def _location_attrs(_coordinator: WgtwoCoordinator, sub: Subscriber) -> dict[str, Any] | None:
    if sub.location is None:
        return None
    return sub.location.as_dict()


SENSORS: tuple[WgtwoSensorDescription, ...] = (
    WgtwoSensorDescription(
        key="last_caller",
        scopes=SCOPES_VOICE,
        aspects=Aspect.LAST_CALLER,
        translation_key="last_caller",
        value_fn=_last_caller_value,
        attrs_fn=_last_caller_attrs,
    ),
    WgtwoSensorDescription(
        key="call_state",
        scopes=SCOPES_VOICE,
        aspects=Aspect.CALLS | Aspect.CONNECTION,
        needs_stream=True,
        translation_key="call_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in CallState],
        value_fn=lambda _coordinator, sub: sub.call_state.value,
        attrs_fn=lambda _coordinator, sub: {"active_calls": sub.calls.active_calls},
    ),
    WgtwoSensorDescription(
        key="roaming_country",
        scopes=SCOPES_COUNTRY,
        aspects=Aspect.COUNTRY,
        translation_key="roaming_country",
        value_fn=lambda _coordinator, sub: (
            (sub.country.name or sub.country.code) if sub.country else None
        ),
        attrs_fn=_country_attrs,
    ),
    WgtwoSensorDescription(
        key="missed_calls",
        scopes=SCOPES_VOICE,
        aspects=Aspect.MISSED_CALLS,
        translation_key="missed_calls",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda _coordinator, sub: sub.missed_calls,
    ),
    WgtwoSensorDescription(
        key="handset",
        scopes=SCOPES_HANDSET,
        aspects=Aspect.HANDSET,
        translation_key="handset",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda _coordinator, sub: sub.handset.imei if sub.handset else None,
        attrs_fn=_handset_attrs,
    ),
    WgtwoSensorDescription(
        key="location",
        scopes=SCOPES_LOCATION,
        aspects=Aspect.LOCATION,
        translation_key="location",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda _coordinator, sub: serving_node(sub.location),
        attrs_fn=_location_attrs,
    ),
    WgtwoSensorDescription(
        key="last_event",
        aspects=Aspect.LAST_EVENT,
        translation_key="last_event",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda _coordinator, sub: sub.last_event,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every subscriber, now and when new ones appear."""
    async_setup_subscriber_entities(
        entry,
        async_add_entities,
        lambda coordinator, sub: [
            WgtwoSensor(coordinator, sub, description) for description in SENSORS
        ],
    )


class WgtwoSensor(WgtwoSubscriberEntity, SensorEntity):
    """A sensor showing part of the subscriber's state."""

    entity_description: WgtwoSensorDescription
    # The last caller's call id and time change with every call: not kept in the history
    # (the caller is its state; the call is in the recorded wgtwo_event).
    _unrecorded_attributes = frozenset({"call_id", "time"})

    @property
    def available(self) -> bool:
        """Facts keep their last value; live state only while the stream is up."""
        return not self.entity_description.needs_stream or self.coordinator.stream_live

    @property
    def native_value(self) -> StateType | datetime:
        """Return the current value."""
        return self.entity_description.value_fn(self.coordinator, self.subscriber)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes."""
        return self.entity_description.attrs_fn(self.coordinator, self.subscriber)
