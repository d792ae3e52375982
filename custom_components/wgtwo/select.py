"""Call forwarding of a subscriber as a select: off, voicemail, a number, or conditional.

The operator's API cannot be asked for the current forwarding, so the state is what Home
Assistant last set (assumed): unknown until then, kept across restarts by the coordinator,
unchanged when a request fails, unknown again when the operator may have carried out a
request it did not confirm. A forwarding changed on the phone is not seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .capabilities.forwarding import FORWARDING_OPTIONS, NUMBER_MISSING_SELECT
from .client import ForwardingMode
from .const import SCOPES_FORWARDING
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry
from .subscriber import Aspect

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WgtwoSelectDescription(SelectEntityDescription, WgtwoEntityDescription):
    """A select of a subscriber."""


CALL_FORWARDING: Final = WgtwoSelectDescription(
    key="call_forwarding",
    translation_key="call_forwarding",
    options=FORWARDING_OPTIONS,
    aspects=Aspect.FORWARDING,
    scopes=SCOPES_FORWARDING,
)
ATTR_ASSUMED: Final = "assumed"
ATTR_SET_AT: Final = "set_at"
ATTR_FORWARDED_TO: Final = "forwarded_to"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the call forwarding select of every subscriber, now and when new ones appear."""
    async_setup_subscriber_entities(
        entry,
        async_add_entities,
        lambda coordinator, sub: [WgtwoCallForwardingSelect(coordinator, sub, CALL_FORWARDING)],
    )


class WgtwoCallForwardingSelect(WgtwoSubscriberEntity, SelectEntity):
    """Where the subscriber's incoming calls go, as last set from Home Assistant."""

    _attr_assumed_state = True
    entity_description: WgtwoSelectDescription
    _force_update = False

    @property
    def force_update(self) -> bool:
        """Write the state even unchanged: only to take back an option that was refused."""
        return self._force_update

    @property
    def current_option(self) -> str | None:
        """Return the forwarding last set (None: never set from here, or unsure)."""
        forwarding = self.subscriber.forwarding
        return str(forwarding.mode) if forwarding is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Say that the state is assumed, since when, and where calls go."""
        forwarding = self.subscriber.forwarding
        return {
            ATTR_ASSUMED: True,
            ATTR_SET_AT: forwarding.set_at.isoformat() if forwarding is not None else None,
            ATTR_FORWARDED_TO: forwarding.number if forwarding is not None else None,
        }

    async def async_select_option(self, option: str) -> None:
        """Ask the operator for the forwarding; the state changes only once it accepted.

        A refusal writes the state again at once, so the select shows the option that
        holds (not the refused one) as the error appears. Refused for a person who is
        neither an administrator nor one of the owners (``_context``: the action call that
        targeted this entity).
        """
        try:
            await self.coordinator.capabilities.forwarding.async_set(
                self.subscriber,
                ForwardingMode(option),
                context=self._context,
                missing=NUMBER_MISSING_SELECT,
            )
        except HomeAssistantError:
            self._take_back()
            raise

    def _take_back(self) -> None:
        """Show the option that holds again, now, instead of the one the user picked.

        The frontend shows the picked option until the entity's state is written again; an
        unchanged state is not written unless forced.
        """
        self._force_update = True
        try:
            self.async_write_ha_state()
        finally:
            self._force_update = False
