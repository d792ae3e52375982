"""Form pieces both the config flow and the options flow use.

The event types field, and the check of settings against the API that every path which
saves credentials or event types makes: a token with exactly the needed scopes, then the
event stream opened once. Every refusal the API gives is a translated error, never
``unknown``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import SelectSelector, SelectSelectorConfig, SelectSelectorMode

from .client import (
    WgtwoError,
    async_check_subscription,
    scopes_for,
)
from .const import CONF_EVENT_TYPES, EVENT_TYPE_CHOICES, STREAM_CHOICES
from .errors import form_error
from .settings import (
    create_token_provider,
    endpoint_from_data,
    event_types_from_choices,
    get_settings,
    stream_scopes,
    streams_from_choices,
)

_LOGGER = logging.getLogger(__name__)

EVENT_TYPES_SELECTOR: Final = SelectSelector(
    SelectSelectorConfig(
        options=[*EVENT_TYPE_CHOICES, *STREAM_CHOICES],
        translation_key=CONF_EVENT_TYPES,
        multiple=True,
        mode=SelectSelectorMode.LIST,
    )
)


async def async_validate(
    hass: HomeAssistant, data: Mapping[str, Any], event_choices: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Check credentials and event types against the API; return (errors, placeholders)."""
    settings = get_settings(hass)
    try:
        endpoint = endpoint_from_data(data, settings)
        event_types = event_types_from_choices(event_choices)
        # The v1 streams' scopes are asked for with the events': a missing one is named.
        scopes = scopes_for(event_types) | stream_scopes(streams_from_choices(event_choices))
        provider = create_token_provider(hass, data, scopes, settings)
        if provider is not None:
            await provider.get_token()
        await async_check_subscription(
            endpoint, event_types, provider, timeout=settings.check_timeout
        )
    except WgtwoError as err:
        key, placeholders = form_error(err)
        return {"base": key}, placeholders
    except Exception:
        _LOGGER.exception("Unexpected error while checking the connection")
        return {"base": "unknown"}, {}
    return {}, {}
