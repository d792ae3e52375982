"""Call forwarding requests: which RPC and scope each mode needs, and what the answer means.

The API has no getter, so a caller only knows the forwarding it last set successfully.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import grpc
from google.protobuf.empty_pb2 import Empty

from .errors import ActionError, clip
from .event_types import SCOPE_FORWARD_DISABLE, SCOPE_FORWARD_TO_NUMBER, SCOPE_FORWARD_TO_VOICEMAIL
from .proto.wgtwo.callforward.v0 import callforward_pb2, callforward_pb2_grpc
from .proto.wgtwo.common.v0 import phonenumber_pb2

type Metadata = tuple[tuple[str, str], ...]
type ForwardingCall = Callable[[Metadata], Awaitable[callforward_pb2.CallForwardingResponse]]


class ForwardingMode(StrEnum):
    """Where the subscriber's incoming calls go."""

    OFF = "off"  # ring the phone, nothing forwarded
    VOICEMAIL = "voicemail"  # every call to the operator's voicemail
    NUMBER = "number"  # every call to a number
    CONDITIONAL = "conditional"  # to a number when busy, not answered or unreachable


FORWARDING_SCOPES: Final[Mapping[ForwardingMode, str]] = MappingProxyType(
    {
        ForwardingMode.OFF: SCOPE_FORWARD_DISABLE,
        ForwardingMode.VOICEMAIL: SCOPE_FORWARD_TO_VOICEMAIL,
        ForwardingMode.NUMBER: SCOPE_FORWARD_TO_NUMBER,
        ForwardingMode.CONDITIONAL: SCOPE_FORWARD_TO_NUMBER,
    }
)
NEEDS_NUMBER: Final = frozenset({ForwardingMode.NUMBER, ForwardingMode.CONDITIONAL})


class ForwardingRejectedError(ActionError):
    """The operator refused the forwarding (premium-rate or international target, ...).

    ``server_message`` is the operator's explanation, meant for the user (at most 200
    characters: it ends up in messages and logs).
    """

    def __init__(self, server_message: str) -> None:
        server_message = clip(server_message)
        super().__init__(
            f"call forwarding rejected: {server_message or 'no reason given'}", "REJECTED"
        )
        self.server_message = server_message


def _phone(number: str) -> phonenumber_pb2.PhoneNumber:
    return phonenumber_pb2.PhoneNumber(e164=number)


def forwarding_call(
    channel: grpc.aio.Channel,
    subscriber: str,
    mode: ForwardingMode,
    number: str | None,
    timeout: float,
) -> ForwardingCall:
    """Return the RPC that sets ``mode`` (``number`` only for number and conditional)."""
    if (mode in NEEDS_NUMBER) != bool(number):
        needs = "needs" if mode in NEEDS_NUMBER else "takes no"
        raise ActionError(f"forwarding mode {mode} {needs} number", "INVALID_ARGUMENT")
    stub = callforward_pb2_grpc.CallForwardingServiceStub(channel)
    owner = _phone(subscriber)
    match mode:
        case ForwardingMode.OFF:
            disable = callforward_pb2.DisableCallForwardingRequest(subscriber=owner)
            return lambda md: stub.Disable(disable, metadata=md, timeout=timeout)
        case ForwardingMode.VOICEMAIL:
            voicemail = callforward_pb2.VoicemailCallForwardingRequest(
                subscriber=owner, default=Empty()
            )
            return lambda md: stub.SetToVoicemail(voicemail, metadata=md, timeout=timeout)
    assert number is not None  # checked above
    target = _phone(number)
    if mode is ForwardingMode.NUMBER:
        request = callforward_pb2.NumberCallForwardingRequest(
            subscriber=owner,
            unconditional=callforward_pb2.Unconditional(forward_to_number=target),
        )
    else:
        request = callforward_pb2.NumberCallForwardingRequest(
            subscriber=owner,
            conditional=callforward_pb2.Conditional(
                busy=target, no_reply=target, unavailable=target
            ),
        )
    return lambda md: stub.SetToNumber(request, metadata=md, timeout=timeout)


def check_forwarding_response(response: callforward_pb2.CallForwardingResponse) -> None:
    """Raise unless the operator accepted the forwarding."""
    status = callforward_pb2.CallForwardingResponse.Status
    if response.status == status.ACCEPTED:
        return
    if response.status == status.REJECTED:
        raise ForwardingRejectedError(response.error_message)
    raise ActionError("call forwarding answered with an unknown status", "UNKNOWN")
