"""When the server has accepted a Subscribe stream (shared by the loop and the check)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

# A rejected call also delivers (empty) headers, with its status a moment later.
HEADERS_GRACE = 0.05


async def stream_accepted(call: Any, channel: grpc.aio.Channel, silent_after: float) -> bool:
    """Wait until the server accepted ``call``; return ``False`` if it ended first.

    Accepted means its headers arrived and it is still open ``HEADERS_GRACE`` later, or,
    for servers that send headers only with the first event, it is still open on a ready
    connection ``silent_after`` seconds after that wait (a refusal comes back at once).
    """
    try:
        async with asyncio.timeout(silent_after):
            await call.initial_metadata()
        await asyncio.sleep(HEADERS_GRACE)
    except TimeoutError:
        await channel.channel_ready()
        await asyncio.sleep(silent_after)
    except grpc.aio.AioRpcError:  # pragma: no cover - headers do not raise today
        return False
    return not call.done()
