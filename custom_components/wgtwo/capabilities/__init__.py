"""The capabilities of a subscriber's line, one module each.

A capability owns one concern: its events (which client event classes it handles), the
change each makes to the subscriber's state, the ``wgtwo_event`` payloads it fires, its
event-entity triggers, the logbook sentence of each of its bus event types, and the
actions on it. Adding an event type touches its capability module, the entity
descriptions that show it and the strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .base import BusEvent, Capability, Room
from .calls import Calls
from .consent import Consent
from .first_attachment import FirstAttachment
from .forwarding import Forwarding
from .handset import HandsetChanges
from .messages import Messages
from .mms import Mms
from .network import Network
from .roaming import Roaming
from .serving_node import ServingNode
from .voicemail import Voicemail

CAPABILITY_CLASSES: Final[tuple[type[Capability], ...]] = (
    Calls,
    Voicemail,
    Messages,
    Mms,
    Forwarding,
    Roaming,
    ServingNode,
    HandsetChanges,
    FirstAttachment,
    Consent,
    Network,
)

# Every bus event type the integration fires, with its sentence and entity.
BUS_EVENTS: Final[Mapping[str, BusEvent]] = {
    bus_type: described
    for capability in CAPABILITY_CLASSES
    for bus_type, described in capability.bus_events.items()
}


class Capabilities:
    """One entry's capabilities, by name for the entities and actions that use them."""

    def __init__(self, room: Room) -> None:
        """Create each capability for the entry's coordinator."""
        self.calls = Calls(room)
        self.voicemail = Voicemail(room)
        self.messages = Messages(room)
        self.mms = Mms(room, self.messages)
        self.forwarding = Forwarding(room)
        self.network = Network(room)
        self.consent = Consent(room)
        self.all: tuple[Capability, ...] = (
            self.calls,
            self.voicemail,
            self.messages,
            self.mms,
            self.forwarding,
            Roaming(room),
            ServingNode(room),
            HandsetChanges(room),
            FirstAttachment(room),
            self.consent,
            self.network,
        )
