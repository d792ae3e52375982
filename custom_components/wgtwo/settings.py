"""Where an entry connects and how patient it is: the entry's data mapped to client objects.

Everything that differs between a production install and a test (preset endpoints, the
token URL, backoffs and grace periods) lives in one frozen :class:`WgtwoSettings`. Home
Assistant uses :data:`DEFAULT_SETTINGS`; a test builds its own and stores it with
:func:`async_set_settings` before setting an entry up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.hass_dict import HassKey

from .client import DEFAULT_TOKEN_URL, ENVIRONMENTS, Endpoint, EventType, TokenProvider
from .client.v1_services import V1_STREAM_SCOPES, V1Stream
from .const import (
    ALWAYS_ON_EVENT_TYPES,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_EVENT_TYPES,
    CONF_HOST,
    CONF_PLAINTEXT,
    CONF_TOKEN_URL,
    DEFAULT_EVENT_TYPES,
    DOMAIN,
    ENV_CUSTOM,
    EVENT_TYPE_CHOICES,
    STREAM_CHOICES,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WgtwoSettings:
    """Endpoints and timings (seconds) of every entry of this Home Assistant instance."""

    endpoints: Mapping[str, Endpoint] = field(default_factory=lambda: dict(ENVIRONMENTS))
    token_url: str = DEFAULT_TOKEN_URL
    # Event stream: reconnect backoff, how long the server waits for an ack, how long a
    # running handler may finish when the entry unloads.
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    ack_timeout: float = 30.0
    stop_timeout: float = 5.0
    # Streams end now and then and come back within a second or two: only a loss that
    # lasts this long is shown (connected off, call state unavailable) and logged.
    disconnect_grace: float = 15.0
    # A request the server refuses (not credentials, not scopes) is tried again this late,
    # doubling up to the maximum: slow enough not to hammer, and never dead for good.
    refused_retry_initial: float = 60.0
    refused_retry_max: float = 3600.0
    # How long after an unanswered call ended a late "answered" may still cancel "missed".
    missed_call_settle: float = 2.0
    # How long the config flow waits for the server to accept the stream.
    check_timeout: float = 10.0
    # Subscriber snapshots are written this long after a change (changes in between join
    # the same write); Home Assistant's final write at shutdown saves what is pending.
    save_delay: float = 10.0


DEFAULT_SETTINGS: Final = WgtwoSettings()
SETTINGS_KEY: Final[HassKey[WgtwoSettings]] = HassKey(f"{DOMAIN}_settings")


def get_settings(hass: HomeAssistant) -> WgtwoSettings:
    """Return the settings in force (the defaults unless a test stored others)."""
    return hass.data.get(SETTINGS_KEY, DEFAULT_SETTINGS)


def async_set_settings(hass: HomeAssistant, settings: WgtwoSettings) -> None:
    """Use ``settings`` for entries set up from now on."""
    hass.data[SETTINGS_KEY] = settings


def endpoint_from_data(data: Mapping[str, Any], settings: WgtwoSettings) -> Endpoint:
    """Return the gRPC endpoint an entry's data points at (raises InvalidEndpointError)."""
    environment = data[CONF_ENVIRONMENT]
    if environment == ENV_CUSTOM:
        return Endpoint.parse(data[CONF_HOST], plaintext=bool(data.get(CONF_PLAINTEXT)))
    return settings.endpoints[environment]


def token_url_from_data(data: Mapping[str, Any], settings: WgtwoSettings) -> str:
    """Return where an entry fetches its tokens."""
    if data[CONF_ENVIRONMENT] == ENV_CUSTOM and data.get(CONF_TOKEN_URL):
        return str(data[CONF_TOKEN_URL])
    return settings.token_url


def event_types_from_choices(choices: Iterable[str]) -> tuple[EventType, ...]:
    """Map the user's event type choices to API types; consent revoke is always included."""
    types = [EVENT_TYPE_CHOICES[c] for c in choices if c in EVENT_TYPE_CHOICES]
    types.extend(sorted(ALWAYS_ON_EVENT_TYPES))
    return tuple(dict.fromkeys(types))


def event_types_from_options(options: Mapping[str, Any]) -> tuple[EventType, ...]:
    """Return the API event types an entry subscribes to."""
    return event_types_from_choices(options.get(CONF_EVENT_TYPES, DEFAULT_EVENT_TYPES))


def streams_from_choices(choices: Iterable[str]) -> tuple[V1Stream, ...]:
    """Map the user's choices to the v1 subscription streams they name."""
    return tuple(dict.fromkeys(STREAM_CHOICES[c] for c in choices if c in STREAM_CHOICES))


def streams_from_options(options: Mapping[str, Any]) -> tuple[V1Stream, ...]:
    """Return the v1 streams an entry runs: consent changes always, then the chosen ones."""
    chosen = streams_from_choices(options.get(CONF_EVENT_TYPES, DEFAULT_EVENT_TYPES))
    return (V1Stream.CONSENT_CHANGE, *chosen)


def stream_scopes(streams: Iterable[V1Stream]) -> frozenset[str]:
    """Return the scopes the given v1 streams need."""
    return frozenset(V1_STREAM_SCOPES[s] for s in streams if s in V1_STREAM_SCOPES)


def create_token_provider(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    scopes: Iterable[str],
    settings: WgtwoSettings,
) -> TokenProvider | None:
    """Return a token provider for the entry's credentials (None when it has none)."""
    client_id = data.get(CONF_CLIENT_ID) or ""
    if not client_id:
        return None
    return TokenProvider(
        async_get_clientsession(hass),
        client_id,
        data.get(CONF_CLIENT_SECRET) or "",
        scopes,
        token_url=token_url_from_data(data, settings),
    )
