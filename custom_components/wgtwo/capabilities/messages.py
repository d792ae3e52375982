"""Messages: SMS events, delivery reports, texts from a subscriber and texts to it from a sender.

A text goes from the subscriber's own number to a recipient (``SendTextFromSubscriber``), or
to the subscriber from the entry's sender name, the alphanumeric sender id the operator
approved for the product ("Home"), or from a number (``SendTextToSubscriber``).

A text costs money and must not go out twice, so nothing here retries a send: every
failure is shown to the user, who decides. (The client repeats a call only after
UNAUTHENTICATED, which the server answers before it sends anything.) Numbers and texts
never appear in logs or error messages.

Every paid send (a text; an MMS, should there be one) first spends one of the subscriber's
budget (:mod:`..budget`, the entry's option, 20 an hour by default) through
:meth:`Messages.async_spend`: past it the send is refused before it reaches the operator,
and a repair issue names who tried (the automation, script or user of the action's
context, see :mod:`..origins`) until the hour has passed.

Bus events ``sms_received`` and ``sms_sent``: ``sms_id`` (= ``message_id``), ``uuid``, the
addresses and their types, ``direction``, ``from_name``, ``to_name``; never the text.
``sms_delivery_report``: ``report_id``, ``sms_id`` = ``message_id`` (the sent message's id,
as sending returned it), ``status``, ``direction`` and the addresses.

Only when the entry shares SMS text with automations, each received or sent SMS also fires
``wgtwo_sms_text`` with ``text`` and ``data`` and the fields to match it to its
``wgtwo_event`` (``type``, ``sms_id``, ``message_id``, ``subscriber``, ``device_id``,
``direction``): the recorder stores every bus event it is not told to exclude, and a text
(a one-time code) has no place in the database or its backups, so it travels apart where
one line of recorder configuration keeps it out. Never in entity attributes (recorded).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Context, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from ..budget import TextBudget, budget_limit
from ..client import (
    SendSmsResult,
    SendStatus,
    SmsDeliveryReportEvent,
    SmsDirection,
    SmsEvent,
    WgtwoError,
)
from ..client.event_types import SCOPE_SMS_SEND, SCOPE_SMS_TO_SUBSCRIBER
from ..compat import vol
from ..const import (
    CONF_PHONEBOOK,
    CONF_SENDER_NAME,
    CONF_SMS_RECIPIENT,
    CONF_SUBSCRIBERS,
    DOMAIN,
    EVENT_SMS_TEXT,
)
from ..countries import calling_code
from ..errors import Feature, feature_name, operator_error, operator_refused
from ..origins import async_origin, origin_text
from ..phonebook import looks_like_number, numbers_named, parse_number
from ..repairs import async_create_budget_issue, async_delete_budget_issue, budget_issue_open
from ..subscriber import NO_ASPECTS, Subscriber
from .base import (
    ATTR_DEVICE_ID,
    ATTR_SUBSCRIBER,
    ATTR_TYPE,
    BusEvent,
    Capability,
    EntityTrigger,
    Room,
    Sentence,
    SubscriberUpdate,
    enum_text,
    party,
    party_names,
)

_LOGGER = logging.getLogger(__name__)

EVENT_SMS: Final = "sms"  # the SMS event entity's key
SMS_EVENT_TYPES: Final = ["received", "sent", "delivery_report"]
TYPE_SMS_RECEIVED: Final = "sms_received"
TYPE_SMS_SENT: Final = "sms_sent"
TYPE_SMS_DELIVERY_REPORT: Final = "sms_delivery_report"
_REPORT_STATUSES: Final = frozenset(
    {"delivered", "temporary_failure", "final_failure", "expired", "unknown"}
)

SERVICE_SEND_SMS: Final = "send_sms"
ATTR_TO: Final = "to"
ATTR_SENDER: Final = "sender"
ATTR_MESSAGE: Final = "message"
MAX_MESSAGE_LENGTH: Final = 2000  # what the API takes


def recipient_field(value: Any) -> str | int:
    """Read ``to``: text, or a bare integer (see :func:`bare_number_recipient`).

    Home Assistant renders a template that gives ``+4712345678`` (say the caller's
    ``from_number``) as the integer 4712345678, and so does YAML for an unquoted number.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return cv.string(value)


SEND_SMS_SCHEMA: Final = cv.make_entity_service_schema(
    {
        vol.Optional(ATTR_TO): recipient_field,
        vol.Optional(ATTR_SENDER): recipient_field,
        vol.Required(ATTR_MESSAGE): cv.string,
    }
)


def resolve_recipient(entry: ConfigEntry[Any], to: str) -> str:
    """Turn ``to`` (a number, or a name from the entry's phonebook) into E.164."""
    text = to.strip()
    if not text:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sms_no_recipient")
    if looks_like_number(text):
        if (number := parse_number(text)) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="sms_invalid_number"
            )
        return number
    numbers = numbers_named(entry.options.get(CONF_PHONEBOOK) or {}, text)
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


# What follows the calling code of a number read from a bare integer: a national number
# that starts with the code's digits (Norway's 47 12 34 56) leaves fewer.
_MIN_NATIONAL_DIGITS: Final = 7


def bare_number_recipient(room: Room, subscriber: Subscriber, value: int) -> str:
    """Read a bare integer ``to`` as ``+digits`` only where that cannot be a national number.

    The ``+`` was lost on the way (a template, unquoted YAML), or there never was one: 41234567
    is a Norwegian number, not +41 Switzerland. The integer is taken when ``+digits`` is one
    of the entry's subscribers or phonebook numbers, or starts with the calling code of the
    home country (the option, else the subscriber's own country) followed by at least seven
    digits. Anything else is refused: a number is never guessed.
    """
    number = f"+{value}"
    if value > 0:
        if number in room.subscribers or room.phonebook.name_for(number) is not None:
            return number
        code = calling_code(subscriber.home_country)
        if code is not None and number.startswith(f"+{code}"):
            national = len(number) - 1 - len(code)
            if national >= _MIN_NATIONAL_DIGITS and parse_number(number) == number:
                return number
    raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sms_unquoted_number")


def sender_name(entry: ConfigEntry[Any]) -> str:
    """Return the entry's sender name ("" when none is set)."""
    return str(entry.options.get(CONF_SENDER_NAME) or "").strip()


def resolve_sender(entry: ConfigEntry[Any], sender: str | int | None) -> str:
    """Turn ``sender`` into what the operator takes: the entry's sender name, or E.164.

    A name must be the entry's sender name (any case): the operator approves one name per
    product, so any other is refused here, before anything is spent. A number (a bare
    integer has lost its ``+``) is sent as E.164; the operator decides whether it may be
    the sender.
    """
    text = f"+{sender}" if isinstance(sender, int) else (sender or "").strip()
    if not text:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="sender_empty")
    if looks_like_number(text):
        if (number := parse_number(text)) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="sender_invalid_number"
            )
        return number
    name = sender_name(entry)
    if not name:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sender_name_not_set",
            translation_placeholders={"sender": text},
        )
    if text.casefold() != name.casefold():
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sender_not_the_entrys",
            translation_placeholders={"sender": text, "name": name},
        )
    return name


def check_direction(to: object | None, sender: object | None) -> None:
    """Refuse a send with both a recipient and a sender, or with neither."""
    if (to is None) == (sender is None):
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="to_or_sender")


def notify_recipient(entry: ConfigEntry[Any], subscriber: Subscriber) -> str:
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


def _addresses(event: SmsEvent | SmsDeliveryReportEvent) -> dict[str, Any]:
    return {
        "from_address": event.from_address,
        "from_address_type": enum_text(event.from_address_type),
        "to_address": event.to_address,
        "to_address_type": enum_text(event.to_address_type),
    }


def sms_payload(event: SmsEvent) -> dict[str, Any]:
    """SMS fields of ``wgtwo_event`` (``message_id`` is the SMS id), without the text."""
    return {
        "sms_id": event.sms_id,
        # What sending returned, so an automation can wait for the message's report.
        "message_id": event.sms_id,
        "uuid": event.uuid,
        **_addresses(event),
        "direction": enum_text(event.direction),
    }


def sms_text_payload(event: SmsEvent, event_type: str, sub: Subscriber) -> dict[str, Any]:
    """Return the ``wgtwo_sms_text`` fields: the text (base64 data), what matches them."""
    content = event.as_dict()
    return {
        ATTR_TYPE: event_type,
        "sms_id": event.sms_id,
        "message_id": event.sms_id,
        ATTR_SUBSCRIBER: sub.number,
        ATTR_DEVICE_ID: sub.device_id,
        "direction": enum_text(event.direction),
        "text": content["text"],
        "data": content["data"],
    }


def delivery_report_payload(event: SmsDeliveryReportEvent) -> dict[str, Any]:
    """Report fields: report_id, sms_id = message_id (the SMS), status, direction, addresses."""
    return {
        "report_id": event.report_id,
        "sms_id": event.sms_id,
        "message_id": event.sms_id,  # the sent message's id, as the send responded
        "status": enum_text(event.status),
        "direction": enum_text(event.direction),
        **_addresses(event),
    }


def _received_sentence(data: Mapping[str, Any]) -> Sentence:
    return "logbook_sms_received", {"party": party(data, "from")}


def _sent_sentence(data: Mapping[str, Any]) -> Sentence:
    return "logbook_sms_sent", {"party": party(data, "to")}


def _report_sentence(data: Mapping[str, Any]) -> Sentence:
    status = data.get("status")
    status = status if status in _REPORT_STATUSES else "unknown"
    return f"logbook_sms_report_{status}", {"party": party(data, "to")}


_SMS_ENTITY: Final = ("event", EVENT_SMS)


class Messages(Capability):
    """Texts to and from a subscriber, their delivery reports, and sending one."""

    events = (SmsEvent, SmsDeliveryReportEvent)
    bus_events = {
        TYPE_SMS_RECEIVED: BusEvent(sentence=_received_sentence, entity=_SMS_ENTITY),
        TYPE_SMS_SENT: BusEvent(sentence=_sent_sentence, entity=_SMS_ENTITY),
        TYPE_SMS_DELIVERY_REPORT: BusEvent(sentence=_report_sentence, entity=_SMS_ENTITY),
    }

    def __init__(self, room: Room) -> None:
        """Bind to the entry's coordinator; the budget is read in :meth:`async_setup`."""
        super().__init__(room)
        self._budget = TextBudget(room.hass, room.entry.entry_id, room.number_key)
        self._issue_timers: dict[str, CALLBACK_TYPE] = {}

    async def async_setup(self) -> None:
        """Read the budget; a budget issue clears when its hour has passed (or at once)."""
        await self._budget.async_load()
        for number in self.room.subscribers:
            key = self.room.number_key(number)
            if budget_issue_open(self.room.hass, self.room.entry.entry_id, key):
                self._clear_issue_when_free(number)

    def unload(self) -> None:
        """Stop the timers of budget issues."""
        for cancel in self._issue_timers.values():
            cancel()
        self._issue_timers.clear()

    def apply(self, sub: Subscriber, event: SmsEvent | SmsDeliveryReportEvent) -> SubscriberUpdate:
        """Fire the message's bus event and the SMS event entity's event."""
        phonebook = self.room.phonebook
        if isinstance(event, SmsDeliveryReportEvent):
            payload = delivery_report_payload(event) | party_names(
                phonebook, event.from_address, event.to_address
            )
            self.fire(event, TYPE_SMS_DELIVERY_REPORT, sub, payload)
            trigger = EntityTrigger(EVENT_SMS, "delivery_report", payload)
            return SubscriberUpdate(NO_ASPECTS, (trigger,))
        if event.direction == SmsDirection.FROM_SUBSCRIBER:
            sent = True
        elif event.direction == SmsDirection.TO_SUBSCRIBER:
            sent = False
        else:
            sent = event.from_address == sub.number
        payload = sms_payload(event) | party_names(phonebook, event.from_address, event.to_address)
        event_type = TYPE_SMS_SENT if sent else TYPE_SMS_RECEIVED
        self.fire(event, event_type, sub, payload)
        if self.room.share_sms_text:
            self.room.fire(sms_text_payload(event, event_type, sub), EVENT_SMS_TEXT)
        trigger = EntityTrigger(EVENT_SMS, "sent" if sent else "received", payload)
        return SubscriberUpdate(NO_ASPECTS, (trigger,))

    # -- the budget --------------------------------------------------------------------

    async def async_spend(
        self, subscriber: Subscriber, context: Context | None, feature: Feature = Feature.SMS
    ) -> None:
        """Count one paid send of the subscriber, or refuse it when the budget is spent.

        Every send that costs money (a text, an MMS) calls this right before it goes to the
        operator, so it counts whatever the operator answers. ``context`` is the action's
        (who asked); ``feature`` names the refused send in the error.
        """
        limit = budget_limit(self.room.entry.options)
        free = self._budget.spend(subscriber.number, limit, dt_util.utcnow())
        if free is None:
            await self._budget.async_save()  # counted before the text goes out
            return
        hass = self.room.hass
        until = dt_util.as_local(free).strftime("%H:%M")
        origin = await async_origin(hass, context)
        entry = self.room.entry
        key = self.room.number_key(subscriber.number)
        if not budget_issue_open(hass, entry.entry_id, key):
            _LOGGER.warning(
                "A subscriber's SMS budget (%d an hour) is spent; sends are refused until %s%s",
                limit,
                until,
                f" ({origin.entity_id} keeps sending)" if origin.entity_id else "",
            )
        async_create_budget_issue(
            hass,
            entry,
            key,
            {
                "name": subscriber.name,
                "limit": str(limit),
                "until": until,
                "origin": origin_text(hass, origin),
            },
        )
        self._clear_issue_when_free(subscriber.number, free)
        _LOGGER.debug("SMS refused: budget spent (%s)", origin.kind)
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="sms_budget_reached",
            translation_placeholders={
                "feature": feature_name(hass, feature),
                "limit": str(limit),
                "until": until,
            },
        )

    def _clear_issue_when_free(self, number: str, free: datetime | None = None) -> None:
        """Clear the subscriber's budget issue once it may send again (at once if it may)."""
        if (cancel := self._issue_timers.pop(number, None)) is not None:
            cancel()
        now = dt_util.utcnow()
        if free is None:
            free = self._budget.free_at(number, budget_limit(self.room.entry.options), now)
        if free is None or free <= now:
            async_delete_budget_issue(
                self.room.hass, self.room.entry.entry_id, self.room.number_key(number)
            )
            return

        @callback
        def _free(_now: datetime) -> None:
            self._issue_timers.pop(number, None)
            self._clear_issue_when_free(number)

        self._issue_timers[number] = async_track_point_in_utc_time(self.room.hass, _free, free)

    # -- sending -----------------------------------------------------------------------

    async def async_send(
        self,
        subscriber: Subscriber,
        to: str | int,
        message: str,
        *,
        context: Context | None,
    ) -> SendSmsResult:
        """Send ``message`` from the subscriber to ``to`` (a number or a phonebook name), once.

        Raises a translated error when the person in ``context`` may not use the
        subscriber's line, when the message or recipient is not acceptable, when the
        subscriber's budget is spent, or when the operator did not take the text.
        ``context`` is the action's: who asked (also named when the budget is spent).
        """
        await self.async_check_owner(subscriber, context)
        _check_length(message)
        to_number = self.recipient(subscriber, to)
        await self.async_spend(subscriber, context)
        try:
            result = await self.room.api.send_sms(subscriber.number, to_number, message)
        except WgtwoError as err:
            raise self._not_sent(err, SCOPE_SMS_SEND) from err
        return self._accepted(result)

    async def async_send_from_sender(
        self,
        subscriber: Subscriber,
        sender: str | int | None,
        message: str,
        *,
        context: Context | None,
    ) -> SendSmsResult:
        """Text the subscriber from ``sender`` (the entry's sender name, or a number), once.

        Checked, counted and refused as :meth:`async_send`; an unapproved sender is the
        operator's refusal, with its description.
        """
        await self.async_check_owner(subscriber, context)
        _check_length(message)
        from_address = resolve_sender(self.room.entry, sender)
        await self.async_spend(subscriber, context)
        try:
            result = await self.room.api.send_sms_to_subscriber(
                subscriber.number, from_address, message
            )
        except WgtwoError as err:
            raise self._not_sent(err, SCOPE_SMS_TO_SUBSCRIBER) from err
        return self._accepted(result)

    def recipient(self, subscriber: Subscriber, to: str | int) -> str:
        """Return ``to`` (a number, a phonebook name, a bare integer) as E.164, or refuse it."""
        if isinstance(to, int):
            return bare_number_recipient(self.room, subscriber, to)
        return resolve_recipient(self.room.entry, to)

    def _not_sent(self, err: WgtwoError, scope: str) -> HomeAssistantError:
        _LOGGER.debug("SMS not sent: %s", type(err).__name__)
        # Without an answer the text may have gone out: it is never sent again.
        return operator_error(self.room.hass, err, Feature.SMS, scopes={scope}, unsure=True)

    def _accepted(self, result: SendSmsResult) -> SendSmsResult:
        """Return the operator's answer, or raise its refusal with its description."""
        if not result.ok:
            raise operator_refused(
                self.room.hass,
                Feature.SMS,
                result.description,
                rejected=result.status is SendStatus.REJECT,
            )
        _LOGGER.debug("SMS accepted by the operator in %d fragment(s)", result.num_fragments)
        return result

    async def async_notify(
        self, subscriber: Subscriber, message: str, *, context: Context | None
    ) -> SendSmsResult:
        """Text the subscriber's notify recipient (the option, else the subscriber itself)."""
        return await self.async_send(
            subscriber, notify_recipient(self.room.entry, subscriber), message, context=context
        )

    async def async_notify_from_sender(
        self, subscriber: Subscriber, message: str, *, context: Context | None
    ) -> SendSmsResult:
        """Text the subscriber from the entry's sender name (its message notify entity)."""
        return await self.async_send_from_sender(
            subscriber, sender_name(self.room.entry), message, context=context
        )
