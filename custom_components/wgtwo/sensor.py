"""Sensors of a subscriber: last caller, call state, roaming country, missed calls, diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .call_state import CallState
from .client import Country, Handset, Locations
from .data import WgtwoConfigEntry
from .entity import WgtwoSubscriberEntity, async_setup_subscriber_entities
from .subscriber import LastCaller, Subscriber
from .tracker import SubscriberTracker

PARALLEL_UPDATES = 0

STATE_HIDDEN = "hidden"


@dataclass(frozen=True, kw_only=True)
class WgtwoSensorDescription(SensorEntityDescription):
    """How a sensor reads, describes and restores the subscriber state."""

    value_fn: Callable[[Subscriber], StateType | datetime]
    attrs_fn: Callable[[SubscriberTracker, Subscriber], dict[str, Any] | None] = (
        lambda _tracker, _sub: None
    )
    restore_fn: Callable[[Subscriber, State], bool] | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(value: Any) -> datetime | None:
    return dt_util.parse_datetime(value) if isinstance(value, str) else None


# -- last caller -------------------------------------------------------------------------


def _last_caller_value(sub: Subscriber) -> str | None:
    caller = sub.last_caller
    if caller is None:
        return None
    return STATE_HIDDEN if caller.hidden else caller.number


def _last_caller_attrs(tracker: SubscriberTracker, sub: Subscriber) -> dict[str, Any] | None:
    caller = sub.last_caller
    if caller is None:
        return None
    return {
        "name": None if caller.hidden else tracker.name_for(caller.number),
        "call_id": caller.call_id,
        "time": _iso(caller.time),
    }


def _restore_last_caller(sub: Subscriber, state: State) -> bool:
    time = _parse_time(state.attributes.get("time"))
    if time is None:
        return False
    hidden = state.state == STATE_HIDDEN
    caller = LastCaller(
        number=None if hidden else state.state,
        hidden=hidden,
        call_id=str(state.attributes.get("call_id") or ""),
        time=time,
    )
    return sub.restore_last_caller(caller)


# -- roaming country ---------------------------------------------------------------------


def _country_attrs(_tracker: SubscriberTracker, sub: Subscriber) -> dict[str, Any] | None:
    if sub.country is None:
        return None
    previous = sub.previous_country
    return {
        "country_code": sub.country.code,
        "previous_country": previous.name if previous else None,
        "previous_country_code": previous.code if previous else None,
    }


def _restore_country(sub: Subscriber, state: State) -> bool:
    attrs = state.attributes
    code = attrs.get("country_code")
    if not isinstance(code, str):
        return False
    previous_code = attrs.get("previous_country_code")
    previous = (
        Country(code=previous_code, name=str(attrs.get("previous_country") or ""))
        if isinstance(previous_code, str)
        else None
    )
    return sub.restore_country(Country(code=code, name=state.state), previous)


# -- missed calls ------------------------------------------------------------------------


def _restore_missed_calls(sub: Subscriber, state: State) -> bool:
    try:
        count = int(state.state)
    except ValueError:
        return False
    return sub.restore_missed_calls(count)


# -- diagnostics -------------------------------------------------------------------------


def _handset_attrs(_tracker: SubscriberTracker, sub: Subscriber) -> dict[str, Any] | None:
    if sub.handset is None:
        return None
    return {"software_version": sub.handset.software_version}


def _restore_handset(sub: Subscriber, state: State) -> bool:
    version = state.attributes.get("software_version")
    return sub.restore_handset(Handset(imei=state.state, software_version=str(version or "")))


def _serving_node(sub: Subscriber) -> str | None:
    location = sub.location
    if location is None:
        return None
    return location.mme or location.vlr or location.sgsn or location.msc


def _location_attrs(_tracker: SubscriberTracker, sub: Subscriber) -> dict[str, Any] | None:
    if sub.location is None:
        return None
    return sub.location.as_dict()


def _restore_location(sub: Subscriber, state: State) -> bool:
    attrs = state.attributes

    def _get(key: str) -> str | None:
        value = attrs.get(key)
        return value if isinstance(value, str) else None

    return sub.restore_location(
        Locations(msc=_get("msc"), vlr=_get("vlr"), sgsn=_get("sgsn"), mme=_get("mme"))
    )


def _restore_last_event(sub: Subscriber, state: State) -> bool:
    time = _parse_time(state.state)
    return time is not None and sub.restore_last_event(time)


SENSORS: tuple[WgtwoSensorDescription, ...] = (
    WgtwoSensorDescription(
        key="last_caller",
        translation_key="last_caller",
        value_fn=_last_caller_value,
        attrs_fn=_last_caller_attrs,
        restore_fn=_restore_last_caller,
    ),
    WgtwoSensorDescription(
        key="call_state",
        translation_key="call_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in CallState],
        value_fn=lambda sub: sub.call_state.value,
        attrs_fn=lambda _tracker, sub: {"active_calls": sub.calls.active_calls},
    ),
    WgtwoSensorDescription(
        key="roaming_country",
        translation_key="roaming_country",
        value_fn=lambda sub: (sub.country.name or sub.country.code) if sub.country else None,
        attrs_fn=_country_attrs,
        restore_fn=_restore_country,
    ),
    WgtwoSensorDescription(
        key="missed_calls",
        translation_key="missed_calls",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda sub: sub.missed_calls,
        restore_fn=_restore_missed_calls,
    ),
    WgtwoSensorDescription(
        key="handset",
        translation_key="handset",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda sub: sub.handset.imei if sub.handset else None,
        attrs_fn=_handset_attrs,
        restore_fn=_restore_handset,
    ),
    WgtwoSensorDescription(
        key="location",
        translation_key="location",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_serving_node,
        attrs_fn=_location_attrs,
        restore_fn=_restore_location,
    ),
    WgtwoSensorDescription(
        key="last_event",
        translation_key="last_event",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda sub: sub.last_event,
        restore_fn=_restore_last_event,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every subscriber, now and when new ones appear."""
    await async_setup_subscriber_entities(
        hass,
        entry,
        async_add_entities,
        lambda tracker, sub: [WgtwoSensor(tracker, sub, description) for description in SENSORS],
    )


class WgtwoSensor(WgtwoSubscriberEntity, RestoreSensor):
    """A sensor showing part of the subscriber's state."""

    entity_description: WgtwoSensorDescription

    async def async_added_to_hass(self) -> None:
        """Restore the value from before the restart when no event has set it yet."""
        await super().async_added_to_hass()
        restore = self.entity_description.restore_fn
        if restore is None:
            return
        state = await self.async_get_last_state()
        if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            return
        self._restored(restore(self.subscriber, state))

    @property
    def native_value(self) -> StateType | datetime:
        """Return the current value."""
        return self.entity_description.value_fn(self.subscriber)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes."""
        return self.entity_description.attrs_fn(self.tracker, self.subscriber)
