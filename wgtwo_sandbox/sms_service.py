"""SmsService fake: a sent text becomes an SMS event followed by a delivery report."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2

from .auth import AuthError, TokenAuthority
from .scopes import SMS_SEND

SERVICE_NAME = "wgtwo.sms.v1.SmsService"
Context = grpc.aio.ServicerContext[Any, Any]
MAX_CONTENT = 2000
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")


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


class SmsServicer:
    """Accepts texts and publishes what the operator's sandbox would.

    ``sent`` lists every text accepted (so a test can tell a resend); ``refuse_with``
    answers the next sends with that status and description instead; ``fail_after_send``
    accepts and publishes a text, then fails the call with that code (the answer is lost);
    ``hold_reports`` keeps the delivery reports back until :meth:`release_reports` (a real
    operator reports seconds later, never before the send is answered).
    """

    def __init__(
        self,
        authority: TokenAuthority,
        publish: Callable[[Iterable[events_pb2.Event]], list[int]],
    ) -> None:
        self.authority = authority
        self.publish = publish
        self.sent: list[sms_pb2.SendTextFromSubscriberRequest] = []
        self.refuse_with: tuple[sms_pb2.SendMessageResponse.SendStatus.ValueType, str] | None = None
        self.fail_after_send: grpc.StatusCode | None = None
        self.hold_reports = False
        self.held_reports: list[events_pb2.Event] = []

    def release_reports(self) -> None:
        """Publish the delivery reports held back so far."""
        held, self.held_reports = self.held_reports, []
        self.publish(held)

    async def send_text(
        self, request: sms_pb2.SendTextFromSubscriberRequest, context: Context
    ) -> sms_pb2.SendMessageResponse:
        """Validate and "send" a text from a subscriber."""
        try:
            self.authority.check(context.invocation_metadata() or (), (SMS_SEND,))
        except AuthError as err:
            await context.abort(err.code, err.details)
        if not 1 <= len(request.content) <= MAX_CONTENT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"content must be 1 to {MAX_CONTENT} characters"
            )
        if not _E164.match(request.from_subscriber):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "from_subscriber must be E.164")
        if not request.to_address:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "to_address is required")
        if self.refuse_with is not None:
            status, description = self.refuse_with
            return sms_pb2.SendMessageResponse(status=status, description=description)
        events = sms_events(request.from_subscriber, request.to_address, request.content)
        self.sent.append(request)
        if self.hold_reports:  # the report comes last
            self.held_reports.append(events.pop())
        self.publish(events)
        if self.fail_after_send is not None:
            await context.abort(self.fail_after_send, "connection lost after sending")
        return sms_pb2.SendMessageResponse(
            message_id=events[0].sms_event.id,
            status=sms_pb2.SendMessageResponse.SEND_STATUS_OK,
            description="accepted",
            num_fragments=fragments(request.content),
        )

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler for the SMS service."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "SendTextFromSubscriber": grpc.unary_unary_rpc_method_handler(
                    self.send_text,
                    request_deserializer=sms_pb2.SendTextFromSubscriberRequest.FromString,
                    response_serializer=sms_pb2.SendMessageResponse.SerializeToString,
                )
            },
        )
