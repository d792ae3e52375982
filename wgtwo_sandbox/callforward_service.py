"""CallForwardingService fake: per-subscriber forwarding state and the operator's refusals.

The operator refuses forwarding to special, premium-rate and international numbers. The
sandbox's rule, simple and documented in its README:

- a number that is not E.164 (``+`` and 6 to 15 digits) is INVALID_ARGUMENT, as is a
  request without a subscriber, without a forwarding type or with an empty condition set;
- a target whose country calling code differs from the subscriber's is international:
  REJECTED;
- a target starting with one of ``PREMIUM_PREFIXES`` (Norway 820-829, Sweden 900/939/944,
  UK 09, Denmark 90, NANP 900) is premium-rate: REJECTED;
- forwarding a subscriber to itself is REJECTED.

Trunk forwarding is answered REJECTED: no trunk is configured for any product here.

``fail_after_apply`` makes the next requests lose their answer, one fault each: a gRPC code
carries the request out and then fails the call with it (a timeout, a dropped connection,
INTERNAL); ``UNKNOWN_STATUS`` carries it out and answers with status UNKNOWN.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal

import grpc

from custom_components.wgtwo.client.proto.wgtwo.callforward.v0 import callforward_pb2
from custom_components.wgtwo.client.proto.wgtwo.common.v0 import phonenumber_pb2

from .auth import AuthError, TokenAuthority
from .scopes import FORWARD_DISABLE, FORWARD_TO_NUMBER, FORWARD_TO_VOICEMAIL

SERVICE_NAME: Final = "wgtwo.callforward.v0.CallForwardingService"
Context = grpc.aio.ServicerContext[Any, Any]
_E164: Final = re.compile(r"^\+[1-9]\d{5,14}$")
_STATUS = callforward_pb2.CallForwardingResponse.Status

# Two-digit country calling codes (ITU-T E.164 assignments); 1 and 7 are one digit,
# every other code has three.
_TWO_DIGIT_CODES: Final = frozenset(
    {20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54}
    | {55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98}
)
UNKNOWN_STATUS: Final = "unknown_status"
type Fault = grpc.StatusCode | Literal["unknown_status"]
PREMIUM_PREFIXES: Final = ("+4782", "+46900", "+46939", "+46944", "+449", "+4590", "+1900")


def calling_code(number: str) -> str:
    """Return the country calling code of an E.164 number (without the ``+``)."""
    digits = number.removeprefix("+")
    if digits[:1] in ("1", "7"):
        return digits[:1]
    if digits[:2].isdigit() and int(digits[:2]) in _TWO_DIGIT_CODES:
        return digits[:2]
    return digits[:3]


def refusal(subscriber: str, target: str) -> str | None:
    """Return why the operator refuses forwarding ``subscriber`` to ``target`` (None: allowed)."""
    if target == subscriber:
        return "cannot forward a subscriber to itself"
    if target.startswith(PREMIUM_PREFIXES):
        return "forwarding to premium-rate numbers is not allowed"
    if calling_code(target) != calling_code(subscriber):
        return "forwarding to international numbers is not allowed"
    return None


class CallForwardingServicer:
    """Keeps each subscriber's forwarding as the operator would apply it."""

    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority
        # E.164 subscriber -> {"mode": ..., and the targets of that mode}
        self.state: dict[str, dict[str, str]] = {}
        self.requests = 0
        self.rejected = 0
        self.fail_after_apply: list[Fault] = []

    def snapshot(self) -> dict[str, Any]:
        """Return the forwarding state per subscriber and counters (JSON-ready)."""
        return {
            "requests": self.requests,
            "rejected": self.rejected,
            "subscribers": {number: dict(state) for number, state in self.state.items()},
        }

    async def _begin(
        self, context: Context, scope: str, subscriber: phonenumber_pb2.PhoneNumber
    ) -> str:
        """Check the token and the subscriber; return the subscriber's number."""
        self.requests += 1
        try:
            self.authority.check(context.invocation_metadata() or (), (scope,))
        except AuthError as err:
            await context.abort(err.code, err.details)
        if not _E164.match(subscriber.e164):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "subscriber must be E.164")
        return subscriber.e164

    async def _targets(
        self, context: Context, subscriber: str, targets: dict[str, phonenumber_pb2.PhoneNumber]
    ) -> dict[str, str] | str:
        """Validate the targets; return them by name, or the reason the operator refuses."""
        numbers = {name: phone.e164 for name, phone in targets.items() if phone.e164}
        if not numbers:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no forwarding target given")
        for number in numbers.values():
            if not _E164.match(number):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "targets must be E.164")
        for number in numbers.values():
            if (reason := refusal(subscriber, number)) is not None:
                return reason
        return numbers

    def _reply(self, reason: str | None = None) -> callforward_pb2.CallForwardingResponse:
        if reason is None:
            return callforward_pb2.CallForwardingResponse(status=_STATUS.ACCEPTED)
        self.rejected += 1
        return callforward_pb2.CallForwardingResponse(status=_STATUS.REJECTED, error_message=reason)

    async def disable(
        self, request: callforward_pb2.DisableCallForwardingRequest, context: Context
    ) -> callforward_pb2.CallForwardingResponse:
        """Stop forwarding the subscriber's calls."""
        subscriber = await self._begin(context, FORWARD_DISABLE, request.subscriber)
        self.state[subscriber] = {"mode": "disabled"}
        return self._reply()

    async def set_to_number(
        self, request: callforward_pb2.NumberCallForwardingRequest, context: Context
    ) -> callforward_pb2.CallForwardingResponse:
        """Forward calls to a number, always or on busy / no reply / unavailable."""
        subscriber = await self._begin(context, FORWARD_TO_NUMBER, request.subscriber)
        kind = request.WhichOneof("type")
        if kind == "unconditional":
            targets = {"to": request.unconditional.forward_to_number}
        elif kind == "conditional":
            condition = request.conditional
            targets = {
                name: getattr(condition, name)
                for name in ("busy", "no_reply", "unavailable")
                if condition.HasField(name)
            }
        else:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no forwarding type given")
        checked = await self._targets(context, subscriber, targets)
        if isinstance(checked, str):
            return self._reply(checked)
        self.state[subscriber] = {"mode": kind, **checked}
        return self._reply()

    async def set_to_trunk(
        self, request: callforward_pb2.TrunkCallForwardingRequest, context: Context
    ) -> callforward_pb2.CallForwardingResponse:
        """Refuse: no trunk is configured for any product in the sandbox."""
        await self._begin(context, FORWARD_TO_NUMBER, request.subscriber)
        return self._reply("no trunk is configured for this product")

    async def set_to_voicemail(
        self, request: callforward_pb2.VoicemailCallForwardingRequest, context: Context
    ) -> callforward_pb2.CallForwardingResponse:
        """Send every call to voicemail (the operator's, or a given voicemail number)."""
        subscriber = await self._begin(context, FORWARD_TO_VOICEMAIL, request.subscriber)
        if request.WhichOneof("target") == "phone_number":
            checked = await self._targets(context, subscriber, {"to": request.phone_number})
            if isinstance(checked, str):
                return self._reply(checked)
            self.state[subscriber] = {"mode": "voicemail", **checked}
        else:
            self.state[subscriber] = {"mode": "voicemail"}
        return self._reply()

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler for the call forwarding service."""
        response = callforward_pb2.CallForwardingResponse.SerializeToString

        def method(
            behaviour: Callable[[Any, Context], Awaitable[callforward_pb2.CallForwardingResponse]],
            request_type: Any,
        ) -> grpc.RpcMethodHandler[Any, Any]:
            async def with_faults(
                request: Any, context: Context
            ) -> callforward_pb2.CallForwardingResponse:
                answer = await behaviour(request, context)
                if not self.fail_after_apply:
                    return answer
                fault = self.fail_after_apply.pop(0)
                if fault == UNKNOWN_STATUS:
                    return callforward_pb2.CallForwardingResponse(status=_STATUS.UNKNOWN)
                await context.abort(fault, "connection lost after the request was carried out")
                raise AssertionError("abort raises")  # pragma: no cover

            return grpc.unary_unary_rpc_method_handler(
                with_faults,
                request_deserializer=request_type.FromString,
                response_serializer=response,
            )

        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Disable": method(self.disable, callforward_pb2.DisableCallForwardingRequest),
                "SetToNumber": method(
                    self.set_to_number, callforward_pb2.NumberCallForwardingRequest
                ),
                "SetToTrunk": method(self.set_to_trunk, callforward_pb2.TrunkCallForwardingRequest),
                "SetToVoicemail": method(
                    self.set_to_voicemail, callforward_pb2.VoicemailCallForwardingRequest
                ),
            },
        )
