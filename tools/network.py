"""Where a subscriber's SIMs are attached (``scripts/wgtwo network --number N``).

One JSON line per SIM, as the operator lists them: ``generation`` (``2G`` ... ``5G``, null
when the operator does not say), ``mcc``, ``mnc``, ``tadig``, the serving nodes ``msc``,
``vlr``, ``sgsn``, ``mme`` (null when empty) and ``timestamp`` (when the operator last saw
the SIM). The SIM's IMSI and ICCID are not printed. A number without a SIM prints nothing.
"""

from __future__ import annotations

import argparse

from custom_components.wgtwo.client.network import SCOPE_NETWORK_INFO
from tools.wgtwo import EXIT_OK, Cli, add_timeout_argument, subcommand


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the subscriber's number and the call's timeout."""
    parser.add_argument(
        "--number", required=True, metavar="N", help="the subscriber's number, E.164"
    )
    add_timeout_argument(parser)


@subcommand(
    "network", "where a subscriber's SIMs are attached (one JSON line per SIM)", add_arguments
)
async def network(cli: Cli, args: argparse.Namespace) -> int:
    """Print the serving network of each of the number's SIMs."""
    actions = cli.actions(args, SCOPE_NETWORK_INFO)
    for info in await actions.get_network_info(args.number):
        if not cli.print_json(info.as_dict()):
            break
    return EXIT_OK
