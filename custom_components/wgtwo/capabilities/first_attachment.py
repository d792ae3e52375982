"""First attachment: a SIM of the number was used in the network for the first time.

Fed by the v1 first attachment stream. Bus event ``sim_first_attached`` with ``imsi`` (the
SIM's; kept out of the log and of diagnostics). Several SIMs of one number each attach
once; the number's device shows the IMSI of the SIM last reported.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from ..client import FirstAttachmentEvent
from ..subscriber import NO_ASPECTS, Aspect, Subscriber
from .base import BusEvent, Capability, Sentence, SubscriberUpdate

_LOGGER = logging.getLogger(__name__)

TYPE_FIRST_ATTACHED: Final = "sim_first_attached"


def _sentence(_data: Mapping[str, Any]) -> Sentence:
    return "logbook_sim_first_attached", {}


class FirstAttachment(Capability):
    """First attachments of a subscriber's SIMs."""

    events = (FirstAttachmentEvent,)
    bus_events = {TYPE_FIRST_ATTACHED: BusEvent(sentence=_sentence, entity=("sensor", "handset"))}

    def apply(self, sub: Subscriber, event: FirstAttachmentEvent) -> SubscriberUpdate:
        """Keep the SIM's IMSI and fire ``sim_first_attached``."""
        if event.imsi:
            sub.imsi = event.imsi
        self.fire(event, TYPE_FIRST_ATTACHED, sub, {"imsi": event.imsi})
        _LOGGER.debug("A SIM attached to the network for the first time")
        return SubscriberUpdate(Aspect.HANDSET if event.imsi else NO_ASPECTS)
