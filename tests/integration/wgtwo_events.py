"""Builders of sandbox events (protobuf JSON) for the entity and bus event tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from custom_components.wgtwo.client import WgtwoEvent
from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import DOMAIN, device_identifier
from custom_components.wgtwo.coordinator import WgtwoCoordinator
from custom_components.wgtwo.runtime import WgtwoConfigEntry
from custom_components.wgtwo.storage import SHARD_VERSION, SHARDS, shard_key, shard_of

if TYPE_CHECKING:
    # Only a type: the browser tests import these builders without Home Assistant's test
    # plugin, which is made for one release (the development instance may run a newer one).
    from pytest_homeassistant_custom_component.common import MockConfigEntry

ALICE = "+4799900001"
BOB = "+4799900002"
CAROL = "+4670000003"
OUTSIDER = "+4791111111"


class Parties(TypedDict):
    """Who calls whom, and which subscriber's stream the event belongs to."""

    from_number: str
    to_number: str
    owner: str


BASE_TIME = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """An ISO timestamp ``seconds`` after the base time."""
    return (BASE_TIME + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _event(owner: str | None, seconds: float, payload: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"timestamp": at(seconds), **payload}
    if owner is not None:
        event["owner"] = {"phoneNumber": {"e164": owner}, "sub": "sub-" + owner[-4:]}
    return {"event": event}


def voice(
    call_id: str,
    kind: str,
    *,
    from_number: str,
    to_number: str,
    owner: str,
    seconds: float = 0.0,
    hidden: bool = False,
) -> dict[str, Any]:
    """A voice event; ``kind`` is CALL_INITIATED, CALL_RINGING, ... ."""
    return _event(
        owner,
        seconds,
        {
            "voiceEvent": {
                "callId": call_id,
                "type": kind,
                "fromNumber": {"e164": from_number},
                "toNumber": {"e164": to_number},
                "callerIdHidden": hidden,
            }
        },
    )


def call(
    call_id: str,
    kinds: list[str],
    *,
    from_number: str,
    to_number: str,
    owner: str,
    start: float = 0.0,
    hidden: bool = False,
) -> list[dict[str, Any]]:
    """Several voice events of one call, one second apart."""
    return [
        voice(
            call_id,
            kind,
            from_number=from_number,
            to_number=to_number,
            owner=owner,
            seconds=start + i,
            hidden=hidden,
        )
        for i, kind in enumerate(kinds)
    ]


def voicemail(
    voicemail_id: str, *, from_number: str, to_number: str, seconds: float = 0.0
) -> dict[str, Any]:
    """A new voicemail left for ``to_number``."""
    return _event(
        to_number,
        seconds,
        {
            "voicemailEvent": {
                "voicemailId": voicemail_id,
                "type": "NEW_VOICEMAIL",
                "fromNumber": {"e164": from_number},
                "toNumber": {"e164": to_number},
            }
        },
    )


def sms(
    *,
    owner: str,
    from_number: str,
    to_number: str,
    direction: str,
    text: str = "hello",
    uuid: str = "uuid-1",
    sms_id: str = "sms-1",
    seconds: float = 0.0,
) -> dict[str, Any]:
    """An SMS event; ``direction`` is FROM_SUBSCRIBER or TO_SUBSCRIBER."""
    return _event(
        owner,
        seconds,
        {
            "smsEvent": {
                "id": sms_id,
                "uuid": uuid,
                "fromE164": {"e164": from_number},
                "toE164": {"e164": to_number},
                "direction": direction,
                "text": text,
            }
        },
    )


def delivery_report(
    *, owner: str, to_number: str, status: str = "DELIVERED", seconds: float = 0.0
) -> dict[str, Any]:
    """A delivery report of an SMS the subscriber sent."""
    return _event(
        owner,
        seconds,
        {
            "smsDeliveryReportEvent": {
                "id": "report-1",
                "fromE164": {"e164": owner},
                "toE164": {"e164": to_number},
                "direction": "FROM_SUBSCRIBER",
                "smsId": "sms-1",
                "status": status,
            }
        },
    )


def country(
    owner: str, code: str, name: str, *, previous: tuple[str, str] | None = None, seconds: float = 0
) -> dict[str, Any]:
    """A roaming (country change) event."""
    payload: dict[str, Any] = {
        "msisdn": {"e164": owner},
        "current": {"code": code, "name": name},
    }
    if previous is not None:
        payload["previous"] = {"code": previous[0], "name": previous[1]}
    return _event(owner, seconds, {"countryChangeEvent": payload})


def location(owner: str, *, vlr: str, mme: str | None = None, seconds: float = 0) -> dict[str, Any]:
    """A location update event."""
    current: dict[str, Any] = {"vlr": {"value": vlr}, "msc": {"value": vlr}}
    if mme is not None:
        current["mme"] = {"value": mme}
    return _event(
        owner, seconds, {"locationUpdateEvent": {"number": {"e164": owner}, "current": current}}
    )


def handset(owner: str, imei: str, *, seconds: float = 0) -> dict[str, Any]:
    """A handset (IMEI) change event."""
    return _event(
        owner,
        seconds,
        {
            "handsetUpdateEvent": {
                "number": {"e164": owner},
                "imsi": {"value": "242010000000001"},
                "previous": {"imeiSv": {"imei": "350000000000001", "softwareVersion": "01"}},
                "current": {"imeiSv": {"imei": imei, "softwareVersion": "02"}},
            }
        },
    )


def consent_revoke(owner: str, *, seconds: float = 0) -> dict[str, Any]:
    """A consent revocation."""
    return _event(owner, seconds, {"consentRevokeEvent": {"msisdn": {"e164": owner}}})


def snapshot_store(hass_storage: dict[str, Any], entry_id: str) -> dict[str, Any]:
    """The entry's snapshot store as stored: its secret's store and its shards, by key."""
    prefix = f"{DOMAIN}.{entry_id}.facts"
    return {key: value for key, value in hass_storage.items() if key.startswith(prefix)}


def stored_snapshots(hass_storage: dict[str, Any], entry_id: str) -> dict[str, Any]:
    """Every subscriber's stored snapshot, by number (gathered from the store's shards)."""
    snapshots: dict[str, Any] = {}
    for shard in range(SHARDS):
        if (stored := hass_storage.get(shard_key(entry_id, shard))) is not None:
            snapshots.update(stored["data"]["subscribers"])
    return snapshots


def store_snapshots(hass_storage: dict[str, Any], entry_id: str, snapshots: dict[str, Any]) -> None:
    """Put snapshots into the store's shards, as a run of this version leaves them."""
    for number, snapshot in snapshots.items():
        key = shard_key(entry_id, shard_of(number))
        stored = hass_storage.setdefault(
            key,
            {"version": SHARD_VERSION, "minor_version": 1, "key": key, "data": {"subscribers": {}}},
        )
        stored["data"]["subscribers"][number] = snapshot


def coordinator_of(entry: MockConfigEntry) -> WgtwoCoordinator:
    """The coordinator of a loaded entry."""
    typed: WgtwoConfigEntry = entry
    return typed.runtime_data.coordinator


async def handle(coordinator: WgtwoCoordinator, event: WgtwoEvent) -> None:
    """Hand one typed event to the coordinator as the hub does, and wait for its save."""
    if (pending := coordinator.handle_event(event)) is not None:
        await pending


def entity_id(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, number: str, key: str
) -> str:
    """The entity id of a subscriber entity, found by its unique id."""
    found = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{entry.entry_id}_{number}_{key}"
    )
    assert found is not None, f"no {platform} {key} for the subscriber"
    return found


def device_of(hass: HomeAssistant, entry: MockConfigEntry, number: str) -> dr.DeviceEntry | None:
    """The device of a subscriber of the entry (None: it has none)."""
    return device_by_identifier(
        dr.async_get(hass), device_identifier(entry.entry_id, number), entry.entry_id
    )


def device_id_of(hass: HomeAssistant, entry: MockConfigEntry, number: str) -> str:
    """The id of a subscriber's device, which must exist."""
    device = device_of(hass, entry, number)
    assert device is not None
    return device.id
