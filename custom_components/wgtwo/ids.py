"""Ids that stand for a phone number, and the checked parts of voicemail media ids.

Ids end up in URLs, notifications, logs and the issue registry, so no number is put in
one. A subscriber's key is an HMAC of the number with a random secret of the entry (made
once, kept in the entry's store): unlike a plain digest, it cannot be reversed by trying
every number without the secret. Every part of a media id is checked before it is used,
and the operator's voicemail ids are percent-encoded, so any of them is one path segment.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Final
from urllib.parse import quote, unquote

SECRET_BYTES: Final = 32
KEY_LENGTH: Final = 24  # hex digits of a subscriber key
MAX_VOICEMAIL_ID_LENGTH: Final = 256

_KEY: Final = re.compile(rf"[0-9a-f]{{{KEY_LENGTH}}}")
# Home Assistant's entry ids are ULIDs; tests may use other letters, digits and _ or -.
_ENTRY_ID: Final = re.compile(r"[0-9A-Za-z_-]{1,64}")
# Segments a URL normalizer removes or resolves, whatever their encoding.
_DOT_SEGMENTS: Final = frozenset({".", ".."})


def new_secret() -> bytes:
    """Return a new random secret for an entry's keys."""
    return secrets.token_bytes(SECRET_BYTES)


def number_key(secret: bytes, number: str) -> str:
    """Return the key that stands for ``number`` in the ids of the entry with ``secret``."""
    return hmac.new(secret, number.encode(), hashlib.sha256).hexdigest()[:KEY_LENGTH]


def is_key(text: str) -> bool:
    """Whether ``text`` has the form of a subscriber key."""
    return _KEY.fullmatch(text) is not None


def is_entry_id(text: str) -> bool:
    """Whether ``text`` has the form of a config entry id."""
    return _ENTRY_ID.fullmatch(text) is not None


def is_voicemail_id(text: str) -> bool:
    """Whether the operator's voicemail id can be one segment of a media id and a path."""
    return (
        0 < len(text) <= MAX_VOICEMAIL_ID_LENGTH
        and text.isprintable()
        and text not in _DOT_SEGMENTS
    )


def quote_voicemail_id(voicemail_id: str) -> str:
    """Percent-encode a voicemail id (every character but letters, digits and ``_.-~``)."""
    return quote(voicemail_id, safe="")


def unquote_voicemail_id(segment: str) -> str | None:
    """Return the voicemail id of a media id's segment; None unless encoded as we encode it."""
    try:
        voicemail_id = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None
    if not is_voicemail_id(voicemail_id) or quote_voicemail_id(voicemail_id) != segment:
        return None
    return voicemail_id


class NumberKeys:
    """The keys of the numbers seen lately, each computed once.

    An HMAC per call costs as much as the call's payload; the memory is bounded and
    emptied when full.
    """

    KEPT: Final = 4096

    def __init__(self, secret: Callable[[], bytes]) -> None:
        """Use the entry's secret, which ``secret`` returns once the store is loaded."""
        self._secret = secret
        self._keys: dict[str, str] = {}

    def __call__(self, number: str) -> str:
        """Return the key that stands for ``number``."""
        if (key := self._keys.get(number)) is None:
            if len(self._keys) >= self.KEPT:
                self._keys.clear()
            key = self._keys[number] = number_key(self._secret(), number)
        return key
