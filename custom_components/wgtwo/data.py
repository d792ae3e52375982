"""Typed runtime data kept on the config entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .hub import WgtwoHub
    from .tracker import SubscriberTracker


@dataclass
class WgtwoRuntimeData:
    """What a loaded entry owns: the connection (hub) and the per-subscriber state (tracker)."""

    hub: WgtwoHub
    tracker: SubscriberTracker


type WgtwoConfigEntry = ConfigEntry[WgtwoRuntimeData]
