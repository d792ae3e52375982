"""The phonebook text the options form edits, and name lookups by any spelling of a number."""

from __future__ import annotations

import pytest

from custom_components.wgtwo.phonebook import (
    DuplicateNumberError,
    Phonebook,
    PhonebookError,
    format_phonebook,
    normalize_number,
    parse_phonebook,
)


def test_phonebook_text_round_trip() -> None:
    text = "+4799900001 = Alice Smith\n  +1 (555) 010-9999=Bob\n\n0046.70.000.0003 = Carol\n"
    phonebook = parse_phonebook(text)
    assert phonebook == {
        "+4799900001": "Alice Smith",
        "+15550109999": "Bob",
        "+46700000003": "Carol",
    }
    assert parse_phonebook(format_phonebook(phonebook)) == phonebook
    assert parse_phonebook("") == {}


@pytest.mark.parametrize("line", ["+4799900001", "+4799900001 =", "12345678 = Local", "+0123 = X"])
def test_phonebook_rejects_bad_lines(line: str) -> None:
    with pytest.raises(PhonebookError) as err:
        parse_phonebook(f"+4799900001 = Alice\n{line}")
    assert err.value.line == line
    assert not isinstance(err.value, DuplicateNumberError)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("+4712345678 = Alice", "+4712345678 = Bob"),
        ("+47 123 45 678 = Alice", "004712345678 = Bob"),
        ("+47 (123) 45-678 = Alice", "+47.123.45.678=Alice"),
    ],
)
def test_phonebook_refuses_a_number_listed_twice(first: str, second: str) -> None:
    # Keeping the last name silently would hide which one the user meant.
    with pytest.raises(DuplicateNumberError) as err:
        parse_phonebook(f"{first}\n+4699900002 = Carol\n  {second}  ")
    assert err.value.first == first
    assert err.value.line == second


def test_numbers_are_normalised_like_the_parser_does() -> None:
    assert normalize_number(" +47 (123) 45-678. ") == "+4712345678"
    assert normalize_number("0047\t123 45 678") == "+4712345678"
    assert normalize_number("+4712345678") == "+4712345678"
    # Only a leading 00 is an international prefix.
    assert normalize_number("4700123") == "4700123"


def test_phonebook_looks_names_up_by_any_spelling() -> None:
    phonebook = Phonebook({"+4712345678": "Alice", "+47 999 00 001": "Bob", "+4611111111": ""})
    assert len(phonebook) == 2
    for spelling in (
        "+4712345678",
        "+47 123 45 678",
        "004712345678",
        "+47 (123) 45-678",
        "+47.12.34.56.78",
    ):
        assert phonebook.name_for(spelling) == "Alice"
    assert phonebook.name_for("+4799900001") == "Bob"
    # No name, unknown, hidden (no number) or empty.
    assert phonebook.name_for("+4611111111") is None
    assert phonebook.name_for("+4600000000") is None
    assert phonebook.name_for(None) is None
    assert phonebook.name_for("") is None


def test_empty_phonebook() -> None:
    assert len(Phonebook()) == 0
    assert Phonebook(None).name_for("+4712345678") is None
    assert Phonebook({}).name_for("+4712345678") is None
