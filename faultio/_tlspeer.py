"""The TLS peer a test drives: ``faultio.Peer``'s job, with TLS over the ordinary end of a socket pair.

Rules for this module:
- Like ``faultio._peer``, this is the yardstick, not the thing under test: simple, fault-free, no stream
  class. It runs pyOpenSSL in memory-BIO mode over the peer's ``FakeSocket``; every wait is on fd
  readiness through the loop, nothing polls.
- It exists to produce the TLS shapes a stream must survive: several records in one fd write (plaintext
  stranded in the target's SSL object), floods of application data, close with or without
  ``close_notify``. The *kernel* faults stay in the target fd's ``FaultPlan``; this module never invents
  an fd fault.
"""

from __future__ import annotations

from typing import Any, Iterable

from OpenSSL import SSL

from ._loop import IOLoop
from ._peer import PeerBase

#: The largest plaintext one TLS record carries (2**14); bigger sends are split into several records.
MAX_RECORD_PLAINTEXT = 16384


class TLSPeer(PeerBase):
    """Drive TLS over the ordinary end of ``socketpair(loop, plan)`` from ``async def`` code.

    ``context`` is a pyOpenSSL ``Context`` (see ``faultio._certs``); ``server_side`` picks the role;
    ``server_hostname`` (client role) is sent as SNI. ``sent``/``received`` hold every *plaintext* byte
    sent and read; ``ciphertext_sent`` counts the bytes put on the wire; ``eof`` says how the connection
    ended for this peer (``None`` while open, ``"close_notify"``, ``"ragged"`` or ``"reset"``).
    ``recv_exactly`` and ``recv_until_eof`` (from ``faultio._peer.PeerBase``) receive plaintext.
    """

    _wait_label = "tlspeer-wait"

    def __init__(
        self,
        loop: IOLoop,
        sock: Any,
        context: SSL.Context,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.server_side = server_side
        self.conn = SSL.Connection(context, None)
        if server_side:
            self.conn.set_accept_state()
        else:
            self.conn.set_connect_state()
            if server_hostname:
                self.conn.set_tlsext_host_name(server_hostname.encode("idna"))
        self.sent = bytearray()
        self.received = bytearray()
        self.ciphertext_sent = 0
        self.eof: str | None = None
        self.handshake_done = False

    # -- the wire -----------------------------------------------------------------------------------
    def _take_ciphertext(self) -> bytes:
        """Everything the SSL object has written into its outgoing memory BIO."""
        out = bytearray()
        while True:
            try:
                out += self.conn.bio_read(65536)
            except SSL.WantReadError:
                return bytes(out)

    async def _send_wire(self, data: bytes) -> None:
        """Put ``data`` on the fd in as few ``send`` calls as the kernel buffer allows."""
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                await self._wait(IOLoop.WRITE)
                continue
            self.ciphertext_sent += sent
            view = view[sent:]

    async def flush(self) -> None:
        """Send whatever ciphertext the SSL object has produced (handshake, records, alerts)."""
        data = self._take_ciphertext()
        if data:
            await self._send_wire(data)

    async def _feed(self) -> bool:
        """Move the next ciphertext from the fd into the SSL object; False at EOF or reset."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                await self._wait(IOLoop.READ)
                continue
            except (ConnectionResetError, BrokenPipeError):
                self.eof = self.eof or "reset"
                return False
            if not data:
                self.conn.bio_shutdown()
                return False
            self.conn.bio_write(data)
            return True

    # -- handshake ----------------------------------------------------------------------------------
    async def handshake(self) -> None:
        """Complete the TLS handshake; raises the ``OpenSSL.SSL.Error`` (or ``EOFError``) if it fails.

        Any alert the failing side produced is flushed to the fd first, so the target sees it.
        """
        while True:
            try:
                self.conn.do_handshake()
            except SSL.WantReadError:
                await self.flush()
                if not await self._feed():
                    await self.flush()
                    raise EOFError(f"the connection ended during the TLS handshake ({self.eof or 'eof'})")
                continue
            except SSL.Error:
                await self.flush()
                raise
            break
        await self.flush()
        self.handshake_done = True

    # -- sending ------------------------------------------------------------------------------------
    def _encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt ``plaintext`` into records (at most 16 KiB each) and return their ciphertext."""
        view = memoryview(bytes(plaintext))
        while view:
            # A memory BIO never fills up, so SSL_write takes everything it is given (one record per
            # MAX_RECORD_PLAINTEXT bytes) and never raises WantWriteError here.
            n = self.conn.send(view[:MAX_RECORD_PLAINTEXT])
            self.sent += view[:n]
            view = view[n:]
        return self._take_ciphertext()

    async def send_all(self, plaintext: bytes) -> None:
        """Send ``plaintext`` as TLS application data (records of at most 16 KiB)."""
        if plaintext:
            await self._send_wire(self._encrypt(plaintext))

    async def send_records(self, plaintexts: Iterable[bytes], *, coalesce: bool = True) -> None:
        """Send each plaintext as its own TLS record(s).

        With ``coalesce`` all the records go to the fd in **one** write, so one ``recv`` on the target hands
        its SSL object several records: after the SSL object returns the first record's plaintext, the rest
        is stranded inside it while the fd shows nothing to read. Without ``coalesce`` each record is its
        own write (the target may still receive several at once: a socket is a byte stream).
        """
        wire = bytearray()
        for plaintext in plaintexts:
            record = self._encrypt(plaintext)
            if coalesce:
                wire += record
            else:
                await self._send_wire(record)
        if wire:
            await self._send_wire(bytes(wire))

    async def flood(self, nbytes: int, *, chunk: int = MAX_RECORD_PLAINTEXT, pattern: bytes = b"F") -> int:
        """Send ``nbytes`` of application data through TLS in ``chunk``-sized writes.

        Stops early (without raising) if the target closes or resets the connection; returns how many
        plaintext bytes were sent.
        """
        sent = 0
        block = (pattern * (chunk // max(1, len(pattern)) + 1))[:chunk]
        while sent < nbytes:
            piece = block[: min(chunk, nbytes - sent)]
            try:
                await self.send_all(piece)
            except OSError:  # EPIPE/ECONNRESET: the target closed, as a flooded stream should
                break
            sent += len(piece)
        return sent

    # -- receiving ----------------------------------------------------------------------------------
    async def recv_some(self, bufsize: int = 65536) -> bytes:
        """The next plaintext available (at least one byte), or ``b""`` once the connection has ended.

        How it ended is in ``eof``. Post-handshake messages (TLS 1.3 session tickets) are processed on the
        way.
        """
        if self.eof is not None:
            return b""
        while True:
            try:
                data = self.conn.recv(bufsize)
            except SSL.WantReadError:
                await self.flush()  # a post-handshake message may need an answer
                if not await self._feed():
                    if self.eof is not None:  # reset: nothing more will ever decrypt
                        return b""
                continue
            except SSL.ZeroReturnError:
                self.eof = "close_notify"
                return b""
            except SSL.SysCallError:
                self.eof = "ragged"
                return b""
            except SSL.Error:
                self.eof = "error"
                return b""
            self.received += data
            return data

    # -- closing ------------------------------------------------------------------------------------
    async def close(self, notify: bool = True) -> None:
        """Close the connection.

        ``notify=True`` sends ``close_notify`` first (a clean TLS EOF); ``notify=False`` just closes the
        socket: a *ragged* EOF, which a careful reader must treat like a connection reset (a truncation
        attack looks exactly like this).
        """
        if notify and self.handshake_done and not self.sock.closed():
            try:
                self.conn.shutdown()
            except SSL.Error:
                pass
            try:
                await self.flush()
            except OSError:
                pass
        if not self.sock.closed():
            self.sock.close()

    def reset(self) -> None:
        """Abort the connection with an RST: the target's next ``recv`` raises ``ConnectionResetError``."""
        self.sock.reset()
