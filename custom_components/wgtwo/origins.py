"""Who asked for an action: the automation, script or user behind a service call's context.

Home Assistant gives every run of an automation a context of its own and fires
``automation_triggered`` with that context as the run starts; every action the run calls
carries the same context (``call.context.id`` is the run's). A script fires
``script_started`` with the context it runs in, which its actions carry too. The logbook
links an action to its automation the same way, by the first event of a context. So the
integration listens to these two events and remembers, for the most recent contexts, which
automation or script each one started (only entity ids and names: nothing personal). A
service call is then traced by its context id, then by its parent's (a context derived from
a run); else by its user (``context.user_id``: a press in the UI, a call over the API); else
its origin is unknown (another integration, say). Recorder, logbook and traces are not
needed: they may be off.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from homeassistant.const import ATTR_ENTITY_ID, ATTR_NAME
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.helpers.translation import async_get_cached_translations
from homeassistant.util.hass_dict import HassKey

from .client.dedup import BoundedLRU
from .const import DOMAIN

# The events Home Assistant fires as an automation's or a script's run starts (the
# automation and script components' own constants, not imported to keep them unloaded).
EVENT_AUTOMATION_TRIGGERED: Final = "automation_triggered"
EVENT_SCRIPT_STARTED: Final = "script_started"
# How many runs are remembered: enough for every run of a busy hour.
_REMEMBERED_RUNS: Final = 512


class OriginKind(StrEnum):
    """What asked for an action."""

    AUTOMATION = "automation"
    SCRIPT = "script"
    USER = "user"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Origin:
    """Who asked for an action: its kind, its name and (automation, script) its entity."""

    kind: OriginKind
    name: str = ""
    entity_id: str = ""


UNKNOWN_ORIGIN: Final = Origin(OriginKind.UNKNOWN)

# English phrases, for when Home Assistant's translation cache has none.
_PHRASES: Final = {
    OriginKind.AUTOMATION: "Automation “{name}” ({entity_id})",
    OriginKind.SCRIPT: "Script “{name}” ({entity_id})",
    OriginKind.USER: "User “{name}”",
    OriginKind.UNKNOWN: "Unknown: no automation, script or user (another integration, perhaps)",
}


class OriginTracker:
    """Remembers which automation or script started each recent context."""

    def __init__(self) -> None:
        """Remember nothing yet."""
        self._runs: BoundedLRU[Origin | None] = BoundedLRU(_REMEMBERED_RUNS)

    @callback
    def async_run_started(self, event: Event) -> None:
        """Remember the automation or script whose run has this event's context."""
        context_id = event.context.id
        if context_id in self._runs:
            return  # the first event of a context names it (a script run by an automation)
        kind = (
            OriginKind.AUTOMATION
            if event.event_type == EVENT_AUTOMATION_TRIGGERED
            else OriginKind.SCRIPT
        )
        entity_id = str(event.data.get(ATTR_ENTITY_ID) or "")
        name = str(event.data.get(ATTR_NAME) or entity_id)
        self._runs.set(context_id, Origin(kind, name, entity_id))

    def run_of(self, context: Context) -> Origin | None:
        """Return the automation or script run of a context (or of its parent)."""
        for context_id in (context.id, context.parent_id):
            if context_id is not None and (origin := self._runs.get(context_id, None)):
                return origin
        return None


_TRACKER: Final[HassKey[OriginTracker]] = HassKey(f"{DOMAIN}_origins")


@callback
def async_setup_origins(hass: HomeAssistant) -> None:
    """Start remembering automation and script runs (from the integration's ``async_setup``)."""
    tracker = hass.data[_TRACKER] = OriginTracker()
    hass.bus.async_listen(EVENT_AUTOMATION_TRIGGERED, tracker.async_run_started)
    hass.bus.async_listen(EVENT_SCRIPT_STARTED, tracker.async_run_started)


async def async_origin(hass: HomeAssistant, context: Context | None) -> Origin:
    """Return who asked for the action that runs in ``context``."""
    if context is None:
        return UNKNOWN_ORIGIN
    tracker = hass.data.get(_TRACKER)
    if tracker is not None and (run := tracker.run_of(context)) is not None:
        return run
    if context.user_id is not None:
        user = await hass.auth.async_get_user(context.user_id)
        if user is not None:
            return Origin(OriginKind.USER, user.name or user.id)
    return UNKNOWN_ORIGIN


def origin_text(hass: HomeAssistant, origin: Origin) -> str:
    """Say who it was, in Home Assistant's language (English when not cached)."""
    key = f"component.{DOMAIN}.common.origin_{origin.kind}"
    phrase = _PHRASES[origin.kind]
    for language in (hass.config.language, "en"):
        if found := async_get_cached_translations(hass, language, "common", DOMAIN).get(key):
            phrase = found
            break
    # Every language has the same placeholders (a test checks it).
    return phrase.format(name=origin.name, entity_id=origin.entity_id)
