"""NetworkInfoService fake: where each subscriber's SIMs are attached, and moving them.

:class:`NetworkRegistry` is the one place that holds a subscriber's current network: the
SIMs of each number (one or more), each attached to one of :data:`NETWORKS` with a radio
generation, the nodes serving it and when it was last seen. ``GetNetworkInfoForSubscriber``
answers from it (an unknown number has no SIM: an empty answer). :meth:`NetworkRegistry.move`
changes it and returns the v0 events the operator would send for the change: a
``COUNTRY_CHANGE_EVENT`` when the SIM lands in another country, then a
``LOCATION_UPDATE_EVENT`` (new nodes); :meth:`SandboxServer.move_subscriber` publishes them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import grpc

from custom_components.wgtwo.client.proto.wgtwo.common.v0 import identifiers_pb2, phonenumber_pb2
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.subscription.v0 import network_info_pb2

from .auth import AuthError, TokenAuthority
from .scopes import NETWORK_INFO

SERVICE_NAME: Final = "wgtwo.subscription.v0.NetworkInfoService"
Context = grpc.aio.ServicerContext[Any, Any]
SERVICE_ID: Final = "sandbox-network"

# "2G" ... "5G" -> the wire's NetworkGeneration.
GENERATIONS: Final[dict[str, int]] = {
    "2G": identifiers_pb2.NETWORK_GENERATION_2G,
    "3G": identifiers_pb2.NETWORK_GENERATION_3G,
    "4G": identifiers_pb2.NETWORK_GENERATION_4G,
    "5G": identifiers_pb2.NETWORK_GENERATION_5G,
}


@dataclass(frozen=True, slots=True)
class Network:
    """A mobile network a SIM can attach to (an MCC/MNC in one country)."""

    name: str
    mcc: str
    mnc: str
    country_code: str
    country_name: str
    tadig: str
    node_prefix: str  # the E.164 prefix of its nodes' global titles


NETWORKS: Final[dict[str, Network]] = {
    network.name: network
    for network in (
        Network("telenor-no", "242", "01", "NO", "Norway", "NORTM", "4790"),
        Network("telia-no", "242", "02", "NO", "Norway", "NORNC", "4792"),
        Network("telia-se", "240", "01", "SE", "Sweden", "SWETR", "4670"),
        Network("tdc-dk", "238", "01", "DK", "Denmark", "DNKTD", "4540"),
        Network("vodafone-de", "262", "02", "DE", "Germany", "DEUD2", "4917"),
        Network("orange-fr", "208", "01", "FR", "France", "FRAF1", "3367"),
        Network("vodafone-gb", "234", "15", "GB", "United Kingdom", "GBRVF", "4477"),
        Network("att-us", "310", "410", "US", "United States", "USACG", "1312"),
        Network("docomo-jp", "440", "10", "JP", "Japan", "JPNDO", "8190"),
    )
}
# The network a subscriber moved to a country (and nothing more) lands on.
BY_COUNTRY: Final[dict[str, Network]] = {}
for _network in NETWORKS.values():
    BY_COUNTRY.setdefault(_network.country_code, _network)
HOME_NETWORK: Final = NETWORKS["telenor-no"]


@dataclass(slots=True)
class Sim:
    """One SIM of a subscriber and where it is attached."""

    imsi: str
    iccid: str
    network: Network
    generation: str  # "2G" ... "5G"
    node: int  # picks the serving nodes within the network
    seen: float  # when the network last saw it (the registry's clock)

    @property
    def nodes(self) -> dict[str, str]:
        """The nodes serving the SIM: MSC/VLR/SGSN global titles, the MME's FQDN on 4G/5G."""
        network, node = self.network, self.node
        nodes = {
            "msc": f"{network.node_prefix}0000{node:02d}",
            "vlr": f"{network.node_prefix}0001{node:02d}",
            "sgsn": f"{network.node_prefix}0002{node:02d}",
        }
        if self.generation in ("4G", "5G"):
            nodes["mme"] = (
                f"mme{node:02d}.epc.mnc{int(network.mnc):03d}.mcc{network.mcc}.3gppnetwork.org"
            )
        return nodes

    def to_proto(self) -> network_info_pb2.NetworkInfo:
        """Return the SIM as NetworkInfoService answers it."""
        nodes = self.nodes
        info = network_info_pb2.NetworkInfo(
            iccid=identifiers_pb2.Iccid(value=self.iccid),
            imsi=identifiers_pb2.Imsi(value=self.imsi),
            network_identity=identifiers_pb2.NetworkIdentity(
                mcc=self.network.mcc, mnc=self.network.mnc
            ),
            network_generation=GENERATIONS[self.generation],  # type: ignore[arg-type]
            tadig=identifiers_pb2.Tadig(value=self.network.tadig),
            msc=identifiers_pb2.GlobalTitle(value=nodes["msc"]),
            vlr=identifiers_pb2.GlobalTitle(value=nodes["vlr"]),
            sgsn=identifiers_pb2.GlobalTitle(value=nodes["sgsn"]),
            mme=identifiers_pb2.Fqdn(value=nodes.get("mme", "")),
        )
        info.timestamp.FromDatetime(datetime.fromtimestamp(self.seen, UTC))
        return info


def _digits(number: str, length: int) -> str:
    """Digits derived from a number, the same every run."""
    digest = hashlib.sha256(number.encode()).hexdigest()
    return str(int(digest, 16))[:length]


class NetworkRegistry:
    """Each subscriber's SIMs and their networks (the sandbox's one record of where they are)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.sims: dict[str, list[Sim]] = {}
        self.reads = 0  # GetNetworkInfoForSubscriber requests
        # Answer every request with this status instead (an operator in trouble).
        self.fail_with: grpc.StatusCode | None = None
        self._nodes = 0  # moves so far, so each one lands on other nodes

    def attach(
        self,
        number: str,
        network: str | Network = HOME_NETWORK,
        generation: str = "4G",
        *,
        seen: float | None = None,
    ) -> Sim:
        """Give a subscriber one more SIM, attached to ``network`` (no event is sent)."""
        found = network if isinstance(network, Network) else NETWORKS[network]
        if generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {', '.join(GENERATIONS)}")
        sims = self.sims.setdefault(number, [])
        home = HOME_NETWORK
        serial = _digits(f"{number}/{len(sims)}", 10)
        sim = Sim(
            imsi=f"{home.mcc}{home.mnc}{serial}",
            iccid=f"8947{home.mnc}{serial}{len(sims):04d}",
            network=found,
            generation=generation,
            node=self._next_node(),
            seen=self.clock() if seen is None else seen,
        )
        sims.append(sim)
        return sim

    def current(self, number: str) -> Sim | None:
        """Return the SIM of the number seen last (its current network), None without a SIM."""
        sims = self.sims.get(number)
        return max(sims, key=lambda sim: sim.seen) if sims else None

    def move(
        self,
        number: str,
        *,
        network: str | None = None,
        country: str | None = None,
        generation: str | None = None,
        sim: int = 0,
    ) -> list[events_pb2.Event]:
        """Move one SIM of a subscriber (a first SIM is attached if it has none).

        ``network`` names one of :data:`NETWORKS`; ``country`` (ISO alpha-2) picks that
        country's network; neither keeps the SIM's network and changes its nodes (a location
        update). Returns the events the operator would send (ValueError for a bad request).
        """
        target = self._target(network, country)
        if generation is not None and generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {', '.join(GENERATIONS)}")
        sims = self.sims.get(number) or []
        if not sims:
            moved = self.attach(number, target or HOME_NETWORK, generation or "4G")
            return self._events(number, None, None, moved)
        if not 0 <= sim < len(sims):
            raise ValueError(f"the number has {len(sims)} SIM(s); sim must be 0 to {len(sims) - 1}")
        moved = sims[sim]
        before_network, before_nodes = moved.network, moved.nodes
        moved.network = target or moved.network
        moved.generation = generation or moved.generation
        moved.node = self._next_node()
        moved.seen = self.clock()
        return self._events(number, before_network, before_nodes, moved)

    def _target(self, network: str | None, country: str | None) -> Network | None:
        if network is not None and country is not None:
            raise ValueError("give a network or a country, not both")
        if network is not None:
            if network not in NETWORKS:
                raise ValueError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
            return NETWORKS[network]
        if country is not None:
            found = BY_COUNTRY.get(country.upper())
            if found is None:
                raise ValueError(f"no network in {country!r}; known: {', '.join(BY_COUNTRY)}")
            return found
        return None

    def _next_node(self) -> int:
        self._nodes += 1
        return 10 + self._nodes % 90

    @staticmethod
    def _events(
        number: str, before: Network | None, before_nodes: dict[str, str] | None, sim: Sim
    ) -> list[events_pb2.Event]:
        owner = phonenumber_pb2.PhoneNumber(e164=number)
        events: list[events_pb2.Event] = []
        if before is None or before.country_code != sim.network.country_code:
            change = events_pb2.CountryChangeEvent(msisdn=owner)
            if before is not None:
                change.previous.code, change.previous.name = (
                    before.country_code,
                    before.country_name,
                )
            change.current.code = sim.network.country_code
            change.current.name = sim.network.country_name
            events.append(
                events_pb2.Event(
                    service_id=SERVICE_ID, owner=_owner(number), country_change_event=change
                )
            )
        update = events_pb2.LocationUpdateEvent(number=owner)
        if before_nodes is not None:
            _fill_locations(update.previous, before_nodes)
        _fill_locations(update.current, sim.nodes)
        events.append(
            events_pb2.Event(
                service_id=SERVICE_ID, owner=_owner(number), location_update_event=update
            )
        )
        return events

    def snapshot(self) -> dict[str, Any]:
        """Counters (no numbers): subscribers and SIMs known, answers given."""
        return {
            "subscribers": len(self.sims),
            "sims": sum(len(sims) for sims in self.sims.values()),
            "reads": self.reads,
        }


class NetworkInfoServicer:
    """``NetworkInfoService`` over gRPC, answering from a :class:`NetworkRegistry`."""

    def __init__(self, registry: NetworkRegistry, authority: TokenAuthority) -> None:
        self.registry = registry
        self.authority = authority

    async def get_network_info(
        self, request: network_info_pb2.GetNetworkInfoForSubscriberRequest, context: Context
    ) -> network_info_pb2.GetNetworkInfoForSubscriberResponse:
        """Answer with each of the number's SIMs (none for a number it does not know)."""
        try:
            self.authority.check(context.invocation_metadata() or (), (NETWORK_INFO,))
        except AuthError as err:
            await context.abort(err.code, err.details)
        number = request.phone_number.e164
        if not number.startswith("+") or not number[1:].isdigit():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "phone_number must be E.164")
        self.registry.reads += 1
        if self.registry.fail_with is not None:
            await context.abort(self.registry.fail_with, "network information unavailable")
        return network_info_pb2.GetNetworkInfoForSubscriberResponse(
            network_infos=[sim.to_proto() for sim in self.registry.sims.get(number, ())]
        )

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler for the network info service."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "GetNetworkInfoForSubscriber": grpc.unary_unary_rpc_method_handler(
                    self.get_network_info,
                    request_deserializer=(
                        network_info_pb2.GetNetworkInfoForSubscriberRequest.FromString
                    ),
                    response_serializer=(
                        network_info_pb2.GetNetworkInfoForSubscriberResponse.SerializeToString
                    ),
                )
            },
        )


def _owner(number: str) -> events_pb2.Owner:
    return events_pb2.Owner(phone_number=phonenumber_pb2.PhoneNumber(e164=number))


def _fill_locations(
    target: events_pb2.LocationUpdateEvent.Locations, nodes: dict[str, str]
) -> None:
    target.msc.value = nodes["msc"]
    target.vlr.value = nodes["vlr"]
    target.sgsn.value = nodes["sgsn"]
    if "mme" in nodes:
        target.mme.value = nodes["mme"]
