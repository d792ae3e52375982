"""Options flow for wgtwo: events, the subscriber filter, one subscriber's settings, caller names.

Each step saves the whole options dict, merged with what is there, and the entry reloads.
New event types, and naming callers, are first checked against the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlowWithReload
from homeassistant.generated.countries import COUNTRIES
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.selector import (
    BooleanSelector,
    CountrySelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .client import MissingScopeError, WgtwoError
from .client.event_types import SCOPE_LOOKUP
from .compat import vol
from .const import (
    CONF_EVENT_TYPES,
    CONF_FORWARDING_NUMBER,
    CONF_HOME_COUNTRY,
    CONF_NAME_CALLERS,
    CONF_NAME_MAX_AGE,
    CONF_OWNERS,
    CONF_PHONEBOOK,
    CONF_SENDER_NAME,
    CONF_SHARE_SMS_TEXT,
    CONF_SMS_BUDGET,
    CONF_SMS_RECIPIENT,
    CONF_SUBSCRIBER_FILTER,
    CONF_SUBSCRIBERS,
    DEFAULT_EVENT_TYPES,
    DEFAULT_NAME_MAX_AGE,
    DEFAULT_SMS_BUDGET,
    DOMAIN,
    MIN_NAME_MAX_AGE,
    SENDER_NAME_MAX_LENGTH,
)
from .errors import form_error
from .forms import EVENT_TYPES_SELECTOR, async_validate
from .phonebook import (
    DuplicateNumberError,
    PhonebookError,
    format_phonebook,
    looks_like_number,
    numbers_named,
    parse_number,
    parse_phonebook,
)
from .runtime import WgtwoConfigEntry
from .settings import create_token_provider, get_settings

# Texts per subscriber and hour; more than this is no budget at all (0 turns it off).
_MAX_SMS_BUDGET: Final = 1000
OPTIONS_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_EVENT_TYPES): EVENT_TYPES_SELECTOR,
        vol.Optional(CONF_HOME_COUNTRY): CountrySelector(),
        vol.Optional(CONF_PHONEBOOK): TextSelector(TextSelectorConfig(multiline=True)),
        vol.Optional(CONF_SHARE_SMS_TEXT, default=False): BooleanSelector(),
        vol.Required(CONF_SMS_BUDGET, default=DEFAULT_SMS_BUDGET): NumberSelector(
            NumberSelectorConfig(min=0, max=_MAX_SMS_BUDGET, step=1, mode=NumberSelectorMode.BOX)
        ),
        vol.Optional(CONF_SENDER_NAME): TextSelector(),
    }
)
# An alphanumeric sender id: ASCII letters, digits and spaces, at least one letter (else it
# would read as a number), 1 to 11 characters.
_SENDER_NAME: Final = re.compile(
    rf"^(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9 ]{{0,{SENDER_NAME_MAX_LENGTH - 2}}}[A-Za-z0-9])?$"
)

CONF_SUBSCRIBER: Final = "subscriber"
OPTIONS_MENU: Final = ["general", "subscriber_filter", "subscriber", "caller_names"]
# The subscriber filter's form: every subscriber, or the chosen ones (the option's list).
CONF_ALL_SUBSCRIBERS: Final = "all_subscribers"
_PHONE = TextSelector(TextSelectorConfig(type=TextSelectorType.TEL))
# A number or a phonebook name, as wgtwo.send_sms takes them.
_RECIPIENT = TextSelector(TextSelectorConfig())
SUBSCRIBER_SCHEMA: Final = vol.Schema(
    {vol.Optional(CONF_SMS_RECIPIENT): _RECIPIENT, vol.Optional(CONF_FORWARDING_NUMBER): _PHONE}
)
# A day is the operator's own default; longer is never useful for a changed name.
_MAX_NAME_MAX_AGE: Final = 24 * 60
CALLER_NAMES_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_NAME_CALLERS, default=False): BooleanSelector(),
        vol.Required(CONF_NAME_MAX_AGE, default=DEFAULT_NAME_MAX_AGE): NumberSelector(
            NumberSelectorConfig(
                min=MIN_NAME_MAX_AGE,
                max=_MAX_NAME_MAX_AGE,
                step=1,
                unit_of_measurement="min",
                mode=NumberSelectorMode.BOX,
            )
        ),
    }
)


class WgtwoOptionsFlow(OptionsFlowWithReload):
    """A menu: events, the subscriber filter, one subscriber's settings, caller names; reloads.

    Each step saves the whole options dict, merged with what is there.
    """

    def __init__(self) -> None:
        """No subscriber chosen yet."""
        self._number = ""
        self._name = ""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer the option groups."""
        return self.async_show_menu(step_id="init", menu_options=OPTIONS_MENU)

    def _async_save(self, changes: Mapping[str, Any]) -> ConfigFlowResult:
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    # -- general ------------------------------------------------------------------------

    async def async_step_general(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Event types, home country, phonebook, SMS text sharing, SMS budget, sender name."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            options, errors, placeholders = await self._async_parse(user_input)
            if not errors:
                merged = {**entry.options, **options}
                for optional in (CONF_HOME_COUNTRY, CONF_SENDER_NAME):
                    if optional not in options:  # none: from each number, no sender name
                        merged.pop(optional, None)
                return self.async_create_entry(data=merged)
            suggested: Mapping[str, Any] = user_input
        else:
            suggested = {
                CONF_EVENT_TYPES: entry.options.get(CONF_EVENT_TYPES, DEFAULT_EVENT_TYPES),
                CONF_HOME_COUNTRY: entry.options.get(CONF_HOME_COUNTRY) or None,
                CONF_PHONEBOOK: format_phonebook(entry.options.get(CONF_PHONEBOOK, {})),
                CONF_SHARE_SMS_TEXT: entry.options.get(CONF_SHARE_SMS_TEXT, False),
                CONF_SMS_BUDGET: entry.options.get(CONF_SMS_BUDGET, DEFAULT_SMS_BUDGET),
                CONF_SENDER_NAME: entry.options.get(CONF_SENDER_NAME) or None,
            }
        return self.async_show_form(
            step_id="general",
            data_schema=self.add_suggested_values_to_schema(OPTIONS_SCHEMA, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_parse(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        entry = self.config_entry
        country = str(user_input.get(CONF_HOME_COUNTRY) or "").strip().upper()
        if country and country not in COUNTRIES:
            return {}, {CONF_HOME_COUNTRY: "invalid_country"}, {}
        sender = str(user_input.get(CONF_SENDER_NAME) or "").strip()
        if sender and not _SENDER_NAME.match(sender):
            return {}, {CONF_SENDER_NAME: "invalid_sender_name"}, {}
        try:
            phonebook = parse_phonebook(str(user_input.get(CONF_PHONEBOOK) or ""))
        except DuplicateNumberError as err:
            placeholders = {"first": err.first, "second": err.line}
            return {}, {CONF_PHONEBOOK: "duplicate_phonebook_number"}, placeholders
        except PhonebookError as err:
            return {}, {CONF_PHONEBOOK: "invalid_phonebook_line"}, {"line": err.line}
        event_types = list(user_input[CONF_EVENT_TYPES])
        if set(event_types) != set(entry.options.get(CONF_EVENT_TYPES, DEFAULT_EVENT_TYPES)):
            errors, placeholders = await async_validate(self.hass, entry.data, event_types)
            if errors:
                return {}, errors, placeholders
        options = {
            CONF_EVENT_TYPES: event_types,
            CONF_PHONEBOOK: phonebook,
            CONF_SHARE_SMS_TEXT: bool(user_input[CONF_SHARE_SMS_TEXT]),
            CONF_SMS_BUDGET: int(user_input[CONF_SMS_BUDGET]),
        }
        if country:
            options[CONF_HOME_COUNTRY] = country
        if sender:
            options[CONF_SENDER_NAME] = sender
        return options, {}, {}

    # -- the subscriber filter --------------------------------------------------------

    def _known(self) -> dict[str, str]:
        """Return the subscribers to offer, number -> name, sorted by name.

        Those with a device, those the last consent listing named (while the entry is
        loaded) and those already chosen; named from the device, else the phonebook.
        """
        entry = self.config_entry
        phonebook = entry.options.get(CONF_PHONEBOOK) or {}
        numbers: set[str] = set(entry.options.get(CONF_SUBSCRIBER_FILTER) or [])
        if entry.state is ConfigEntryState.LOADED:
            loaded: WgtwoConfigEntry = entry
            numbers |= loaded.runtime_data.coordinator.capabilities.consent.numbers
        known = {number: str(phonebook.get(number) or number) for number in numbers}
        known.update(self._subscribers())
        return dict(sorted(known.items(), key=lambda item: item[1].casefold()))

    async def async_step_subscriber_filter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose which subscribers get a device: all of them, or the ones listed."""
        entry = self.config_entry
        known = self._known()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            every = bool(user_input[CONF_ALL_SUBSCRIBERS])
            chosen: set[str] = set()
            if not every:  # with all of them, the list is not used (nor checked)
                entries = user_input.get(CONF_SUBSCRIBER_FILTER) or []
                chosen, refused, error = self._chosen(entries, known)
                if error is not None:
                    errors[CONF_SUBSCRIBER_FILTER] = error
                    placeholders["entry"] = refused
                elif not chosen:
                    errors[CONF_SUBSCRIBER_FILTER] = "no_subscriber_chosen"
            if not errors:
                options = dict(entry.options)
                options.pop(CONF_SUBSCRIBER_FILTER, None)
                if not every:
                    options[CONF_SUBSCRIBER_FILTER] = sorted(chosen)
                return self.async_create_entry(data=options)
            suggested: Mapping[str, Any] = user_input
        else:
            saved = entry.options.get(CONF_SUBSCRIBER_FILTER)
            suggested = {CONF_ALL_SUBSCRIBERS: saved is None, CONF_SUBSCRIBER_FILTER: saved or []}
        offered = [
            SelectOptionDict(value=number, label=name if name == number else f"{name} ({number})")
            for number, name in known.items()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_ALL_SUBSCRIBERS, default=True): BooleanSelector(),
                vol.Optional(CONF_SUBSCRIBER_FILTER): SelectSelector(
                    SelectSelectorConfig(
                        options=offered,
                        multiple=True,
                        custom_value=True,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="subscriber_filter",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _chosen(
        self, entries: list[str], known: Mapping[str, str]
    ) -> tuple[set[str], str, str | None]:
        """Turn what was chosen or typed into numbers (E.164).

        Each entry is a number in any spelling, or a name: of a subscriber offered, or from
        the phonebook (all of its numbers). Returns the numbers, and the first entry refused
        with its error key.
        """
        phonebook = self.config_entry.options.get(CONF_PHONEBOOK) or {}
        numbers: set[str] = set()
        for item in entries:
            text = str(item).strip()
            if not text:
                continue
            if looks_like_number(text):
                if (number := parse_number(text)) is None:
                    return set(), text, "invalid_filter_number"
                numbers.add(number)
                continue
            named = numbers_named(phonebook, text) | numbers_named(known, text)
            if not named:
                return set(), text, "unknown_filter_name"
            numbers |= named
        return numbers, "", None

    # -- one subscriber ---------------------------------------------------------------

    def _subscribers(self) -> dict[str, str]:
        """Return the entry's subscriber numbers and device names, from the device registry.

        Every subscriber the coordinator knows has a device, also while the entry is not
        loaded.
        """
        entry_id = self.config_entry.entry_id
        prefix = f"{entry_id}_"
        found: dict[str, str] = {}
        for device in dr.async_entries_for_config_entry(dr.async_get(self.hass), entry_id):
            for domain, identifier in device.identifiers:
                if domain == DOMAIN and identifier.startswith(prefix):
                    number = identifier.removeprefix(prefix)
                    found[number] = device.name_by_user or device.name or number
        return dict(sorted(found.items(), key=lambda item: item[1].casefold()))

    async def async_step_subscriber(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the subscriber whose numbers to set."""
        subscribers = self._subscribers()
        if not subscribers:
            return self.async_abort(reason="no_subscribers")
        if user_input is not None:
            self._number = str(user_input[CONF_SUBSCRIBER])
            self._name = subscribers[self._number]
            return await self.async_step_subscriber_settings()
        options = [
            SelectOptionDict(value=number, label=name if name == number else f"{name} ({number})")
            for number, name in subscribers.items()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_SUBSCRIBER): SelectSelector(
                    SelectSelectorConfig(options=options, mode=SelectSelectorMode.LIST)
                )
            }
        )
        return self.async_show_form(step_id="subscriber", data_schema=schema)

    async def _owners_selector(self) -> tuple[SelectSelector, set[str]]:
        """Offer the people who log in to Home Assistant (not its system users) as owners."""
        users = [u for u in await self.hass.auth.async_get_users() if not u.system_generated]
        users.sort(key=lambda user: (user.name or "").casefold())
        options = [SelectOptionDict(value=user.id, label=user.name or user.id) for user in users]
        selector = SelectSelector(
            SelectSelectorConfig(options=options, multiple=True, mode=SelectSelectorMode.DROPDOWN)
        )
        return selector, {user.id for user in users}

    async def async_step_subscriber_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set one subscriber's notify recipient, forwarding number and owners."""
        entry = self.config_entry
        subscribers: dict[str, Any] = dict(entry.options.get(CONF_SUBSCRIBERS) or {})
        owners_selector, user_ids = await self._owners_selector()
        schema = SUBSCRIBER_SCHEMA.extend({vol.Optional(CONF_OWNERS): owners_selector})
        errors: dict[str, str] = {}
        placeholders = {"name": self._name}
        if user_input is not None:
            settings: dict[str, Any] = {}
            recipient = str(user_input.get(CONF_SMS_RECIPIENT) or "").strip()
            settings[CONF_SMS_RECIPIENT], error = self._recipient(recipient)
            if error is not None:
                errors[CONF_SMS_RECIPIENT] = error
                placeholders["recipient"] = recipient
            text = str(user_input.get(CONF_FORWARDING_NUMBER) or "").strip()
            number = parse_number(text)
            if text and number is None:
                errors[CONF_FORWARDING_NUMBER] = "invalid_number"
            elif number == self._number:
                errors[CONF_FORWARDING_NUMBER] = "forwarding_to_itself"  # a loop
            settings[CONF_FORWARDING_NUMBER] = number or ""
            settings[CONF_OWNERS] = list(user_input.get(CONF_OWNERS) or [])
            if not errors:
                subscribers[self._number] = settings
                return self._async_save({CONF_SUBSCRIBERS: subscribers})
            suggested: Mapping[str, Any] = user_input
        else:
            saved = subscribers.get(self._number) or {}
            # A removed user is no longer offered, so it is not shown either.
            owners = [user_id for user_id in saved.get(CONF_OWNERS) or [] if user_id in user_ids]
            suggested = {**saved, CONF_OWNERS: owners}
        return self.async_show_form(
            step_id="subscriber_settings",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _recipient(self, text: str) -> tuple[str, str | None]:
        """Return what to store for the SMS recipient, and the error key if it is refused.

        A number is stored in E.164; a name from the phonebook as typed, and looked up when
        sending (so a changed number in the phonebook is followed).
        """
        if not text:
            return "", None
        if looks_like_number(text):
            number = parse_number(text)
            return (number, None) if number is not None else ("", "invalid_recipient")
        numbers = numbers_named(self.config_entry.options.get(CONF_PHONEBOOK) or {}, text)
        if not numbers:
            return "", "unknown_recipient"
        if len(numbers) > 1:
            return "", "ambiguous_recipient"
        return text, None

    # -- caller names ---------------------------------------------------------------

    async def async_step_caller_names(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name callers on the subscribers' handsets from the phonebook (number lookup)."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            name_callers = bool(user_input[CONF_NAME_CALLERS])
            if name_callers and not entry.options.get(CONF_NAME_CALLERS):
                errors, placeholders = await self._async_check_scope(SCOPE_LOOKUP)
            if not errors:
                return self._async_save(
                    {
                        CONF_NAME_CALLERS: name_callers,
                        CONF_NAME_MAX_AGE: int(user_input[CONF_NAME_MAX_AGE]),
                    }
                )
            suggested: Mapping[str, Any] = user_input
        else:
            suggested = {
                CONF_NAME_CALLERS: entry.options.get(CONF_NAME_CALLERS, False),
                CONF_NAME_MAX_AGE: entry.options.get(CONF_NAME_MAX_AGE, DEFAULT_NAME_MAX_AGE),
            }
        return self.async_show_form(
            step_id="caller_names",
            data_schema=self.add_suggested_values_to_schema(CALLER_NAMES_SCHEMA, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_check_scope(self, scope: str) -> tuple[dict[str, str], dict[str, str]]:
        """Check that the OAuth client is granted ``scope`` (a token that carries it)."""
        provider = create_token_provider(
            self.hass, self.config_entry.data, {scope}, get_settings(self.hass)
        )
        if provider is None:  # a server without authentication grants everything
            return {}, {}
        try:
            await provider.get_token()
        except WgtwoError as err:
            if isinstance(err, MissingScopeError):
                return {"base": "missing_lookup_scope"}, {"scope": scope}
            key, placeholders = form_error(err)
            return {"base": key}, placeholders
        return {}, {}
