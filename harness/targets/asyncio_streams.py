"""Built-in target ``asyncio-streams``: ``asyncio.StreamReader``/``StreamWriter`` over the stdlib's own transports.

Rules for this module:
- The reader and writer are the stdlib's, made the way ``asyncio.start_server`` makes them for an accepted
  connection (``loop.connect_accepted_socket`` with a ``StreamReaderProtocol``; TLS through asyncio's own
  SSL protocol with a stdlib ``ssl.SSLContext`` holding faultio's test certificate), with the stream's
  buffer limit as ``limit``.
- ``AsyncioStreams`` maps each matrix operation onto one call of that public API and nothing more:
  ``read_bytes`` is ``readexactly``, a partial ``read_bytes`` is ``read(n)``, ``read_until`` is
  ``readuntil``, ``read_until_close`` is ``read()``, ``write`` is ``write`` then ``drain``, the close
  callback runs when ``wait_closed()`` returns. The API's end-of-stream answers are translated into the
  refusal every target gives (``StreamClosedError``, keeping asyncio's exception as ``real_error``);
  everything else it raises reaches the harness unchanged.
- What asyncio streams lack (callbacks, streaming reads, a per-read ``max_bytes``, a regex delimiter) is
  declared in ``LACKS``; the invariants their API does not promise (a close callback's ordering, closing on
  overflow) in ``NOT_PROMISED``, each with the reason.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from .._targets import Target

NAME = "asyncio-streams"
LACKS = {
    "*/callback": "asyncio streams have no callback API; coroutines only",
    "read_bytes_streaming": "asyncio streams have no streaming read",
    "read_until_max_bytes": "StreamReader.readuntil takes no per-read max_bytes (only the reader's limit)",
    "read_until_regex": "StreamReader has no regex delimiter",
    # Limits a generated sequence would set (harness._workloads.target_limits): not matrix cells.
    "max_buffer_size": "StreamReader has no overflow: its limit pauses the transport (back-pressure) and bounds "
                       "readuntil (LimitOverrunError, the bytes kept); sequences run it with a limit no read meets",
    "max_write_buffer_size": "StreamWriter.write never refuses bytes: drain() is its back-pressure",
}


#: The invariants asyncio's streams API does not promise, and why (listed as not applicable).
NOT_PROMISED = {
    "close-cb-after-futures": "asyncio streams have no close callback: the adapter's runs when wait_closed() "
                              "returns, in a task asyncio does not order against the read tasks",
    "close-cb-after-pending": "asyncio streams have no close callback (see close-cb-after-futures)",
    "overflow-error": "asyncio streams never overflow: the reader pauses the transport at twice its limit "
                      "(back-pressure) instead of closing with StreamBufferFullError",
    "no-read-when-buffered": "asyncio's transport reads whenever the fd is readable, whatever reads are pending, "
                             "until the reader holds twice its limit (flow control by pausing the transport)",
    "bounded-read": "asyncio's transport reads up to max_size (256 KiB) per readiness event whatever the pending "
                    "read needs; the bound is the reader's pause at twice its limit (buffer-bound checks it)",
}


class StreamClosedError(IOError):
    """A read or write refused because the connection ended.

    ``real_error`` is the error the connection was lost with (``None`` at a clean EOF), as Tornado's is;
    asyncio's own exception is the ``__cause__``. ``partial`` holds the bytes asyncio took from the buffer
    and handed over in its ``IncompleteReadError`` (they reached the caller)."""

    def __init__(self, real_error: BaseException | None = None, partial: bytes = b"") -> None:
        super().__init__(f"stream closed ({real_error!r})" if real_error is not None else "stream closed")
        self.real_error = real_error
        self.partial = partial


#: ``asyncio.selector_events._SelectorSocketTransport.max_size``: the most one transport read takes in.
TRANSPORT_MAX_READ = 256 * 1024


class _Protocol(asyncio.StreamReaderProtocol):
    """``StreamReaderProtocol`` unchanged, noting when the connection was lost (for ``closed()``)."""

    lost = False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = True
        super().connection_lost(exc)


class AsyncioStreams:
    """The matrix's view of an asyncio stream pair: Tornado-style methods returning asyncio tasks."""

    #: ``drain()`` is flow control: it returns while bytes still sit in the transport's buffer, so a
    #: completed write does not mean the bytes reached the fd (the write scenario does not expect it).
    faultio_write_done_means_sent = False
    faultio_not_applicable = NOT_PROMISED
    #: At the peer's EOF the reader sees EOF but the transport stays open (``StreamReaderProtocol.eof_received``
    #: returns True: a half-closed connection is the application's to close).
    faultio_closes_at_eof = False
    #: Every call is a task: a refused write (the stream closed) fails its task with ``StreamClosedError``
    #: instead of raising at the call.
    faultio_refuses_by_future = True
    #: A read that meets the end fails with ``IncompleteReadError`` carrying the bytes it took from the buffer
    #: (``readuntil``/``readexactly`` clear them from the reader): ``StreamClosedError.partial`` hands them over.
    faultio_failed_read_hands_over = True

    def __init__(self, sock: Any, *, loop: asyncio.AbstractEventLoop, limit: int, ssl_context: Any = None) -> None:
        self._loop = loop
        self.limit = limit
        #: The most the reader can hold: it pauses the transport once it holds more than twice its limit,
        #: and the read that crossed that line brought at most one transport read (``max_size``).
        self.max_buffer_size = 2 * limit + TRANSPORT_MAX_READ
        self.reader = asyncio.StreamReader(limit=limit, loop=loop)
        self._protocol = _Protocol(self.reader, loop=loop)
        self.writer: asyncio.StreamWriter | None = None
        self._sock = sock
        self._closing = False
        self._close_callback: Callable[[], Any] | None = None
        self._connected = loop.create_task(self._connect(ssl_context))

    async def _connect(self, ssl_context: Any) -> None:
        kwargs = {"ssl": ssl_context} if ssl_context is not None else {}
        transport, _ = await self._loop.connect_accepted_socket(lambda: self._protocol, sock=self._sock, **kwargs)
        self.writer = asyncio.StreamWriter(transport, self._protocol, self.reader, self._loop)
        if self._closing:
            self.writer.close()

    def _task(self, make: Callable[[], Awaitable[Any]]) -> asyncio.Task:
        async def run() -> Any:
            try:
                await asyncio.shield(self._connected)
                return await make()
            except asyncio.IncompleteReadError as exc:  # EOF (or the loss) came before the read's bytes
                raise StreamClosedError(real_error=self.reader.exception(), partial=exc.partial) from exc
            except ConnectionError as exc:  # the reader was given the error the connection was lost with
                raise StreamClosedError(real_error=exc) from exc
        return self._loop.create_task(run())

    # -- reads ------------------------------------------------------------------------------------------
    def read_bytes(self, num_bytes: int, partial: bool = False) -> asyncio.Task:
        if partial:
            return self._task(lambda: self._read_some(num_bytes))
        return self._task(lambda: self.reader.readexactly(num_bytes))

    async def _read_some(self, num_bytes: int) -> bytes:
        data = await self.reader.read(num_bytes)
        if not data and num_bytes:
            raise StreamClosedError()  # read(n) returns b"" only at EOF
        return data

    def read_until(self, delimiter: bytes, max_bytes: int | None = None) -> asyncio.Task:
        if max_bytes is not None:
            raise TypeError("asyncio streams take no max_bytes per read")
        return self._task(lambda: self.reader.readuntil(delimiter))

    def read_until_close(self) -> asyncio.Task:
        return self._task(lambda: self.reader.read())

    # -- writes -----------------------------------------------------------------------------------------
    def write(self, data: bytes) -> asyncio.Task:
        async def write() -> None:
            if self.writer is None or self.writer.is_closing():
                raise StreamClosedError(real_error=self.reader.exception())
            self.writer.write(data)
            await self.writer.drain()
        return self._task(write)

    def faultio_timed_write(self, data: bytes) -> asyncio.Task:
        """What a write under a deadline waits for: ``StreamWriter.write`` queues now (it never blocks), the
        task is ``drain()`` (what a user awaits under ``wait_for``); before the connection is made, ``write``."""
        if self.writer is None or self.writer.is_closing():
            return self.write(data)
        self.writer.write(data)
        return self._task(self.writer.drain)

    # -- closing ----------------------------------------------------------------------------------------
    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        first = self._close_callback is None
        self._close_callback = callback
        if first and callback is not None:
            self._loop.create_task(self._watch_close())

    async def _watch_close(self) -> None:
        try:
            await asyncio.shield(self._connected)
        except BaseException:  # the connection never came up: the socket is closed by asyncio
            pass
        else:
            try:
                await self.writer.wait_closed()  # type: ignore[union-attr]
            except Exception:  # wait_closed re-raises the error the connection was lost with
                pass
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            callback()

    def close(self) -> None:
        self._closing = True
        if self.writer is not None:
            self.writer.close()

    def closed(self) -> bool:
        """The connection is over: lost (closed, reset or aborted: the protocol's ``connection_lost`` ran),
        or it never came up. A closing TLS transport still exchanging ``close_notify`` is not closed yet."""
        if self._protocol.lost:
            return True
        return self._connected.done() and (self._connected.cancelled() or self._connected.exception() is not None)

    @property
    def _read_buffer_size(self) -> int:
        """Bytes the reader holds (read, not yet returned): what the buffer-bound rule measures."""
        return len(self.reader._buffer)

    @property
    def error(self) -> BaseException | None:
        """The exception the reader was given when the connection was lost (``StreamReader.exception()``), or
        the one that kept it from coming up (a reset or a failure during the TLS handshake)."""
        connected = self._connected
        if connected.done() and not connected.cancelled() and connected.exception() is not None:
            return connected.exception()
        return self.reader.exception()


def load() -> Target:
    def asyncio_streams(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int, ssl_context: Any) -> Any:
        """An ``AsyncioStreams`` over ``sock`` (TLS server side for the ssl transport)."""
        context = server_ssl_context() if transport == "ssl" else None
        return AsyncioStreams(sock, loop=io_loop.asyncio_loop, limit=max_buffer_size, ssl_context=context)

    return Target(name=NAME, factory=asyncio_streams, transports=("plain", "ssl"), loop="asyncio",
                  default_profile="cpython", lacks=dict(LACKS))


def server_ssl_context() -> Any:
    """A stdlib server ``ssl.SSLContext`` with the certificate faultio's TLS peer trusts."""
    import ssl

    from faultio._certs import server_certificate

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_certificate().configure_cert(context)
    return context
