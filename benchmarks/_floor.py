"""The floor of ``bench_sim_vs_real.py``: the least a pure-Python reader, kernel and loop can do per event.

Rules for this module:
- It runs the benchmark's scenario (one byte per readiness event, then the delimiter, the same ``_Reads``
  scaffolding, the same counting wrapper round ``read_from_fd``) over the smallest pieces that still do the
  job: a pipe that is a deque, an fd whose ``recv`` raises a real ``BlockingIOError`` when it is empty, a
  loop that runs callbacks then polls its one fd, and a reader that reads until EWOULDBLOCK and then looks
  for the delimiter from where it stopped.
- None of it is faultio: no fault plan, no step budget, no trace, no close handling, no buffer limit, no
  pending-callback accounting. It measures what CPython charges for the scenario itself, so the ratio
  tornado6/floor is the most any pure-Python simulation of this scenario could show.
"""

from __future__ import annotations

import collections
import errno
from typing import Any, Callable


class _Fd:
    """One direction of a connection: bytes queued by ``send``, taken by ``recv``."""

    def __init__(self) -> None:
        self.segments: collections.deque[bytes] = collections.deque()

    def send(self, data: bytes) -> int:
        self.segments.append(data)
        return len(data)

    def recv(self, bufsize: int) -> bytes:
        if not self.segments:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return self.segments.popleft()

    def readable(self) -> bool:
        return bool(self.segments)


class _Loop:
    """Callbacks first (FIFO), then the one fd's handler when it is readable; until ``done()``."""

    def __init__(self, fd: _Fd, handler: Callable[[], None]) -> None:
        self.callbacks: collections.deque[Callable[[], Any]] = collections.deque()
        self.fd = fd
        self.handler = handler

    def add_callback(self, callback: Callable[[], Any]) -> None:
        self.callbacks.append(callback)

    def run(self, done: Callable[[], bool], max_iterations: int) -> None:
        callbacks = self.callbacks
        for _ in range(max_iterations):
            if done():
                return
            for _ in range(len(callbacks)):
                callbacks.popleft()()
            if self.fd.readable():
                self.handler()
        raise SystemExit(f"floor: the read did not finish within {max_iterations} loop iterations")


class _Reader:
    """Reads until EWOULDBLOCK, then looks for the delimiter where the last search stopped."""

    def __init__(self, fd: _Fd, delimiter: bytes) -> None:
        self.fd = fd
        self.delimiter = delimiter
        self.buffer = bytearray()
        self.scanned = 0
        self.result: bytes | None = None
        self.on_chunk: Callable[[int], None] = lambda n: None

    def read_from_fd(self) -> bytes | None:
        try:
            return self.fd.recv(65536)
        except BlockingIOError:
            return None

    def counted_read(self) -> bytes | None:
        chunk = self.read_from_fd()
        if chunk:
            self.on_chunk(len(chunk))
        return chunk

    def handle_read(self) -> None:
        while True:
            chunk = self.counted_read()
            if chunk is None:
                break
            self.buffer += chunk
        at = self.buffer.find(self.delimiter, self.scanned)
        if at >= 0:
            self.result = bytes(self.buffer[: at + len(self.delimiter)])
        else:
            self.scanned = max(0, len(self.buffer) - len(self.delimiter) + 1)


def build(delimiter: bytes) -> tuple[Callable[[bytes], int], Callable[[Any, int], bytes]]:
    """``(send, run)``: ``send`` is the writer's end; ``run(reads, nbytes)`` runs the dribbled read with the
    benchmark's ``_Reads`` scaffolding (which sends through ``send``) and returns what the read returned."""
    fd = _Fd()
    reader = _Reader(fd, delimiter)
    loop = _Loop(fd, reader.handle_read)

    def run(reads: Any, nbytes: int) -> bytes:
        def send_one() -> None:
            reads.send_next(nbytes)

        reader.on_chunk = reads.got
        reads.on_data = lambda: loop.add_callback(send_one)
        loop.add_callback(send_one)
        loop.run(lambda: reader.result is not None, 4 * nbytes + 100)
        return reader.result or b""  # run() ends only once the result is there

    return fd.send, run
