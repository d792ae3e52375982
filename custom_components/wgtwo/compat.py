"""What differs between the Home Assistant releases the integration runs on (2026.6.0 on).

Home Assistant validates with ``probatio`` from 2026.9 and with ``voluptuous`` before; the
integration's schemas use the one its Home Assistant uses, imported here as ``vol``. Some
names moved to a platform's ``const`` module, where older releases do not have them.
"""

from __future__ import annotations

from homeassistant.helpers import device_registry as dr

try:
    import probatio as vol
except ImportError:  # pragma: no cover - Home Assistant before 2026.9
    import voluptuous as vol  # type: ignore[no-redef]

try:
    from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
    from homeassistant.components.notify.const import NotifyEntityFeature
except ImportError:  # pragma: no cover - Home Assistant before 2026.10
    from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined]
        BinarySensorDeviceClass,
    )
    from homeassistant.components.notify import (  # type: ignore[attr-defined]
        NotifyEntityFeature,
    )

__all__ = ["BinarySensorDeviceClass", "NotifyEntityFeature", "device_by_identifier", "vol"]


def device_by_identifier(
    registry: dr.DeviceRegistry, identifier: tuple[str, str], config_entry_id: str
) -> dr.DeviceEntry | None:
    """Return the entry's device with this identifier.

    Releases before 2026.8 have no ``async_get_device_by_identifier``; their
    ``async_get_device`` (deprecated from 2026.9) finds it by the identifier alone.
    """
    if hasattr(registry, "async_get_device_by_identifier"):
        return registry.async_get_device_by_identifier(identifier, config_entry_id)
    return registry.async_get_device(identifiers={identifier})  # pragma: no cover
