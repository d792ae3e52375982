"""SandboxServer: the local stand-in for the operator's API, used by tests and the dev instance."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from grpc_reflection.v1alpha import reflection

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

from .auth import TokenAuthority
from .broker import Broker
from .callforward_service import SERVICE_NAME as CALLFORWARD_SERVICE, CallForwardingServicer
from .consents import (
    CONSENT_EVENT_SERVICE,
    CONSENT_SERVICE,
    SUBSCRIPTION_EVENT_SERVICE,
    SUBSCRIPTION_ID_SERVICE,
    ConsentStore,
    SubscriptionEvents,
)
from .events_service import SERVICE_NAME as EVENTS_SERVICE, EventsServicer
from .http_api import HttpApi
from .journal import Journal
from .lookup_service import SERVICE_NAME as LOOKUP_SERVICE, LookupService
from .mms_service import SERVICE_NAME as MMS_SERVICE, MmsServicer
from .network_service import (
    SERVICE_NAME as NETWORK_SERVICE,
    NetworkInfoServicer,
    NetworkRegistry,
)
from .relay import StallableRelay
from .scopes import ALL_SCOPES
from .sms_service import DEFAULT_SENDERS, SERVICE_NAME as SMS_SERVICE, SmsServicer
from .voicemail_service import SERVICE_NAME as VOICEMAIL_SERVICE, VoicemailStore

_LOGGER = logging.getLogger(__name__)

# Let clients ping as often as tests need (keepalive of a fraction of a second).
GRPC_SERVER_OPTIONS = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 100),
    ("grpc.http2.min_ping_interval_without_data_ms", 100),
    ("grpc.http2.max_ping_strikes", 0),
)

EventInput = events_pb2.Event | events_pb2.SubscribeEventsResponse | Mapping[str, Any]


def to_event(item: EventInput) -> events_pb2.Event:
    """Turn a proto or a SubscribeEventsResponse JSON object into an Event (ValueError if bad)."""
    if isinstance(item, events_pb2.Event):
        return item
    if isinstance(item, events_pb2.SubscribeEventsResponse):
        return item.event
    if not isinstance(item, Mapping):
        raise ValueError('each event must be a JSON object like {"event": {...}}')
    if "event" not in item:
        raise ValueError('each event must be a SubscribeEventsResponse: {"event": {...}}')
    response = events_pb2.SubscribeEventsResponse()
    try:
        json_format.ParseDict(dict(item), response)
    except json_format.ParseError as err:
        raise ValueError(f"not a SubscribeEventsResponse: {err}") from err
    if response.event.WhichOneof("event") is None:
        raise ValueError("the event has no payload (voiceEvent, smsEvent, ...)")
    return response.event


class SandboxServer:
    """The events, voicemail, SMS, MMS and network services, OAuth2 tokens and fault controls."""

    def __init__(
        self,
        grpc_port: int = 0,
        http_port: int = 0,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_ttl: float = 3600.0,
        state_file: str | Path | None = None,
        history_seconds: float = 1800.0,
        granted_scopes: Iterable[str] | None = None,
        durable_expiry_seconds: float = 3600.0,
        stall_relay: bool = True,
        server_credentials: grpc.ServerCredentials | None = None,
        senders: Iterable[str] | None = None,
    ) -> None:
        self._grpc_port = grpc_port
        # TLS on the gRPC port when given (the relay passes the encrypted bytes through).
        self.server_credentials = server_credentials
        self._http_port = http_port
        self.broker = Broker(
            history_seconds=history_seconds, durable_expiry_seconds=durable_expiry_seconds
        )
        self.authority = TokenAuthority(
            client_id,
            client_secret,
            ALL_SCOPES if granted_scopes is None else granted_scopes,
            token_ttl,
        )
        # One clock for both: a voicemail is recorded, and expires, by the broker's time.
        self.voicemails = VoicemailStore(self.authority, clock=lambda: self.broker.clock())
        self.forwarding = CallForwardingServicer(self.authority)
        # The senders approved for texts and MMS to subscribers (names or numbers).
        self.senders: set[str] = set(DEFAULT_SENDERS if senders is None else senders)
        self.sms = SmsServicer(self.authority, self.publish_sync, self.senders)
        self.mms = MmsServicer(self.authority, self.senders)
        self.broker.listeners.append(self.voicemails.on_event)
        self.lookups = LookupService(self.authority)
        self.consents = ConsentStore(self.authority, self.publish_sync)
        self.subscription_events = SubscriptionEvents(self.authority)
        self.broker.listeners.append(self.lookups.on_event)
        # Where each subscriber's SIMs are attached (see move_subscriber).
        self.network = NetworkRegistry(clock=lambda: self.broker.clock())
        self.state_file = Path(state_file) if state_file is not None else None
        self._journal: Journal | None = None
        self._grpc: grpc.aio.Server | None = None
        self._relay: StallableRelay | None = None
        # Without the relay clients talk to grpc directly (faster) but stalls are impossible.
        self.stall_relay = stall_relay
        self._http: HttpApi | None = None
        self._bound_grpc = 0
        self._bound_http = 0
        self.stalled = False
        # Cycles of a scenario played to their end (see scenario.play_demo).
        self.scenario_cycles = 0

    @property
    def grpc_target(self) -> str:
        """Return the address clients dial ("127.0.0.1:<port>")."""
        return f"127.0.0.1:{self._bound_grpc}"

    @property
    def grpc_port(self) -> int:
        """Return the public gRPC port."""
        return self._bound_grpc

    @property
    def http_url(self) -> str:
        """Return the base URL of the token and control endpoints."""
        return f"http://127.0.0.1:{self._bound_http}"

    @property
    def token_url(self) -> str:
        """Return the OAuth2 token endpoint."""
        return f"{self.http_url}/oauth2/token"

    async def start(self) -> None:
        """Restore state, then bind the gRPC relay and the HTTP server on 127.0.0.1."""
        self.broker.closed = False
        if self.state_file is not None:
            self._journal = Journal(self.state_file, self.voicemails)
            self._journal.load(self.broker)
            self.broker.journal = self._journal
            self.voicemails.journal = self._journal
        server = grpc.aio.server(options=GRPC_SERVER_OPTIONS)
        events = EventsServicer(self.broker, self.authority)
        server.add_generic_rpc_handlers(
            (
                events.handler(),
                self.voicemails.handler(),
                self.sms.handler(),
                self.mms.handler(),
                self.forwarding.handler(),
                self.lookups.handler(),
                NetworkInfoServicer(self.network, self.authority).handler(),
                *self.consents.handlers(),
                self.subscription_events.handler(),
            )
        )
        reflection.enable_server_reflection(
            (
                EVENTS_SERVICE,
                VOICEMAIL_SERVICE,
                SMS_SERVICE,
                MMS_SERVICE,
                CALLFORWARD_SERVICE,
                LOOKUP_SERVICE,
                NETWORK_SERVICE,
                CONSENT_SERVICE,
                SUBSCRIPTION_ID_SERVICE,
                CONSENT_EVENT_SERVICE,
                SUBSCRIPTION_EVENT_SERVICE,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        port = self._grpc_port if not self.stall_relay else 0
        if self.server_credentials is None:
            bound = server.add_insecure_port(f"127.0.0.1:{port}")
        else:
            bound = server.add_secure_port(f"127.0.0.1:{port}", self.server_credentials)
        if self.stall_relay:
            internal_port = bound
        else:
            self._bound_grpc = bound
        await server.start()
        self._grpc = server
        if self.stall_relay:
            self._relay = StallableRelay(internal_port)
            self._bound_grpc = await self._relay.start(self._grpc_port)
            self._relay.set_stalled(self.stalled)
        self._http = HttpApi(self)
        self._bound_http = await self._http.start(self._http_port)
        _LOGGER.info("Sandbox serving gRPC on %s", self.grpc_target)

    async def stop(self) -> None:
        """Stop everything and cancel every timer; safe to call twice."""
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._relay is not None:
            await self._relay.stop()
            self._relay = None
        if self._grpc is not None:
            await self._grpc.stop(grace=None)
            self._grpc = None
        await self.lookups.close()
        self.broker.close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
            self.broker.journal = None
            self.voicemails.journal = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def publish_sync(self, items: Iterable[EventInput]) -> list[int]:
        """Publish events now (from the loop's thread); return their sequence numbers."""
        events = [to_event(item) for item in items]
        return self.broker.publish(events)

    async def publish(self, items: Iterable[EventInput] | EventInput) -> list[int]:
        """Publish one event or several; return their sequence numbers."""
        if isinstance(items, events_pb2.Event | events_pb2.SubscribeEventsResponse | Mapping):
            items = [items]
        return self.publish_sync(items)

    def move_subscriber(
        self,
        number: str,
        *,
        network: str | None = None,
        country: str | None = None,
        generation: str | None = None,
        sim: int = 0,
    ) -> list[int]:
        """Move a subscriber's SIM to a network or country; publish the operator's events.

        See :meth:`NetworkRegistry.move` (ValueError for a bad request). Returns the
        sequence numbers of the events published (country change, location update).
        """
        events = self.network.move(
            number, network=network, country=country, generation=generation, sim=sim
        )
        return self.broker.publish(events)

    def end_streams(
        self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, details: str = ""
    ) -> int:
        """End every open Subscribe stream with this status; return how many."""
        return self.broker.end_streams(code.name, details or "stream ended by the sandbox")

    def end_v1_streams(self, code: grpc.StatusCode = grpc.StatusCode.OK, details: str = "") -> int:
        """End every open v1 stream (consents, subscription facts); return how many.

        ``OK`` is what the operator does after about an hour.
        """
        details = details or "stream ended by the sandbox"
        return self.consents.topic.end_streams(code, details) + (
            self.subscription_events.end_streams(code, details)
        )

    def set_stalled(self, stalled: bool) -> None:
        """Freeze (or thaw) every gRPC connection: open, but nothing flows."""
        if not self.stall_relay:
            raise RuntimeError("stalling needs the relay (stall_relay=True)")
        self.stalled = stalled
        if self._relay is not None:
            self._relay.set_stalled(stalled)

    def expire_tokens(self) -> None:
        """Expire every issued token."""
        self.authority.expire_all()

    def revoke_tokens(self) -> None:
        """Revoke every issued token."""
        self.authority.revoke_all()

    @property
    def stats(self) -> dict[str, Any]:
        """Return counters and per-subscription state (JSON-ready)."""
        data = self.broker.snapshot()
        data["tokens_issued"] = self.authority.issued
        data["sms_sent"] = len(self.sms.sent)
        data["sms_to_subscriber"] = {
            "sent": len(self.sms.to_subscriber),
            "refused_senders": self.sms.refused_senders,
        }
        data["mms"] = self.mms.snapshot()
        data["stalled"] = self.stalled
        data["scenario_cycles"] = self.scenario_cycles
        data["lookup"] = self.lookups.snapshot()
        data["call_forwarding"] = self.forwarding.snapshot()
        data["network"] = self.network.snapshot()
        data["consents"] = self.consents.snapshot()
        data["subscription_events"] = self.subscription_events.snapshot()
        data["connections"] = self._relay.connections // 2 if self._relay is not None else 0
        return json.loads(json.dumps(data))  # type: ignore[no-any-return]
