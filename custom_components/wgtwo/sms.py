"""Sending a text from a subscriber's number: the ``wgtwo.send_sms`` action and the notify entity.

A text costs money and must not go out twice, so nothing here retries a send: every
failure is shown to the user, who decides. (The client repeats a call only after
UNAUTHENTICATED, which the server answers before it sends anything.) Numbers and texts
never appear in logs or error messages.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Final

import probatio as vol
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids

from .client import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    MissingScopeError,
    SendSmsResult,
    SendStatus,
    WgtwoError,
)
from .client.errors import TokenRequestError
from .client.event_types import SCOPE_SMS_SEND
from .const import CONF_PHONEBOOK, CONF_SMS_RECIPIENT, CONF_SUBSCRIBERS, DOMAIN
from .phonebook import normalize_number, parse_number

if TYPE_CHECKING:
    from .coordinator import WgtwoCoordinator
    from .data import WgtwoConfigEntry
    from .subscriber import Subscriber

_LOGGER = logging.getLogger(__name__)

SERVICE_SEND_SMS: Final = "send_sms"
ATTR_TO: Final = "to"
ATTR_MESSAGE: Final = "message"
MAX_MESSAGE_LENGTH: Final = 2000  # what the API takes


def _recipient(value: Any) -> str:
    """Read ``to``; a number arrives without its ``+`` and is read as international.

    Home Assistant renders a template that gives ``+4712345678`` (say the caller's
    ``from_number``) as the integer 4712345678, and so does YAML for an unquoted one.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return f"+{value}"
    return cv.string(value)


SEND_SMS_SCHEMA: Final = cv.make_entity_service_schema(
    {vol.Required(ATTR_TO): _recipient, vol.Required(ATTR_MESSAGE): cv.string}
)

# What a number looks like once spaces, dashes and the like are gone: a name has letters.
_NUMBER_LIKE: Final = re.compile(r"^\+?\d+$")


def resolve_recipient(entry: WgtwoConfigEntry, to: str) -> str:
    """Turn ``to`` (a number, or a name from the entry's phonebook) into E.164."""
    text = to.strip()
    if not text:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sms_no_recipient")
    if _NUMBER_LIKE.match(normalize_number(text)):
        if (number := parse_number(text)) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="sms_invalid_number"
            )
        return number
    wanted = text.casefold()
    phonebook: dict[str, str] = entry.options.get(CONF_PHONEBOOK) or {}
    numbers = {
        normalize_number(str(number))
        for number, name in phonebook.items()
        if str(name).strip().casefold() == wanted
    }
    if not numbers:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_unknown_name",
            translation_placeholders={"name": text},
        )
    if len(numbers) > 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_ambiguous_name",
            translation_placeholders={"name": text, "count": str(len(numbers))},
        )
    return numbers.pop()


def notify_recipient(entry: WgtwoConfigEntry, subscriber: Subscriber) -> str:
    """Return who the subscriber's notify entity texts: the option, else the subscriber."""
    settings = (entry.options.get(CONF_SUBSCRIBERS) or {}).get(subscriber.number) or {}
    return str(settings.get(CONF_SMS_RECIPIENT) or "") or subscriber.number


def _check_length(message: str) -> None:
    if not message.strip():
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sms_empty")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_too_long",
            translation_placeholders={
                "length": str(len(message)),
                "max_length": str(MAX_MESSAGE_LENGTH),
            },
        )


def _send_error(err: WgtwoError) -> HomeAssistantError:
    """Translate a failed send; none of these is retried."""
    key: str
    placeholders: dict[str, str] = {}
    match err:
        case MissingScopeError():
            key, placeholders = "sms_missing_scope", {"scope": SCOPE_SMS_SEND}
        case AuthenticationError():
            key = "sms_invalid_auth"
        case CannotConnectError():
            key = "sms_cannot_connect"
        case TokenRequestError():
            key, placeholders = "sms_token_rejected", {"status": str(err.status)}
        case ActionError():
            key, placeholders = "sms_failed", {"code": err.status}
        case _:
            key, placeholders = "sms_failed", {"code": type(err).__name__}
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


async def async_send_sms(
    coordinator: WgtwoCoordinator, subscriber: Subscriber, to_number: str, message: str
) -> SendSmsResult:
    """Send ``message`` from the subscriber's number once; raise a translated error if refused."""
    _check_length(message)
    try:
        result = await coordinator.actions.send_sms(subscriber.number, to_number, message)
    except WgtwoError as err:
        _LOGGER.debug("SMS not sent: %s", type(err).__name__)
        raise _send_error(err) from err
    if result.status is SendStatus.REJECT:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="sms_rejected",
            translation_placeholders={"description": result.description or "-"},
        )
    if not result.ok:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="sms_send_error",
            translation_placeholders={"description": result.description or "-"},
        )
    _LOGGER.debug("SMS accepted by the operator in %d fragment(s)", result.num_fragments)
    return result


def _targeted_subscribers(
    hass: HomeAssistant, call: ServiceCall
) -> list[tuple[WgtwoCoordinator, Subscriber]]:
    """Return the distinct subscribers whose devices (or entities) the call targets."""
    selected = async_extract_referenced_entity_ids(
        hass, TargetSelection(call.data), primary_entities_only=False
    )
    device_ids = set(selected.referenced_devices)
    registry = er.async_get(hass)
    for entity_id in selected.referenced | selected.indirectly_referenced:
        entity = registry.async_get(entity_id)
        if entity is not None and entity.platform == DOMAIN and entity.device_id:
            device_ids.add(entity.device_id)
    found: dict[tuple[str, str], tuple[WgtwoCoordinator, Subscriber]] = {}
    entry: WgtwoConfigEntry
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        coordinator = entry.runtime_data.coordinator
        for device_id in device_ids:
            if (subscriber := coordinator.subscriber_for_device(device_id)) is not None:
                found[(entry.entry_id, subscriber.number)] = (coordinator, subscriber)
    return list(found.values())


async def async_handle_send_sms(call: ServiceCall) -> ServiceResponse:
    """Send one text from the one targeted subscriber; respond with what the operator said."""
    targets = _targeted_subscribers(call.hass, call)
    if not targets:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sms_no_subscriber")
    if len(targets) > 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_several_subscribers",
            translation_placeholders={"count": str(len(targets))},
        )
    coordinator, subscriber = targets[0]
    message: str = call.data[ATTR_MESSAGE]
    _check_length(message)
    to_number = resolve_recipient(coordinator.entry, call.data[ATTR_TO])
    result = await async_send_sms(coordinator, subscriber, to_number, message)
    response: dict[str, Any] = {
        "message_id": result.message_id,
        "status": str(result.status),
        "fragments": result.num_fragments,
    }
    return response
