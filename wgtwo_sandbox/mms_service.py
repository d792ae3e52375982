"""MmsService fake: records each message's parts, refuses what the operator would.

A message to a subscriber must come from an approved sender (the list the SMS service
shares); one above ``MAX_MESSAGE_BYTES`` in all is refused, as handsets and networks
commonly refuse it. Both answers are ``SEND_REJECT`` with a description, as the
operator's. No event follows an MMS (the events API has none).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final

import grpc

from custom_components.wgtwo.client.proto.wgtwo.mms.v0 import mms_pb2

from .auth import AuthError, TokenAuthority
from .scopes import MMS_FROM_SUBSCRIBER, MMS_TO_SUBSCRIBER
from .sms_service import NOT_APPROVED

SERVICE_NAME = "wgtwo.mms.v0.MmsService"
Context = grpc.aio.ServicerContext[Any, Any]
MAX_MESSAGE_BYTES: Final = 300_000
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")

type MmsRequest = mms_pb2.SendMessageToSubscriberRequest | mms_pb2.SendMessageFromSubscriberRequest


def describe_parts(request: MmsRequest) -> list[dict[str, Any]]:
    """Return each part's kind, format and size in bytes (never its content)."""
    parts: list[dict[str, Any]] = []
    for content in request.message_content:
        kind = content.WhichOneof("content")
        if kind == "text":
            size = len(content.text.text.encode())
            parts.append({"kind": "text", "format": "text", "bytes": size})
        elif kind in ("image", "audio"):
            media = getattr(content, kind)
            part_format = media.WhichOneof("content")
            size = len(getattr(media, part_format)) if part_format else 0
            parts.append({"kind": kind, "format": part_format, "bytes": size})
        else:
            parts.append({"kind": None, "format": None, "bytes": 0})
    return parts


class MmsServicer:
    """Accepts messages and records them; ``refuse_with`` answers the next ones otherwise.

    ``sent`` lists every message accepted (so a test can tell a resend), ``messages`` their
    parts as the stats show them; ``fail_after_send`` accepts a message, then fails the call
    with that code (the answer is lost).
    """

    def __init__(self, authority: TokenAuthority, senders: set[str]) -> None:
        self.authority = authority
        self.senders = senders
        self.sent: list[MmsRequest] = []
        self.messages: list[dict[str, Any]] = []
        self.refused = 0
        self.refuse_with: tuple[mms_pb2.SendResponse.SendStatus.ValueType, str] | None = None
        self.fail_after_send: grpc.StatusCode | None = None

    async def _check(self, context: Context, scope: str, request: MmsRequest) -> None:
        try:
            self.authority.check(context.invocation_metadata() or (), (scope,))
        except AuthError as err:
            await context.abort(err.code, err.details)
        parts = describe_parts(request)
        if not parts:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "message_content is empty")
        if any(part["kind"] is None or part["format"] is None for part in parts):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a part has no content")

    def _refuse(self, description: str) -> mms_pb2.SendResponse:
        self.refused += 1
        reject = mms_pb2.SendResponse.SEND_REJECT
        return mms_pb2.SendResponse(status=reject, description=description)

    async def _accept(
        self, rpc: str, request: MmsRequest, context: Context
    ) -> mms_pb2.SendResponse:
        if self.refuse_with is not None:
            status, description = self.refuse_with
            return mms_pb2.SendResponse(status=status, description=description)
        parts = describe_parts(request)
        size = sum(part["bytes"] for part in parts)
        if size > MAX_MESSAGE_BYTES:
            return self._refuse(f"message too large: {size} bytes, at most {MAX_MESSAGE_BYTES}")
        self.sent.append(request)
        self.messages.append({"rpc": rpc, "parts": parts, "bytes": size})
        if self.fail_after_send is not None:
            await context.abort(self.fail_after_send, "connection lost after sending")
        return mms_pb2.SendResponse(
            request_id=str(uuid.uuid4()),
            status=mms_pb2.SendResponse.SEND_OK,
            description="accepted",
        )

    async def to_subscriber(
        self, request: mms_pb2.SendMessageToSubscriberRequest, context: Context
    ) -> mms_pb2.SendResponse:
        """Take a message to a subscriber from an approved sender (a name or a number)."""
        await self._check(context, MMS_TO_SUBSCRIBER, request)
        if not _E164.match(request.to_subscriber.e164):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "to_subscriber must be E.164")
        which = request.WhichOneof("from_address")
        if which is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "from_address is required")
        sender = (
            request.from_e164.e164
            if which == "from_e164"
            else request.from_text_address.text_address
        )
        if sender not in self.senders:
            return self._refuse(NOT_APPROVED)
        return await self._accept("to_subscriber", request, context)

    async def from_subscriber(
        self, request: mms_pb2.SendMessageFromSubscriberRequest, context: Context
    ) -> mms_pb2.SendResponse:
        """Take a message from a subscriber to a number."""
        await self._check(context, MMS_FROM_SUBSCRIBER, request)
        for field in (request.from_subscriber.e164, request.to_e164.e164):
            if not _E164.match(field):
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "from_subscriber and to_e164 must be E.164"
                )
        return await self._accept("from_subscriber", request, context)

    def snapshot(self) -> dict[str, Any]:
        """Return what the stats show: counts and each message's parts (types and sizes)."""
        return {"sent": len(self.sent), "refused": self.refused, "messages": list(self.messages)}

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler for the MMS service."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "SendMessageToSubscriber": grpc.unary_unary_rpc_method_handler(
                    self.to_subscriber,
                    request_deserializer=mms_pb2.SendMessageToSubscriberRequest.FromString,
                    response_serializer=mms_pb2.SendResponse.SerializeToString,
                ),
                "SendMessageFromSubscriber": grpc.unary_unary_rpc_method_handler(
                    self.from_subscriber,
                    request_deserializer=mms_pb2.SendMessageFromSubscriberRequest.FromString,
                    response_serializer=mms_pb2.SendResponse.SerializeToString,
                ),
            },
        )
