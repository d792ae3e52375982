"""Unary API calls: voicemail media, sending SMS and MMS, call forwarding, consents and networks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from .auth import TokenProvider, bearer_metadata
from .consents import MAX_PAGES, PAGE_SIZE, SCOPE_SUBSCRIPTION_ID, ConsentInfo
from .endpoint import Endpoint
from .errors import ActionError, AuthenticationError, CannotConnectError
from .event_types import (
    SCOPE_MMS_FROM_SUBSCRIBER,
    SCOPE_MMS_TO_SUBSCRIBER,
    SCOPE_SMS_SEND,
    SCOPE_SMS_TO_SUBSCRIBER,
    SCOPE_VOICEMAIL_DELETE,
    SCOPE_VOICEMAIL_GET,
    SCOPE_VOICEMAIL_UPDATE,
)
from .forwarding import (
    FORWARDING_SCOPES,
    ForwardingMode,
    check_forwarding_response,
    forwarding_call,
)
from .grpc_errors import missing_scope_error
from .mms import MmsPart, SendMmsResult, from_subscriber_request, to_subscriber_request
from .models import enum_table, timestamp_to_datetime
from .network import SCOPE_NETWORK_INFO, NetworkInfo, network_info_call, network_infos
from .proto.wgtwo.common.v0 import phonenumber_pb2, status_pb2
from .proto.wgtwo.consents.v0 import consents_pb2, consents_pb2_grpc
from .proto.wgtwo.mms.v0 import mms_pb2, mms_pb2_grpc
from .proto.wgtwo.sms.v1 import sms_pb2, sms_pb2_grpc
from .proto.wgtwo.subscription.v0 import subscription_id_pb2, subscription_id_pb2_grpc
from .proto.wgtwo.voicemail.v0 import voicemail_pb2, voicemail_pb2_grpc


class SendStatus(StrEnum):
    """Outcome of sending an SMS."""

    UNSPECIFIED = "unspecified"
    OK = "ok"
    REJECT = "reject"
    ERROR = "error"


_SEND_STATUSES = enum_table(
    SendStatus, sms_pb2.SendMessageResponse.SendStatus.DESCRIPTOR, "SEND_STATUS_"
)


@dataclass(frozen=True, slots=True)
class VoicemailInfo:
    """A voicemail's metadata, as listed: everything but the audio."""

    voicemail_id: str
    from_number: str | None
    to_number: str | None
    duration: timedelta | None
    played: bool
    created: datetime | None
    expires: datetime | None

    @classmethod
    def from_proto(
        cls, meta: voicemail_pb2.VoicemailMetadata, voicemail_id: str = ""
    ) -> VoicemailInfo:
        """Read the wire metadata; ``voicemail_id`` stands in for an empty id."""
        return cls(**_info_fields(meta, voicemail_id))


@dataclass(frozen=True, slots=True)
class Voicemail(VoicemailInfo):
    """A voicemail's metadata and its audio (WAV)."""

    wav: bytes = b""


def _info_fields(meta: voicemail_pb2.VoicemailMetadata, voicemail_id: str) -> dict[str, Any]:
    return {
        "voicemail_id": meta.voicemail_id or voicemail_id,
        "from_number": getattr(meta, "from").e164 or None,
        "to_number": meta.to.e164 or None,
        "duration": _duration(meta.duration, meta.HasField("duration")),
        "played": meta.played,
        "created": _time(meta.created, meta.HasField("created")),
        "expires": _time(meta.expires, meta.HasField("expires")),
    }


@dataclass(frozen=True, slots=True)
class SendSmsResult:
    """What the API answered to a send request."""

    message_id: str
    status: SendStatus | int
    description: str
    num_fragments: int

    @property
    def ok(self) -> bool:
        """Whether the message was accepted for delivery."""
        return self.status is SendStatus.OK


def _time(message: Timestamp, present: bool) -> datetime | None:
    return timestamp_to_datetime(message) if present else None


def _duration(message: Duration, present: bool) -> timedelta | None:
    return message.ToTimedelta() if present else None


def _list_page(
    stub: consents_pb2_grpc.ConsentServiceStub,
    request: consents_pb2.ListConsentsForProductRequest,
    timeout: float,
    metadata: Any,
) -> Any:
    return stub.ListConsentsForProduct(request, metadata=metadata, timeout=timeout)


class WgtwoActions:
    """Voicemail, SMS, MMS and forwarding calls on one lazily opened channel; ``close()`` it.

    Nothing that sends is repeated, except after UNAUTHENTICATED (an expired token), which
    the server answers before it sends anything.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        token_provider: TokenProvider | None,
        *,
        timeout: float = 15.0,
    ) -> None:
        self._endpoint = endpoint
        self._token_provider = token_provider
        self._timeout = timeout
        self._channel: grpc.aio.Channel | None = None

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = self._endpoint.create_channel()
        return self._channel

    async def close(self) -> None:
        """Close the channel (safe to call more than once)."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    async def _call(self, scope: str, invoke: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``invoke(metadata)`` with a token, refreshing it once if it is rejected."""
        provider = self._token_provider
        token: str | None = None
        for attempt in (1, 2):
            metadata: tuple[tuple[str, str], ...] = ()
            if provider is not None:
                token = await provider.get_token(force_refresh=attempt == 2, rejected=token)
                metadata = bearer_metadata(token)
            try:
                return await invoke(metadata)
            except grpc.aio.AioRpcError as err:
                code = err.code()
                if code == grpc.StatusCode.UNAUTHENTICATED:
                    if provider is not None and attempt == 1:
                        continue
                    raise AuthenticationError("server rejected the access token") from None
                if code == grpc.StatusCode.PERMISSION_DENIED:
                    raise missing_scope_error(err.details(), {scope}) from None
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    # gRPC cannot tell a request never sent from an answer lost.
                    raise CannotConnectError(
                        f"cannot reach {self._endpoint.target} ({code.name})", request_sent=True
                    ) from None
                raise ActionError(f"{scope} failed ({code.name})", code.name) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_voicemail(self, voicemail_id: str) -> Voicemail:
        """Fetch a voicemail's metadata and audio."""
        stub = voicemail_pb2_grpc.VoicemailMediaServiceStub(self._open())
        request = voicemail_pb2.GetVoicemailRequest(voicemail_id=voicemail_id)
        response: voicemail_pb2.GetVoicemailResponse = await self._call(
            SCOPE_VOICEMAIL_GET,
            lambda md: stub.GetVoicemail(request, metadata=md, timeout=self._timeout),
        )
        return Voicemail(**_info_fields(response.metadata, voicemail_id), wav=response.wav)

    async def list_voicemails(self, to_number: str) -> list[VoicemailInfo]:
        """List the voicemails the operator still holds for a subscriber (E.164), no audio."""
        stub = voicemail_pb2_grpc.VoicemailMediaServiceStub(self._open())
        request = voicemail_pb2.GetAllVoicemailMetadataRequest(
            to=phonenumber_pb2.PhoneNumber(e164=to_number)
        )
        response: voicemail_pb2.GetAllVoicemailMetadataResponse = await self._call(
            SCOPE_VOICEMAIL_GET,
            lambda md: stub.GetAllVoicemailMetadata(request, metadata=md, timeout=self._timeout),
        )
        return [VoicemailInfo.from_proto(meta) for meta in response.metadata]

    async def mark_voicemail_read(self, voicemail_id: str) -> None:
        """Mark a voicemail as played."""
        stub = voicemail_pb2_grpc.VoicemailMediaServiceStub(self._open())
        request = voicemail_pb2.MarkVoicemailAsReadRequest(voicemail_id=voicemail_id)
        await self._call(
            SCOPE_VOICEMAIL_UPDATE,
            lambda md: stub.MarkVoicemailAsRead(request, metadata=md, timeout=self._timeout),
        )

    async def delete_voicemail(self, voicemail_id: str) -> None:
        """Delete a voicemail."""
        stub = voicemail_pb2_grpc.VoicemailMediaServiceStub(self._open())
        request = voicemail_pb2.DeleteVoicemailRequest(voicemail_id=voicemail_id)
        await self._call(
            SCOPE_VOICEMAIL_DELETE,
            lambda md: stub.DeleteVoicemail(request, metadata=md, timeout=self._timeout),
        )

    async def set_call_forwarding(
        self, subscriber: str, mode: ForwardingMode | str, number: str | None = None
    ) -> None:
        """Set where a subscriber's calls go; ``ForwardingRejectedError`` if the operator refuses.

        ``number`` is the target of ``number`` and ``conditional`` (busy, no reply and
        unavailable all to it) and must be None for ``off`` and ``voicemail``.
        """
        mode = ForwardingMode(mode)
        invoke = forwarding_call(self._open(), subscriber, mode, number, self._timeout)
        check_forwarding_response(await self._call(FORWARDING_SCOPES[mode], invoke))

    async def get_network_info(self, number: str) -> list[NetworkInfo]:
        """Return the serving network of each of a subscriber's (E.164) SIMs."""
        invoke = network_info_call(self._open(), number, self._timeout)
        return network_infos(await self._call(SCOPE_NETWORK_INFO, invoke))

    async def send_sms(
        self,
        from_subscriber: str,
        to_address: str,
        content: str,
        *,
        delivery_deadline: timedelta | None = None,
    ) -> SendSmsResult:
        """Send a text SMS on behalf of a subscriber (E.164 ``from_subscriber``)."""
        _check_content(content)
        stub = sms_pb2_grpc.SmsServiceStub(self._open())
        request = sms_pb2.SendTextFromSubscriberRequest(
            content=content, from_subscriber=from_subscriber, to_address=to_address
        )
        return await self._send_text(
            SCOPE_SMS_SEND, stub.SendTextFromSubscriber, request, delivery_deadline
        )

    async def send_sms_to_subscriber(
        self,
        to_subscriber: str,
        from_address: str,
        content: str,
        *,
        delivery_deadline: timedelta | None = None,
    ) -> SendSmsResult:
        """Send a text to a subscriber (E.164) from a sender the operator approved.

        ``from_address`` is a number, a short code or an alphanumeric sender id ("Home").
        """
        _check_content(content)
        stub = sms_pb2_grpc.SmsServiceStub(self._open())
        request = sms_pb2.SendTextToSubscriberRequest(
            content=content, to_subscriber=to_subscriber, from_address=from_address
        )
        return await self._send_text(
            SCOPE_SMS_TO_SUBSCRIBER, stub.SendTextToSubscriber, request, delivery_deadline
        )

    async def _send_text(
        self,
        scope: str,
        send: Any,
        request: Any,
        delivery_deadline: timedelta | None,
    ) -> SendSmsResult:
        """Send a text request with ``send`` (one of the SMS service's methods), once."""
        if delivery_deadline is not None:
            request.delivery_deadline.FromTimedelta(delivery_deadline)
        response: sms_pb2.SendMessageResponse = await self._call(
            scope, lambda md: send(request, metadata=md, timeout=self._timeout)
        )
        return _sms_result(response)

    async def send_mms_from_subscriber(
        self, from_subscriber: str, to_number: str, parts: list[MmsPart]
    ) -> SendMmsResult:
        """Send an MMS of ``parts`` (in order) from a subscriber to a number, both E.164."""
        _check_parts(parts)
        stub = mms_pb2_grpc.MmsServiceStub(self._open())
        request = from_subscriber_request(from_subscriber, to_number, parts)
        response: mms_pb2.SendResponse = await self._call(
            SCOPE_MMS_FROM_SUBSCRIBER,
            lambda md: stub.SendMessageFromSubscriber(request, metadata=md, timeout=self._timeout),
        )
        return SendMmsResult.from_proto(response)

    async def send_mms_to_subscriber(
        self, to_subscriber: str, sender: str, parts: list[MmsPart]
    ) -> SendMmsResult:
        """Send an MMS of ``parts`` to a subscriber from a sender: ``+number`` or a name."""
        _check_parts(parts)
        stub = mms_pb2_grpc.MmsServiceStub(self._open())
        request = to_subscriber_request(to_subscriber, sender, parts)
        response: mms_pb2.SendResponse = await self._call(
            SCOPE_MMS_TO_SUBSCRIBER,
            lambda md: stub.SendMessageToSubscriber(request, metadata=md, timeout=self._timeout),
        )
        return SendMmsResult.from_proto(response)

    async def list_consents(self) -> list[ConsentInfo]:
        """List every consent of the product, page after page (no scope needed)."""
        stub = consents_pb2_grpc.ConsentServiceStub(self._open())
        consents: list[ConsentInfo] = []
        token = ""
        for _page in range(MAX_PAGES):
            request = consents_pb2.ListConsentsForProductRequest()
            request.pagination.page_size = PAGE_SIZE
            request.pagination.page_token = token
            response: consents_pb2.ListConsentsForProductResponse = await self._call(
                "consents", partial(_list_page, stub, request, self._timeout)
            )
            consents.extend(ConsentInfo.from_proto(c) for c in response.consents)
            token = response.pagination.next_page_token
            if not token:
                break
        return consents

    async def get_msisdn(self, consent: ConsentInfo) -> str | None:
        """Return the number of a consent's subscription; None when the operator names none."""
        if consent.subscription_id is None:
            return None
        stub = subscription_id_pb2_grpc.SubscriptionIdServiceStub(self._open())
        request = subscription_id_pb2.GetMsisdnRequest()
        request.subscription_id.value = consent.subscription_id
        if consent.subscription_tenant:
            request.subscription_id.tenant.name = consent.subscription_tenant
        response: subscription_id_pb2.GetMsisdnResponse = await self._call(
            SCOPE_SUBSCRIPTION_ID,
            lambda md: stub.GetMsisdn(request, metadata=md, timeout=self._timeout),
        )
        if response.status_code != status_pb2.STATUS_CODE_OK:
            return None
        return response.phone_number.e164 or None


def _check_content(content: str) -> None:
    if not 1 <= len(content) <= 2000:
        raise ActionError("SMS content must be 1 to 2000 characters", "INVALID_ARGUMENT")


def _check_parts(parts: list[MmsPart]) -> None:
    if not parts:
        raise ActionError("an MMS needs at least one part", "INVALID_ARGUMENT")


def _sms_result(response: sms_pb2.SendMessageResponse) -> SendSmsResult:
    status = _SEND_STATUSES.get(response.status)
    return SendSmsResult(
        message_id=response.message_id,
        status=status if status is not None else response.status,
        description=response.description,
        num_fragments=response.num_fragments,
    )
