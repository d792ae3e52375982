"""Consents and subscription facts: who consented with which scopes, and the v1 streams.

- ``ConsentService.ListConsentsForProduct`` pages through the consents (subscriptions and
  operator-wide ones), in the order they were given; the page token is the offset.
- ``SubscriptionIdService.GetMsisdn`` / ``GetSubscriptionId`` turn a subscription id into
  its number and back (scope ``subscription.id:read``); an unknown id answers
  ``STATUS_CODE_NOT_ACCEPTABLE``.
- ``ConsentEventService``: :meth:`ConsentStore.add`, :meth:`~ConsentStore.update` and
  :meth:`~ConsentStore.revoke` change the consents and emit ``added``, ``updated`` and
  ``revoked``; a revocation also publishes the v0 ``CONSENT_REVOKE_EVENT``.
- ``SubscriptionEventService``: the four streams (handset change, first attachment, country
  change, periodic country), each with its scope, published with :meth:`SubscriptionEvents.publish`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from custom_components.wgtwo.client.proto.wgtwo.common.v0 import status_pb2
from custom_components.wgtwo.client.proto.wgtwo.consents.v0 import consents_pb2
from custom_components.wgtwo.client.proto.wgtwo.consents.v1 import consent_events_pb2
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.subscription.v0 import subscription_id_pb2
from custom_components.wgtwo.client.proto.wgtwo.subscription.v1 import subscription_events_pb2

from .auth import AuthError, TokenAuthority
from .scopes import SUBSCRIPTION_ID, SUBSCRIPTION_STREAM_SCOPES
from .v1_streams import V1Method, V1Topic, v1_handlers

CONSENT_SERVICE: Final = "wgtwo.consents.v0.ConsentService"
SUBSCRIPTION_ID_SERVICE: Final = "wgtwo.subscription.v0.SubscriptionIdService"
CONSENT_EVENT_SERVICE: Final = "wgtwo.consents.v1.ConsentEventService"
SUBSCRIPTION_EVENT_SERVICE: Final = "wgtwo.subscription.v1.SubscriptionEventService"
TENANT: Final = "sandbox"
PRODUCT_ID: Final = "sandbox-product"
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 100
Context = grpc.aio.ServicerContext[Any, Any]

_C1 = consent_events_pb2
_S1 = subscription_events_pb2

CONSENT_METHOD: Final = V1Method(
    "StreamConsentChangeEvents",
    "AckConsentChangeEvent",
    _C1.StreamConsentChangeEventsRequest,
    _C1.StreamConsentChangeEventsResponse,
    "consent_change_event",
    _C1.AckConsentChangeEventRequest,
    _C1.AckConsentChangeEventResponse,
    None,
)

# Stream kind -> (method names, messages, event field, event message).
SUBSCRIPTION_METHODS: Final[Mapping[str, tuple[V1Method, type[Message]]]] = {
    "handset_change": (
        V1Method(
            "StreamHandsetChangeEvents",
            "AckHandsetChangeEvent",
            _S1.StreamHandsetChangeEventsRequest,
            _S1.StreamHandsetChangeEventsResponse,
            "handset_change_event",
            _S1.AckHandsetChangeEventRequest,
            _S1.AckHandsetChangeEventResponse,
            SUBSCRIPTION_STREAM_SCOPES["handset_change"],
        ),
        _S1.HandsetChangeEvent,
    ),
    "first_attachment": (
        V1Method(
            "StreamFirstAttachmentEvents",
            "AckFirstAttachmentEvent",
            _S1.StreamFirstAttachmentEventsRequest,
            _S1.StreamFirstAttachmentEventsResponse,
            "first_attachment_event",
            _S1.AckFirstAttachmentEventRequest,
            _S1.AckFirstAttachmentEventResponse,
            SUBSCRIPTION_STREAM_SCOPES["first_attachment"],
        ),
        _S1.FirstAttachmentEvent,
    ),
    "country_change": (
        V1Method(
            "StreamCountryChangeEvents",
            "AckCountryChangeEvent",
            _S1.StreamCountryChangeEventsRequest,
            _S1.StreamCountryChangeEventsResponse,
            "country_change_event",
            _S1.AckCountryChangeEventRequest,
            _S1.AckCountryChangeEventResponse,
            SUBSCRIPTION_STREAM_SCOPES["country_change"],
        ),
        _S1.CountryChangeEvent,
    ),
    "periodic_country": (
        V1Method(
            "StreamPeriodicCountryEvents",
            "AckPeriodicCountryEvent",
            _S1.StreamPeriodicCountryEventsRequest,
            _S1.StreamPeriodicCountryEventsResponse,
            "periodic_country_event",
            _S1.AckPeriodicCountryEventRequest,
            _S1.AckPeriodicCountryEventResponse,
            SUBSCRIPTION_STREAM_SCOPES["periodic_country"],
        ),
        _S1.PeriodicCountryEvent,
    ),
}


@functools.cache  # looked up for every consent on each GetMsisdn
def subscription_id(number: str) -> str:
    """Return the opaque subscription id the sandbox gives a number (stable)."""
    return "sub-" + hashlib.sha256(number.encode()).hexdigest()[:16]


def wg2rn(number: str) -> str:
    """Return the v1 resource name of a number's subscription."""
    return f"wg2rn:subscription:{subscription_id(number)}"


@dataclass(slots=True)
class Consent:
    """One consent: a subscription's (``number``) or an operator-wide one (``tenant``)."""

    number: str | None
    tenant: str | None
    scopes: list[str]


class ConsentStore:
    """The product's consents and the consent change stream."""

    def __init__(
        self,
        authority: TokenAuthority,
        publish_v0: Callable[[Iterable[events_pb2.Event]], list[int]],
    ) -> None:
        self.authority = authority
        self.publish_v0 = publish_v0
        self.consents: list[Consent] = []
        self.topic = V1Topic("consents")
        self.listed = 0
        self.msisdn_lookups = 0

    # -- changes --------------------------------------------------------------------------

    def _find(self, number: str) -> Consent | None:
        return next((c for c in self.consents if c.number == number), None)

    def _emit(self, number: str | None, tenant: str | None, **change: Any) -> None:
        event = _C1.ConsentChangeEvent(**change)
        if number is not None:
            event.number.e164 = number
        else:
            event.tenant = tenant or TENANT
        self.topic.publish(event, wg2rn(number) if number else "")

    def add(self, number: str, scopes: Iterable[str]) -> None:
        """Let a subscriber consent (again: its scopes are replaced); emit ``added``."""
        scopes = sorted(set(scopes))
        existing = self._find(number)
        if existing is not None:
            existing.scopes = scopes
        else:
            self.consents.append(Consent(number, None, scopes))
        self._emit(number, None, added=_C1.ConsentAdded(scopes=scopes))

    def add_tenant(self, scopes: Iterable[str], tenant: str = TENANT) -> None:
        """Add an operator-wide consent; emit ``added`` for the tenant."""
        scopes = sorted(set(scopes))
        self.consents.append(Consent(None, tenant, scopes))
        self._emit(None, tenant, added=_C1.ConsentAdded(scopes=scopes))

    def update(self, number: str, scopes: Iterable[str]) -> None:
        """Change a subscriber's granted scopes; emits ``updated`` (KeyError when unknown)."""
        consent = self._find(number)
        if consent is None:
            raise KeyError(number)
        consent.scopes = sorted(set(scopes))
        self._emit(number, None, updated=_C1.ConsentUpdated(scopes=consent.scopes))

    def revoke(self, number: str) -> None:
        """Revoke a consent; emit ``revoked`` and the v0 revoke event (KeyError if unknown)."""
        consent = self._find(number)
        if consent is None:
            raise KeyError(number)
        self.consents.remove(consent)
        self._emit(number, None, revoked=_C1.ConsentRevoked())
        event = events_pb2.Event()
        event.consent_revoke_event.msisdn.e164 = number
        event.owner.phone_number.e164 = number
        self.publish_v0([event])

    # -- services -------------------------------------------------------------------------

    async def _check(self, context: Context, scopes: Iterable[str] = ()) -> None:
        try:
            self.authority.check(context.invocation_metadata() or (), scopes)
        except AuthError as err:
            await context.abort(err.code, err.details)

    async def list_consents(
        self, request: consents_pb2.ListConsentsForProductRequest, context: Context
    ) -> consents_pb2.ListConsentsForProductResponse:
        """One page of the consents; the page token is the offset of the next page."""
        await self._check(context)
        size = request.pagination.page_size or DEFAULT_PAGE_SIZE
        token = request.pagination.page_token or "0"
        if size < 0 or size > MAX_PAGE_SIZE or not token.isdigit():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad page size or token")
        start = int(token)
        self.listed += 1
        response = consents_pb2.ListConsentsForProductResponse()
        for consent in self.consents[start : start + size]:
            item = response.consents.add(product_id=PRODUCT_ID, revocable=True)
            item.scopes.extend(consents_pb2.Scope(property=s) for s in consent.scopes)
            if consent.number is not None:
                ident = item.owner.subscription.subscription_identifier
                ident.value = subscription_id(consent.number)
                ident.tenant.name = TENANT
            else:
                item.owner.tenant.name = consent.tenant or TENANT
        if start + size < len(self.consents):
            response.pagination.next_page_token = str(start + size)
        return response

    async def get_msisdn(
        self, request: subscription_id_pb2.GetMsisdnRequest, context: Context
    ) -> subscription_id_pb2.GetMsisdnResponse:
        """Return the number of a consented subscription."""
        await self._check(context, (SUBSCRIPTION_ID,))
        self.msisdn_lookups += 1
        wanted = request.subscription_id.value
        for consent in self.consents:
            if consent.number is not None and subscription_id(consent.number) == wanted:
                response = subscription_id_pb2.GetMsisdnResponse(
                    status_code=status_pb2.STATUS_CODE_OK
                )
                response.phone_number.e164 = consent.number
                return response
        return subscription_id_pb2.GetMsisdnResponse(
            status_code=status_pb2.STATUS_CODE_NOT_ACCEPTABLE,
            error_message="unknown subscription",
        )

    async def get_subscription_id(
        self, request: subscription_id_pb2.GetSubscriptionIdRequest, context: Context
    ) -> subscription_id_pb2.GetSubscriptionIdResponse:
        """Return the subscription id of a consented number."""
        await self._check(context, (SUBSCRIPTION_ID,))
        if self._find(request.phone_number.e164) is None:
            return subscription_id_pb2.GetSubscriptionIdResponse(
                status_code=status_pb2.STATUS_CODE_NOT_ACCEPTABLE,
                error_message="unknown number",
            )
        response = subscription_id_pb2.GetSubscriptionIdResponse(
            status_code=status_pb2.STATUS_CODE_OK
        )
        response.subscription_id.value = subscription_id(request.phone_number.e164)
        response.subscription_id.tenant.name = TENANT
        return response

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """Return the consent list, subscription id and consent event services."""

        def unary(behaviour: Any, request_type: Any) -> grpc.RpcMethodHandler[Any, Any]:
            return grpc.unary_unary_rpc_method_handler(
                behaviour,
                request_deserializer=request_type.FromString,
                response_serializer=lambda message: message.SerializeToString(),
            )

        return [
            grpc.method_handlers_generic_handler(
                CONSENT_SERVICE,
                {
                    "ListConsentsForProduct": unary(
                        self.list_consents, consents_pb2.ListConsentsForProductRequest
                    )
                },
            ),
            grpc.method_handlers_generic_handler(
                SUBSCRIPTION_ID_SERVICE,
                {
                    "GetMsisdn": unary(self.get_msisdn, subscription_id_pb2.GetMsisdnRequest),
                    "GetSubscriptionId": unary(
                        self.get_subscription_id, subscription_id_pb2.GetSubscriptionIdRequest
                    ),
                },
            ),
            grpc.method_handlers_generic_handler(
                CONSENT_EVENT_SERVICE, v1_handlers(self.topic, CONSENT_METHOD, self.authority)
            ),
        ]

    def snapshot(self) -> dict[str, Any]:
        """Counters (no numbers)."""
        return {
            "subscriptions": sum(c.number is not None for c in self.consents),
            "tenants": sum(c.tenant is not None for c in self.consents),
            "listed": self.listed,
            "msisdn_lookups": self.msisdn_lookups,
            "stream": self.topic.snapshot(),
        }


class SubscriptionEvents:
    """The four v1 subscription streams, one topic each."""

    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority
        self.topics = {kind: V1Topic(kind) for kind in SUBSCRIPTION_METHODS}

    def publish(self, kind: str, event: Message | Mapping[str, Any]) -> int:
        """Publish one event of a stream kind (a message, or its JSON form); ValueError if bad."""
        if kind not in SUBSCRIPTION_METHODS:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(SUBSCRIPTION_METHODS)}")
        message_type = SUBSCRIPTION_METHODS[kind][1]
        if not isinstance(event, Message):
            message = message_type()
            try:
                json_format.ParseDict(dict(event), message)
            except json_format.ParseError as err:
                raise ValueError(f"not a {message_type.__name__}: {err}") from err
            event = message
        number = getattr(event, "number").e164  # noqa: B009 - every kind has one
        return self.topics[kind].publish(event, wg2rn(number) if number else "")

    def end_streams(self, code: grpc.StatusCode, details: str) -> int:
        """End every open subscription stream; return how many."""
        return sum(topic.end_streams(code, details) for topic in self.topics.values())

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the subscription event service with its four streams and acks."""
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for kind, (method, _event) in SUBSCRIPTION_METHODS.items():
            methods.update(v1_handlers(self.topics[kind], method, self.authority))
        return grpc.method_handlers_generic_handler(SUBSCRIPTION_EVENT_SERVICE, methods)

    def snapshot(self) -> dict[str, Any]:
        """Counters per stream."""
        return {kind: topic.snapshot() for kind, topic in self.topics.items()}
