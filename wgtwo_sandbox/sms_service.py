"""SmsService fake: a sent text becomes an SMS event followed by a delivery report.

A text from a subscriber (``SendTextFromSubscriber``) and a text to a subscriber from an
approved sender (``SendTextToSubscriber``: a name such as "Home", or a number) alike.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final

import grpc

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2

from .auth import AuthError, TokenAuthority
from .scopes import SMS_SEND, SMS_TO_SUBSCRIBER

SERVICE_NAME = "wgtwo.sms.v1.SmsService"
Context = grpc.aio.ServicerContext[Any, Any]
MAX_CONTENT = 2000
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")
# The senders a product may use towards its subscribers unless told otherwise.
DEFAULT_SENDERS: Final = frozenset({"Home"})
NOT_APPROVED: Final = "sender not approved for this product"


def fragments(content: str) -> int:
    """Return how many SMS parts a text needs (GSM-7 sizes; a rough figure is enough)."""
    return 1 if len(content) <= 160 else math.ceil(len(content) / 153)


def sms_events(from_subscriber: str, to_address: str, content: str) -> list[events_pb2.Event]:
    """Build the events the operator emits for a text sent by a subscriber."""
    sms_id = str(uuid.uuid4())
    events = []
    directions = [events_pb2.SmsEvent.FROM_SUBSCRIBER]
    if to_address == from_subscriber:
        directions.append(events_pb2.SmsEvent.TO_SUBSCRIBER)
    for direction in directions:
        sms = events_pb2.SmsEvent(id=sms_id, uuid=sms_id, direction=direction, text=content)
        sms.from_e164.e164 = from_subscriber
        if _E164.match(to_address):
            sms.to_e164.e164 = to_address
        else:
            sms.to_text_address.text_address = to_address
        event = events_pb2.Event(sms_event=sms)
        event.owner.phone_number.e164 = from_subscriber
        events.append(event)
    report = events_pb2.SmsDeliveryReportEvent(
        id=str(uuid.uuid4()),
        sms_id=sms_id,
        direction=events_pb2.SmsDeliveryReportEvent.FROM_SUBSCRIBER,
        status=events_pb2.SmsDeliveryReportEvent.DELIVERED,
    )
    report.from_e164.e164 = from_subscriber
    if _E164.match(to_address):
        report.to_e164.e164 = to_address
    else:
        report.to_text_address.text_address = to_address
    event = events_pb2.Event(sms_delivery_report_event=report)
    event.owner.phone_number.e164 = from_subscriber
    events.append(event)
    return events


def _set_address(message: Any, side: str, address: str) -> None:
    """Set ``<side>_e164`` for a number, else ``<side>_text_address``."""
    if _E164.match(address):
        getattr(message, f"{side}_e164").e164 = address
    else:
        getattr(message, f"{side}_text_address").text_address = address


def to_subscriber_events(
    to_subscriber: str, from_address: str, content: str
) -> list[events_pb2.Event]:
    """Build the events of a text to a subscriber from a sender: the SMS, then its report."""
    sms_id = str(uuid.uuid4())
    sms = events_pb2.SmsEvent(
        id=sms_id, uuid=sms_id, direction=events_pb2.SmsEvent.TO_SUBSCRIBER, text=content
    )
    _set_address(sms, "from", from_address)
    sms.to_e164.e164 = to_subscriber
    report = events_pb2.SmsDeliveryReportEvent(
        id=str(uuid.uuid4()),
        sms_id=sms_id,
        direction=events_pb2.SmsDeliveryReportEvent.TO_SUBSCRIBER,
        status=events_pb2.SmsDeliveryReportEvent.DELIVERED,
    )
    _set_address(report, "from", from_address)
    report.to_e164.e164 = to_subscriber
    events = [events_pb2.Event(sms_event=sms), events_pb2.Event(sms_delivery_report_event=report)]
    for event in events:
        event.owner.phone_number.e164 = to_subscriber
    return events


class SmsServicer:
    """Accepts texts and publishes what the operator's sandbox would.

    ``sent`` lists every text accepted (so a test can tell a resend); ``refuse_with``
    answers the next sends with that status and description instead; ``fail_after_send``
    accepts and publishes a text, then fails the call with that code (the answer is lost);
    ``hold_reports`` keeps the delivery reports back until :meth:`release_reports` (a real
    operator reports seconds later, never before the send is answered). ``to_subscriber``
    lists the texts sent to subscribers; only ``senders`` (names or numbers; shared with
    the MMS service) are approved as their senders, any other is answered REJECT.
    """

    def __init__(
        self,
        authority: TokenAuthority,
        publish: Callable[[Iterable[events_pb2.Event]], list[int]],
        senders: set[str] | None = None,
    ) -> None:
        self.authority = authority
        self.publish = publish
        self.senders = senders if senders is not None else set(DEFAULT_SENDERS)
        self.sent: list[sms_pb2.SendTextFromSubscriberRequest] = []
        self.to_subscriber: list[sms_pb2.SendTextToSubscriberRequest] = []
        self.refused_senders = 0
        self.refuse_with: tuple[sms_pb2.SendMessageResponse.SendStatus.ValueType, str] | None = None
        self.fail_after_send: grpc.StatusCode | None = None
        self.hold_reports = False
        self.held_reports: list[events_pb2.Event] = []

    def release_reports(self) -> None:
        """Publish the delivery reports held back so far."""
        held, self.held_reports = self.held_reports, []
        self.publish(held)

    async def _check(self, context: Context, scope: str, content: str) -> None:
        try:
            self.authority.check(context.invocation_metadata() or (), (scope,))
        except AuthError as err:
            await context.abort(err.code, err.details)
        if not 1 <= len(content) <= MAX_CONTENT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"content must be 1 to {MAX_CONTENT} characters"
            )

    async def _answer(
        self, events: list[events_pb2.Event], content: str, context: Context
    ) -> sms_pb2.SendMessageResponse:
        """Publish what a text accepted makes; answer with its id (or lose the answer)."""
        if self.hold_reports:  # the report comes last
            self.held_reports.append(events.pop())
        self.publish(events)
        if self.fail_after_send is not None:
            await context.abort(self.fail_after_send, "connection lost after sending")
        return sms_pb2.SendMessageResponse(
            message_id=events[0].sms_event.id,
            status=sms_pb2.SendMessageResponse.SEND_STATUS_OK,
            description="accepted",
            num_fragments=fragments(content),
        )

    async def send_text(
        self, request: sms_pb2.SendTextFromSubscriberRequest, context: Context
    ) -> sms_pb2.SendMessageResponse:
        """Validate and "send" a text from a subscriber."""
        await self._check(context, SMS_SEND, request.content)
        if not _E164.match(request.from_subscriber):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "from_subscriber must be E.164")
        if not request.to_address:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "to_address is required")
        if self.refuse_with is not None:
            status, description = self.refuse_with
            return sms_pb2.SendMessageResponse(status=status, description=description)
        events = sms_events(request.from_subscriber, request.to_address, request.content)
        self.sent.append(request)
        return await self._answer(events, request.content, context)

    async def send_text_to_subscriber(
        self, request: sms_pb2.SendTextToSubscriberRequest, context: Context
    ) -> sms_pb2.SendMessageResponse:
        """Validate and "send" a text to a subscriber from an approved sender."""
        await self._check(context, SMS_TO_SUBSCRIBER, request.content)
        if not _E164.match(request.to_subscriber):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "to_subscriber must be E.164")
        if not request.from_address:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "from_address is required")
        if self.refuse_with is not None:
            status, description = self.refuse_with
            return sms_pb2.SendMessageResponse(status=status, description=description)
        if request.from_address not in self.senders:
            self.refused_senders += 1
            return sms_pb2.SendMessageResponse(
                status=sms_pb2.SendMessageResponse.SEND_STATUS_REJECT, description=NOT_APPROVED
            )
        events = to_subscriber_events(request.to_subscriber, request.from_address, request.content)
        self.to_subscriber.append(request)
        return await self._answer(events, request.content, context)

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler for the SMS service."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "SendTextFromSubscriber": grpc.unary_unary_rpc_method_handler(
                    self.send_text,
                    request_deserializer=sms_pb2.SendTextFromSubscriberRequest.FromString,
                    response_serializer=sms_pb2.SendMessageResponse.SerializeToString,
                ),
                "SendTextToSubscriber": grpc.unary_unary_rpc_method_handler(
                    self.send_text_to_subscriber,
                    request_deserializer=sms_pb2.SendTextToSubscriberRequest.FromString,
                    response_serializer=sms_pb2.SendMessageResponse.SerializeToString,
                ),
            },
        )
