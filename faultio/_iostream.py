"""IOStream: the seed's stream over a non-blocking socket-like object; re-exports BaseIOStream.

Rules for this module:
- Socket specifics only: ``recv``/``send``/``close``/``getsockopt(SO_ERROR)``/``connect`` and what their
  exceptions mean. Buffering, callbacks and close ordering belong to ``BaseIOStream``
  (``faultio._iostream_base`` and ``faultio._iostream_read``) and are never redone here.
- Works with anything socket-shaped (a real socket or a ``faultio`` fake fd): optional socket methods
  (``setblocking``, ``setsockopt``, ``family``) are used only if present.
- The SSL stream (``faultio._ssl``) subclasses ``IOStream`` and overrides the hooks kept overridable
  here: ``read_from_fd``, ``write_to_fd``, ``_handle_read``, ``_handle_write``, ``_handle_connect``,
  ``_add_io_state``, ``reading``, ``writing``, ``_got_empty_write``.
"""

from __future__ import annotations

import errno
import os
import socket as _socket
from typing import Any, Callable

from ._future import Future
from ._iostream_base import BaseIOStream
from ._iostream_util import ERRNO_INPROGRESS, errno_from_exception, gen_log, is_connreset, is_wouldblock
from ._loop import IOLoop

__all__ = ["BaseIOStream", "IOStream"]


class IOStream(BaseIOStream):
    """A ``BaseIOStream`` over a non-blocking socket (or any object with the socket surface).

    The socket must offer ``fileno()``, ``recv``, ``send``, ``close`` and
    ``getsockopt(SOL_SOCKET, SO_ERROR)``; ``connect`` is needed only for ``IOStream.connect``. It is put
    in non-blocking mode if it has ``setblocking``.
    """

    def __init__(self, socket: Any, *args: Any, **kwargs: Any) -> None:
        self.socket = socket
        setblocking = getattr(socket, "setblocking", None)
        if setblocking is not None:
            setblocking(False)
        super().__init__(*args, **kwargs)

    def fileno(self) -> Any:
        """The socket object rather than its number."""
        # The socket object itself: the loop asks it for fileno(), and can still identify it (by
        # ``fd``) when it is removed after the socket has closed.
        return self.socket

    def close_fd(self) -> None:
        """Close the socket and drop the stream's reference to it."""
        self.socket.close()
        self.socket = None

    def get_fd_error(self) -> BaseException:
        """The socket's pending ``SO_ERROR`` as the matching ``OSError`` subclass."""
        code = self.socket.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        # OSError(code, ...) builds the matching subclass (ConnectionResetError for ECONNRESET, ...).
        return OSError(code, os.strerror(code))

    def read_from_fd(self) -> bytes | None:
        """One ``recv`` of up to ``_next_read_size()`` bytes: the bytes, or ``None`` on EWOULDBLOCK and at EOF
        (after closing the stream). Other errors propagate."""
        if self._plain_read_size:
            # ``_next_read_size()``, written out (the call of every read of every readiness event).
            size = self.read_chunk_size
            room = self.max_buffer_size - self._rbuf.size
            if room < size:
                size = room if room > 0 else 1
        else:
            size = self._next_read_size()
        try:
            chunk = self.socket.recv(size)
        except BlockingIOError:  # what ``is_wouldblock`` says first, without the call
            return None
        except OSError as exc:
            if is_wouldblock(exc):
                return None
            raise
        if not chunk:
            # EOF: the peer closed its side.
            self.close()
            return None
        return chunk

    def write_to_fd(self, data: memoryview) -> int:
        """One ``send`` of ``data``; returns how many bytes went out (errors propagate)."""
        try:
            return self.socket.send(data)
        finally:
            # Drop our reference at once: the caller resizes the buffer behind this view.
            del data

    def connect(
        self, address: Any, callback: Callable[..., Any] | None = None, server_hostname: str | None = None
    ) -> Future | None:
        """Connect the (unconnected, non-blocking) socket to ``address``.

        Without ``callback``, returns a future that resolves to this stream once connected, or fails
        with ``StreamClosedError(real_error=...)``. Writes made before the connection completes are
        queued and sent once it does. ``server_hostname`` is for the SSL subclass.
        """
        self._connecting = True
        future: Future | None = None
        if callback is not None:
            self._connect_callback = callback
        else:
            future = self._connect_future = Future(label="connect")
        try:
            self.socket.connect(address)
        except OSError as exc:
            # A non-blocking connect normally raises EINPROGRESS/EWOULDBLOCK and completes later.
            # Anything else (ECONNREFUSED straight away, say) is reported as a failed connect.
            code = errno_from_exception(exc)
            if code not in ERRNO_INPROGRESS and not is_wouldblock(exc):
                if future is None:
                    gen_log.warning("Connect error on fd %s: %s", self._fd_label(), exc)
                self.close(exc_info=True)
                return future
        self._add_io_state(IOLoop.WRITE)
        return future

    def _handle_connect(self) -> None:
        """The socket became writable (or reported an error) while connecting: did it work?"""
        code = self.socket.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if code != 0:
            self.error = OSError(code, os.strerror(code))
            # Some loops report a failed connect as an ERROR event instead; that path ends here too.
            if self._connect_future is None:
                gen_log.warning(
                    "Connect error on fd %s: %s", self._fd_label(), errno.errorcode.get(code, code)
                )
            self.close()
            return
        # Connected. Clear the flag first: code run by the future below may write at once, and that
        # write must go straight out rather than wait for a connect that already happened.
        self._connecting = False
        if self._connect_callback is not None:
            callback, self._connect_callback = self._connect_callback, None
            self._run_callback(callback)
        if self._connect_future is not None:
            future, self._connect_future = self._connect_future, None
            future.set_result(self)

    def set_nodelay(self, value: bool) -> None:
        """Set ``TCP_NODELAY`` on TCP sockets; a no-op for other socket-like objects."""
        sock = self.socket
        if sock is None or getattr(sock, "family", None) not in (_socket.AF_INET, _socket.AF_INET6):
            return
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1 if value else 0)
        except OSError as exc:
            # EINVAL: the connection is already being torn down; nothing to tune any more.
            if errno_from_exception(exc) != errno.EINVAL and not is_connreset(exc):
                raise
