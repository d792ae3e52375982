"""Setting a subscriber's call forwarding, and the errors the user sees when it fails.

The API cannot tell the current forwarding, so Home Assistant shows what it last set
(an assumed state): the coordinator keeps it in the subscriber's snapshot. A failed or
refused request leaves that state as it was. Numbers never appear in errors or logs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import probatio as vol
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
from homeassistant.util import dt as dt_util

from .client import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    ForwardingMode,
    ForwardingRejectedError,
    MissingScopeError,
    WgtwoError,
)
from .client.errors import TokenRequestError
from .client.forwarding import FORWARDING_SCOPES, NEEDS_NUMBER
from .const import CONF_FORWARDING_NUMBER, CONF_SUBSCRIBERS, DOMAIN
from .phonebook import parse_number

if TYPE_CHECKING:
    from .actions import ScopedActions

_LOGGER = logging.getLogger(__name__)

SERVICE_SET_CALL_FORWARDING: Final = "set_call_forwarding"
ATTR_MODE: Final = "mode"
ATTR_NUMBER: Final = "number"
FORWARDING_OPTIONS: Final = [mode.value for mode in ForwardingMode]
SET_CALL_FORWARDING_SCHEMA: Final[VolDictType] = {
    vol.Required(ATTR_MODE): vol.In(FORWARDING_OPTIONS),
    vol.Optional(ATTR_NUMBER): cv.string,
}


@dataclass(frozen=True, slots=True)
class ForwardingState:
    """The forwarding Home Assistant last set; ``number`` for number and conditional."""

    mode: ForwardingMode
    number: str | None
    set_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """Return the state as JSON types (for the snapshot)."""
        return {"mode": str(self.mode), "number": self.number, "set_at": self.set_at.isoformat()}

    @classmethod
    def from_dict(cls, data: Any) -> ForwardingState | None:
        """Read a stored state back; None when it is missing or malformed."""
        if not isinstance(data, dict) or data.get("mode") not in FORWARDING_OPTIONS:
            return None
        set_at = data.get("set_at")
        parsed = dt_util.parse_datetime(set_at) if isinstance(set_at, str) else None
        number = data.get("number")
        mode = ForwardingMode(data["mode"])
        if parsed is None or parsed.tzinfo is None:
            return None
        if mode in NEEDS_NUMBER and not isinstance(number, str):
            return None
        return cls(mode, number if mode in NEEDS_NUMBER else None, parsed)


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
    return target


def _error(err: WgtwoError, mode: ForwardingMode) -> HomeAssistantError:
    """Translate a failed request into what the user should do about it."""
    key: str
    placeholders: dict[str, str] = {}
    match err:
        case ForwardingRejectedError():
            key, placeholders = "forwarding_rejected", {"message": err.server_message or "-"}
        case MissingScopeError():
            scopes = err.missing_scopes or {FORWARDING_SCOPES[mode]}
            key, placeholders = "forwarding_missing_scope", {"scope": ", ".join(sorted(scopes))}
        case AuthenticationError():
            key = "forwarding_invalid_auth"
        case CannotConnectError():
            key = "forwarding_cannot_connect"
        case TokenRequestError():
            key, placeholders = "forwarding_failed", {"code": f"HTTP {err.status}"}
        case ActionError() if err.status == "INVALID_ARGUMENT":
            return ServiceValidationError(
                translation_domain=DOMAIN, translation_key="forwarding_invalid_number"
            )
        case ActionError():
            key, placeholders = "forwarding_failed", {"code": err.status}
        case _:
            key, placeholders = "forwarding_failed", {"code": type(err).__name__}
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


async def async_request_forwarding(
    actions: ScopedActions, subscriber: str, mode: ForwardingMode, target: str | None
) -> ForwardingState:
    """Ask the operator for the forwarding; return the new state or raise a translated error."""
    try:
        await actions.set_call_forwarding(subscriber, mode, target)
    except WgtwoError as err:
        _LOGGER.debug("Call forwarding not set (%s): %s", mode, type(err).__name__)
        raise _error(err, mode) from err
    _LOGGER.debug("Call forwarding set to %s", mode)
    return ForwardingState(mode, target, dt_util.utcnow())
