"""The parts of an MMS: fetched from a camera, a media source or an allowed file, then fitted.

A picture is a camera's snapshot taken now (``camera.front_door``), a ``media-source://`` id
or a file in one of Home Assistant's allowed folders (``allowlist_external_dirs``); a sound
a ``media-source://`` id (a text-to-speech announcement works) or an allowed file.

Phones and networks commonly take about 300 kB per message, all parts together. A picture
that is JPEG or PNG and fits goes as it is; any other picture, or one that would not fit,
is re-encoded as JPEG and scaled down (Pillow, which Home Assistant ships) until it does.
A sound goes in its own type (WAV, MP3, AMR, Opus), or is refused when it is too large.
Every refusal is a translated error; nothing here logs a text or a file's content.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from PIL import Image, UnidentifiedImageError

from .client import MAX_MMS_BYTES, MmsPart, PartFormat
from .client.mms import AUDIO_FORMATS, FORMAT_BY_CONTENT_TYPE, FORMAT_BY_SUFFIX, IMAGE_FORMATS
from .const import DOMAIN

MEDIA_SOURCE_PREFIX: Final = "media-source://"
_TTS_PREFIX: Final = "media-source://tts/"
_CAMERA_PREFIX: Final = "camera."
# What is read of a source at most: a picture gets scaled down, a sound must fit as it is.
_MAX_PICTURE_READ: Final = 25_000_000
_MAX_SOUND_READ: Final = MAX_MMS_BYTES + 1
# Re-encoding: JPEG quality, and how much smaller each try gets.
_JPEG_QUALITY: Final = 80
_SCALE_STEP: Final = 0.75
_MIN_SIDE: Final = 16
_CAMERA_TIMEOUT: Final = 10

IMAGE: Final = "image"
AUDIO: Final = "audio"


@dataclass(frozen=True, slots=True)
class Media:
    """What a source gave: its bytes and the format its type or name tells (None: unknown)."""

    data: bytes
    format: PartFormat | None
    type_name: str


def _error(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _unreadable(field: str, source: str) -> HomeAssistantError:
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="mms_unreadable",
        translation_placeholders={"field": field, "source": source},
    )


def _too_large(size: int) -> ServiceValidationError:
    return _error("mms_too_large", size=str(-(-size // 1000)), max_size=str(MAX_MMS_BYTES // 1000))


def _format_of_type(content_type: str) -> PartFormat | None:
    return FORMAT_BY_CONTENT_TYPE.get(content_type.split(";")[0].strip().lower())


async def _camera_snapshot(hass: HomeAssistant, entity_id: str) -> Media:
    """Take a picture with a camera now."""
    # Imported here: the camera component is needed only when a picture is taken.
    from homeassistant.components.camera import async_get_image

    if hass.states.get(entity_id) is None:
        raise _error("mms_unknown_camera", entity_id=entity_id)
    try:
        image = await async_get_image(hass, entity_id, timeout=_CAMERA_TIMEOUT)
    except HomeAssistantError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="mms_camera_unavailable",
            translation_placeholders={"entity_id": entity_id},
        ) from err
    return Media(image.content, _format_of_type(image.content_type), image.content_type)


def _read_file(path: Path, limit: int) -> bytes:
    with path.open("rb") as file:
        return file.read(limit)


async def _file(hass: HomeAssistant, field: str, name: str, limit: int) -> Media:
    """Read a file in one of the folders Home Assistant may read."""
    path = Path(name)
    if not path.is_absolute() or not hass.config.is_allowed_path(name):
        raise _error("mms_path_not_allowed", field=field, path=name)
    try:
        data = await hass.async_add_executor_job(_read_file, path, limit)
    except OSError as err:
        raise _unreadable(field, name) from err
    suffix = path.suffix.lower()
    return Media(data, FORMAT_BY_SUFFIX.get(suffix), suffix.lstrip(".") or "?")


async def async_tts_audio(hass: HomeAssistant, media_id: str) -> tuple[str, bytes]:
    """Return a text-to-speech message's audio: its file extension and bytes."""
    # Imported here: text-to-speech is loaded only where an engine is set up.
    from homeassistant.components import tts

    return await tts.async_get_media_source_audio(hass, media_id)


async def _media_source(hass: HomeAssistant, field: str, media_id: str, limit: int) -> Media:
    """Fetch what a media source id stands for: a TTS message, a local file, a URL."""
    # Imported here: media sources are needed only when a message names one.
    from homeassistant.components import media_source
    from homeassistant.components.media_player.browse_media import (
        async_process_play_media_url,
    )

    try:
        if media_id.startswith(_TTS_PREFIX):
            extension, data = await async_tts_audio(hass, media_id)
            part_format = FORMAT_BY_SUFFIX.get(f".{extension.lower()}")
            return Media(data[:limit], part_format, extension)
        play = await media_source.async_resolve_media(hass, media_id, None)
        part_format = _format_of_type(play.mime_type)
        if play.path is not None:
            data = await hass.async_add_executor_job(_read_file, play.path, limit)
            by_name = FORMAT_BY_SUFFIX.get(play.path.suffix.lower())
            return Media(data, part_format or by_name, play.mime_type)
        url = async_process_play_media_url(hass, play.url)
        async with async_get_clientsession(hass).get(url) as response:
            response.raise_for_status()
            data = await response.content.read(limit)
            content_type = response.headers.get("Content-Type", play.mime_type)
        return Media(data, part_format or _format_of_type(content_type), play.mime_type)
    except HomeAssistantError as err:
        if err.translation_domain == DOMAIN:
            raise
        raise _unreadable(field, media_id) from err
    except Exception as err:  # a source's own failure: unreachable, gone, malformed
        raise _unreadable(field, media_id) from err


async def async_fetch(hass: HomeAssistant, field: str, source: str) -> Media:
    """Fetch a picture (``field`` image) or a sound (audio) from where ``source`` says."""
    source = source.strip()
    limit = _MAX_PICTURE_READ if field == IMAGE else _MAX_SOUND_READ
    if source.startswith(MEDIA_SOURCE_PREFIX):
        return await _media_source(hass, field, source, limit)
    if field == IMAGE and source.startswith(_CAMERA_PREFIX):
        return await _camera_snapshot(hass, source)
    return await _file(hass, field, source, limit)


def _flatten(image: Image.Image) -> Image.Image:
    """Return the picture as RGB, transparency on white (JPEG has none)."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def fit_picture(data: bytes, room: int) -> tuple[PartFormat, bytes]:
    """Return the picture as JPEG or PNG in at most ``room`` bytes (in an executor).

    Raises ``ValueError`` for what Pillow cannot read and ``OverflowError`` for a picture
    that does not fit even at its smallest.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise ValueError("not a picture") from err
    if image.format in ("JPEG", "PNG") and len(data) <= room:
        return (PartFormat.JPEG if image.format == "JPEG" else PartFormat.PNG), data
    flat = _flatten(image)
    width, height = flat.size
    scale = 1.0
    while True:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = flat if scale == 1.0 else flat.resize(size, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        resized.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
        if out.tell() <= room:
            return PartFormat.JPEG, out.getvalue()
        if max(size) <= _MIN_SIDE:
            raise OverflowError("does not fit")
        scale *= _SCALE_STEP


async def async_parts(
    hass: HomeAssistant, message: str | None, image: str | None, audio: str | None
) -> list[MmsPart]:
    """Return the message's parts in order (text, picture, sound), fitted to 300 kB.

    Raises a translated error for nothing to send, a source that cannot be read, an
    unsupported type or a message that cannot be made to fit.
    """
    text = message if message and message.strip() else ""
    if not text and not image and not audio:
        raise _error("mms_nothing_to_send")
    parts: list[MmsPart] = [MmsPart.of_text(text)] if text else []
    sound: MmsPart | None = None
    if audio:
        fetched = await async_fetch(hass, AUDIO, audio)
        if fetched.format is None or fetched.format not in AUDIO_FORMATS:
            raise _error("mms_unsupported_type", field=AUDIO, type=fetched.type_name)
        sound = MmsPart.of_media(fetched.format, fetched.data)
    used = sum(part.size for part in parts) + (sound.size if sound is not None else 0)
    if used > MAX_MMS_BYTES:
        raise _too_large(used)
    if image:
        fetched = await async_fetch(hass, IMAGE, image)
        if fetched.format is not None and fetched.format not in IMAGE_FORMATS:
            raise _error("mms_unsupported_type", field=IMAGE, type=fetched.type_name)
        try:
            part_format, data = await hass.async_add_executor_job(
                fit_picture, fetched.data, MAX_MMS_BYTES - used
            )
        except ValueError as err:
            raise _error("mms_unsupported_type", field=IMAGE, type=fetched.type_name) from err
        except OverflowError as err:
            raise _too_large(used + len(fetched.data)) from err
        parts.append(MmsPart.of_media(part_format, data))
    if sound is not None:
        parts.append(sound)
    return parts
