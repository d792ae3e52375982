"""The config folder of a development or test instance, prepared before its first start."""

from __future__ import annotations

import json
from pathlib import Path

from tools.instance import skip_location_step


def test_a_new_instance_skips_the_location_step(tmp_path: Path) -> None:
    """No weather, radio or text-to-speech set up by onboarding: no failed-setup card."""
    skip_location_step(tmp_path)
    store = json.loads((tmp_path / ".storage" / "onboarding").read_text())
    assert store["key"] == "onboarding"
    assert store["data"]["done"] == ["core_config"]


def test_an_onboarded_instance_is_left_as_it_is(tmp_path: Path) -> None:
    store = tmp_path / ".storage" / "onboarding"
    store.parent.mkdir()
    store.write_text('{"data": {"done": ["user", "core_config", "analytics"]}}')
    skip_location_step(tmp_path)
    assert json.loads(store.read_text())["data"]["done"] == ["user", "core_config", "analytics"]
