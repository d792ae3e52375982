"""Binary sensors: roaming and new voicemail per subscriber, connection status per entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.util import dt as dt_util

from .client import Country
from .const import SIGNAL_CONNECTION
from .data import WgtwoConfigEntry
from .entity import WgtwoSubscriberEntity, async_setup_subscriber_entities
from .subscriber import UnheardVoicemail
from .tracker import MANUFACTURER, service_identifier

PARALLEL_UPDATES = 0

ROAMING = BinarySensorEntityDescription(key="roaming", translation_key="roaming")
NEW_VOICEMAIL = BinarySensorEntityDescription(key="new_voicemail", translation_key="new_voicemail")
CONNECTED = BinarySensorEntityDescription(
    key="connected",
    translation_key="connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connection sensor and every subscriber's binary sensors."""
    async_add_entities([WgtwoConnectedSensor(entry)])
    await async_setup_subscriber_entities(
        hass,
        entry,
        async_add_entities,
        lambda tracker, sub: [
            WgtwoRoamingSensor(tracker, sub, ROAMING),
            WgtwoVoicemailSensor(tracker, sub, NEW_VOICEMAIL),
        ],
    )


class WgtwoRoamingSensor(WgtwoSubscriberEntity, BinarySensorEntity, RestoreEntity):
    """On while the subscriber is outside the home country.

    The home country comes from the options, else from the number's country calling code;
    without either the state is unknown.
    """

    async def async_added_to_hass(self) -> None:
        """Restore the country code from before the restart (if no event reported one)."""
        await super().async_added_to_hass()
        state = await self.async_get_last_state()
        code = state.attributes.get("country_code") if state else None
        if isinstance(code, str) and code:
            country = Country(code=code, name=code)
            self._restored(self.subscriber.restore_country(country, None, code_only=True))

    @property
    def is_on(self) -> bool | None:
        """Return whether the subscriber is roaming."""
        return self.subscriber.roaming

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the home and current country codes."""
        country = self.subscriber.country
        return {
            "home_country": self.subscriber.home_country,
            "country_code": country.code if country else None,
        }


@dataclass
class VoicemailStoredData(ExtraStoredData):
    """Unheard voicemails kept across restarts (ids are needed to mark them read)."""

    voicemails: list[UnheardVoicemail]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "voicemails": [
                {
                    "voicemail_id": v.voicemail_id,
                    "from_number": v.from_number,
                    "time": v.time.isoformat(),
                }
                for v in self.voicemails
            ]
        }

    @classmethod
    def from_dict(cls, restored: dict[str, Any]) -> Self:
        """Read what ``as_dict`` wrote, skipping malformed items."""
        voicemails = []
        for item in restored.get("voicemails") or []:
            time = dt_util.parse_datetime(str(item.get("time", "")))
            if time is None or not item.get("voicemail_id"):
                continue
            voicemails.append(
                UnheardVoicemail(str(item["voicemail_id"]), item.get("from_number"), time)
            )
        return cls(voicemails)


class WgtwoVoicemailSensor(WgtwoSubscriberEntity, BinarySensorEntity, RestoreEntity):
    """On from a new voicemail until the user marks the voicemails heard."""

    async def async_added_to_hass(self) -> None:
        """Restore the unheard voicemails from before the restart."""
        await super().async_added_to_hass()
        extra = await self.async_get_last_extra_data()
        if extra is not None:
            stored = VoicemailStoredData.from_dict(extra.as_dict())
            self._restored(self.subscriber.restore_voicemails(stored.voicemails))

    @property
    def extra_restore_state_data(self) -> VoicemailStoredData:
        """Return the unheard voicemails to keep across a restart."""
        return VoicemailStoredData(list(self.subscriber.voicemails))

    @property
    def is_on(self) -> bool:
        """Return whether there are unheard voicemails."""
        return bool(self.subscriber.voicemails)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the unheard count and the latest voicemail's caller and id."""
        voicemails = self.subscriber.voicemails
        latest = max(voicemails, key=lambda v: v.time) if voicemails else None
        return {
            "unheard_count": len(voicemails),
            "last_caller": latest.from_number if latest else None,
            "voicemail_id": latest.voicemail_id if latest else None,
        }


class WgtwoConnectedSensor(BinarySensorEntity):
    """Whether the event stream is connected (on the entry's service device)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description = CONNECTED

    def __init__(self, entry: WgtwoConfigEntry) -> None:
        """Attach to the entry's service device."""
        self._entry = entry
        self._attr_unique_id = f"{entry.entry_id}_connected"
        self._attr_device_info = DeviceInfo(
            identifiers={service_identifier(entry.entry_id)},
            name=entry.title,
            manufacturer=MANUFACTURER,
            model="Events API",
            entry_type=DeviceEntryType.SERVICE,
        )

    async def async_added_to_hass(self) -> None:
        """Follow the hub's connection changes."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_CONNECTION.format(entry_id=self._entry.entry_id),
                self._connection_changed,
            )
        )

    @callback
    def _connection_changed(self, *_args: object) -> None:
        self.async_write_ha_state()

    @property
    def is_on(self) -> bool:
        """Return whether the hub is connected."""
        return bool(self._entry.runtime_data.hub.connected)
