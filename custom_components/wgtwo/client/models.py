"""Typed, immutable event models decoded from the wire, each with a JSON-ready dict form."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, ClassVar

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from .proto.wgtwo.common.v0 import phonenumber_pb2
from .proto.wgtwo.events.v0 import events_pb2


class VoiceEventKind(StrEnum):
    """What happened to a call."""

    UNSPECIFIED = "unspecified"
    CALL_INITIATED = "call_initiated"
    CALL_RINGING = "call_ringing"
    CALL_ANSWERED = "call_answered"
    CALL_ENDED = "call_ended"
    CALL_FWD_VOICEMAIL = "call_fwd_voicemail"


class VoicemailEventKind(StrEnum):
    """What happened to a voicemail."""

    UNSPECIFIED = "unspecified"
    NEW_VOICEMAIL = "new_voicemail"


class SmsDirection(StrEnum):
    """Direction of an SMS relative to the subscriber (also used by delivery reports)."""

    UNKNOWN = "unknown"
    FROM_SUBSCRIBER = "from_subscriber"
    TO_SUBSCRIBER = "to_subscriber"


class DeliveryStatus(StrEnum):
    """Outcome in an SMS delivery report."""

    UNKNOWN = "unknown"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary_failure"
    FINAL_FAILURE = "final_failure"
    EXPIRED = "expired"


class TokenOperation(StrEnum):
    """What happened to an operator token."""

    UNDEFINED = "undefined"
    CREATED = "created"
    MODIFIED = "modified"
    DELETED = "deleted"


class AddressType(StrEnum):
    """How an SMS address is written."""

    E164 = "e164"
    NATIONAL = "national"
    TEXT = "text"


def enum_table[E: Enum](enum_cls: type[E], wire: EnumDescriptor, prefix: str = "") -> dict[int, E]:
    """Map the wire numbers of ``wire`` to the members of ``enum_cls`` with the same name.

    Built from the generated descriptor, so the numbers cannot drift from the proto:
    ``CALL_ENDED`` becomes ``call_ended`` (after dropping ``prefix``). A wire value
    without a member decodes as its number, like a value newer than the proto.
    """
    members = {member.value: member for member in enum_cls}
    table: dict[int, E] = {}
    for value in wire.values:
        member = members.get(value.name.removeprefix(prefix).lower())
        if member is not None:
            table[value.number] = member
    return table


_VOICE_KINDS = enum_table(VoiceEventKind, events_pb2.VoiceEvent.VoiceEventType.DESCRIPTOR)
_VOICEMAIL_KINDS = enum_table(
    VoicemailEventKind, events_pb2.VoicemailEvent.VoicemailEventType.DESCRIPTOR
)
_SMS_DIRECTIONS = enum_table(SmsDirection, events_pb2.SmsEvent.Direction.DESCRIPTOR)
_REPORT_DIRECTIONS = enum_table(
    SmsDirection, events_pb2.SmsDeliveryReportEvent.Direction.DESCRIPTOR, "DIRECTION_"
)
_STATUSES = enum_table(
    DeliveryStatus, events_pb2.SmsDeliveryReportEvent.Status.DESCRIPTOR, "STATUS_"
)
_OPERATIONS = enum_table(TokenOperation, events_pb2.TokenAuditEvent.Operation.DESCRIPTOR)


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, _Model):
        return value.as_dict()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


class _Model:
    """Mixin giving frozen dataclasses a JSON-ready ``as_dict``."""

    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        """Return a dict of JSON types (ISO timestamps, lowercase enums, base64 bytes)."""
        result: dict[str, Any] = {}
        kind = getattr(type(self), "kind", None)
        if isinstance(kind, str):
            result["kind"] = kind
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            result[field.name] = _json_value(getattr(self, field.name))
        return result


@dataclasses.dataclass(frozen=True, slots=True)
class Country(_Model):
    """A country as the network reports it."""

    code: str
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Locations(_Model):
    """Network elements serving the subscriber (global titles and MME FQDN)."""

    msc: str | None
    vlr: str | None
    sgsn: str | None
    mme: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Handset(_Model):
    """A handset identity (IMEI and software version)."""

    imei: str
    software_version: str


@dataclasses.dataclass(frozen=True, slots=True)
class OperatorToken(_Model):
    """Metadata of an operator token in a token audit event."""

    client_id: str
    name: str
    rights: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WgtwoEvent(_Model):
    """Fields every event carries; ``owner`` is the subscriber's E.164 number."""

    kind: ClassVar[str] = "event"

    sequence: int
    timestamp: datetime
    owner: str | None = None
    owner_sub: str | None = None
    service_id: str = ""
    is_redelivered: bool = False

    @property
    def subscriber(self) -> str | None:
        """The E.164 number of the subscriber this event is about, if the event names one."""
        return self.owner


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VoiceEvent(WgtwoEvent):
    """A call state change (initiated, ringing, answered, ended, forwarded to voicemail)."""

    kind: ClassVar[str] = "voice"

    call_id: str
    call_event: VoiceEventKind | int
    from_number: str | None
    to_number: str | None
    caller_id_hidden: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VoicemailEvent(WgtwoEvent):
    """A new voicemail was left."""

    kind: ClassVar[str] = "voicemail"

    voicemail_id: str
    voicemail_event: VoicemailEventKind | int
    from_number: str | None
    to_number: str | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SmsEvent(WgtwoEvent):
    """An SMS sent or received; ``uuid`` stays the same across delivery attempts."""

    kind: ClassVar[str] = "sms"

    sms_id: str
    uuid: str
    from_address: str | None
    from_address_type: AddressType | None
    to_address: str | None
    to_address_type: AddressType | None
    direction: SmsDirection | int
    text: str | None
    data: bytes | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SmsDeliveryReportEvent(WgtwoEvent):
    """A delivery report for an SMS."""

    kind: ClassVar[str] = "sms_delivery_report"

    report_id: str
    sms_id: str
    status: DeliveryStatus | int
    direction: SmsDirection | int
    from_address: str | None
    from_address_type: AddressType | None
    to_address: str | None
    to_address_type: AddressType | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CountryChangeEvent(WgtwoEvent):
    """The subscriber moved to another country (roaming)."""

    kind: ClassVar[str] = "country_change"

    number: str | None
    previous: Country | None
    current: Country | None

    @property
    def subscriber(self) -> str | None:
        """The owner, else the number in the payload (which may be all the event names)."""
        return self.owner or self.number


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LocationUpdateEvent(WgtwoEvent):
    """The network elements serving the subscriber changed."""

    kind: ClassVar[str] = "location_update"

    number: str | None
    previous: Locations | None
    current: Locations | None

    @property
    def subscriber(self) -> str | None:
        """The owner, else the number in the payload (which may be all the event names)."""
        return self.owner or self.number


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HandsetUpdateEvent(WgtwoEvent):
    """The SIM moved to another handset (IMEI change)."""

    kind: ClassVar[str] = "handset_update"

    number: str | None
    imsi: str | None
    previous: Handset | None
    current: Handset | None

    @property
    def subscriber(self) -> str | None:
        """The owner, else the number in the payload (which may be all the event names)."""
        return self.owner or self.number


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsentRevokeEvent(WgtwoEvent):
    """The subscriber revoked consent: forget them."""

    kind: ClassVar[str] = "consent_revoke"

    number: str | None

    @property
    def subscriber(self) -> str | None:
        """The owner, else the number in the payload (which may be all the event names)."""
        return self.owner or self.number


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TokenAuditEvent(WgtwoEvent):
    """An operator token was created, modified or deleted."""

    kind: ClassVar[str] = "token_audit"

    operation: TokenOperation | int
    new: OperatorToken | None
    old: OperatorToken | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FirstAttachmentEvent(WgtwoEvent):
    """A SIM attached to the network for the first time."""

    kind: ClassVar[str] = "first_attachment"

    number: str | None
    imsi: str | None

    @property
    def subscriber(self) -> str | None:
        """The owner, else the number in the payload (which may be all the event names)."""
        return self.owner or self.number


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PeriodicCountryEvent(WgtwoEvent):
    """A periodic report of the country the subscriber is in."""

    kind: ClassVar[str] = "periodic_country"

    number: str | None
    imsi: str | None
    country: Country | None

    @property
    def subscriber(self) -> str | None:
        """The owner, else the number in the payload (which may be all the event names)."""
        return self.owner or self.number


class ConsentChange(StrEnum):
    """What a consent change event says (``wgtwo.consents.v1``)."""

    ADDED = "added"
    UPDATED = "updated"
    REVOKED = "revoked"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsentChangeEvent(WgtwoEvent):
    """A consent was added, its scopes changed, or it was revoked (a v1 stream event).

    ``number`` names the subscriber; ``tenant`` an operator-wide consent instead.
    ``scopes`` is the granted set after the change (empty when revoked).
    """

    kind: ClassVar[str] = "consent_change"

    change: ConsentChange
    number: str | None
    tenant: str | None
    scopes: frozenset[str]

    @property
    def subscriber(self) -> str | None:
        """The number the consent is about (None for an operator-wide consent)."""
        return self.number


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(WgtwoEvent):
    """An event whose payload this version does not understand (newer API); safe to ignore.

    ``payload`` names the payload field when it is known but could not be decoded, and is
    ``None`` when the payload is a field this proto does not know at all.
    """

    kind: ClassVar[str] = "unknown"

    payload: str | None = None


# -- decoding ---------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_to_datetime(message: Timestamp) -> datetime:
    """Decode a wire timestamp as an aware UTC datetime (microsecond precision).

    A time outside what ``datetime`` can hold is a broken clock, not a reason to fail:
    it decodes as the epoch.
    """
    try:
        # Positional: half the cost of keywords, on every event.
        return _EPOCH + timedelta(0, message.seconds, message.nanos // 1000)
    except OverflowError:
        return _EPOCH


def _e164(number: phonenumber_pb2.PhoneNumber) -> str | None:
    return number.e164 or None


def _enum[E: Enum](table: dict[int, E], number: int) -> E | int:
    member = table.get(number)
    return number if member is None else member


def _address(message: Any, prefix: str) -> tuple[str | None, AddressType | None]:
    which = message.WhichOneof(f"{prefix}_address")
    if which == f"{prefix}_e164":
        return getattr(message, which).e164, AddressType.E164
    if which == f"{prefix}_national_phone_number":
        return getattr(message, which).national_phone_number, AddressType.NATIONAL
    if which == f"{prefix}_text_address":
        return getattr(message, which).text_address, AddressType.TEXT
    return None, None


def _country(message: events_pb2.CountryChangeEvent.Country) -> Country:
    return Country(code=message.code, name=message.name)


def _locations(message: events_pb2.LocationUpdateEvent.Locations) -> Locations:
    return Locations(
        msc=message.msc.value if message.HasField("msc") else None,
        vlr=message.vlr.value if message.HasField("vlr") else None,
        sgsn=message.sgsn.value if message.HasField("sgsn") else None,
        mme=message.mme.value if message.HasField("mme") else None,
    )


def _handset(message: events_pb2.Handset) -> Handset:
    return Handset(imei=message.imei_sv.imei, software_version=message.imei_sv.software_version)


def _operator_token(
    message: events_pb2.TokenAuditEvent.OperatorTokenMetadata,
) -> OperatorToken:
    return OperatorToken(
        client_id=message.client_id, name=message.name, rights=tuple(message.rights)
    )


def _imsi(message: Any) -> str | None:
    return message.imsi.value if message.HasField("imsi") else None


def _base(event: events_pb2.Event) -> dict[str, Any]:
    metadata = event.metadata
    owner = event.owner
    return {
        "sequence": metadata.sequence,
        "is_redelivered": metadata.is_redelivered,
        "timestamp": timestamp_to_datetime(event.timestamp),
        "owner": owner.phone_number.e164 or None,
        "owner_sub": owner.sub or None,
        "service_id": event.service_id,
    }


def _voice(event: events_pb2.Event) -> VoiceEvent:
    """Decode a call event: most events of a line are, so with no dict of common fields.

    The common fields as :func:`_base` reads them, and ``_enum`` and ``_e164`` written out.
    """
    metadata = event.metadata
    owner = event.owner
    voice = event.voice_event
    kind = voice.type
    return VoiceEvent(
        sequence=metadata.sequence,
        is_redelivered=metadata.is_redelivered,
        timestamp=timestamp_to_datetime(event.timestamp),
        owner=owner.phone_number.e164 or None,
        owner_sub=owner.sub or None,
        service_id=event.service_id,
        call_id=voice.call_id,
        call_event=_VOICE_KINDS.get(kind, kind),
        from_number=voice.from_number.e164 or None,
        to_number=voice.to_number.e164 or None,
        caller_id_hidden=voice.caller_id_hidden,
    )


def _decode(event: events_pb2.Event, which: str | None, base: dict[str, Any]) -> WgtwoEvent:
    match which:
        case "voicemail_event":
            voicemail = event.voicemail_event
            return VoicemailEvent(
                **base,
                voicemail_id=voicemail.voicemail_id,
                voicemail_event=_enum(_VOICEMAIL_KINDS, voicemail.type),
                from_number=_e164(voicemail.from_number),
                to_number=_e164(voicemail.to_number),
            )
        case "sms_event":
            sms = event.sms_event
            from_address, from_type = _address(sms, "from")
            to_address, to_type = _address(sms, "to")
            content = sms.WhichOneof("content")
            return SmsEvent(
                **base,
                sms_id=sms.id,
                uuid=sms.uuid,
                from_address=from_address,
                from_address_type=from_type,
                to_address=to_address,
                to_address_type=to_type,
                direction=_enum(_SMS_DIRECTIONS, sms.direction),
                text=sms.text if content == "text" else None,
                data=sms.bytes if content == "bytes" else None,
            )
        case "sms_delivery_report_event":
            report = event.sms_delivery_report_event
            from_address, from_type = _address(report, "from")
            to_address, to_type = _address(report, "to")
            return SmsDeliveryReportEvent(
                **base,
                report_id=report.id,
                sms_id=report.sms_id,
                status=_enum(_STATUSES, report.status),
                direction=_enum(_REPORT_DIRECTIONS, report.direction),
                from_address=from_address,
                from_address_type=from_type,
                to_address=to_address,
                to_address_type=to_type,
            )
        case "country_change_event":
            change = event.country_change_event
            return CountryChangeEvent(
                **base,
                number=_e164(change.msisdn),
                previous=_country(change.previous) if change.HasField("previous") else None,
                current=_country(change.current) if change.HasField("current") else None,
            )
        case "location_update_event":
            location = event.location_update_event
            return LocationUpdateEvent(
                **base,
                number=_e164(location.number),
                previous=_locations(location.previous) if location.HasField("previous") else None,
                current=_locations(location.current) if location.HasField("current") else None,
            )
        case "handset_update_event":
            handset = event.handset_update_event
            return HandsetUpdateEvent(
                **base,
                number=_e164(handset.number),
                imsi=_imsi(handset),
                previous=_handset(handset.previous) if handset.HasField("previous") else None,
                current=_handset(handset.current) if handset.HasField("current") else None,
            )
        case "consent_revoke_event":
            return ConsentRevokeEvent(**base, number=_e164(event.consent_revoke_event.msisdn))
        case "token_audit_event":
            audit = event.token_audit_event
            changed = audit.operator_token
            has_change = audit.HasField("operator_token")
            return TokenAuditEvent(
                **base,
                operation=_enum(_OPERATIONS, audit.operation),
                new=_operator_token(changed.new)
                if has_change and changed.HasField("new")
                else None,
                old=_operator_token(changed.old)
                if has_change and changed.HasField("old")
                else None,
            )
        case "first_attachment_event":
            first = event.first_attachment_event
            return FirstAttachmentEvent(**base, number=_e164(first.number), imsi=_imsi(first))
        case "periodic_country_event":
            periodic = event.periodic_country_event
            return PeriodicCountryEvent(
                **base,
                number=_e164(periodic.number),
                imsi=_imsi(periodic),
                country=_country(periodic.country) if periodic.HasField("country") else None,
            )
        case _:
            return UnknownEvent(**base, payload=which)


def event_from_proto(event: events_pb2.Event) -> WgtwoEvent:
    """Decode a wire event; anything this version cannot decode becomes an ``UnknownEvent``."""
    which = event.WhichOneof("event")
    try:
        if which == "voice_event":
            return _voice(event)
        return _decode(event, which, _base(event))
    except Exception:
        return UnknownEvent(**_base(event), payload=which)
