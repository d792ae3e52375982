"""Call forwarding: where a subscriber's calls go (off, voicemail, a number, conditional).

The operator's API cannot be asked for the current forwarding, so Home Assistant shows what
it last set (an assumed state, kept in the subscriber's snapshot). A refused request, or one
that never reached the operator, leaves that state as it was. A request whose answer was
lost (a timeout, a dropped connection, UNKNOWN or INTERNAL, a status this version does not
know) may have been carried out: it is sent once more (setting a forwarding twice is
harmless, unlike sending a text twice), and if that answer is lost too, the state becomes
unknown and the error says the forwarding may have changed. Numbers never appear in errors
or logs.

Who may set it (access.py): an administrator or one of the subscriber's owners, and only an
administrator (or an automation) to a number other than the one in the subscriber's options.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from homeassistant.core import Context
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
from homeassistant.util import dt as dt_util

from ..access import async_check_admin
from ..client import ActionError, CannotConnectError, ForwardingMode, WgtwoError
from ..client.errors import clip
from ..client.forwarding import FORWARDING_SCOPES, NEEDS_NUMBER
from ..compat import vol
from ..const import CONF_FORWARDING_NUMBER, CONF_SUBSCRIBERS, DOMAIN
from ..errors import ErrorKind, Feature, error_detail, error_kind, operator_error
from ..phonebook import parse_number
from ..subscriber import Aspect, ForwardingState, Subscriber
from .base import Capability, SubscriberUpdate

_LOGGER = logging.getLogger(__name__)

SERVICE_SET_CALL_FORWARDING: Final = "set_call_forwarding"
ATTR_MODE: Final = "mode"
ATTR_NUMBER: Final = "number"
FORWARDING_OPTIONS: Final = [mode.value for mode in ForwardingMode]
# No forwarding number: the action's error, and the select's (which cannot be given one).
NUMBER_MISSING_ACTION: Final = "forwarding_number_missing"
NUMBER_MISSING_SELECT: Final = "forwarding_number_missing_select"
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
    mode: ForwardingMode,
    number: str | None,
    options: Any,
    subscriber: str,
    name: str,
    *,
    missing: str = NUMBER_MISSING_ACTION,
) -> str | None:
    """Return the E.164 target of ``mode``: ``number`` if given, else the option's number.

    ``missing`` is the error for no number at all, worded for where the user asked: the
    action can be given one, the select cannot.
    """
    if mode not in NEEDS_NUMBER:
        return None
    text = (
        number if number is not None and number.strip() else configured_number(options, subscriber)
    )
    if text is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=missing,
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


# Answers after which the operator may have carried the request out.
_UNSURE_STATUSES: Final = frozenset({"UNKNOWN", "INTERNAL"})


def maybe_applied(err: WgtwoError) -> bool:
    """Whether the operator may have set the forwarding though the request failed."""
    if isinstance(err, CannotConnectError):
        return err.request_sent
    return isinstance(err, ActionError) and err.status in _UNSURE_STATUSES


class Forwarding(Capability):
    """Setting a subscriber's call forwarding (no events: the API tells no changes)."""

    async def async_authorize(
        self,
        subscriber: Subscriber,
        mode: ForwardingMode,
        number: str | None,
        context: Context | None,
    ) -> None:
        """Refuse the person in ``context`` unless an owner, or an admin for another number."""
        await self.async_check_owner(subscriber, context)
        if mode not in NEEDS_NUMBER or number is None:
            return
        given = parse_number(number) if number.strip() else None
        configured = configured_number(self.room.entry.options, subscriber.number)
        if given is not None and given != (configured and parse_number(configured)):
            await async_check_admin(self.room.hass, context, "forwarding_number_needs_admin")

    async def async_set(
        self,
        subscriber: Subscriber,
        mode: ForwardingMode,
        number: str | None = None,
        *,
        context: Context | None,
        missing: str = NUMBER_MISSING_ACTION,
    ) -> None:
        """Ask the operator for the forwarding and remember it once accepted.

        ``number`` overrides the forwarding number of the subscriber's options; ``missing``
        is the error's key when there is none (see ``forwarding_target``). On a failure
        (the person in ``context`` may not, see ``async_authorize``) a translated error is
        raised; the remembered forwarding stays as it was unless the operator may have
        carried the request out, asked twice (then it becomes unknown).
        """
        await self.async_authorize(subscriber, mode, number, context)
        target = forwarding_target(
            mode,
            number,
            self.room.entry.options,
            subscriber.number,
            subscriber.name,
            missing=missing,
        )
        api = self.room.api
        try:
            await api.set_call_forwarding(subscriber.number, mode, target)
        except WgtwoError as err:
            _LOGGER.debug("Call forwarding not set (%s): %s", mode, type(err).__name__)
            if not maybe_applied(err):
                raise self._error(err, mode) from err
            _LOGGER.debug("The operator may have set it; asking once more")
            try:
                await api.set_call_forwarding(subscriber.number, mode, target)
            except WgtwoError as again:
                _LOGGER.debug("Call forwarding unsure (%s): %s", mode, type(again).__name__)
                subscriber.forwarding = None  # neither the old mode nor the new one for sure
                self.room.notify(subscriber, SubscriberUpdate(Aspect.FORWARDING))
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="forwarding_uncertain",
                    translation_placeholders={"detail": clip(error_detail(again))},
                ) from again
        _LOGGER.debug("Call forwarding set to %s", mode)
        subscriber.forwarding = ForwardingState(mode, target, dt_util.utcnow())
        self.room.notify(subscriber, SubscriberUpdate(Aspect.FORWARDING))

    def _error(self, err: WgtwoError, mode: ForwardingMode) -> HomeAssistantError:
        if error_kind(err) is ErrorKind.INVALID_ARGUMENT:
            return ServiceValidationError(
                translation_domain=DOMAIN, translation_key="forwarding_invalid_number"
            )
        return operator_error(
            self.room.hass, err, Feature.CALL_FORWARDING, scopes={FORWARDING_SCOPES[mode]}
        )
