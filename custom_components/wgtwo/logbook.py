"""Every ``wgtwo_event`` as a sentence in the logbook, in the user's language.

The sentences are the ``logbook_*`` keys of the ``common`` section of strings.json (the
section hassfest accepts for an integration's own texts with placeholders). They are read
from Home Assistant's translation cache in ``hass.config.language``; keys missing from that
language are English. The entry's name is the subscriber's device, the other party is named
from the bus event (phonebook name, else number); a hidden caller stays "a hidden number"
and SMS text never appears. Each entry links to the entity showing the event; a sentence
whose entity may be disabled has an icon of its own.

Which entries Activity lists (Home Assistant's logbook): unfiltered, every described
``wgtwo_event`` and every state change of an entity outside its continuous domains (an
event entity's state, the time of its last event, changes with every event, so the Call,
SMS and Voicemail event entities have an entry of their own beside the sentence). Filtered
to a device, the frontend asks for the device's entities, and the logbook then lists the
described events whose data name one of them as ``entity_id``: the coordinator puts it in
every ``wgtwo_event``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_ENTITY_ID,
    LOGBOOK_ENTRY_ICON,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.components.logbook.models import LazyEventPartialState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.translation import (
    LOCALE_EN,
    async_get_cached_translations,
    async_get_translations,
    async_translations_loaded,
)

from .capabilities import BUS_EVENTS
from .capabilities.base import ATTR_DEVICE_ID, ATTR_SUBSCRIBER, ATTR_TYPE, Sentence
from .const import DOMAIN, EVENT_WGTWO
from .runtime import loaded_coordinators

CATEGORY: Final = "common"
_PREFIX: Final = f"component.{DOMAIN}.{CATEGORY}."

UNKNOWN_PARTY: Final = "logbook_unknown_party"


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[
        [str, str, Callable[[LazyEventPartialState], dict[str, Any]]], None
    ],
) -> None:
    """Describe ``wgtwo_event`` to the logbook."""
    sentences = _Sentences(hass)
    sentences.async_ensure_loaded()

    def describe(event: LazyEventPartialState) -> dict[str, Any]:
        """Describe one event; past ones are described in the recorder's thread."""
        data = event.data
        key, placeholders = sentence(data)
        described: dict[str, Any] = {
            LOGBOOK_ENTRY_NAME: _subscriber_name(hass, data),
            LOGBOOK_ENTRY_MESSAGE: sentences.render(key, placeholders),
        }
        if entity_id := _entity_id(hass, data):
            described[LOGBOOK_ENTRY_ENTITY_ID] = entity_id
        if (bus_event := BUS_EVENTS.get(str(data.get(ATTR_TYPE)))) and bus_event.icon:
            described[LOGBOOK_ENTRY_ICON] = bus_event.icon
        return described

    async_describe_event(DOMAIN, EVENT_WGTWO, describe)


class _Sentences:
    """The logbook sentences of the current language, from the translation cache.

    Home Assistant loads an integration's translations when it is set up and again when
    the language changes; should the current language still be missing (describing cannot
    wait, and may run in the recorder's thread), the event loop is asked to load it and
    English is used meanwhile.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        self._hass = hass
        self._loading: set[str] = set()

    @callback
    def async_ensure_loaded(self) -> None:
        """Load the current language's sentences unless they are cached."""
        language = self._hass.config.language
        if async_translations_loaded(self._hass, {DOMAIN}) or language in self._loading:
            return
        self._loading.add(language)

        async def _load() -> None:
            try:
                await async_get_translations(self._hass, language, CATEGORY, [DOMAIN])
            finally:
                self._loading.discard(language)

        self._hass.async_create_task(_load(), f"{DOMAIN} logbook translations")

    def render(self, key: str, placeholders: Mapping[str, str | None]) -> str:
        """Fill in sentence ``key`` (a None placeholder: "an unknown number"); any thread."""
        if not async_translations_loaded(self._hass, {DOMAIN}):
            self._hass.loop.call_soon_threadsafe(self.async_ensure_loaded)
        strings = self._strings()
        values = {
            name: strings.get(_PREFIX + UNKNOWN_PARTY, "?") if value is None else value
            for name, value in placeholders.items()
        }
        template = strings.get(_PREFIX + key)
        if template is not None:
            try:
                return template.format(**values)
            except KeyError, IndexError, ValueError:
                pass  # a translation with broken placeholders: say it in English
        english = async_get_cached_translations(self._hass, LOCALE_EN, CATEGORY, DOMAIN)
        if (template := english.get(_PREFIX + key)) is not None:
            return template.format(**values)
        # Nothing cached at all: not expected once the integration is set up.
        return key

    def _strings(self) -> dict[str, str]:
        """Return the cached strings of the current language (English fills gaps), else English."""
        language = self._hass.config.language
        if not async_translations_loaded(self._hass, {DOMAIN}):
            language = LOCALE_EN
        return async_get_cached_translations(self._hass, language, CATEGORY, DOMAIN)


def sentence(data: Mapping[str, Any]) -> Sentence:
    """Choose the sentence key and placeholders that describe a bus event's data.

    The capability that fires the event type knows its sentence; a type it does not know
    (from a newer version, in the recorded history) is named as it is.
    """
    event_type = str(data.get(ATTR_TYPE))
    if (described := BUS_EVENTS.get(event_type)) is not None:
        return described.sentence(data)
    return "logbook_other", {"type": event_type}


def _subscriber_name(hass: HomeAssistant, data: Mapping[str, Any]) -> str:
    """Name the subscriber by its device; once that is gone, by phonebook or number."""
    number = str(data.get(ATTR_SUBSCRIBER) or "")
    device_id = data.get(ATTR_DEVICE_ID)
    device = dr.async_get(hass).async_get(device_id) if isinstance(device_id, str) else None
    if device is not None and (name := device.name_by_user or device.name):
        return name
    for coordinator in loaded_coordinators(hass):
        if name := coordinator.phonebook.name_for(number):
            return name
    return number


def _entity_id(hass: HomeAssistant, data: Mapping[str, Any]) -> str | None:
    """Find the enabled entity of the subscriber's device that shows this type of event."""
    device_id = data.get(ATTR_DEVICE_ID)
    described = BUS_EVENTS.get(str(data.get(ATTR_TYPE)))
    if not isinstance(device_id, str) or described is None or described.entity is None:
        return None
    platform, key = described.entity
    suffix = f"_{data.get(ATTR_SUBSCRIBER)}_{key}"
    for entity in er.async_entries_for_device(er.async_get(hass), device_id):
        if (
            entity.domain == platform
            and entity.platform == DOMAIN
            and entity.unique_id.endswith(suffix)
        ):
            return entity.entity_id
    return None
