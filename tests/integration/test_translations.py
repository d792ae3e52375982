"""Every language has exactly the keys of strings.json, with the same placeholders."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custom_components.wgtwo.const import DOMAIN

COMPONENT = Path(__file__).resolve().parents[2] / "custom_components" / DOMAIN
LANGUAGES = ["en", "nb", "sv", "da", "de"]
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, node


def _load(name: str) -> dict[tuple[str, ...], str]:
    text = (COMPONENT / name).read_text(encoding="utf-8")
    return dict(_leaves(json.loads(text)))


def test_the_languages_are_all_there() -> None:
    found = sorted(path.stem for path in (COMPONENT / "translations").glob("*.json"))
    assert found == sorted(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_has_every_key_and_no_other(language: str) -> None:
    source = _load("strings.json")
    translated = _load(f"translations/{language}.json")
    missing = sorted(".".join(key) for key in source.keys() - translated.keys())
    extra = sorted(".".join(key) for key in translated.keys() - source.keys())
    assert not missing, f"{language} lacks {missing}"
    assert not extra, f"{language} has keys strings.json does not: {extra}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_keeps_the_placeholders(language: str) -> None:
    source = _load("strings.json")
    translated = _load(f"translations/{language}.json")
    for key, text in source.items():
        other = translated.get(key, "")
        assert isinstance(other, str), (language, key)
        assert other.strip(), (language, key)
        assert set(_PLACEHOLDER.findall(other)) == set(_PLACEHOLDER.findall(text)), (
            language,
            ".".join(key),
        )


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_language_is_translated_not_copied(language: str) -> None:
    """A language that mostly repeats the English text is not a translation."""
    source = _load("strings.json")
    translated = _load(f"translations/{language}.json")
    same = [key for key, text in source.items() if len(text) > 12 and translated.get(key) == text]
    assert len(same) <= len(source) // 20, [".".join(key) for key in same]


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_options_menu_item_opens_a_form_of_its_name(language: str) -> None:
    """The menu item a user chose is the title of the form it opens."""
    options = json.loads((COMPONENT / f"translations/{language}.json").read_text())["options"]
    steps = options["step"]
    for step_id, item in steps["init"]["menu_options"].items():
        if step_id == "subscriber":
            continue  # it opens a choice of subscriber first, titled as such
        assert steps[step_id]["title"] == item, (language, step_id)
