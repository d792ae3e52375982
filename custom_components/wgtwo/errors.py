"""The one translator of the operator's errors into what the user sees.

Every error the client raises falls into one :class:`ErrorKind`. An action, the media
browser and the entry's setup all turn a kind into the same family of translated messages
(the ``exceptions`` keys below), each naming the feature it concerns (``{feature}``: the
``feature_*`` words of the ``common`` strings, in Home Assistant's language), the scope a
grant lacks (``{scope}``) or what the operator said (``{detail}``). The config flow shows
the same kinds as form errors. Nothing here logs, and no message carries a number or a text;
what the operator said is cut to 200 characters (messages end up in logs).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers.translation import async_get_cached_translations

from .client import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    ForwardingRejectedError,
    InvalidEndpointError,
    MissingScopeError,
    WgtwoError,
)
from .client.errors import TokenRequestError, clip
from .const import DOMAIN


class ErrorKind(StrEnum):
    """What went wrong, as far as the user can act on it."""

    INVALID_ENDPOINT = "invalid_endpoint"
    INVALID_AUTH = "invalid_auth"
    MISSING_SCOPE = "missing_scope"
    TOKEN_REJECTED = "token_rejected"
    CANNOT_CONNECT = "cannot_connect"
    REJECTED = "rejected"  # the operator refused the request and said why
    NOT_FOUND = "not_found"
    INVALID_ARGUMENT = "invalid_argument"
    FAILED = "failed"  # any other answer of the operator


class Feature(StrEnum):
    """What the user was doing; its name is the ``feature_*`` word of the ``common`` strings."""

    EVENTS = "events"
    SMS = "sms"
    MMS = "mms"
    CALL_FORWARDING = "call_forwarding"
    VOICEMAIL = "voicemail"


# English names, for when Home Assistant's translation cache has none.
_FEATURE_NAMES: Final = {
    Feature.EVENTS: "Events",
    Feature.SMS: "SMS",
    Feature.MMS: "MMS",
    Feature.CALL_FORWARDING: "Call forwarding",
    Feature.VOICEMAIL: "Voicemail",
}


def error_kind(err: WgtwoError) -> ErrorKind:
    """Return the kind of a client error."""
    match err:
        case InvalidEndpointError():
            return ErrorKind.INVALID_ENDPOINT
        case AuthenticationError():
            return ErrorKind.INVALID_AUTH
        case MissingScopeError():
            return ErrorKind.MISSING_SCOPE
        case TokenRequestError():
            return ErrorKind.TOKEN_REJECTED
        case CannotConnectError():
            return ErrorKind.CANNOT_CONNECT
        case ForwardingRejectedError():
            return ErrorKind.REJECTED
        case ActionError() if err.not_found:
            return ErrorKind.NOT_FOUND
        case ActionError() if err.status == "INVALID_ARGUMENT":
            return ErrorKind.INVALID_ARGUMENT
    return ErrorKind.FAILED


def error_detail(err: WgtwoError) -> str:
    """Return what the operator said, without anything personal: a status, not a body."""
    match err:
        case TokenRequestError():
            return f"HTTP {err.status}"
        case ForwardingRejectedError():
            return err.server_message or "-"
        case ActionError():
            return err.status
    return type(err).__name__


def feature_name(hass: HomeAssistant, feature: Feature) -> str:
    """Return the feature's name in Home Assistant's language (English when not cached)."""
    key = f"component.{DOMAIN}.common.feature_{feature}"
    for language in (hass.config.language, "en"):
        if name := async_get_cached_translations(hass, language, "common", DOMAIN).get(key):
            return name
    return _FEATURE_NAMES[feature]


def _placeholders(
    hass: HomeAssistant, feature: Feature, detail: str, scopes: Iterable[str] = ()
) -> dict[str, str]:
    """Return the placeholders every message of the family takes (operator text cut)."""
    return {
        "feature": feature_name(hass, feature),
        "scope": clip(", ".join(sorted(scopes))) or "-",
        "detail": clip(detail),
    }


def operator_error[E: HomeAssistantError](
    hass: HomeAssistant,
    err: WgtwoError,
    feature: Feature,
    *,
    scopes: Iterable[str] = (),
    subject: str = "",
    error_class: type[E] = HomeAssistantError,  # type: ignore[assignment]
    unsure: bool = False,
) -> E | ServiceValidationError:
    """Translate a failed call to the operator into the error the user sees.

    ``scopes``: what the call needs (named when the error does not say); ``subject``: the
    object of the call (a voicemail id) for "not found"; ``error_class``: the class for
    what the user cannot fix by changing the request (a media error in the media browser);
    ``unsure``: the request may have been carried out though no answer came (a send),
    which the message says instead of "cannot connect".
    """
    kind = error_kind(err)
    detail = error_detail(err)
    if kind is ErrorKind.MISSING_SCOPE and isinstance(err, MissingScopeError):
        scopes = err.missing_scopes or scopes
    if kind is ErrorKind.NOT_FOUND:
        detail = subject or detail
    key = "no_answer" if kind is ErrorKind.CANNOT_CONNECT and unsure else _KEYS[kind]
    placeholders = _placeholders(hass, feature, detail, scopes)
    cls: type[HomeAssistantError] = error_class
    if kind in (ErrorKind.NOT_FOUND, ErrorKind.INVALID_ARGUMENT) and error_class is (
        HomeAssistantError
    ):
        cls = ServiceValidationError  # the request named what is not there, or was malformed
    return cls(  # type: ignore[return-value]
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def not_found_error[E: HomeAssistantError](
    hass: HomeAssistant, feature: Feature, subject: str, error_class: type[E]
) -> E:
    """Say that the object of a request is not at the operator (as checked here)."""
    return error_class(
        translation_domain=DOMAIN,
        translation_key=_KEYS[ErrorKind.NOT_FOUND],
        translation_placeholders=_placeholders(hass, feature, subject),
    )


def setup_error(hass: HomeAssistant, err: WgtwoError) -> Exception:
    """Turn what stopped an entry's setup into the exception Home Assistant acts on.

    Rejected credentials start a reauth flow, an invalid server address needs the user to
    reconfigure, everything else is tried again later.
    """
    kind = error_kind(err)
    if kind is ErrorKind.INVALID_ENDPOINT:
        return ConfigEntryError(translation_domain=DOMAIN, translation_key=_KEYS[kind])
    translated = operator_error(hass, err, Feature.EVENTS)
    cls = ConfigEntryAuthFailed if kind is ErrorKind.INVALID_AUTH else ConfigEntryNotReady
    return cls(
        translation_domain=DOMAIN,
        translation_key=translated.translation_key,
        translation_placeholders=translated.translation_placeholders,
    )


def operator_refused(
    hass: HomeAssistant, feature: Feature, description: str | None, *, rejected: bool
) -> HomeAssistantError:
    """Say that the operator refused (``rejected``) or could not carry out a request."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="operator_rejected" if rejected else "operator_could_not",
        translation_placeholders=_placeholders(hass, feature, description or "-"),
    )


# The kind -> its message key in "exceptions" (placeholders feature, scope, detail).
_KEYS: Final[dict[ErrorKind, str]] = {
    ErrorKind.INVALID_ENDPOINT: "invalid_endpoint",
    ErrorKind.INVALID_AUTH: "invalid_auth",
    ErrorKind.MISSING_SCOPE: "missing_scope",
    ErrorKind.TOKEN_REJECTED: "token_rejected",
    ErrorKind.CANNOT_CONNECT: "cannot_connect",
    ErrorKind.REJECTED: "operator_rejected",
    ErrorKind.NOT_FOUND: "not_found",
    ErrorKind.INVALID_ARGUMENT: "invalid_argument",
    ErrorKind.FAILED: "operator_failed",
}


# The kind -> its error key in a config or options form (``config.error``).
_FORM_KEYS: Final[dict[ErrorKind, str]] = {
    ErrorKind.INVALID_ENDPOINT: "invalid_host",
    ErrorKind.INVALID_AUTH: "invalid_auth",
    ErrorKind.MISSING_SCOPE: "missing_scopes",
    ErrorKind.TOKEN_REJECTED: "token_rejected",
    ErrorKind.CANNOT_CONNECT: "cannot_connect",
}


def form_error(err: WgtwoError) -> tuple[str, dict[str, str]]:
    """Return the form error key and placeholders a config or options form shows.

    An answer that is none of the known kinds means the server is not the events API
    (a wrong host or service).
    """
    kind = error_kind(err)
    placeholders: dict[str, str] = {}
    if isinstance(err, MissingScopeError):
        placeholders["scopes"] = ", ".join(sorted(err.missing_scopes))
    elif isinstance(err, TokenRequestError):
        placeholders["status"] = str(err.status)
    return _FORM_KEYS.get(kind, "server_refused"), placeholders
