"""The options phonebook: ``number = name`` lines in the form, E.164 -> name when stored.

The options flow parses the text with :func:`parse_phonebook`; the rest of the integration
looks names up with :class:`Phonebook`, which spells numbers the way the parser does, so a
number written as ``+47 123 45 678`` in the options finds ``004712345678`` in an event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

_E164: Final = re.compile(r"^\+[1-9]\d{5,14}$")
_NUMBER_PUNCTUATION: Final = re.compile(r"[\s\-().]")


class PhonebookError(ValueError):
    """A phonebook line that is not ``+E164 = name``."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class DuplicateNumberError(PhonebookError):
    """Two lines give the same number, perhaps spelled differently: which name is meant."""

    def __init__(self, first: str, line: str) -> None:
        super().__init__(line)
        self.first = first


# What a number looks like once spaces, dashes and the like are gone: a name has letters.
_NUMBER_LIKE: Final = re.compile(r"^\+?\d+$")


def normalize_number(number: str) -> str:
    """Drop spaces, dashes, parentheses and dots; turn a leading ``00`` into ``+``."""
    number = _NUMBER_PUNCTUATION.sub("", number)
    if number.startswith("00"):
        number = "+" + number[2:]
    return number


def parse_number(text: str) -> str | None:
    """Return ``text`` as E.164 when it is a number in international format (any spelling)."""
    number = normalize_number(text.strip())
    return number if _E164.match(number) else None


def looks_like_number(text: str) -> bool:
    """Whether ``text`` is meant as a number (digits, maybe a ``+``), not a name."""
    return _NUMBER_LIKE.match(normalize_number(text.strip())) is not None


def numbers_named(phonebook: Mapping[str, str], name: str) -> set[str]:
    """Return the numbers the phonebook (E.164 -> name) gives ``name``, in any case."""
    wanted = name.strip().casefold()
    return {
        normalize_number(str(number))
        for number, entry_name in phonebook.items()
        if str(entry_name).strip().casefold() == wanted
    }


def parse_phonebook(text: str) -> dict[str, str]:
    """Parse ``number = name`` lines (blank lines skipped) into E.164 -> name.

    Raises :class:`PhonebookError` for a malformed line and :class:`DuplicateNumberError`
    when a number comes twice: silently keeping the last name would hide the mistake.
    """
    phonebook: dict[str, str] = {}
    lines: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        number, sep, name = line.partition("=")
        parsed = parse_number(number)
        name = name.strip()
        if not sep or not name or parsed is None:
            raise PhonebookError(line)
        number = parsed
        if number in lines:
            raise DuplicateNumberError(lines[number], line)
        lines[number] = line
        phonebook[number] = name
    return phonebook


def format_phonebook(phonebook: Mapping[str, str]) -> str:
    """Render the phonebook as the text the options form edits."""
    return "\n".join(f"{number} = {name}" for number, name in phonebook.items())


class Phonebook:
    """Names for numbers, from the stored option (E.164 -> name)."""

    __slots__ = ("_names",)

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        """Index the names by normalised number; entries without a name are skipped."""
        self._names: dict[str, str] = {
            normalize_number(str(number)): str(name)
            for number, name in (mapping or {}).items()
            if name
        }

    def __len__(self) -> int:
        """How many numbers have a name."""
        return len(self._names)

    def name_for(self, number: str | None) -> str | None:
        """Return the name of ``number`` however it is spelled, or None."""
        if not number:
            return None
        if number[:1] == "+" and number[1:].isdigit():
            # Already spelled as stored (events carry E.164): no normalising needed.
            return self._names.get(number)
        return self._names.get(normalize_number(number))
