"""One-shot check that a subscription would work (used before saving a configuration)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import grpc

from .accept import stream_accepted
from .auth import TokenProvider, bearer_metadata
from .config import SubscriptionConfig
from .endpoint import Endpoint
from .errors import AuthenticationError, CannotConnectError, WgtwoError
from .event_types import EventType, scopes_for
from .grpc_errors import missing_scope_error
from .proto.wgtwo.events.v0 import events_pb2_grpc


async def async_check_subscription(
    endpoint: Endpoint,
    event_types: Iterable[EventType | str],
    token_provider: TokenProvider | None,
    timeout: float = 10.0,  # noqa: ASYNC109 - part of the public API
) -> None:
    """Open the event stream once and return when the server accepted it.

    The server accepted the subscription when it answers with headers or an event, or
    when the stream stays open and silent until ``timeout`` (no consented subscribers is
    not an error). Raises ``AuthenticationError``, ``MissingScopeError``,
    ``CannotConnectError`` or ``WgtwoError``. The check uses no durable name and no manual
    ack, so it does not disturb the position of a real subscription.
    """
    config = SubscriptionConfig(
        event_types=tuple(EventType(t) for t in event_types),
        manual_ack=False,
        max_in_flight=1,
    )
    deadline = asyncio.get_running_loop().time() + timeout
    token: str | None = None
    for attempt in (1, 2):
        metadata: tuple[tuple[str, str], ...] = ()
        if token_provider is not None:
            try:
                async with asyncio.timeout_at(deadline):
                    token = await token_provider.get_token(
                        force_refresh=attempt == 2, rejected=token
                    )
            except TimeoutError:
                raise CannotConnectError("token endpoint did not answer in time") from None
            metadata = bearer_metadata(token)
        code, details = await _open_once(endpoint, config, metadata, deadline)
        if code is None:
            return
        if code == grpc.StatusCode.UNAUTHENTICATED:
            if token_provider is None or attempt == 2:
                raise AuthenticationError("server rejected the access token")
            continue
        if code == grpc.StatusCode.PERMISSION_DENIED:
            raise missing_scope_error(details, scopes_for(config.event_types), config.event_types)
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise CannotConnectError(f"cannot reach {endpoint.target} ({code.name})")
        raise WgtwoError(f"server refused the subscription ({code.name})")


async def _open_once(
    endpoint: Endpoint,
    config: SubscriptionConfig,
    metadata: tuple[tuple[str, str], ...],
    deadline: float,
) -> tuple[grpc.StatusCode | None, str | None]:
    """Return ``(None, None)`` when accepted, else the failing status code and details."""
    channel = endpoint.create_channel(keepalive_time=30.0, keepalive_timeout=10.0)
    try:
        await _connect(channel, endpoint, deadline)
        stub = events_pb2_grpc.EventsServiceStub(channel)
        call = stub.Subscribe(config.build_request(), metadata=metadata)
        try:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    # Silent acceptance is decided by the deadline, not a shorter wait.
                    if await stream_accepted(call, channel, deadline - loop.time()):
                        return None, None
            if not call.done():
                return None, None  # open and silent until the deadline
            code = await call.code()
            if code == grpc.StatusCode.OK:
                return None, None
            return code, await call.details()
        finally:
            call.cancel()
    finally:
        await channel.close()


async def _connect(channel: grpc.aio.Channel, endpoint: Endpoint, deadline: float) -> None:
    """Wait until the channel is ready; fail at the first failed connection attempt."""
    try:
        async with asyncio.timeout_at(deadline):
            state = channel.get_state(try_to_connect=True)
            while state is not grpc.ChannelConnectivity.READY:
                if state is grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                    raise CannotConnectError(f"cannot reach {endpoint.target} (connection failed)")
                await channel.wait_for_state_change(state)
                state = channel.get_state(try_to_connect=True)
    except TimeoutError:
        raise CannotConnectError(f"cannot reach {endpoint.target} (timeout)") from None
