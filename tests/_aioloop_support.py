"""What the tests of faultio._aioloop share: asyncio streams over a fake socket, the target's receives as the
trace shows them, seeded bytes. The ``make_kernel`` fixture is in ``conftest.py``."""

from __future__ import annotations

import asyncio
import random


from faultio import (
    Dribble,
    FaultPlan,
    IOLoop,
)

READ = IOLoop.READ
WRITE = IOLoop.WRITE
ERROR = IOLoop.ERROR

DRIBBLE = FaultPlan(read=(Dribble(),), name="dribble-reads")


async def open_streams(aloop, sock, **kwargs):
    """A ``StreamReader``/``StreamWriter`` pair over ``sock``, made as ``asyncio.start_server`` makes them for an
    accepted connection (``kwargs`` go to ``connect_accepted_socket``, e.g. ``ssl=``)."""
    reader = asyncio.StreamReader(limit=1 << 16, loop=aloop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=aloop)
    transport, _ = await aloop.connect_accepted_socket(lambda: protocol, sock=sock, **kwargs)
    return reader, asyncio.StreamWriter(transport, protocol, reader, aloop)


def target_reads(kernel):
    """The sizes of the target fd's receives that delivered bytes, in order."""
    return [e.get("nbytes") for e in kernel.trace.events(source="fd")
            if e.kind in ("recv", "recv_into") and e.get("role") == "target" and e.get("result") == "data"]


def random_bytes(n, seed=42):
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))
