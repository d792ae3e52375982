"""VoicemailMediaService fake: voicemails appear when a NEW_VOICEMAIL event is published."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
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
_SAMPLE_RATE = 8000


def make_wav(seconds: float = 1.0, frequency: float = 440.0) -> bytes:
    """Return a short mono 16-bit tone as a WAV file."""
    frames = int(_SAMPLE_RATE * seconds)
    samples = (
        int(8000 * math.sin(2 * math.pi * frequency * i / _SAMPLE_RATE)) for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_SAMPLE_RATE)
        out.writeframes(struct.pack(f"<{frames}h", *samples))
    return buffer.getvalue()


class VoicemailJournal(Protocol):
    """What the voicemail store records for a restart (implemented by the journal)."""

    def voicemail_changed(self, voicemail_id: str, *, played: bool, deleted: bool) -> None:
        """Record a voicemail marked read or deleted."""


@dataclass(slots=True)
class _Voicemail:
    metadata: voicemail_pb2.VoicemailMetadata


class VoicemailStore:
    """Voicemails keyed by id, created from published events, served over gRPC."""

    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority
        self.voicemails: dict[str, _Voicemail] = {}
        self.journal: VoicemailJournal | None = None
        self._wav: bytes | None = None

    @property
    def wav(self) -> bytes:
        """Return the WAV every fake voicemail plays (built once)."""
        if self._wav is None:
            self._wav = make_wav()
        return self._wav

    def on_event(self, event: events_pb2.Event, stored: StoredEvent) -> None:
        """Create a voicemail for each NEW_VOICEMAIL event."""
        if event.WhichOneof("event") != "voicemail_event":
            return
        source = event.voicemail_event
        if source.type != events_pb2.VoicemailEvent.NEW_VOICEMAIL or not source.voicemail_id:
            return
        metadata = voicemail_pb2.VoicemailMetadata(voicemail_id=source.voicemail_id)
        metadata.to.CopyFrom(source.to_number)
        getattr(metadata, "from").CopyFrom(source.from_number)
        metadata.duration.FromSeconds(1)
        metadata.created.CopyFrom(event.timestamp)
        metadata.expires.FromDatetime(event.timestamp.ToDatetime() + VOICEMAIL_LIFETIME)
        self.voicemails[source.voicemail_id] = _Voicemail(metadata)

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
        found = self.voicemails.get(voicemail_id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such voicemail")
        return found

    async def get_all(
        self, request: voicemail_pb2.GetAllVoicemailMetadataRequest, context: Context
    ) -> voicemail_pb2.GetAllVoicemailMetadataResponse:
        """List voicemails, optionally only those left for one number."""
        await _authorize(self.authority, context, (VOICEMAIL_GET,))
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
        return voicemail_pb2.GetVoicemailResponse(metadata=found.metadata, wav=self.wav)

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
