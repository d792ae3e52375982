"""Network: the network a subscriber's phone is attached to, read from the operator.

``NetworkInfoService.GetNetworkInfoForSubscriber`` (scope
``subscription.network_information:read``) lists one network per SIM of the number; the SIM
the operator saw last is the subscriber's (its generation, MCC/MNC, TADIG and serving nodes;
never its IMSI or ICCID). Each subscriber is read:

- once the entry's entities are set up (every known subscriber), and when it appears;
- after each of its roaming or location events (the roaming and serving node capabilities
  tell the coordinator, which tells every capability), at most once a minute: a read asked
  for within a minute of the last one waits until the minute is over, and further events
  join it;
- every 30 minutes.

Reads go one at a time, and a reconnect of the event stream reads nothing: the operator
gets at most one call per subscriber a minute, however the events come.

The serving network's MCC gives the country (:mod:`..mcc`) when no roaming event has said
otherwise since: "Roaming" and "Roaming country" are known after a restart and for a
subscriber who never roamed. The newer report wins: a network the operator saw after the
last roaming event changes the country, an older one does not. A country set this way
fires no ``roaming_country_changed`` (no event said so).

The scope is optional. Without it (asked with a token at setup) the Network sensors are not
created, and those of an earlier setup are removed; a scope lost while running stops the
reads and makes the sensors unavailable. Either is logged once, naming the scope; the
diagnostics show it. No repair issue: like ``voicemail.get``, the rest works without it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_point_in_utc_time, async_track_time_interval
from homeassistant.util import dt as dt_util

from ..client import NetworkInfo, WgtwoError
from ..client.network import SCOPE_NETWORK_INFO, newest
from ..const import DOMAIN
from ..errors import ErrorKind, error_kind
from ..mcc import country_of_mcc
from ..subscriber import NO_ASPECTS, Aspect, Subscriber
from .base import Capability, SubscriberUpdate

_LOGGER = logging.getLogger(__name__)

NETWORK_KEY: Final = "network"  # the Network sensor's key
# A subscriber is read at most this often.
READ_SPACING: Final = timedelta(minutes=1)
# Every subscriber is read again this often.
REFRESH_INTERVAL: Final = timedelta(minutes=30)
# The bus events after which a subscriber's network is read again.


class Network(Capability):
    """The subscribers' serving networks, read from the operator."""

    def __init__(self, *args: Any) -> None:
        """Start with nothing read; whether the scope is granted is asked at setup."""
        super().__init__(*args)
        # True: granted; False: missing (no sensors, no reads); None: not known (presumed).
        self.granted: bool | None = None
        self._due: dict[str, None] = {}  # numbers to read, in order
        self._worker: asyncio.Task[None] | None = None
        self._last_read: dict[str, datetime] = {}  # when each number was last asked for
        self._waiting: dict[str, CALLBACK_TYPE] = {}  # reads waiting for their minute
        self._stop: list[CALLBACK_TYPE] = []
        self.reads = 0
        self.failures = 0
        self.last_error: ErrorKind | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def async_setup(self) -> None:
        """Ask whether the scope is granted; without it, remove the Network sensors."""
        room = self.room
        self.granted = await room.api.scope_granted(SCOPE_NETWORK_INFO)
        if self.granted is False:
            _LOGGER.info(
                "Network sensors are off: the OAuth client lacks the scope %s", SCOPE_NETWORK_INFO
            )
            self._remove_sensors()
            return
        self._stop.append(
            async_track_time_interval(
                room.hass, self._refresh, REFRESH_INTERVAL, cancel_on_shutdown=True
            )
        )

    def started(self) -> None:
        """Read every known subscriber (the Network sensors exist now)."""
        self._refresh()

    def subscriber_added(self, subscriber: Subscriber) -> None:
        """Read a subscriber that just got its device."""
        self.request(subscriber.number)

    def subscriber_moved(self, subscriber: Subscriber) -> None:
        """Read a subscriber again after its roaming or location event (once a minute)."""
        self.request(subscriber.number)

    def forget(self, number: str) -> None:
        """Drop the reads due for a subscriber that is gone."""
        self._due.pop(number, None)
        self._last_read.pop(number, None)
        if (cancel := self._waiting.pop(number, None)) is not None:
            cancel()

    def unload(self) -> None:
        """Stop the refresh and every read."""
        self._stop_reading()
        if self._worker is not None:
            self._worker.cancel()

    def _stop_reading(self) -> None:
        for cancel in [*self._stop, *self._waiting.values()]:
            cancel()
        self._stop.clear()
        self._waiting.clear()
        self._due.clear()

    async def async_idle(self) -> None:
        """Wait until the reads due now are done (those waiting for their minute are not)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.wait({self._worker})

    @property
    def available(self) -> bool:
        """Whether the network can be read (the scope is not known to be missing)."""
        return self.granted is not False

    def diagnostics(self) -> dict[str, Any]:
        """Return the scope's state and the read counters (no numbers)."""
        return {
            "granted": self.granted,
            "reads": self.reads,
            "failures": self.failures,
            "last_error": self.last_error,
            "waiting": len(self._waiting) + len(self._due),
        }

    # -- scheduling --------------------------------------------------------------------

    @callback
    def _refresh(self, _now: datetime | None = None) -> None:
        for number in list(self.room.subscribers):
            self.request(number)

    @callback
    def request(self, number: str) -> None:
        """Read a subscriber's network now, or once a minute has passed since its last read."""
        if not self.available or number in self._due or number in self._waiting:
            return  # not readable, or a read is due already
        last = self._last_read.get(number)
        if last is None or dt_util.utcnow() - last >= READ_SPACING:
            self._enqueue(number)
            return

        @callback
        def _minute_over(_now: datetime) -> None:
            self._waiting.pop(number, None)
            self._enqueue(number)

        self._waiting[number] = async_track_point_in_utc_time(
            self.room.hass, _minute_over, last + READ_SPACING
        )

    def _enqueue(self, number: str) -> None:
        self._due[number] = None
        if self._worker is None or self._worker.done():
            self._worker = self.room.entry.async_create_background_task(
                self.room.hass, self._read_due(), name=f"{DOMAIN} network reads"
            )

    # -- reading -----------------------------------------------------------------------

    async def _read_due(self) -> None:
        """Read the due subscribers one at a time."""
        while self._due:
            number = next(iter(self._due))
            del self._due[number]
            subscriber = self.room.subscribers.get(number)
            if subscriber is None:
                continue
            self._last_read[number] = dt_util.utcnow()
            self.reads += 1
            try:
                infos = await self.room.api.get_network_info(number)
            except WgtwoError as err:
                if not self._failed(err):
                    return
                continue
            if self.room.subscribers.get(number) is subscriber:  # not forgotten meanwhile
                self._apply(subscriber, infos)

    def _failed(self, err: WgtwoError) -> bool:
        """Note a failed read; return whether the others may still be read."""
        kind = error_kind(err)
        self.failures += 1
        self.last_error = kind
        if kind is ErrorKind.MISSING_SCOPE:
            _LOGGER.info(
                "Network sensors are unavailable: the OAuth client lacks the scope %s",
                SCOPE_NETWORK_INFO,
            )
            self.granted = False
            self._stop_reading()
            for subscriber in self.room.subscribers.values():
                self.room.notify(subscriber, SubscriberUpdate(Aspect.NETWORK))
            return False
        _LOGGER.debug("A subscriber's network was not read: %s (%s)", kind, err)
        # Rejected credentials fail every read: the event stream asks to re-authenticate.
        return kind is not ErrorKind.INVALID_AUTH

    def _apply(self, subscriber: Subscriber, infos: list[NetworkInfo]) -> None:
        """Make the SIM seen last the subscriber's network; its MCC may give the country."""
        aspects = NO_ASPECTS
        found = newest(infos)
        network = None if found is None else _without_sim_ids(found)
        if network != subscriber.network or len(infos) != subscriber.network_sims:
            subscriber.network = network
            subscriber.network_sims = len(infos)
            aspects |= Aspect.NETWORK
        country = country_of_mcc(network.mcc) if network is not None else None
        if network is not None and country is not None and _newer(subscriber, network):
            subscriber.country_time = network.timestamp
            if subscriber.country is None or subscriber.country.code != country.code:
                subscriber.previous_country = subscriber.country
                subscriber.country = country
                aspects |= Aspect.COUNTRY
        if aspects:
            self.room.notify(subscriber, SubscriberUpdate(aspects))

    def _remove_sensors(self) -> None:
        """Remove the Network sensors an earlier setup (with the scope) created."""
        registry = er.async_get(self.room.hass)
        for entity in er.async_entries_for_config_entry(registry, self.room.entry.entry_id):
            if entity.domain == "sensor" and entity.translation_key == NETWORK_KEY:
                registry.async_remove(entity.entity_id)


@callback
def _without_sim_ids(info: NetworkInfo) -> NetworkInfo:
    return NetworkInfo(
        mcc=info.mcc,
        mnc=info.mnc,
        generation=info.generation,
        tadig=info.tadig,
        msc=info.msc,
        vlr=info.vlr,
        sgsn=info.sgsn,
        mme=info.mme,
        timestamp=info.timestamp,
    )


def _newer(subscriber: Subscriber, network: NetworkInfo) -> bool:
    """Whether the network is a newer report of the country than the one shown.

    A network without a time only fills a country nothing reported.
    """
    if subscriber.country is None:
        return True
    if network.timestamp is None:
        return False
    return subscriber.country_time is None or network.timestamp > subscriber.country_time
