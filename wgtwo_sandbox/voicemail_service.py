"""VoicemailMediaService fake: a playable voicemail appears for each published NEW_VOICEMAIL."""

from __future__ import annotations

import functools
import hashlib
import io
import math
import struct
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import grpc

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.voicemail.v0 import voicemail_pb2

from .auth import AuthError, TokenAuthority
from .scopes import VOICEMAIL_DELETE, VOICEMAIL_GET, VOICEMAIL_UPDATE

if TYPE_CHECKING:
    from .broker import StoredEvent

SERVICE_NAME = "wgtwo.voicemail.v0.VoicemailMediaService"
Context = grpc.aio.ServicerContext[Any, Any]
VOICEMAIL_LIFETIME = timedelta(days=7)
SAMPLE_RATE = 8000
# Length of each generated voicemail: 2 to 5 seconds, picked from its id.
_LENGTHS = (2, 3, 4, 5)
# Pitches (Hz) of the beeps a voicemail plays, one pair per pattern picked from its id.
_PATTERNS = ((440.0, 660.0), (523.0, 392.0), (349.0, 587.0), (494.0, 330.0))
_BEEP = 0.25  # seconds of tone, followed by as much silence


@functools.cache
def make_wav(seconds: int = 1, pattern: int = 0) -> bytes:
    """Return ``seconds`` of 8 kHz mono 16-bit WAV: beeps alternating between two pitches.

    Cached: a handful of distinct patterns and lengths serve every voicemail.
    """
    low, high = _PATTERNS[pattern % len(_PATTERNS)]
    frames = SAMPLE_RATE * seconds
    beep = int(SAMPLE_RATE * _BEEP)
    samples = []
    for i in range(frames):
        slot = i // beep
        if slot % 2:
            samples.append(0)
            continue
        frequency = low if slot % 4 == 0 else high
        samples.append(int(8000 * math.sin(2 * math.pi * frequency * i / SAMPLE_RATE)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(struct.pack(f"<{frames}h", *samples))
    return buffer.getvalue()


def _shape(voicemail_id: str) -> tuple[int, int]:
    """Length in seconds and beep pattern of a voicemail, stable for its id."""
    digest = hashlib.sha256(voicemail_id.encode()).digest()
    return _LENGTHS[digest[0] % len(_LENGTHS)], digest[1] % len(_PATTERNS)


class VoicemailJournal(Protocol):
    """What the voicemail store records for a restart (implemented by the journal)."""

    def voicemail_changed(self, voicemail_id: str, *, played: bool, deleted: bool) -> None:
        """Record a voicemail marked read or deleted."""


@dataclass(slots=True)
class _Voicemail:
    metadata: voicemail_pb2.VoicemailMetadata
    seconds: int
    pattern: int

    @property
    def wav(self) -> bytes:
        """The audio, exactly ``metadata.duration`` long."""
        return make_wav(self.seconds, self.pattern)


class VoicemailStore:
    """Voicemails keyed by id, created from published events, served over gRPC.

    A voicemail is recorded when the sandbox receives its NEW_VOICEMAIL event (an event
    may carry any timestamp, e.g. replayed history): ``created`` is that moment by
    ``clock``, ``expires`` seven days later. Expired voicemails are gone: not listed,
    and fetching, marking or deleting one is NOT_FOUND.
    """

    def __init__(self, authority: TokenAuthority, clock: Callable[[], float] = time.time) -> None:
        self.authority = authority
        self.clock = clock
        self.voicemails: dict[str, _Voicemail] = {}
        self.journal: VoicemailJournal | None = None
        self.lists_served = 0  # GetAllVoicemailMetadata answers, for tests that race them

    def on_event(self, event: events_pb2.Event, stored: StoredEvent) -> None:
        """Create a voicemail for each NEW_VOICEMAIL event."""
        if event.WhichOneof("event") != "voicemail_event":
            return
        source = event.voicemail_event
        if source.type != events_pb2.VoicemailEvent.NEW_VOICEMAIL or not source.voicemail_id:
            return
        self.add(
            source.voicemail_id,
            source.to_number.e164,
            source.from_number.e164,
            created=stored.stored_at,
        )

    def add(
        self,
        voicemail_id: str,
        to_number: str,
        from_number: str = "",
        *,
        created: float | None = None,
        played: bool = False,
    ) -> voicemail_pb2.VoicemailMetadata:
        """Record a voicemail (``created``: a ``clock`` time, default now); return its metadata.

        Tests use it directly for voicemails left while no one listened to the events.
        """
        seconds, pattern = _shape(voicemail_id)
        metadata = voicemail_pb2.VoicemailMetadata(voicemail_id=voicemail_id, played=played)
        if to_number:
            metadata.to.e164 = to_number
        if from_number:
            getattr(metadata, "from").e164 = from_number
        metadata.duration.FromSeconds(seconds)
        when = datetime.fromtimestamp(self.clock() if created is None else created, UTC)
        metadata.created.FromDatetime(when)
        metadata.expires.FromDatetime(when + VOICEMAIL_LIFETIME)
        self.voicemails[voicemail_id] = _Voicemail(metadata, seconds, pattern)
        return metadata

    def prune(self) -> None:
        """Drop the voicemails whose seven days are over."""
        now = self.clock()
        for voicemail_id in [
            key
            for key, found in self.voicemails.items()
            if found.metadata.expires.ToDatetime(UTC).timestamp() <= now
        ]:
            del self.voicemails[voicemail_id]

    def apply_change(self, voicemail_id: str, *, played: bool, deleted: bool) -> None:
        """Apply a read/delete change (live or replayed from the journal)."""
        if deleted:
            self.voicemails.pop(voicemail_id, None)
        elif voicemail_id in self.voicemails:
            self.voicemails[voicemail_id].metadata.played = played
        if self.journal is not None:
            self.journal.voicemail_changed(voicemail_id, played=played, deleted=deleted)

    async def _find(self, context: Context, voicemail_id: str, scope: str) -> _Voicemail:
        await _authorize(self.authority, context, (scope,))
        if not voicemail_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "voicemail_id is required")
        self.prune()
        found = self.voicemails.get(voicemail_id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such voicemail")
        return found

    async def get_all(
        self, request: voicemail_pb2.GetAllVoicemailMetadataRequest, context: Context
    ) -> voicemail_pb2.GetAllVoicemailMetadataResponse:
        """List voicemails, optionally only those left for one number."""
        await _authorize(self.authority, context, (VOICEMAIL_GET,))
        self.prune()
        self.lists_served += 1
        wanted = request.to.e164 if request.HasField("to") else ""
        return voicemail_pb2.GetAllVoicemailMetadataResponse(
            metadata=[
                v.metadata
                for v in self.voicemails.values()
                if not wanted or v.metadata.to.e164 == wanted
            ]
        )

    async def get(
        self, request: voicemail_pb2.GetVoicemailRequest, context: Context
    ) -> voicemail_pb2.GetVoicemailResponse:
        """Return a voicemail's metadata and audio."""
        found = await self._find(context, request.voicemail_id, VOICEMAIL_GET)
        return voicemail_pb2.GetVoicemailResponse(metadata=found.metadata, wav=found.wav)

    async def mark_read(
        self, request: voicemail_pb2.MarkVoicemailAsReadRequest, context: Context
    ) -> voicemail_pb2.MarkVoicemailAsReadResponse:
        """Mark a voicemail as played."""
        await self._find(context, request.voicemail_id, VOICEMAIL_UPDATE)
        self.apply_change(request.voicemail_id, played=True, deleted=False)
        return voicemail_pb2.MarkVoicemailAsReadResponse()

    async def delete(
        self, request: voicemail_pb2.DeleteVoicemailRequest, context: Context
    ) -> voicemail_pb2.DeleteVoicemailResponse:
        """Delete a voicemail."""
        await self._find(context, request.voicemail_id, VOICEMAIL_DELETE)
        self.apply_change(request.voicemail_id, played=False, deleted=True)
        return voicemail_pb2.DeleteVoicemailResponse()

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler for the voicemail service."""
        pb = voicemail_pb2

        def unary(fn: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
            return grpc.unary_unary_rpc_method_handler(
                fn,
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )

        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "GetAllVoicemailMetadata": unary(
                    self.get_all,
                    pb.GetAllVoicemailMetadataRequest,
                    pb.GetAllVoicemailMetadataResponse,
                ),
                "GetVoicemail": unary(self.get, pb.GetVoicemailRequest, pb.GetVoicemailResponse),
                "MarkVoicemailAsRead": unary(
                    self.mark_read, pb.MarkVoicemailAsReadRequest, pb.MarkVoicemailAsReadResponse
                ),
                "DeleteVoicemail": unary(
                    self.delete, pb.DeleteVoicemailRequest, pb.DeleteVoicemailResponse
                ),
            },
        )


async def _authorize(authority: TokenAuthority, context: Context, scopes: Iterable[str]) -> None:
    try:
        authority.check(context.invocation_metadata() or (), scopes)
    except AuthError as err:
        await context.abort(err.code, err.details)
