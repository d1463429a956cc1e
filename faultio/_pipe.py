"""One direction of a fake connection: the bytes in flight, in order, with room for a peer's limit.

Rules for this module:
- A pipe holds segments in order: real bytes, or a generated flood (``GeneratedBytes``) that costs only what
  is read of it. It knows nothing of plans, faults or the loop; the fake fd (``faultio._fakefd``) decides
  what goes in and what comes out.
"""

from __future__ import annotations

import collections
from typing import Any

from ._bytelog import ByteLog
from ._cursor import GeneratedBytes


class Pipe:
    """Bytes in flight in one direction: ordered segments (real bytes or generated floods)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.segments: collections.deque[Any] = collections.deque()
        self.available = 0
        self.accepted = 0  # bytes ever written into the pipe
        self.delivered = 0  # bytes ever read out of it
        self.fin = False  # the writer shut down: EOF once drained
        self.dead = False  # connection reset: nothing more flows
        #: The reading end closed its socket (not a reset): the first segment sent to it is still accepted by
        #: the sender's kernel, and the RST it provokes makes every later send fail (``FakeSocket.send``).
        self.reader_closed = False
        self.rst_provoked = False

    def append(self, data: bytes) -> None:
        if self.fin or self.dead:
            return  # the other side is gone or cut: bytes are dropped, as on a real reset
        self.segments.append(data)
        self.available += len(data)
        self.accepted += len(data)

    def insert_generated(self, nbytes: int, pattern_seed: int) -> None:
        self.segments.appendleft(GeneratedBytes(nbytes, pattern_seed))
        self.available += nbytes
        self.accepted += nbytes

    def take(self, n: int, log: ByteLog | None = None) -> bytes:
        """Remove and return up to ``n`` bytes; ``log`` (if given) records them, generated runs cheaply."""
        segments = self.segments
        if n > 0 and segments and type(segments[0]) is bytes:
            # One piece of real bytes answers the whole call (a dribble's byte, a read the first segment
            # covers): no copy into a bytearray. Same bytes, same log, same counts as the loop below.
            seg = segments[0]
            size = len(seg)
            if size > n:
                piece = seg[:n]
                segments[0] = seg[n:]
            elif size == n or len(segments) == 1:
                piece = segments.popleft()
            else:
                piece = None
            if piece is not None:
                if log is not None:
                    log.append(piece)
                self.available -= len(piece)
                self.delivered += len(piece)
                return piece
        out = bytearray()
        while n > 0 and self.segments:
            seg = self.segments[0]
            if isinstance(seg, GeneratedBytes):
                offset = seg.offset
                piece = seg.take(n)
                if log is not None:
                    log.append_generated(seg.pattern, offset, len(piece))
                if not seg.remaining:
                    self.segments.popleft()
            elif len(seg) <= n:
                piece = self.segments.popleft()
            else:
                piece, self.segments[0] = seg[:n], seg[n:]
            if log is not None and not isinstance(seg, GeneratedBytes):
                log.append(piece)
            out += piece
            n -= len(piece)
        self.available -= len(out)
        self.delivered += len(out)
        return bytes(out)

    def discard(self) -> int:
        lost = self.available
        self.segments.clear()
        self.available = 0
        return lost
