"""MMS: the parts of a message (text, a picture, a sound), their wire form, the answer.

A part's format is what the operator's ``MessageContent`` can carry: pictures as JPEG or
PNG, sounds as MP3, Opus, AMR or WAV. The API sets no size limit of its own, but handsets
and networks commonly refuse a message above about 300 kB in all (``MAX_MMS_BYTES``); a
caller fits its parts to that before sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .models import enum_table
from .proto.wgtwo.common.v0 import phonenumber_pb2
from .proto.wgtwo.mms.v0 import mms_pb2

# What handsets and networks commonly take in one message, all parts together.
MAX_MMS_BYTES: Final = 300_000


class PartKind(StrEnum):
    """What a part of a message is."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


class PartFormat(StrEnum):
    """How a picture or a sound is encoded (the field of its ``oneof`` on the wire)."""

    JPEG = "jpg"
    PNG = "png"
    MP3 = "mp3"
    OPUS = "opus"
    AMR = "amr"
    WAV = "wav"


IMAGE_FORMATS: Final = frozenset({PartFormat.JPEG, PartFormat.PNG})
AUDIO_FORMATS: Final = frozenset({PartFormat.MP3, PartFormat.OPUS, PartFormat.AMR, PartFormat.WAV})

# File name endings and the formats they stand for.
FORMAT_BY_SUFFIX: Final = {
    ".jpg": PartFormat.JPEG,
    ".jpeg": PartFormat.JPEG,
    ".png": PartFormat.PNG,
    ".mp3": PartFormat.MP3,
    ".opus": PartFormat.OPUS,
    ".amr": PartFormat.AMR,
    ".wav": PartFormat.WAV,
}

# Content types and the formats they stand for (aliases seen in the wild included).
FORMAT_BY_CONTENT_TYPE: Final = {
    "image/jpeg": PartFormat.JPEG,
    "image/jpg": PartFormat.JPEG,
    "image/png": PartFormat.PNG,
    "audio/mpeg": PartFormat.MP3,
    "audio/mp3": PartFormat.MP3,
    "audio/opus": PartFormat.OPUS,
    "audio/ogg": PartFormat.OPUS,
    "audio/amr": PartFormat.AMR,
    "audio/wav": PartFormat.WAV,
    "audio/x-wav": PartFormat.WAV,
    "audio/wave": PartFormat.WAV,
    "audio/vnd.wave": PartFormat.WAV,
}


@dataclass(frozen=True, slots=True)
class MmsPart:
    """One part of a message: a text, or a picture or a sound in its format."""

    kind: PartKind
    text: str = ""
    format: PartFormat | None = None
    data: bytes = b""

    @classmethod
    def of_text(cls, text: str) -> MmsPart:
        """Return a text part."""
        return cls(PartKind.TEXT, text=text)

    @classmethod
    def of_media(cls, part_format: PartFormat, data: bytes) -> MmsPart:
        """Return a picture or a sound, its kind told by its format."""
        kind = PartKind.IMAGE if part_format in IMAGE_FORMATS else PartKind.AUDIO
        return cls(kind, format=part_format, data=data)

    @property
    def size(self) -> int:
        """Bytes this part adds to the message (the text as UTF-8)."""
        return len(self.text.encode()) if self.kind is PartKind.TEXT else len(self.data)

    def to_proto(self) -> mms_pb2.MessageContent:
        """Return the part as the wire's ``MessageContent``."""
        content = mms_pb2.MessageContent()
        if self.kind is PartKind.TEXT:
            content.text.text = self.text
        elif self.kind is PartKind.IMAGE:
            setattr(content.image, str(self.format), self.data)
        else:
            setattr(content.audio, str(self.format), self.data)
        return content


def message_size(parts: list[MmsPart]) -> int:
    """Return the bytes of all parts together."""
    return sum(part.size for part in parts)


class MmsStatus(StrEnum):
    """Outcome of sending an MMS."""

    UNKNOWN = "unknown"
    OK = "ok"
    REJECT = "reject"
    ERROR = "error"


_MMS_STATUSES = enum_table(MmsStatus, mms_pb2.SendResponse.SendStatus.DESCRIPTOR, "SEND_")


@dataclass(frozen=True, slots=True)
class SendMmsResult:
    """What the API answered to an MMS: its request id, status and description."""

    request_id: str
    status: MmsStatus | int
    description: str

    @property
    def ok(self) -> bool:
        """Whether the operator took the message for delivery."""
        return self.status is MmsStatus.OK

    @classmethod
    def from_proto(cls, response: mms_pb2.SendResponse) -> SendMmsResult:
        """Read the wire answer (an unknown status stays its number)."""
        status = _MMS_STATUSES.get(response.status)
        return cls(
            request_id=response.request_id,
            status=status if status is not None else response.status,
            description=response.description,
        )


def _phone(number: str) -> phonenumber_pb2.PhoneNumber:
    return phonenumber_pb2.PhoneNumber(e164=number)


def from_subscriber_request(
    from_subscriber: str, to_number: str, parts: list[MmsPart]
) -> mms_pb2.SendMessageFromSubscriberRequest:
    """Build a message from a subscriber (E.164) to a number (E.164)."""
    return mms_pb2.SendMessageFromSubscriberRequest(
        message_content=[part.to_proto() for part in parts],
        from_subscriber=_phone(from_subscriber),
        to_e164=_phone(to_number),
    )


def to_subscriber_request(
    to_subscriber: str, sender: str, parts: list[MmsPart]
) -> mms_pb2.SendMessageToSubscriberRequest:
    """Build a message to a subscriber from a sender: a ``+number``, else a name."""
    request = mms_pb2.SendMessageToSubscriberRequest(
        message_content=[part.to_proto() for part in parts], to_subscriber=_phone(to_subscriber)
    )
    if sender.startswith("+"):
        request.from_e164.e164 = sender
    else:
        request.from_text_address.text_address = sender
    return request
