"""MMS: a picture, a sound and a text in one message, from a subscriber or to it from a sender.

From the subscriber's own number to a recipient (``to``: a number or a phonebook name, as a
text's; ``SendMessageFromSubscriber``, scope ``mms.send.from_subscriber``), or to the
subscriber from the entry's sender name or a number (``sender``;
``SendMessageToSubscriber``, ``mms.send.to_subscriber``).

An MMS costs money as a text does: the person asking must be allowed the line (access.py),
the parts are fetched and fitted before anything is counted (:mod:`..mms_media`), then one
of the subscriber's text budget is spent (:meth:`.messages.Messages.async_spend`), and the
message goes to the operator once. Nothing retries it: a lost answer says it may have gone
out. Numbers, texts and the parts' content never reach the logs.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from homeassistant.core import Context
from homeassistant.helpers import config_validation as cv

from ..client import MmsStatus, SendMmsResult, WgtwoError
from ..client.event_types import SCOPE_MMS_FROM_SUBSCRIBER, SCOPE_MMS_TO_SUBSCRIBER
from ..compat import vol
from ..errors import Feature, operator_error, operator_refused
from ..mms_media import async_parts
from ..subscriber import Subscriber
from .base import Capability, Room
from .messages import (
    ATTR_MESSAGE,
    ATTR_SENDER,
    ATTR_TO,
    Messages,
    check_direction,
    recipient_field,
    resolve_sender,
)

_LOGGER = logging.getLogger(__name__)

SERVICE_SEND_MMS: Final = "send_mms"
ATTR_IMAGE: Final = "image"
ATTR_AUDIO: Final = "audio"

SEND_MMS_SCHEMA: Final = cv.make_entity_service_schema(
    {
        vol.Optional(ATTR_TO): recipient_field,
        vol.Optional(ATTR_SENDER): recipient_field,
        vol.Optional(ATTR_MESSAGE): cv.string,
        vol.Optional(ATTR_IMAGE): cv.string,
        vol.Optional(ATTR_AUDIO): cv.string,
    }
)


class Mms(Capability):
    """Sending MMS of a subscriber's line; its budget is the one texts spend."""

    def __init__(self, room: Room, messages: Messages) -> None:
        """Bind to the entry's coordinator and to the texts whose budget MMS share."""
        super().__init__(room)
        self._messages = messages

    async def async_send(
        self,
        subscriber: Subscriber,
        data: dict[str, Any],
        *,
        context: Context | None,
    ) -> SendMmsResult:
        """Send the MMS the action's ``data`` describes, once.

        Raises a translated error when the person in ``context`` may not use the line,
        when the recipient, sender or parts are not acceptable, when the budget is spent,
        or when the operator did not take the message.
        """
        await self.async_check_owner(subscriber, context)
        to, sender = data.get(ATTR_TO), data.get(ATTR_SENDER)
        check_direction(to, sender)
        if to is not None:
            address = self._messages.recipient(subscriber, to)
            scope = SCOPE_MMS_FROM_SUBSCRIBER
        else:
            address = resolve_sender(self.room.entry, sender)
            scope = SCOPE_MMS_TO_SUBSCRIBER
        parts = await async_parts(
            self.room.hass, data.get(ATTR_MESSAGE), data.get(ATTR_IMAGE), data.get(ATTR_AUDIO)
        )
        await self._messages.async_spend(subscriber, context, Feature.MMS)
        api = self.room.api
        try:
            if to is not None:
                result = await api.send_mms_from_subscriber(subscriber.number, address, parts)
            else:
                result = await api.send_mms_to_subscriber(subscriber.number, address, parts)
        except WgtwoError as err:
            _LOGGER.debug("MMS not sent: %s", type(err).__name__)
            # Without an answer the message may have gone out: it is never sent again.
            raise operator_error(
                self.room.hass, err, Feature.MMS, scopes={scope}, unsure=True
            ) from err
        if not result.ok:
            raise operator_refused(
                self.room.hass,
                Feature.MMS,
                result.description,
                rejected=result.status is MmsStatus.REJECT,
            )
        _LOGGER.debug("MMS of %d part(s) accepted by the operator", len(parts))
        return result
