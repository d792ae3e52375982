"""The operator's v1 event streams: their methods, messages, scopes and typed events.

Every v1 event service works alike (``wgtwo.events.v1``): a server stream configured by a
``StreamConfiguration`` and an ack call per event carrying its ``AckInfo``. A
:class:`V1Service` describes one such stream; :class:`~.v1_stream.V1EventStream` runs any
of them. Events decode into the client's models, the same classes as their v0 look-alikes
where there is one (country change, handset change, periodic country, first attachment),
so whoever handles the v0 event handles the v1 one. v1 events carry no sequence number:
their ``sequence`` is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from google.protobuf.message import Message

from .models import (
    ConsentChange,
    ConsentChangeEvent,
    Country,
    CountryChangeEvent,
    FirstAttachmentEvent,
    Handset,
    HandsetUpdateEvent,
    PeriodicCountryEvent,
    UnknownEvent,
    WgtwoEvent,
    timestamp_to_datetime,
)
from .proto.wgtwo.common.v1 import common_pb2
from .proto.wgtwo.consents.v1 import consent_events_pb2 as c1
from .proto.wgtwo.events.v1 import stream_pb2
from .proto.wgtwo.subscription.v1 import subscription_events_pb2 as s1

_CONSENT_SERVICE: Final = "wgtwo.consents.v1.ConsentEventService"
_SUBSCRIPTION_SERVICE: Final = "wgtwo.subscription.v1.SubscriptionEventService"


class V1Stream(StrEnum):
    """The v1 event streams the client speaks."""

    CONSENT_CHANGE = "consent_change"
    COUNTRY_CHANGE = "country_change"
    PERIODIC_COUNTRY = "periodic_country"
    HANDSET_CHANGE = "handset_change"
    FIRST_ATTACHMENT = "first_attachment"


# The scope each stream needs (the consent stream needs none).
V1_STREAM_SCOPES: Final[Mapping[V1Stream, str]] = MappingProxyType(
    {
        V1Stream.COUNTRY_CHANGE: "subscription.country_change:read",
        V1Stream.PERIODIC_COUNTRY: "subscription.periodic_country:read",
        V1Stream.HANDSET_CHANGE: "subscription.handset_details:read",
        V1Stream.FIRST_ATTACHMENT: "subscription.first_attachment:read",
    }
)

type Decoder = Callable[[Any, dict[str, Any]], WgtwoEvent]


@dataclass(frozen=True, slots=True)
class V1Service:
    """One v1 stream: where it is served, its messages, event field, scope and decoder."""

    stream: V1Stream
    service: str
    stream_method: str
    ack_method: str
    request: type[Message]
    response: type[Message]
    ack_request: type[Message]
    ack_response: type[Message]
    field: str
    decode: Decoder

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes a token needs for this stream."""
        scope = V1_STREAM_SCOPES.get(self.stream)
        return frozenset({scope}) if scope else frozenset()

    @property
    def stream_path(self) -> str:
        """Full method name of the stream."""
        return f"/{self.service}/{self.stream_method}"

    @property
    def ack_path(self) -> str:
        """Full method name of the ack."""
        return f"/{self.service}/{self.ack_method}"

    def ack_request_for(self, value: str, _sequence: int = 0) -> Message:
        """Build the ack request of one event from its ``AckInfo`` value."""
        return self.ack_request(ack_info=stream_pb2.AckInfo(value=value))

    def to_model(self, response: Any) -> WgtwoEvent:
        """Decode one received response into the client's model."""
        metadata: stream_pb2.Metadata = response.metadata
        base: dict[str, Any] = {
            "sequence": 0,
            "timestamp": timestamp_to_datetime(metadata.timestamp),
            "is_redelivered": metadata.is_redelivered,
        }
        if not response.HasField(self.field):
            return UnknownEvent(**base, payload=None)
        return self.decode(getattr(response, self.field), base)


def _e164(message: common_pb2.E164) -> str | None:
    return message.e164 or None


def _imsi(event: Any) -> str | None:
    return (event.imsi.value or None) if event.HasField("imsi") else None


def _country(event: Any, name: str) -> Country | None:
    if not event.HasField(name):
        return None
    country: common_pb2.Country = getattr(event, name)
    return Country(code=country.code, name=country.name) if country.code else None


def _handset(event: Any, name: str) -> Handset | None:
    if not event.HasField(name):
        return None
    imei_sv = getattr(event, name).imei_sv
    if not imei_sv.imei:
        return None
    return Handset(imei=imei_sv.imei, software_version=imei_sv.software_version)


_CHANGES: Final = {
    "added": ConsentChange.ADDED,
    "updated": ConsentChange.UPDATED,
    "revoked": ConsentChange.REVOKED,
}


def _consent(event: c1.ConsentChangeEvent, base: dict[str, Any]) -> WgtwoEvent:
    which = event.WhichOneof("type")
    if which is None:
        return UnknownEvent(**base, payload="consent_change_event")
    scopes: frozenset[str] = frozenset()
    if which == "added":
        scopes = frozenset(event.added.scopes)
    elif which == "updated":
        scopes = frozenset(event.updated.scopes)
    target = event.WhichOneof("target")
    return ConsentChangeEvent(
        **base,
        change=_CHANGES[which],
        number=_e164(event.number) if target == "number" else None,
        tenant=(event.tenant or "") if target == "tenant" else None,
        scopes=scopes,
    )


def _country_change(event: s1.CountryChangeEvent, base: dict[str, Any]) -> WgtwoEvent:
    number = _e164(event.number)
    return CountryChangeEvent(
        **base,
        owner=number,
        number=number,
        previous=_country(event, "previous"),
        current=_country(event, "current"),
    )


def _periodic_country(event: s1.PeriodicCountryEvent, base: dict[str, Any]) -> WgtwoEvent:
    number = _e164(event.number)
    return PeriodicCountryEvent(
        **base,
        owner=number,
        number=number,
        imsi=_imsi(event),
        country=_country(event, "country"),
    )


def _handset_change(event: s1.HandsetChangeEvent, base: dict[str, Any]) -> WgtwoEvent:
    number = _e164(event.number)
    return HandsetUpdateEvent(
        **base,
        owner=number,
        number=number,
        imsi=_imsi(event),
        previous=_handset(event, "previous"),
        current=_handset(event, "current"),
    )


def _first_attachment(event: s1.FirstAttachmentEvent, base: dict[str, Any]) -> WgtwoEvent:
    number = _e164(event.number)
    return FirstAttachmentEvent(**base, owner=number, number=number, imsi=_imsi(event))


def _subscription(
    stream: V1Stream, name: str, event_field: str, decode: Decoder
) -> tuple[V1Stream, V1Service]:
    return stream, V1Service(
        stream=stream,
        service=_SUBSCRIPTION_SERVICE,
        stream_method=f"Stream{name}Events",
        ack_method=f"Ack{name}Event",
        request=getattr(s1, f"Stream{name}EventsRequest"),
        response=getattr(s1, f"Stream{name}EventsResponse"),
        ack_request=getattr(s1, f"Ack{name}EventRequest"),
        ack_response=getattr(s1, f"Ack{name}EventResponse"),
        field=event_field,
        decode=decode,
    )


V1_SERVICES: Final[Mapping[V1Stream, V1Service]] = MappingProxyType(
    dict(
        [
            (
                V1Stream.CONSENT_CHANGE,
                V1Service(
                    stream=V1Stream.CONSENT_CHANGE,
                    service=_CONSENT_SERVICE,
                    stream_method="StreamConsentChangeEvents",
                    ack_method="AckConsentChangeEvent",
                    request=c1.StreamConsentChangeEventsRequest,
                    response=c1.StreamConsentChangeEventsResponse,
                    ack_request=c1.AckConsentChangeEventRequest,
                    ack_response=c1.AckConsentChangeEventResponse,
                    field="consent_change_event",
                    decode=_consent,
                ),
            ),
            _subscription(
                V1Stream.COUNTRY_CHANGE, "CountryChange", "country_change_event", _country_change
            ),
            _subscription(
                V1Stream.PERIODIC_COUNTRY,
                "PeriodicCountry",
                "periodic_country_event",
                _periodic_country,
            ),
            _subscription(
                V1Stream.HANDSET_CHANGE, "HandsetChange", "handset_change_event", _handset_change
            ),
            _subscription(
                V1Stream.FIRST_ATTACHMENT,
                "FirstAttachment",
                "first_attachment_event",
                _first_attachment,
            ),
        ]
    )
)


__all__ = ["V1_SERVICES", "V1_STREAM_SCOPES", "V1Service", "V1Stream"]
