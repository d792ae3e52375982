"""Typed runtime data kept on the config entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .coordinator import WgtwoCoordinator
    from .hub import WgtwoHub


@dataclass
class WgtwoRuntimeData:
    """What a loaded entry owns: the connection (hub) and the per-subscriber state."""

    hub: WgtwoHub
    coordinator: WgtwoCoordinator


type WgtwoConfigEntry = ConfigEntry[WgtwoRuntimeData]
