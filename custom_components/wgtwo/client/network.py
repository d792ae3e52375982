"""Where a subscriber's SIMs are attached: ``NetworkInfoService.GetNetworkInfoForSubscriber``.

The operator answers with one :class:`NetworkInfo` per SIM of the number (a phone and a
watch share a number, each with its own SIM). The IMSI and ICCID name a SIM, not a network:
they are kept out of ``repr`` (so out of logs) and out of :meth:`NetworkInfo.as_dict`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import grpc

from .models import enum_table, timestamp_to_datetime
from .proto.wgtwo.common.v0 import identifiers_pb2, phonenumber_pb2
from .proto.wgtwo.subscription.v0 import network_info_pb2, network_info_pb2_grpc

SCOPE_NETWORK_INFO: Final = "subscription.network_information:read"

type Metadata = tuple[tuple[str, str], ...]
type NetworkInfoCall = Callable[
    [Metadata], Awaitable[network_info_pb2.GetNetworkInfoForSubscriberResponse]
]


class NetworkGeneration(StrEnum):
    """The radio generation of the network a SIM is attached to."""

    G2 = "2g"
    G3 = "3g"
    G4 = "4g"
    G5 = "5g"

    @property
    def label(self) -> str:
        """The generation as people write it: ``2G`` ... ``5G``."""
        return self.value.upper()


# NETWORK_GENERATION_2G -> "2g" ...; UNSPECIFIED (and numbers newer than the proto) -> None.
_GENERATIONS: Final = enum_table(
    NetworkGeneration, identifiers_pb2.NetworkGeneration.DESCRIPTOR, "NETWORK_GENERATION_"
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NetworkInfo:
    """One SIM's serving network. Empty wire fields are None.

    ``mcc`` and ``mnc`` name the serving network (its country is the MCC's); ``tadig`` is
    the roaming partner's code; ``msc``, ``vlr``, ``sgsn`` (global titles) and ``mme`` (an
    FQDN) are the nodes serving the SIM. ``timestamp`` is when the operator last saw it.
    """

    mcc: str | None
    mnc: str | None
    generation: NetworkGeneration | None
    tadig: str | None = None
    msc: str | None = None
    vlr: str | None = None
    sgsn: str | None = None
    mme: str | None = None
    timestamp: datetime | None = None
    imsi: str | None = dataclasses.field(default=None, repr=False)
    iccid: str | None = dataclasses.field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Return the network as JSON types (generation ``2G`` ... ``5G``); no SIM ids."""
        return {
            "generation": self.generation.label if self.generation is not None else None,
            "mcc": self.mcc,
            "mnc": self.mnc,
            "tadig": self.tadig,
            "msc": self.msc,
            "vlr": self.vlr,
            "sgsn": self.sgsn,
            "mme": self.mme,
            "timestamp": self.timestamp.isoformat() if self.timestamp is not None else None,
        }

    @classmethod
    def from_proto(cls, info: network_info_pb2.NetworkInfo) -> NetworkInfo:
        """Read one SIM's network off the wire."""
        return cls(
            mcc=info.network_identity.mcc or None,
            mnc=info.network_identity.mnc or None,
            generation=_GENERATIONS.get(info.network_generation),
            tadig=info.tadig.value or None,
            msc=info.msc.value or None,
            vlr=info.vlr.value or None,
            sgsn=info.sgsn.value or None,
            mme=info.mme.value or None,
            timestamp=(
                timestamp_to_datetime(info.timestamp) if info.HasField("timestamp") else None
            ),
            imsi=info.imsi.value or None,
            iccid=info.iccid.value or None,
        )


def newest(infos: Iterable[NetworkInfo]) -> NetworkInfo | None:
    """Return the SIM seen last (one without a time counts as the oldest); None for no SIM."""
    best: NetworkInfo | None = None
    for info in infos:
        if best is None or (
            info.timestamp is not None
            and (best.timestamp is None or info.timestamp > best.timestamp)
        ):
            best = info
    return best


def network_info_call(channel: grpc.aio.Channel, number: str, timeout: float) -> NetworkInfoCall:
    """Return the call asking for a subscriber's (E.164) networks, given the metadata."""
    stub = network_info_pb2_grpc.NetworkInfoServiceStub(channel)
    request = network_info_pb2.GetNetworkInfoForSubscriberRequest(
        phone_number=phonenumber_pb2.PhoneNumber(e164=number)
    )
    return lambda md: stub.GetNetworkInfoForSubscriber(request, metadata=md, timeout=timeout)


def network_infos(
    response: network_info_pb2.GetNetworkInfoForSubscriberResponse,
) -> list[NetworkInfo]:
    """Return the answer's networks, one per SIM, in the operator's order."""
    return [NetworkInfo.from_proto(info) for info in response.network_infos]
