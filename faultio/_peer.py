"""The peer a test drives: async helpers over the ordinary end of a fake socket pair.

Rules for this module:
- The peer is deliberately simple and fault-free: it is the yardstick, not the thing under test. It uses
  only the fake socket's plain surface and the loop's handler API, never a stream class.
- Every wait is on fd readiness through the loop; nothing polls in a busy loop.
- ``PeerBase`` holds what ``Peer`` and ``faultio._tlspeer.TLSPeer`` share (waiting for readiness, and the
  receive helpers built on ``recv_some``); each subclass keeps only its own wire format.
"""

from __future__ import annotations

from typing import Any

from ._future import Future
from ._loop import IOLoop


class PeerBase:
    """What every peer shares: readiness waits on ``sock`` through ``loop``, and receive helpers.

    A subclass sets ``loop`` and ``sock`` and provides ``recv_some(bufsize)``: the next bytes (at least
    one), or ``b""`` once the connection has ended.
    """

    #: Prefix of the label of the futures ``_wait`` returns (shown in traces and reprs).
    _wait_label = "peer-wait"

    loop: IOLoop
    sock: Any

    def _wait(self, events: int) -> Future:
        """A future that resolves (to the ready events) once ``sock`` is ready for ``events``."""
        future = Future(label=f"{self._wait_label}-{events}")

        def ready(fd: int, got: int) -> None:
            self.loop.remove_handler(fd)
            future.set_result(got)

        self.loop.add_handler(self.sock.fileno(), ready, events)
        return future

    async def recv_some(self, bufsize: int = 65536) -> bytes:
        """The next bytes available (at least one, at most ``bufsize``), or ``b""`` once it has ended."""
        raise NotImplementedError()

    async def recv_exactly(self, nbytes: int) -> bytes:
        """Exactly ``nbytes`` bytes (plaintext, for a TLS peer); fewer only if the connection ends first."""
        out = bytearray()
        while len(out) < nbytes:
            data = await self.recv_some(nbytes - len(out))
            if not data:
                break
            out += data
        return bytes(out)

    async def recv_until_eof(self, limit: int = 1 << 30) -> bytes:
        """Everything (plaintext, for a TLS peer) until the connection ends, at most ``limit`` bytes."""
        out = bytearray()
        while len(out) < limit:
            data = await self.recv_some(min(65536, limit - len(out)))
            if not data:
                break
            out += data
        return bytes(out)


class Peer(PeerBase):
    """Drive the ordinary end of ``socketpair(loop, plan)`` from ``async def`` code.

    ``sent`` holds every byte this peer sent; ``received`` every byte it read.
    """

    def __init__(self, loop: IOLoop, sock: Any) -> None:
        self.loop = loop
        self.sock = sock
        self.sent = bytearray()
        self.received = bytearray()
        self.eof = False

    def send_now(self, data: bytes) -> None:
        """Send all of ``data`` at once (the peer's kernel buffer is large); fail loudly if it cannot."""
        view = memoryview(bytes(data))
        while view:
            sent = self.sock.send(view)
            self.sent += view[:sent]
            view = view[sent:]

    async def send_all(self, data: bytes) -> None:
        """Send all of ``data``, waiting for writability when the buffer is full."""
        view = memoryview(bytes(data))
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                await self._wait(IOLoop.WRITE)
                continue
            self.sent += view[:sent]
            view = view[sent:]

    async def recv_some(self, bufsize: int = 65536) -> bytes:
        """The next bytes available (at least one), or ``b""`` at EOF."""
        while True:
            try:
                data = self.sock.recv(bufsize)
            except BlockingIOError:
                await self._wait(IOLoop.READ)
                continue
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.eof = True
            self.received += data
            return data

    def close(self) -> None:
        """Close the peer's socket: the target reads EOF after what was sent."""
        self.sock.close()
