"""Call forwarding: where a subscriber's calls go (off, voicemail, a number, conditional).

The operator's API cannot be asked for the current forwarding, so Home Assistant shows what
it last set (an assumed state, kept in the subscriber's snapshot). A failed or refused
request leaves that state as it was. Numbers never appear in errors or logs.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import probatio as vol
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
from homeassistant.util import dt as dt_util

from ..client import ForwardingMode, WgtwoError
from ..client.forwarding import FORWARDING_SCOPES, NEEDS_NUMBER
from ..const import CONF_FORWARDING_NUMBER, CONF_SUBSCRIBERS, DOMAIN
from ..errors import ErrorKind, Feature, error_kind, operator_error
from ..phonebook import parse_number
from ..subscriber import Aspect, ForwardingState, Subscriber
from .base import Capability, SubscriberUpdate

_LOGGER = logging.getLogger(__name__)

SERVICE_SET_CALL_FORWARDING: Final = "set_call_forwarding"
ATTR_MODE: Final = "mode"
ATTR_NUMBER: Final = "number"
FORWARDING_OPTIONS: Final = [mode.value for mode in ForwardingMode]
SET_CALL_FORWARDING_SCHEMA: Final[VolDictType] = {
    vol.Required(ATTR_MODE): vol.In(FORWARDING_OPTIONS),
    vol.Optional(ATTR_NUMBER): cv.string,
}


def configured_number(options: Any, subscriber: str) -> str | None:
    """Return the forwarding number the options give this subscriber."""
    settings = ((options or {}).get(CONF_SUBSCRIBERS) or {}).get(subscriber) or {}
    number = settings.get(CONF_FORWARDING_NUMBER) if isinstance(settings, dict) else None
    return number if isinstance(number, str) and number.strip() else None


def forwarding_target(
    mode: ForwardingMode, number: str | None, options: Any, subscriber: str, name: str
) -> str | None:
    """Return the E.164 target of ``mode``: ``number`` if given, else the option's number."""
    if mode not in NEEDS_NUMBER:
        return None
    text = (
        number if number is not None and number.strip() else configured_number(options, subscriber)
    )
    if text is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="forwarding_number_missing",
            translation_placeholders={"name": name},
        )
    if (target := parse_number(text)) is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="forwarding_invalid_number"
        )
    if target == subscriber:  # busy, so forwarded to itself, so busy: a loop
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="forwarding_to_itself"
        )
    return target


class Forwarding(Capability):
    """Setting a subscriber's call forwarding (no events: the API tells no changes)."""

    async def async_set(
        self, subscriber: Subscriber, mode: ForwardingMode, number: str | None = None
    ) -> None:
        """Ask the operator for the forwarding and remember it once accepted.

        ``number`` overrides the forwarding number of the subscriber's options. On any
        failure a translated error is raised and the remembered forwarding stays as it was.
        """
        target = forwarding_target(
            mode, number, self.room.entry.options, subscriber.number, subscriber.name
        )
        try:
            await self.room.api.set_call_forwarding(subscriber.number, mode, target)
        except WgtwoError as err:
            _LOGGER.debug("Call forwarding not set (%s): %s", mode, type(err).__name__)
            if error_kind(err) is ErrorKind.INVALID_ARGUMENT:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="forwarding_invalid_number"
                ) from err
            raise operator_error(
                self.room.hass, err, Feature.CALL_FORWARDING, scopes={FORWARDING_SCOPES[mode]}
            ) from err
        _LOGGER.debug("Call forwarding set to %s", mode)
        subscriber.forwarding = ForwardingState(mode, target, dt_util.utcnow())
        self.room.notify(subscriber, SubscriberUpdate(Aspect.FORWARDING))
