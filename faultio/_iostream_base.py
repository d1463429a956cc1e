"""BaseIOStream: the seed's non-blocking stream (Tornado 4.5's design), complete, minus the fd.

The read path is in ``faultio._iostream_read`` (``ReadingMixin``); this module holds construction, the fd
hooks, writing, closing and the loop plumbing (pending callbacks, error listener, event dispatch).

Rules for this module:
- This is code under test, not harness. It reaches the outside world only through the fd hooks a
  subclass provides (``fileno``, ``read_from_fd``, ``write_to_fd``, ``close_fd``, ``get_fd_error``) and
  the loop's handler/callback API. It never sleeps, never reads a fault plan, never knows it is tested.
- Attribute names are the seed's (``_read_buffer_size``, ``_pending_callbacks``, ``_state``, ...): the
  harness observes them. Buffer bookkeeping lives in ``faultio._buffer``; the seed's three buffer
  attributes are read-only views of it.
- User callbacks run from the loop through ``_run_callback``, never inline. Futures complete inline
  (their done-callbacks are the awaiting code's business).
- Nothing the peer does raises synchronously to the caller; it closes the stream with ``error`` set.
  Caller mistakes ("Already reading", wrong types) raise real exceptions, never a bare ``assert``, so
  ``python -O`` keeps them.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Any, Callable

from ._buffer import ReadBuffer
from ._errors import StreamBufferFullError, StreamClosedError, UnsatisfiableReadError
from ._future import Future
from ._iostream_fused import FusedReadEvent, fuses_read
from ._iostream_read import ReadingMixin
from ._iostream_util import (
    app_log,
    check_int_arg,
    gen_log,
    is_connreset,
    is_eintr,
    is_wouldblock,
    mark_examined,
)
from ._loop import IOLoop

_READ = IOLoop.READ


class BaseIOStream(ReadingMixin, FusedReadEvent):
    """A buffered, non-blocking stream over an abstract fd, driven by an ``IOLoop``.

    Reads (``read_bytes``, ``read_until``, ``read_until_regex``, ``read_until_close``) and ``write`` take
    an optional callback; without one they return a ``faultio.Future``. Only one read may be pending at
    a time. Subclasses supply ``fileno``, ``close_fd``, ``read_from_fd``, ``write_to_fd`` and
    ``get_fd_error``.

    ``max_buffer_size`` (default 100 MiB), ``read_chunk_size`` (default 64 KiB, capped at half the
    buffer) and ``max_write_buffer_size`` (default unlimited) are each ``None`` for the default or a
    positive integer; anything else is a ``ValueError``.
    """

    def __init__(
        self,
        io_loop: IOLoop | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> None:
        # Checked before anything else. Only None means "the default": a 0 must not quietly become
        # 100 MiB, and a negative buffer size would make every read overflow.
        max_buffer_size = _size_arg("max_buffer_size", max_buffer_size)
        read_chunk_size = _size_arg("read_chunk_size", read_chunk_size)
        max_write_buffer_size = _size_arg("max_write_buffer_size", max_write_buffer_size)
        self.io_loop = io_loop or IOLoop.current()
        self.max_buffer_size = max_buffer_size if max_buffer_size is not None else 104857600
        # A chunk as large as the whole buffer would make overflow depend on how the bytes happened to
        # be split into reads; half the buffer keeps it meaningful. Never 0: recv(0) looks like EOF.
        chunk = read_chunk_size if read_chunk_size is not None else 65536
        self.read_chunk_size = max(1, min(chunk, self.max_buffer_size // 2))
        self.max_write_buffer_size = max_write_buffer_size
        #: Why the stream closed: the exception, or ``None`` for a clean close/EOF.
        self.error: BaseException | None = None
        self._rbuf = ReadBuffer()
        self._write_buffer = bytearray()
        self._write_buffer_pos = 0
        self._write_buffer_size = 0
        # Non-zero while a subclass (SSL) needs the next write_to_fd to see the very same bytes again.
        self._write_buffer_frozen: int | bool = False
        self._pending_writes_while_frozen: list[bytes] = []
        self._total_write_index = 0
        self._total_write_done_index = 0
        self._read_delimiter: bytes | None = None
        self._read_regex: Any = None
        self._read_max_bytes: int | None = None
        self._read_bytes: int | None = None
        self._read_partial = False
        self._read_until_close = False
        self._read_callback: Callable[..., Any] | None = None
        self._read_future: Future | None = None
        self._streaming_callback: Callable[..., Any] | None = None
        self._write_callback: Callable[..., Any] | None = None
        self._write_futures: deque[tuple[int, Future]] = deque()
        self._close_callback: Callable[..., Any] | None = None
        self._connect_callback: Callable[..., Any] | None = None
        self._connect_future: Future | None = None
        self._ssl_connect_future: Future | None = None
        self._connecting = False
        self._state: int | None = None
        self._pending_callbacks = 0
        self._closed = False
        # Whether a READ event takes ``_fused_read_event`` (the class overrides none of the steps it writes
        # out), and whether ``_next_read_size`` is the base one (a read may then work it out inline). Decided
        # from the class as it is when the stream is made, so a method patched onto the class before counts.
        cls = type(self)
        self._fuses_read = fuses_read(cls, BaseIOStream)
        self._plain_read_size = cls._next_read_size is BaseIOStream._next_read_size
        # The fd number for traces and log lines, taken while the fd is open: after close_fd the socket
        # is gone (or says -1). A subclass that has no fd yet leaves it None; _fd_label fills it in
        # once there is one.
        self._fd_number: int | None = self._open_fd_number()

    # -- the seed's buffer attributes, as views of the ReadBuffer ---------------------------------
    @property
    def _read_buffer(self) -> bytearray:
        return self._rbuf.data

    @property
    def _read_buffer_pos(self) -> int:
        return self._rbuf.pos

    @property
    def _read_buffer_size(self) -> int:
        return self._rbuf.size

    # -- fd hooks (subclasses) -----------------------------------------------------------------------
    def fileno(self) -> Any:
        """The fd (an int or an object with ``fileno()``) to register with the loop."""
        raise NotImplementedError()

    def close_fd(self) -> None:
        """Close the underlying fd. Called exactly once, by ``close``."""
        raise NotImplementedError()

    def write_to_fd(self, data: memoryview) -> int:
        """Write some of ``data`` without blocking and return how many bytes went out.

        May raise ``BlockingIOError`` (nothing written), ``InterruptedError`` (retried) or another
        ``OSError``. Must not keep a reference to ``data``: it is released as soon as this returns.
        """
        raise NotImplementedError()

    def read_from_fd(self) -> bytes | None:
        """Read some bytes without blocking: the bytes, or ``None`` if nothing is available.

        At EOF, close the stream and return ``None``. Ask the fd for at most ``_next_read_size()``
        bytes (``read_chunk_size`` capped by the room left in the read buffer).
        """
        raise NotImplementedError()

    def get_fd_error(self) -> BaseException | None:
        """The error pending on the fd (``SO_ERROR``) as an exception, for an ERROR event."""
        return None

    def set_nodelay(self, value: bool) -> None:
        """Disable (or re-enable) Nagle's algorithm. A no-op for fds without one."""

    # -- writing -------------------------------------------------------------------------------------
    def write(self, data: bytes, callback: Callable[..., Any] | None = None) -> Future | None:
        """Queue ``data`` for writing and start sending it.

        The future resolves (or ``callback`` runs) once these bytes, and all queued before them, are
        handed to the fd. ``write(b"")`` completes as soon as earlier writes have, without waiting for
        writability. Raises ``StreamClosedError`` on a closed stream and ``StreamBufferFullError`` if
        ``max_write_buffer_size`` would be exceeded.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        self._check_closed()
        self._note("write", nbytes=len(data), style="callback" if callback is not None else "future")
        if not isinstance(data, bytes):
            data = bytes(data)
        if data:
            limit = self.max_write_buffer_size
            if limit is not None and self._write_buffer_size + len(data) > limit:
                raise StreamBufferFullError(
                    f"Reached maximum write buffer size: {self._write_buffer_size} bytes queued, "
                    f"{len(data)} more would exceed max_write_buffer_size={limit}"
                )
            if self._write_buffer_frozen:
                self._pending_writes_while_frozen.append(data)
            else:
                self._write_buffer += data
                self._write_buffer_size += len(data)
            self._total_write_index += len(data)
        if callback is not None:
            self._write_callback = callback
            future = None
        else:
            future = Future(label="write")
            future.add_done_callback(mark_examined)
            self._write_futures.append((self._total_write_index, future))
        if not self._connecting:
            self._handle_write()
            # Ask writing() rather than the buffer: a subclass that cannot write yet (an SSL server
            # still waiting for its handshake to read) says so there, and must not register WRITE
            # only to be woken up for ever by an always-writable socket.
            if self.writing():
                self._add_io_state(IOLoop.WRITE)
            self._maybe_add_error_listener()
        return future

    def _handle_write(self) -> None:
        """Send as much of the write buffer as the fd takes, then complete the writes that are done."""
        while self._write_buffer_size:
            size = self._write_buffer_frozen or self._write_buffer_size
            start = self._write_buffer_pos
            try:
                # Release the view before the buffer is resized (a live export makes that a BufferError).
                with memoryview(self._write_buffer) as whole, whole[start : start + size] as chunk:
                    num_bytes = self.write_to_fd(chunk)
            except OSError as exc:
                if is_eintr(exc):
                    # Tornado 4 closed the stream here. Nothing was written; try again.
                    continue
                if is_wouldblock(exc):
                    self._got_empty_write(size)
                    break
                if not self._is_connreset(exc):
                    gen_log.warning("Write error on %s: %s", self._fd_label(), exc)
                self.close(exc_info=True)
                return
            if not num_bytes:
                self._got_empty_write(size)
                break
            self._write_buffer_pos += num_bytes
            self._write_buffer_size -= num_bytes
            # Amortised O(1) shrink, as for the read buffer.
            if self._write_buffer_pos > self._write_buffer_size:
                del self._write_buffer[: self._write_buffer_pos]
                self._write_buffer_pos = 0
            if self._write_buffer_frozen:
                self._unfreeze_write_buffer()
            self._total_write_done_index += num_bytes
        while self._write_futures:
            index, future = self._write_futures[0]
            if index > self._total_write_done_index:
                break
            self._write_futures.popleft()
            future.set_result(None)
        if not self._write_buffer_size and self._write_callback is not None:
            callback, self._write_callback = self._write_callback, None
            self._run_callback(callback)

    def _got_empty_write(self, size: int) -> None:
        """Hook: a write attempt moved no bytes (EWOULDBLOCK). The SSL subclass freezes the buffer."""

    def _freeze_write_buffer(self, size: int) -> None:
        """Make the next write attempts present exactly the first ``size`` bytes again (SSL needs it)."""
        self._write_buffer_frozen = size

    def _unfreeze_write_buffer(self) -> None:
        self._write_buffer_frozen = False
        for data in self._pending_writes_while_frozen:
            self._write_buffer += data
            self._write_buffer_size += len(data)
        self._pending_writes_while_frozen = []

    # -- closing -------------------------------------------------------------------------------------
    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` (on a later iteration) once the stream is closed and quiet."""
        self._close_callback = callback
        self._maybe_add_error_listener()

    def close(self, exc_info: Any = False) -> None:
        """Close the stream.

        If ``exc_info`` is true, set ``error`` to the exception being handled (or, for a
        ``sys.exc_info()``-style tuple, to its second item). A pending ``read_until_close``, and a
        pending read the buffer can already satisfy, complete with the buffered bytes; every other
        pending future fails with ``StreamClosedError(real_error=error)``.
        """
        if self._closed:
            return
        if exc_info:
            if not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            if any(exc_info):
                self.error = exc_info[1]
        # Closed from here on: a reentrant close() returns at once and nothing registers with the loop.
        self._closed = True
        self._note("close", error=repr(self.error))
        # Pretend pending callback (as in _read_to_buffer_loop): while buffered data is handed out, the
        # close callback must not run and pending futures must not fail.
        self._pending_callbacks += 1
        try:
            if self._read_until_close:
                self._read_until_close = False
                if not isinstance(self.error, StreamBufferFullError):
                    self._finish_read_until_close()
            elif self.reading():
                self._run_streaming_callback()
                try:
                    pos = self._find_read_pos()
                except UnsatisfiableReadError:
                    pos = None
                if pos is not None:
                    self._read_from_buffer(pos)
        finally:
            self._pending_callbacks -= 1
        if self._state is not None:
            self.io_loop.remove_handler(self.fileno())
            self._state = None
        self.close_fd()
        self._maybe_run_close_callback()

    def _maybe_run_close_callback(self) -> None:
        # With callbacks still scheduled, wait: they run first, and the last one comes back here
        # through _maybe_add_error_listener.
        if not (self.closed() and self._pending_callbacks == 0):
            return
        futures = []
        if self._read_future is not None:
            futures.append(self._read_future)
            self._read_future = None
        futures += [future for _, future in self._write_futures]
        self._write_futures.clear()
        if self._connect_future is not None:
            futures.append(self._connect_future)
            self._connect_future = None
        if self._ssl_connect_future is not None:
            futures.append(self._ssl_connect_future)
            self._ssl_connect_future = None
        self._clear_read_request()
        self._streaming_callback = None
        for future in futures:
            future.set_exception(StreamClosedError(real_error=self.error))
        if futures:
            self._note("fail_futures", count=len(futures))
        if self._close_callback is not None:
            callback, self._close_callback = self._close_callback, None
            self._note("schedule_close_callback", pending=self._pending_callbacks)
            self._run_callback(self._run_close_callback_last, callback)
        # Drop unfinished callbacks and queued output to break reference cycles. The read buffer
        # stays: a read started after close may still be served from it.
        self._read_callback = self._write_callback = self._connect_callback = None
        self._write_buffer = bytearray()
        self._write_buffer_pos = 0
        self._write_buffer_size = 0
        self._pending_writes_while_frozen = []

    def _run_close_callback_last(self, callback: Callable[[], Any]) -> Any:
        # A read started on the closed stream after the close callback was scheduled (and served from
        # the buffer) queues its callback behind ours. The close callback must still come last, so it
        # steps back; the last pending callback brings it round again via _maybe_add_error_listener.
        if self._pending_callbacks > 0:
            self._close_callback = callback
            return None
        return callback()

    def closed(self) -> bool:
        """True once ``close`` has run."""
        return self._closed

    def reading(self) -> bool:
        """True while a read is pending."""
        return self._read_callback is not None or self._read_future is not None

    def writing(self) -> bool:
        """True while bytes wait in the write buffer."""
        return bool(self._write_buffer_size)

    def _check_closed(self) -> None:
        if self.closed():
            raise StreamClosedError(real_error=self.error)

    # -- loop plumbing -------------------------------------------------------------------------------
    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the next loop iteration, counting it in ``_pending_callbacks``.

        Scheduling (rather than calling) bounds the stack when a callback starts another operation
        that completes at once, and gives callbacks a predictable context.
        """

        def wrapper() -> Any:
            self._pending_callbacks -= 1
            try:
                return callback(*args)
            except Exception:
                app_log.error("Uncaught exception, closing connection.", exc_info=True)
                # Close now rather than leaving the fd to the garbage collector, then re-raise so the
                # loop sees (and records) the exception too.
                self.close(exc_info=True)
                raise
            finally:
                self._maybe_add_error_listener()

        self._pending_callbacks += 1
        self.io_loop.add_callback(wrapper)

    def _maybe_add_error_listener(self) -> None:
        # An idle stream must listen for READ to notice the peer closing. Registering at creation would
        # be wasted (the first read or write registers anyway), so we do it at the points where a
        # stream may become idle: after callbacks, writes, and futures completing.
        if self._pending_callbacks != 0:
            return
        if self._state is None or self._state == IOLoop.ERROR:
            if self.closed():
                self._maybe_run_close_callback()
            elif self._rbuf.size == 0 and self._close_callback is not None:
                self._add_io_state(IOLoop.READ)

    def _add_io_state(self, state: int) -> None:
        """Add ``state`` (``IOLoop.READ``/``WRITE``) to the events we listen for; ERROR is always in.

        Registration is delayed as long as possible (fast-path reads and writes need none); the first
        slow-path operation registers the fd with the loop.
        """
        if self.closed():
            return
        if self._state is None:
            self._state = IOLoop.ERROR | state
            self.io_loop.add_handler(self.fileno(), self._handle_events, self._state)
        elif not self._state & state:
            self._state = self._state | state
            self.io_loop.update_handler(self.fileno(), self._state)

    def _handle_events(self, fd: int, events: int) -> None:
        # The common event, on a stream whose class keeps the base read machinery: the same steps as below,
        # written out in one method (see ``_fused_read_event``).
        fused = events == _READ and self._fuses_read and not self._closed and not self._connecting
        if not fused and self.closed():
            gen_log.warning("Got events for closed stream %s", fd)
            return
        try:
            if fused:
                self._fused_read_event()
                return
            if self._connecting:
                # A failed connect may show up as READ, WRITE or ERROR; check it before anything else.
                self._handle_connect()
            if self.closed():
                return
            if events & IOLoop.READ:
                self._handle_read()
            if self.closed():
                return
            if events & IOLoop.WRITE:
                self._handle_write()
            if self.closed():
                return
            if events & IOLoop.ERROR:
                self.error = self.get_fd_error()
                # _handle_read/_handle_write may have queued user callbacks; close on a later
                # iteration so they run first.
                self.io_loop.add_callback(self.close)
                return
            # Listen for exactly what is pending now. An idle stream with an empty buffer keeps READ
            # to notice the peer closing; with bytes buffered it drops READ (flow control).
            state = IOLoop.ERROR
            if self.reading():
                state |= IOLoop.READ
            if self.writing():
                state |= IOLoop.WRITE
            if state == IOLoop.ERROR and self._rbuf.size == 0:
                state |= IOLoop.READ
            if state != self._state:
                if self._state is None:
                    raise RuntimeError("_handle_events ran for a stream that is not registered")
                self._state = state
                self.io_loop.update_handler(self.fileno(), self._state)
        except UnsatisfiableReadError as exc:
            self._close_unsatisfiable(exc)
        except Exception:
            gen_log.error("Uncaught exception, closing connection.", exc_info=True)
            self.close(exc_info=True)
            raise

    def _close_unsatisfiable(self, exc: UnsatisfiableReadError) -> None:
        """An event found the pending read unsatisfiable (``max_bytes``): close with it as ``error``.
        Called while ``exc`` is being handled (``close`` takes it from there)."""
        gen_log.info("Unsatisfiable read, closing connection: %s", exc)
        self.close(exc_info=True)
        # If an EOF inside the read loop closed the stream first, close() was a no-op; make sure
        # the futures fail and the close callback runs anyway.
        self._maybe_run_close_callback()

    def _handle_connect(self) -> None:
        """Hook: finish a non-blocking connect (see ``IOStream``)."""
        raise NotImplementedError()

    def _is_connreset(self, exc: BaseException) -> bool:
        """True for the errors that just mean the connection is gone (reset, abort, EPIPE, timeout)."""
        return is_connreset(exc)

    def _note(self, kind: str, **detail: Any) -> None:
        """Record a stream event in the loop's trace (faultio's loop has one; another loop may not)."""
        trace = getattr(self.io_loop, "trace", None)
        if trace is not None:
            trace.record("stream", kind, fd=self._fd_label(), **detail)

    def _fd_label(self) -> Any:
        """The fd number for traces and log lines (also after ``close_fd``), or ``"?"`` if never known."""
        if self._fd_number is None:
            self._fd_number = self._open_fd_number()
        return "?" if self._fd_number is None else self._fd_number

    def _open_fd_number(self) -> int | None:
        """The number of the fd ``fileno()`` gives now, or ``None`` if there is none (yet, or any more)."""
        try:
            fd = self.fileno()
            if not isinstance(fd, int):
                # A socket object: a fake fd keeps its number on ``fd``; a real socket only has fileno().
                number = getattr(fd, "fd", None)
                fd = number if isinstance(number, int) else fd.fileno()
        except Exception:
            return None
        # A closed real socket says -1: not a number worth remembering.
        return fd if isinstance(fd, int) and fd >= 0 else None


def _size_arg(name: str, value: Any) -> int | None:
    """A constructor size: ``None`` (the default) or a positive integer, else ``ValueError``."""
    return check_int_arg(name, value, minimum=1, allow_none=True, type_error=False)
