"""The ``asyncio-streams`` target's stream for the ``connect`` operation: asyncio's own connect path.

Rules for this module:
- asyncio has no stream before its connection exists, so the adapter (``AsyncioStreams``) is built unconnected
  and its ``connect(address, server_hostname=None)`` runs what an asyncio client runs: ``loop.sock_connect`` on
  the socket (the stdlib's non-blocking connect: ``connect()``, then wait for writability and read
  ``SO_ERROR``), then ``loop.create_connection(sock=...)`` with a ``StreamReaderProtocol`` (what
  ``asyncio.open_connection(sock=...)`` does; TLS: the client handshake, verifying the peer for
  ``server_hostname``). It returns a task resolving to the adapter.
- The writes the matrix makes before the connection exists wait for it in the adapter (asyncio has no writer
  yet); once it exists they go to ``StreamWriter.write`` and ``drain`` in the order they were made.
- Giving up on a connect is what an asyncio user does with ``asyncio.wait_for``: the adapter's ``close()``
  cancels a connect in progress, and closes the socket (as ``create_connection`` does when it fails).
- A failed connect is reported as every target reports it: its task fails with ``StreamClosedError`` whose
  ``real_error`` is asyncio's own exception (``None`` when the user gave up), and ``error`` is that exception.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .asyncio_streams import AsyncioStreams, StreamClosedError


class AsyncioConnectingStreams(AsyncioStreams):
    """``AsyncioStreams`` whose connection is made by ``connect()``, through ``loop.sock_connect``."""

    def __init__(self, sock: Any, *, loop: asyncio.AbstractEventLoop, limit: int, ssl_context: Any = None) -> None:
        self._address: asyncio.Future = loop.create_future()
        self._dialing: asyncio.Task | None = None
        self._gave_up = False
        super().__init__(sock, loop=loop, limit=limit, ssl_context=ssl_context)

    async def _connect(self, ssl_context: Any) -> None:
        address, server_hostname = await self._address
        self._dialing = self._loop.create_task(self._loop.sock_connect(self._sock, address))
        try:
            await self._dialing
        except asyncio.CancelledError:
            self._sock.close()
            if not self._gave_up:
                raise
            raise StreamClosedError() from None
        except BaseException:
            self._sock.close()  # sock_connect leaves the socket open; a client that gives up closes it
            raise
        # From here a failure closes the socket itself (create_connection closes the transport it made).
        kwargs = {"ssl": ssl_context, "server_hostname": server_hostname} if ssl_context is not None else {}
        transport, _ = await self._loop.create_connection(lambda: self._protocol, sock=self._sock, **kwargs)
        self.writer = asyncio.StreamWriter(transport, self._protocol, self.reader, self._loop)
        if self._closing:
            self.writer.close()

    def connect(self, address: Any, server_hostname: str | None = None) -> asyncio.Task:
        """Start connecting to ``address``; the task resolves to this adapter once connected (TLS: once the
        handshake is done), or fails with ``StreamClosedError(real_error=<asyncio's exception>)``."""
        if self._address.done():
            raise RuntimeError("connect() was already called")
        self._address.set_result((address, server_hostname))

        async def connected() -> AsyncioConnectingStreams:
            try:
                await asyncio.shield(self._connected)
            except StreamClosedError:
                raise
            except Exception as exc:
                raise StreamClosedError(real_error=exc) from exc
            return self

        return self._loop.create_task(connected())

    def close(self) -> None:
        if self.writer is None and not self._connected.done():
            # Giving up on the connect, as asyncio.wait_for would: cancel what is in progress.
            self._gave_up = True
            self._closing = True
            if self._dialing is not None:
                self._dialing.cancel()
            else:
                self._connected.cancel()
            return
        super().close()

    @property
    def error(self) -> BaseException | None:
        """asyncio's exception that kept the connection from coming up (``None`` when the user gave up), else
        ``StreamReader.exception()``."""
        connected = self._connected
        if connected.done() and not connected.cancelled():
            exc = connected.exception()
            if isinstance(exc, StreamClosedError):
                return exc.real_error
            if exc is not None:
                return exc
        return self.reader.exception()


def asyncio_connecting(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int, ssl_context: Any) -> Any:
    """An ``AsyncioConnectingStreams`` over the unconnected ``sock`` (TLS client for the ssl transport, trusting
    faultio's CA: the harness's TLS peer serves its certificate)."""
    context = None
    if transport == "ssl":
        import ssl

        from faultio._certs import certificate_authority

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        certificate_authority().configure_trust(context)
    return AsyncioConnectingStreams(sock, loop=io_loop.asyncio_loop, limit=max_buffer_size, ssl_context=context)
