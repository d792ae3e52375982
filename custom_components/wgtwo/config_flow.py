"""Config, reauth and reconfigure flows for wgtwo; the options flow is in options_flow.py.

Every path that saves credentials first checks them against the API (see forms.py). Input
the API cannot take (a malformed host, absurdly long credentials) is refused before any
request, and every refusal the API gives is shown as a translated error, never as
``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .client import DEFAULT_TOKEN_URL, Endpoint, InvalidEndpointError, is_loopback_host
from .client.auth import MAX_CREDENTIAL_LENGTH
from .client.endpoint import check_token_url, normalize_target
from .compat import vol
from .const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_EVENT_TYPES,
    CONF_HOST,
    CONF_PHONEBOOK,
    CONF_PLAINTEXT,
    CONF_SHARE_SMS_TEXT,
    CONF_TOKEN_URL,
    DEFAULT_EVENT_TYPES,
    DOMAIN,
    ENV_CUSTOM,
    ENV_EU,
    ENV_SANDBOX,
    ENVIRONMENT_OPTIONS,
)
from .forms import EVENT_TYPES_SELECTOR, async_validate
from .migrate import ENTRY_MINOR_VERSION, ENTRY_VERSION, unique_id_as_stored, unique_id_for
from .options_flow import WgtwoOptionsFlow
from .runtime import WgtwoConfigEntry

# Far longer than any real token URL; a longer one is a paste mistake.
_MAX_URL_LENGTH: Final = 2000
_LENGTH_PLACEHOLDERS: Final = {"max_length": str(MAX_CREDENTIAL_LENGTH)}
_ENVIRONMENT_TITLES: Final = {
    "eu": "EU",
    "us": "US",
    "sakura": "Sakura",
    ENV_SANDBOX: "sandbox",
}

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_TEXT = TextSelector()
_ENVIRONMENT_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=ENVIRONMENT_OPTIONS,
        translation_key=CONF_ENVIRONMENT,
        mode=SelectSelectorMode.LIST,
    )
)
USER_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_ENVIRONMENT, default=ENV_EU): _ENVIRONMENT_SELECTOR,
        vol.Required(CONF_EVENT_TYPES, default=list(DEFAULT_EVENT_TYPES)): EVENT_TYPES_SELECTOR,
    }
)
RECONFIGURE_SCHEMA: Final = vol.Schema({vol.Required(CONF_ENVIRONMENT): _ENVIRONMENT_SELECTOR})
CREDENTIALS_SCHEMA: Final = vol.Schema(
    {vol.Required(CONF_CLIENT_ID): _TEXT, vol.Required(CONF_CLIENT_SECRET): _PASSWORD}
)
CUSTOM_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_HOST): _TEXT,
        vol.Required(CONF_PLAINTEXT, default=False): BooleanSelector(),
        vol.Required(CONF_TOKEN_URL, default=DEFAULT_TOKEN_URL): TextSelector(
            TextSelectorConfig(type=TextSelectorType.URL)
        ),
        vol.Optional(CONF_CLIENT_ID): _TEXT,
        vol.Optional(CONF_CLIENT_SECRET): _PASSWORD,
    }
)


def title_for(data: Mapping[str, Any]) -> str:
    """Return a readable entry title (no secrets)."""
    environment = data[CONF_ENVIRONMENT]
    where = data[CONF_HOST] if environment == ENV_CUSTOM else _ENVIRONMENT_TITLES[environment]
    client_id = data.get(CONF_CLIENT_ID)
    return f"wgtwo {where} ({client_id})" if client_id else f"wgtwo {where}"


def _credential_errors(user_input: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Refuse absurdly long credentials before any request (no server would take them)."""
    errors = {
        key: "too_long"
        for key in (CONF_CLIENT_ID, CONF_CLIENT_SECRET)
        if len(str(user_input.get(key) or "")) > MAX_CREDENTIAL_LENGTH
    }
    return errors, dict(_LENGTH_PLACEHOLDERS) if errors else {}


def _is_token_url(url: str) -> bool:
    """Return whether ``url`` may receive credentials (see :func:`check_token_url`)."""
    if len(url) > _MAX_URL_LENGTH:
        return False
    try:
        check_token_url(url)
        port = urlsplit(url).port  # raises for a port out of range
    except ValueError:  # also what urlsplit raises for e.g. "http://[::1"
        return False
    return port != 0


def _custom_field_errors(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Validate the custom server fields without any I/O."""
    host = str(user_input[CONF_HOST]).strip()
    try:
        normalize_target(host)
        endpoint = Endpoint.parse(host)
    except InvalidEndpointError:
        return {CONF_HOST: "invalid_host"}
    if user_input[CONF_PLAINTEXT] and not is_loopback_host(endpoint.host):
        return {CONF_PLAINTEXT: "plaintext_not_loopback"}
    if not _is_token_url(str(user_input[CONF_TOKEN_URL]).strip()):
        return {CONF_TOKEN_URL: "invalid_token_url"}
    return {}


class WgtwoConfigFlow(ConfigFlow, domain=DOMAIN):
    """Choose an environment, give credentials when needed, check them, save."""

    VERSION = ENTRY_VERSION
    MINOR_VERSION = ENTRY_MINOR_VERSION

    def __init__(self) -> None:
        """Start with the defaults; steps fill these in."""
        self._environment = ENV_EU
        self._event_types: list[str] = list(DEFAULT_EVENT_TYPES)

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: WgtwoConfigEntry) -> WgtwoOptionsFlow:
        """Options: events and phonebook, a subscriber's numbers, caller names."""
        return WgtwoOptionsFlow()

    # -- user ---------------------------------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the environment and the event types."""
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=USER_SCHEMA)
        self._event_types = list(user_input[CONF_EVENT_TYPES])
        return await self._async_environment_chosen("user", USER_SCHEMA, user_input)

    async def async_step_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the OAuth client of a production environment."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            errors, placeholders = _credential_errors(user_input)
            if not errors:
                data = {
                    CONF_ENVIRONMENT: self._environment,
                    CONF_CLIENT_ID: user_input[CONF_CLIENT_ID].strip(),
                    CONF_CLIENT_SECRET: user_input[CONF_CLIENT_SECRET],
                }
                await self._async_check_unique(data)
                errors, placeholders = await async_validate(self.hass, data, self._event_types)
                if not errors:
                    return await self._async_finish(data)
        return self.async_show_form(
            step_id="credentials",
            data_schema=self.add_suggested_values_to_schema(
                CREDENTIALS_SCHEMA, user_input or self._current_data()
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_custom(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for a custom server (a local test server, or another deployment)."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            errors = _custom_field_errors(user_input)
            if not errors:
                errors, placeholders = _credential_errors(user_input)
            if not errors:
                data = {
                    CONF_ENVIRONMENT: ENV_CUSTOM,
                    CONF_HOST: str(user_input[CONF_HOST]).strip(),
                    CONF_PLAINTEXT: bool(user_input[CONF_PLAINTEXT]),
                    CONF_TOKEN_URL: str(user_input[CONF_TOKEN_URL]).strip(),
                    CONF_CLIENT_ID: str(user_input.get(CONF_CLIENT_ID, "")).strip(),
                    CONF_CLIENT_SECRET: str(user_input.get(CONF_CLIENT_SECRET, "")),
                }
                await self._async_check_unique(data)
                errors, placeholders = await async_validate(self.hass, data, self._event_types)
                if not errors:
                    return await self._async_finish(data)
        return self.async_show_form(
            step_id="custom",
            data_schema=self.add_suggested_values_to_schema(
                CUSTOM_SCHEMA, user_input or self._current_data()
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    # -- reauth -------------------------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication: the API rejected the saved credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new credentials and check them."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"title": entry.title}
        if user_input is not None:
            updates = {
                CONF_CLIENT_ID: user_input[CONF_CLIENT_ID].strip(),
                CONF_CLIENT_SECRET: user_input[CONF_CLIENT_SECRET],
            }
            errors, found = _credential_errors(user_input)
            if not errors:
                errors, found = await self._async_check_reauth(entry, updates)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, unique_id=self.unique_id, data_updates=updates
                )
            placeholders.update(found)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                CREDENTIALS_SCHEMA, user_input or {CONF_CLIENT_ID: entry.data.get(CONF_CLIENT_ID)}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_check_reauth(
        self, entry: ConfigEntry, updates: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Check new credentials; they must be of the entry's client, if it has one."""
        data = {**entry.data, **updates}
        if entry.data.get(CONF_CLIENT_ID):
            await self._async_keep_client(entry, data)
        else:
            # An entry without credentials gains a client, which may be taken already.
            await self._async_check_unique(data)
        return await async_validate(
            self.hass, data, entry.options.get(CONF_EVENT_TYPES, DEFAULT_EVENT_TYPES)
        )

    # -- reconfigure --------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the environment or the credentials of an entry."""
        entry = self._get_reconfigure_entry()
        self._event_types = list(entry.options.get(CONF_EVENT_TYPES, DEFAULT_EVENT_TYPES))
        if user_input is None:
            return self.async_show_form(
                step_id="reconfigure",
                data_schema=self.add_suggested_values_to_schema(RECONFIGURE_SCHEMA, entry.data),
            )
        return await self._async_environment_chosen("reconfigure", RECONFIGURE_SCHEMA, user_input)

    # -- helpers --------------------------------------------------------------------------

    async def _async_environment_chosen(
        self, step_id: str, schema: vol.Schema, user_input: dict[str, Any]
    ) -> ConfigFlowResult:
        """Ask for what the environment needs; the public sandbox needs nothing more."""
        self._environment = user_input[CONF_ENVIRONMENT]
        if self._environment == ENV_CUSTOM:
            return await self.async_step_custom()
        if self._environment != ENV_SANDBOX:
            return await self.async_step_credentials()
        data = {CONF_ENVIRONMENT: ENV_SANDBOX}
        await self._async_check_unique(data)
        errors, placeholders = await async_validate(self.hass, data, self._event_types)
        if errors:
            return self.async_show_form(
                step_id=step_id,
                data_schema=self.add_suggested_values_to_schema(schema, user_input),
                errors=errors,
                description_placeholders=placeholders,
            )
        return await self._async_finish(data)

    def _current_data(self) -> Mapping[str, Any]:
        """Values to prefill: those of the entry being reconfigured (never its secret)."""
        if self.source == SOURCE_RECONFIGURE:
            data = self._get_reconfigure_entry().data
            return {k: v for k, v in data.items() if k != CONF_CLIENT_SECRET}
        return {}

    async def _async_check_unique(self, data: Mapping[str, Any]) -> None:
        """Abort when another entry already uses this environment and client."""
        unique_id = unique_id_for(data)
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            await self._async_keep_client(entry, data)
            if unique_id == entry.unique_id:
                return
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_configured()

    async def _async_keep_client(self, entry: ConfigEntry, data: Mapping[str, Any]) -> None:
        """Reauth and reconfigure keep the OAuth client; another one is a new entry.

        The entry's place with the new client id must give the entry's own unique id. An
        entry without a client may gain one.
        """
        if not entry.data.get(CONF_CLIENT_ID):
            return
        client_id = data.get(CONF_CLIENT_ID) or ""
        await self.async_set_unique_id(
            unique_id_as_stored(entry, client_id), raise_on_progress=False
        )
        self._abort_if_unique_id_mismatch()

    async def _async_finish(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Create the entry, or update the reconfigured one."""
        if self.source != SOURCE_RECONFIGURE:
            return self._async_create(data)
        entry = self._get_reconfigure_entry()
        unique_id, title = unique_id_for(data), title_for(data)
        if data[CONF_ENVIRONMENT] != entry.data[CONF_ENVIRONMENT]:
            # Nothing of the old environment may stay: above all not its credentials,
            # which would otherwise be sent to the new environment's token endpoint.
            return self.async_update_reload_and_abort(
                entry, unique_id=unique_id, title=title, data=data
            )
        return self.async_update_reload_and_abort(
            entry, unique_id=unique_id, title=title, data_updates=data
        )

    def _async_create(self, data: dict[str, Any]) -> ConfigFlowResult:
        return self.async_create_entry(
            title=title_for(data),
            data=data,
            options={
                CONF_EVENT_TYPES: self._event_types,
                CONF_PHONEBOOK: {},
                CONF_SHARE_SMS_TEXT: False,
            },
        )
