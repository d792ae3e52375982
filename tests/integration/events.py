"""Events kept as JSON fixtures (protobuf JSON, as the sandbox publishes them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from custom_components.wgtwo.client import WgtwoEvent, event_from_proto
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

FIXTURES = Path(__file__).parent / "fixtures"


def load_events(name: str) -> list[dict[str, Any]]:
    """The events of ``fixtures/<name>.json`` in the form the sandbox publishes."""
    events: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text())
    return events


def typed_events(name: str) -> list[WgtwoEvent]:
    """The same events decoded as the client hands them to the coordinator."""
    return [
        event_from_proto(json_format.ParseDict(item["event"], events_pb2.Event()))
        for item in load_events(name)
    ]
