"""The seed's length-prefixed protocol: the server handler and the client, as ``async def``.

Rules for this module:
- This is the seed's ``server.py``/``client.py`` exchange kept faithful in its shape (a 4-byte
  big-endian length, then the payload; the server answers each message with ``b"server is good"`` and
  closes after ``b"break"``), only rewritten with ``async``/``await`` for the faultio loop.
- It uses only the public stream API, so any stream with Tornado's interface can serve it.
"""

from __future__ import annotations

import struct
from typing import Any

REPLY = b"server is good"
STOP = b"break"
#: The seed's client sends 13 numbered messages, then ``b"break"``.
SEED_MESSAGE_COUNT = 13


def seed_messages(count: int = SEED_MESSAGE_COUNT) -> list[bytes]:
    """The payloads the seed's client sends: ``hello world, 0.`` ... then ``break``."""
    return [f"hello world, {i}.".encode() for i in range(count)] + [STOP]


def frame(payload: bytes) -> bytes:
    """One message on the wire: the payload's length as 4 bytes, big-endian, then the payload."""
    return struct.pack("!I", len(payload)) + payload


async def handle_connection(stream: Any, received: list[bytes] | None = None) -> list[bytes]:
    """The seed's server: read framed messages, answer each, close after ``break``.

    Returns (and appends to ``received``, if given) every payload read, so a test sees how far it got
    even when the stream fails part-way.
    """
    got = received if received is not None else []
    payload = None
    try:
        while payload != STOP:
            header = await stream.read_bytes(4)
            (length,) = struct.unpack("!I", header)
            payload = await stream.read_bytes(length)
            got.append(payload)
            await stream.write(REPLY)
    finally:
        stream.close()
    return got


async def run_client(peer: Any, count: int = SEED_MESSAGE_COUNT) -> list[bytes]:
    """The seed's client over a ``faultio.Peer``: send each message, read each reply; return the replies."""
    replies = []
    for payload in seed_messages(count):
        await peer.send_all(frame(payload))
        reply = await peer.recv_exactly(len(REPLY))
        if not reply:
            break
        replies.append(reply)
    return replies


def seed_inbound_size(count: int = SEED_MESSAGE_COUNT) -> int:
    """How many bytes the server reads in a complete exchange (for placing faults inside it)."""
    return sum(len(frame(p)) for p in seed_messages(count))
