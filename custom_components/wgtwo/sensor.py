"""Sensors of a subscriber: caller, call state, country, network, missed calls, diagnostics."""

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
from .client import NetworkGeneration
from .const import SCOPES_COUNTRY, SCOPES_HANDSET, SCOPES_LOCATION, SCOPES_NETWORK, SCOPES_VOICE
from .coordinator import WgtwoCoordinator
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .mcc import country_of_mcc
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
    # Whether the entry has the sensor at all (a feature whose scope is missing has none),
    # and whether its value can be had now.
    exists_fn: Callable[[WgtwoCoordinator], bool] = lambda _coordinator: True
    available_fn: Callable[[WgtwoCoordinator], bool] = lambda _coordinator: True


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


def _network_value(_coordinator: WgtwoCoordinator, sub: Subscriber) -> str | None:
    network = sub.network
    return network.generation.value if network and network.generation else None


def _network_attrs(_coordinator: WgtwoCoordinator, sub: Subscriber) -> dict[str, Any] | None:
    """Return the serving network of the SIM seen last: its codes, country and nodes."""
    network = sub.network
    if network is None:
        return None
    country = country_of_mcc(network.mcc)
    return {
        "mcc": network.mcc,
        "mnc": network.mnc,
        "tadig": network.tadig,
        "country": country.name if country else None,
        "country_code": country.code if country else None,
        "msc": network.msc,
        "vlr": network.vlr,
        "sgsn": network.sgsn,
        "mme": network.mme,
        "sims": sub.network_sims,
        "updated": _iso(network.timestamp),
    }


def _network_readable(coordinator: WgtwoCoordinator) -> bool:
    return coordinator.capabilities.network.available


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
    # The generation of the network the phone is attached to (the SIM seen last).
    WgtwoSensorDescription(
        key="network",
        scopes=SCOPES_NETWORK,
        aspects=Aspect.NETWORK,
        translation_key="network",
        device_class=SensorDeviceClass.ENUM,
        options=[generation.value for generation in NetworkGeneration],
        value_fn=_network_value,
        attrs_fn=_network_attrs,
        exists_fn=_network_readable,
        available_fn=_network_readable,
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
            WgtwoSensor(coordinator, sub, description)
            for description in SENSORS
            if description.exists_fn(coordinator)
        ],
    )


class WgtwoSensor(WgtwoSubscriberEntity, SensorEntity):
    """A sensor showing part of the subscriber's state."""

    entity_description: WgtwoSensorDescription
    # The last caller's call id and time change with every call: not kept in the history
    # (the caller is its state; the call is in the recorded wgtwo_event). Nor is the time
    # the operator last saw the network.
    _unrecorded_attributes = frozenset({"call_id", "time", "updated"})

    @property
    def available(self) -> bool:
        """Facts keep their last value; live state only while the stream is up."""
        description = self.entity_description
        if not description.available_fn(self.coordinator):
            return False
        return not description.needs_stream or self.coordinator.stream_live

    @property
    def native_value(self) -> StateType | datetime:
        """Return the current value."""
        return self.entity_description.value_fn(self.coordinator, self.subscriber)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes."""
        return self.entity_description.attrs_fn(self.coordinator, self.subscriber)
