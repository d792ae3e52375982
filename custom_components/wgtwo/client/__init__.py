"""Asyncio client for the wgtwo events API (no Home Assistant imports here).

Typical use::

    provider = TokenProvider(session, client_id, secret, scopes_for(types))
    await async_check_subscription(ENVIRONMENTS["eu"], types, provider)  # before saving
    config = SubscriptionConfig(event_types=types, client_id=client_id,
                                durable_name="ha", queue_name="ha")
    subscription = EventSubscription(ENVIRONMENTS["eu"], config, handler,
                                     token_provider=provider, on_state=on_state)
    task = asyncio.create_task(subscription.run())  # raises only on fatal errors
    ...
    await subscription.stop()

Design: one stream at a time, events handled one by one in arrival order and acked after
the handler returns (acks in flight concurrently, see ``acker``); redeliveries of handled
events are acked without calling the handler again; transient failures reconnect forever
with jittered exponential backoff; credentials or scopes the server refuses end ``run()``
with ``AuthenticationError`` / ``MissingScopeError`` after at most one token refresh.
A plain subscription resumes at the first event it has not handled; durable
subscriptions and queue groups resume where the server kept their position.
"""

from __future__ import annotations

from .actions import SendSmsResult, SendStatus, Voicemail, VoicemailInfo, WgtwoActions
from .auth import TokenProvider
from .backoff import Backoff
from .check import async_check_subscription
from .config import StartKind, StartPosition, SubscriptionConfig
from .endpoint import DEFAULT_TOKEN_URL, ENVIRONMENTS, Endpoint, is_loopback_host
from .errors import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    InvalidEndpointError,
    MissingScopeError,
    WgtwoError,
)
from .event_types import ACTION_SCOPES, EVENT_TYPE_SCOPES, EventType, scopes_for
from .forwarding import ForwardingMode, ForwardingRejectedError
from .lookup import LookupConfig, LookupStats, NameResolver, NumberLookupResponder
from .mms import MAX_MMS_BYTES, MmsPart, MmsStatus, PartFormat, PartKind, SendMmsResult
from .models import (
    AddressType,
    ConsentChange,
    ConsentChangeEvent,
    ConsentRevokeEvent,
    Country,
    CountryChangeEvent,
    DeliveryStatus,
    FirstAttachmentEvent,
    Handset,
    HandsetUpdateEvent,
    Locations,
    LocationUpdateEvent,
    OperatorToken,
    PeriodicCountryEvent,
    SmsDeliveryReportEvent,
    SmsDirection,
    SmsEvent,
    TokenAuditEvent,
    TokenOperation,
    UnknownEvent,
    VoiceEvent,
    VoiceEventKind,
    VoicemailEvent,
    VoicemailEventKind,
    WgtwoEvent,
    event_from_proto,
)
from .network import NetworkGeneration, NetworkInfo
from .status import ConnectionState, ConnectionStatus, SubscriptionStats
from .subscription import EventHandler, EventSubscription, RawHook, StateCallback

__all__ = [
    "ACTION_SCOPES",
    "DEFAULT_TOKEN_URL",
    "ENVIRONMENTS",
    "EVENT_TYPE_SCOPES",
    "MAX_MMS_BYTES",
    "ActionError",
    "AddressType",
    "AuthenticationError",
    "Backoff",
    "CannotConnectError",
    "ConnectionState",
    "ConnectionStatus",
    "ConsentChange",
    "ConsentChangeEvent",
    "ConsentRevokeEvent",
    "Country",
    "CountryChangeEvent",
    "DeliveryStatus",
    "Endpoint",
    "EventHandler",
    "EventSubscription",
    "EventType",
    "FirstAttachmentEvent",
    "ForwardingMode",
    "ForwardingRejectedError",
    "Handset",
    "HandsetUpdateEvent",
    "InvalidEndpointError",
    "LocationUpdateEvent",
    "Locations",
    "LookupConfig",
    "LookupStats",
    "MissingScopeError",
    "MmsPart",
    "MmsStatus",
    "NameResolver",
    "NetworkGeneration",
    "NetworkInfo",
    "NumberLookupResponder",
    "OperatorToken",
    "PartFormat",
    "PartKind",
    "PeriodicCountryEvent",
    "RawHook",
    "SendMmsResult",
    "SendSmsResult",
    "SendStatus",
    "SmsDeliveryReportEvent",
    "SmsDirection",
    "SmsEvent",
    "StartKind",
    "StartPosition",
    "StateCallback",
    "SubscriptionConfig",
    "SubscriptionStats",
    "TokenAuditEvent",
    "TokenOperation",
    "TokenProvider",
    "UnknownEvent",
    "VoiceEvent",
    "VoiceEventKind",
    "Voicemail",
    "VoicemailEvent",
    "VoicemailEventKind",
    "VoicemailInfo",
    "WgtwoActions",
    "WgtwoError",
    "WgtwoEvent",
    "async_check_subscription",
    "event_from_proto",
    "is_loopback_host",
    "scopes_for",
]
