"""Every ``wgtwo_event`` as a sentence in the logbook, in the user's language.

The sentences are the ``logbook_*`` keys of the ``common`` section of strings.json (the
section hassfest accepts for an integration's own texts with placeholders). They are read
from Home Assistant's translation cache in ``hass.config.language``; keys missing from that
language are English. The entry's name is the subscriber's device, the other party is named
from the bus event (phonebook name, else number); a hidden caller stays "a hidden number"
and SMS text never appears. Each entry links to the entity showing the event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_ENTITY_ID,
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

from . import bus_events as bus
from .const import DOMAIN, EVENT_WGTWO
from .data import WgtwoConfigEntry

CATEGORY: Final = "common"
_PREFIX: Final = f"component.{DOMAIN}.{CATEGORY}."

# The bus event's call type -> the sentence key's stem.
_CALL_STEMS: Final = {
    bus.TYPE_CALL_INITIATED: "call_initiated",
    bus.TYPE_CALL_RINGING: "call_ringing",
    bus.TYPE_CALL_ANSWERED: "call_answered",
    bus.TYPE_CALL_ENDED: "call_ended",
    bus.TYPE_CALL_FORWARDED: "call_forwarded",
}
_REPORT_STATUSES: Final = frozenset(
    {"delivered", "temporary_failure", "final_failure", "expired", "unknown"}
)
# The bus event's type -> (platform, entity key) of the entity showing it.
_ENTITIES: Final[dict[str, tuple[str, str]]] = {
    **dict.fromkeys([*_CALL_STEMS, bus.TYPE_CALL_MISSED], ("event", "call")),
    bus.TYPE_VOICEMAIL_NEW: ("event", "voicemail"),
    bus.TYPE_SMS_RECEIVED: ("event", "sms"),
    bus.TYPE_SMS_SENT: ("event", "sms"),
    bus.TYPE_SMS_DELIVERY_REPORT: ("event", "sms"),
    bus.TYPE_ROAMING: ("sensor", "roaming_country"),
    bus.TYPE_LOCATION: ("sensor", "location"),
    bus.TYPE_HANDSET: ("sensor", "handset"),
}

UNKNOWN_PARTY: Final = "logbook_unknown_party"

type Sentence = tuple[str, dict[str, str | None]]


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

    A ``party`` placeholder of None stands for "an unknown number" (translated when the
    sentence is rendered); a hidden caller has a sentence of its own instead.
    """
    event_type = str(data.get(bus.ATTR_TYPE))
    if event_type in _CALL_STEMS or event_type == bus.TYPE_CALL_MISSED:
        return _call(event_type, data)
    match event_type:
        case bus.TYPE_VOICEMAIL_NEW:
            if caller := _party(data, "from"):
                return "logbook_voicemail_new", {"party": caller}
            return "logbook_voicemail_new_hidden", {}
        case bus.TYPE_SMS_RECEIVED:
            return "logbook_sms_received", {"party": _party(data, "from")}
        case bus.TYPE_SMS_SENT:
            return "logbook_sms_sent", {"party": _party(data, "to")}
        case bus.TYPE_SMS_DELIVERY_REPORT:
            status = data.get("status")
            status = status if status in _REPORT_STATUSES else "unknown"
            return f"logbook_sms_report_{status}", {"party": _party(data, "to")}
        case bus.TYPE_ROAMING:
            return _country(data)
        case bus.TYPE_LOCATION:
            return _location(data)
        case bus.TYPE_HANDSET:
            return _handset(data)
        case bus.TYPE_CONSENT_REVOKED:
            return "logbook_consent_revoked", {}
    return "logbook_other", {"type": event_type}


def _call(event_type: str, data: Mapping[str, Any]) -> Sentence:
    """Incoming calls name the caller (or say it was hidden), outgoing ones the callee."""
    placeholders: dict[str, str | None] = {}
    if event_type == bus.TYPE_CALL_MISSED:
        key = "logbook_call_missed"
    else:
        stem = _CALL_STEMS[event_type]
        duration = data.get("duration")
        if event_type == bus.TYPE_CALL_ENDED and isinstance(duration, int | float):
            stem = "call_ended_after"
            placeholders["duration"] = format_duration(duration)
        if data.get("direction") == "outgoing":
            return f"logbook_{stem}_outgoing", placeholders | {"party": _party(data, "to")}
        key = f"logbook_{stem}_incoming"
    if caller := _party(data, "from"):
        return key, placeholders | {"party": caller}
    return f"{key}_hidden", placeholders


def _party(data: Mapping[str, Any], side: str) -> str | None:
    """Name ``side`` by the phonebook name the event carries, else its number or address.

    None when the event has neither: a hidden caller (whose number the bus event leaves
    out), or an address the network did not give.
    """
    number_key = f"{side}_number" if f"{side}_number" in data else f"{side}_address"
    for value in (data.get(f"{side}_name"), data.get(number_key)):
        if isinstance(value, str) and value:
            return value
    return None


def _country(data: Mapping[str, Any]) -> Sentence:
    """Roaming, back home or at home, in the country named as the event names it."""
    current = data.get("current")
    country = (current.get("name") or current.get("code")) if isinstance(current, dict) else None
    if not isinstance(current, dict) or not country:
        return "logbook_country_unknown", {}
    placeholders: dict[str, str | None] = {"country": str(country)}
    roaming = data.get("roaming")
    if roaming is True:
        return "logbook_roaming", placeholders
    if roaming is None:
        return "logbook_country", placeholders
    previous = data.get("previous")
    if isinstance(previous, dict) and previous.get("code") != current.get("code"):
        return "logbook_back_home", placeholders
    return "logbook_at_home", placeholders


def _location(data: Mapping[str, Any]) -> Sentence:
    """Name the node the serving-node sensor shows: MME, else VLR, SGSN or MSC."""
    current = data.get("current")
    if isinstance(current, dict):
        for node_key in ("mme", "vlr", "sgsn", "msc"):
            if node := current.get(node_key):
                return "logbook_location", {"node": str(node)}
    return "logbook_location_unknown", {}


def _handset(data: Mapping[str, Any]) -> Sentence:
    """Tell a new handset from new software on the same one; the IMEI is not shown."""
    current = data.get("current")
    if not isinstance(current, dict) or not current.get("imei"):
        return "logbook_handset_unknown", {}
    previous = data.get("previous")
    if isinstance(previous, dict) and previous.get("imei") == current.get("imei"):
        return "logbook_handset_software", {
            "software_version": str(current.get("software_version") or "")
        }
    return "logbook_handset_changed", {}


def format_duration(seconds: float) -> str:
    """Seconds as a clock reading, the same in every language: ``m:ss`` or ``h:mm:ss``."""
    minutes, secs = divmod(max(round(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _subscriber_name(hass: HomeAssistant, data: Mapping[str, Any]) -> str:
    """Name the subscriber by its device; once that is gone, by phonebook or number."""
    number = str(data.get(bus.ATTR_SUBSCRIBER) or "")
    device_id = data.get(bus.ATTR_DEVICE_ID)
    device = dr.async_get(hass).async_get(device_id) if isinstance(device_id, str) else None
    if device is not None and (name := device.name_by_user or device.name):
        return name
    entries: list[WgtwoConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    for entry in entries:
        if name := entry.runtime_data.coordinator.phonebook.name_for(number):
            return name
    return number


def _entity_id(hass: HomeAssistant, data: Mapping[str, Any]) -> str | None:
    """Find the enabled entity of the subscriber's device that shows this type of event."""
    device_id = data.get(bus.ATTR_DEVICE_ID)
    target = _ENTITIES.get(str(data.get(bus.ATTR_TYPE)))
    if not isinstance(device_id, str) or target is None:
        return None
    platform, key = target
    suffix = f"_{data.get(bus.ATTR_SUBSCRIBER)}_{key}"
    for entity in er.async_entries_for_device(er.async_get(hass), device_id):
        if (
            entity.domain == platform
            and entity.platform == DOMAIN
            and entity.unique_id.endswith(suffix)
        ):
            return entity.entity_id
    return None
