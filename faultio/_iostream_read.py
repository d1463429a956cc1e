"""The read path of the stream: read requests, the fd read loop, matching, delivery.

Rules for this module:
- ``ReadingMixin`` holds only the read half of ``BaseIOStream`` (``faultio._iostream_base``); it is never
  used alone. Its state (``_rbuf``, ``_read_bytes``, ``_read_future``, ...) is created by
  ``BaseIOStream.__init__``, and it uses the base's close/plumbing (``close``, ``_run_callback``,
  ``_maybe_add_error_listener``, ``_add_io_state``).
- Data flows one way: fd -> ``_read_to_buffer`` -> ``ReadBuffer`` -> ``_run_read_callback`` -> reader.
  Nothing else appends to or consumes from the buffer.
- Nothing the peer does is raised to the caller of a read method: it closes the stream with ``error``
  set. Only caller mistakes raise (bad arguments, "Already reading"). Arguments are checked before the
  read is registered, so a rejected call leaves the stream as it was.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ._errors import StreamBufferFullError, StreamClosedError, UnsatisfiableReadError
from ._future import Future
from ._iostream_util import check_int_arg, gen_log, is_eintr, mark_examined
from ._loop import IOLoop


def _compile_regex_arg(regex: Any) -> re.Pattern[bytes]:
    """The compiled form of ``read_until_regex``'s ``regex``; a str pattern is a ``TypeError``.

    The buffer holds bytes and a str regex cannot search bytes; left unchecked it would fail only inside
    the read loop, after the read was registered.
    """
    if isinstance(regex, re.Pattern) and isinstance(regex.pattern, bytes):
        return regex
    if isinstance(regex, (bytes, bytearray, memoryview)):
        return re.compile(bytes(regex))
    if isinstance(regex, re.Pattern):
        given = f"a compiled str regex {regex!r}"
    else:
        given = f"{type(regex).__name__} {regex!r}"
    if isinstance(regex, (str, re.Pattern)):
        given += "; the stream holds bytes: write the pattern as rb'...'"
    raise TypeError(f"read_until_regex() regex must be a bytes pattern or a compiled bytes regex, got {given}")


def _delimiter_arg(delimiter: Any) -> bytes:
    """``read_until``'s ``delimiter`` as ``bytes``: bytes-like and non-empty."""
    if not isinstance(delimiter, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"read_until() delimiter must be bytes-like (bytes, bytearray, memoryview), got "
            f"{type(delimiter).__name__} {delimiter!r}"
        )
    delimiter = bytes(delimiter)
    if not delimiter:
        raise ValueError("read_until() delimiter must be at least one byte long, got b''")
    return delimiter


class ReadingMixin:
    """The read methods and read machinery of ``BaseIOStream``."""

    def read_until_regex(
        self, regex: Any, callback: Callable[..., Any] | None = None, max_bytes: int | None = None
    ) -> Future | None:
        """Read until the first match of ``regex``; the result includes the match.

        With ``max_bytes``, a match that cannot end within that many bytes closes the stream with an
        ``UnsatisfiableReadError`` as ``error`` (never raised here). ``regex`` is a bytes pattern or a
        compiled bytes regex; ``max_bytes`` is ``None`` or a positive integer.
        """
        compiled = _compile_regex_arg(regex)
        max_bytes = check_int_arg("read_until_regex() max_bytes", max_bytes, minimum=1, allow_none=True)
        future = self._set_read_callback(callback, "read_until_regex")
        self._read_regex = compiled
        self._read_max_bytes = max_bytes
        return self._start_read(future)

    def read_until(
        self, delimiter: bytes, callback: Callable[..., Any] | None = None, max_bytes: int | None = None
    ) -> Future | None:
        """Read until ``delimiter``; the result includes it.

        With ``max_bytes``, a delimiter that cannot end within that many bytes closes the stream with an
        ``UnsatisfiableReadError`` as ``error`` (never raised here). ``delimiter`` is non-empty and
        bytes-like; ``max_bytes`` is ``None`` or a positive integer.
        """
        delimiter = _delimiter_arg(delimiter)
        max_bytes = check_int_arg("read_until() max_bytes", max_bytes, minimum=1, allow_none=True)
        future = self._set_read_callback(callback, "read_until")
        self._read_delimiter = delimiter
        self._read_max_bytes = max_bytes
        return self._start_read(future)

    def read_bytes(
        self,
        num_bytes: int,
        callback: Callable[..., Any] | None = None,
        streaming_callback: Callable[..., Any] | None = None,
        partial: bool = False,
    ) -> Future | None:
        """Read ``num_bytes`` bytes.

        With ``streaming_callback``, every chunk goes to it as it arrives and the final result is
        empty. With ``partial``, complete as soon as any bytes are available (never more than
        ``num_bytes``). ``num_bytes`` is a non-negative integer.
        """
        num_bytes = check_int_arg("read_bytes() num_bytes", num_bytes, minimum=0, allow_none=False)
        future = self._set_read_callback(callback, "read_bytes")
        self._read_bytes = num_bytes
        self._read_partial = partial
        self._streaming_callback = streaming_callback
        return self._start_read(future)

    def read_until_close(
        self, callback: Callable[..., Any] | None = None, streaming_callback: Callable[..., Any] | None = None
    ) -> Future | None:
        """Read everything until the stream closes.

        With ``streaming_callback``, every chunk goes to it and the final result is empty. On a closed
        stream this completes at once with whatever is buffered.
        """
        future = self._set_read_callback(callback, "read_until_close")
        self._streaming_callback = streaming_callback
        if self.closed():
            if isinstance(self.error, StreamBufferFullError):
                # The stream died of overflow, not of the peer closing: "until close" never happened.
                self._fail_unservable_read()
            else:
                self._finish_read_until_close()
            return future
        self._read_until_close = True
        return self._start_read(future)

    def _set_read_callback(self, callback: Callable[..., Any] | None, label: str) -> Future | None:
        """Register the completion target of a new read: ``callback``, or a new future (returned)."""
        self._note("read", op=label, style="callback" if callback is not None else "future",
                   buffered=self._rbuf.size)
        if self.reading():
            if self.closed():
                # The earlier read is about to fail (it waits only for scheduled callbacks to drain);
                # the useful news for the caller is that the stream is closed.
                raise StreamClosedError(real_error=self.error)
            raise RuntimeError(
                "Already reading: a read is still pending on this stream; wait for it to complete "
                "before starting another"
            )
        if callback is not None:
            self._read_callback = callback
            return None
        self._read_future = Future(label=label)
        return self._read_future

    def _start_read(self, future: Future | None) -> Future | None:
        try:
            self._try_inline_read()
        except UnsatisfiableReadError as exc:
            # Same treatment as in _handle_events: the stream closes; the caller never sees a raise.
            gen_log.info("Unsatisfiable read, closing connection: %s", exc)
            if self.closed():
                self._fail_unservable_read()
            else:
                self.close(exc_info=True)
        except BaseException:
            if future is not None:
                future.add_done_callback(mark_examined)
            raise
        return future

    def _clear_read_request(self) -> None:
        self._read_bytes = self._read_delimiter = self._read_regex = self._read_max_bytes = None
        self._read_partial = False

    def _fail_unservable_read(self) -> None:
        """The pending read can never complete: the stream is closed and the buffer cannot serve it.

        Tornado 4 raised from ``_check_closed`` here and left the read registered, so every later read
        on the stream failed with "Already reading". We unregister it first: a future fails with
        ``StreamClosedError``; a callback-style caller gets the ``StreamClosedError`` raised (it has
        nowhere else to go). Either way the next read is accepted.
        """
        if not self.reading():
            return  # already failed (or dropped) by _maybe_run_close_callback
        self._clear_read_request()
        streamed = self._streaming_callback is not None
        self._streaming_callback = None
        self._read_callback = None
        future, self._read_future = self._read_future, None
        error = StreamClosedError(real_error=self.error)
        if future is None:
            raise error
        if streamed:
            # Buffered bytes may just have been queued for the streaming callback; fail behind them
            # (see _run_read_callback).
            self._run_callback(future.set_exception, error)
        else:
            future.set_exception(error)

    def _try_inline_read(self) -> None:
        """Complete the current read from buffered data if possible, else from the fd, else wait.

        If the read is satisfied it completes now (a future) or on the next iteration (a callback);
        otherwise the stream starts listening for READ.
        """
        # Bytes already buffered go to a streaming callback first.
        self._run_streaming_callback()
        pos = self._find_read_pos()
        if pos is not None:
            self._read_from_buffer(pos)
            return
        if self.closed():
            self._fail_unservable_read()
            return
        try:
            pos = self._read_to_buffer_loop()
        except Exception:
            # If the fd failed inside the loop we already called close(), but the pretend pending
            # callback kept it from running the close callback. Run it before escaping.
            self._maybe_run_close_callback()
            raise
        if pos is not None:
            self._read_from_buffer(pos)
            return
        if self.closed():
            self._maybe_run_close_callback()
        else:
            self._add_io_state(IOLoop.READ)

    def _next_read_size(self) -> int:
        """How many bytes the next ``read_from_fd`` should ask for.

        ``read_chunk_size``, capped by the room left under ``max_buffer_size`` (at least 1, so a full
        buffer still learns whether more bytes are coming). A read that fits in the buffer therefore
        never overflows it, whatever the peer floods us with.
        """
        room = self.max_buffer_size - self._rbuf.size
        return min(self.read_chunk_size, room) if room > 0 else 1

    def _read_to_buffer_loop(self) -> int | None:
        """Pull from the fd until the pending read is satisfiable or the fd has nothing more.

        Returns a position satisfying the pending read, or ``None``. Called from ``_handle_read`` and
        ``_try_inline_read``.
        """
        if self._read_bytes is not None:
            target_bytes: int | None = self._read_bytes
        elif self._read_max_bytes is not None:
            target_bytes = self._read_max_bytes
        elif self.reading():
            # read_until without max_bytes, or read_until_close: read all we can, then look.
            target_bytes = None
        else:
            # Nobody is reading (the error listener fired): one read, to notice EOF or a reset.
            target_bytes = 0
        next_find_pos = 0
        # Pretend to have a pending callback so that an EOF or reset inside _read_to_buffer does not
        # run the close callback (or fail futures) while we are still in here. On the way out the
        # caller either establishes a real pending callback (via _read_from_buffer) or runs the close
        # callback itself. The increment sits outside the try so the finally always balances it.
        self._pending_callbacks += 1
        try:
            while not self.closed():
                # Read until EWOULDBLOCK: an SSL object may hold bytes that poll() cannot see, and the
                # only way to find them is to ask.
                if self._read_to_buffer() == 0:
                    break
                self._run_streaming_callback()
                # Enough bytes for a bounded read: stop pulling (flow control).
                if target_bytes is not None and self._rbuf.size >= target_bytes:
                    break
                # Otherwise look for a match, but only on the first read and whenever the buffer has
                # doubled. Capped at max_buffer_size: a read satisfiable within the buffer is found
                # before the next byte could overflow it.
                if self._rbuf.size >= next_find_pos:
                    pos = self._find_read_pos()
                    if pos is not None:
                        return pos
                    next_find_pos = min(self._rbuf.size * 2, self.max_buffer_size)
            return self._find_read_pos()
        finally:
            self._pending_callbacks -= 1

    def _read_to_buffer(self) -> int:
        """Read once from the fd into the buffer; return the byte count (0: nothing now, or closed).

        EINTR is retried silently. A reset closes the stream quietly; another ``OSError`` closes it
        with a warning; overflow closes it with ``StreamBufferFullError`` as ``error``. Any other
        exception closes the stream and propagates.
        """
        while True:
            try:
                chunk = self.read_from_fd()
            except OSError as exc:
                if is_eintr(exc):
                    # A signal interrupted the call before a byte moved: ask again, say nothing.
                    continue
                self._read_failed(exc)
                return 0
            except Exception:
                self.close(exc_info=True)
                raise
            break
        if not chunk:
            return 0
        self._rbuf.append(chunk)
        if self._rbuf.size > self.max_buffer_size:
            self._overflowed()
            return 0
        return len(chunk)

    def _read_failed(self, exc: OSError) -> None:
        """``read_from_fd`` raised ``exc`` (not EINTR): close the stream, with a warning unless it is a reset.
        Called while ``exc`` is being handled (``close`` takes it from there)."""
        if not self._is_connreset(exc):
            gen_log.warning("Read error on %s: %s", self._fd_label(), exc)
        # A reset is a connection close, not an error worth logging; ``error`` keeps it.
        self.close(exc_info=True)

    def _overflowed(self) -> None:
        """The last read took the buffer past ``max_buffer_size``: close with ``StreamBufferFullError``."""
        exc = StreamBufferFullError(
            f"Reached maximum read buffer size: {self._rbuf.size} bytes buffered, "
            f"max_buffer_size={self.max_buffer_size}"
        )
        gen_log.error("Reached maximum read buffer size")
        # The pending read cannot be satisfied within the buffer (one that could was found before
        # this byte arrived): forget it so close() does not serve it, and let it fail.
        self._clear_read_request()
        self.close(exc_info=(StreamBufferFullError, exc, None))

    def _run_streaming_callback(self) -> None:
        if self._streaming_callback is not None and self._rbuf.size:
            bytes_to_consume = self._rbuf.size
            if self._read_bytes is not None:
                bytes_to_consume = min(self._read_bytes, bytes_to_consume)
                self._read_bytes -= bytes_to_consume
            self._run_read_callback(bytes_to_consume, True)

    def _find_read_pos(self) -> int | None:
        """A position in the buffer that satisfies the pending read, or ``None``.

        Raises ``UnsatisfiableReadError`` when ``max_bytes`` makes the read impossible.
        """
        size = self._rbuf.size
        if self._read_bytes is not None and (size >= self._read_bytes or (self._read_partial and size > 0)):
            return min(self._read_bytes, size)
        if self._read_delimiter is not None:
            if size:
                loc = self._rbuf.find(self._read_delimiter)
                if loc != -1:
                    end = loc + len(self._read_delimiter)
                    self._check_max_bytes(self._read_delimiter, end)
                    return end
                # A delimiter ending within max_bytes would lie wholly inside the bytes we hold, so
                # holding max_bytes without one already settles it (Tornado 4 waited for one more
                # byte, and hung if the peer then went quiet).
                self._check_max_bytes(self._read_delimiter, size + 1)
        elif self._read_regex is not None:
            if size:
                end = self._rbuf.search(self._read_regex)
                if end != -1:
                    self._check_max_bytes(self._read_regex, end)
                    return end
                self._check_max_bytes(self._read_regex, size)
        return None

    def _check_max_bytes(self, delimiter: Any, size: int) -> None:
        if self._read_max_bytes is not None and size > self._read_max_bytes:
            raise UnsatisfiableReadError(
                f"delimiter {delimiter!r} not found within {self._read_max_bytes} bytes"
            )

    def _read_from_buffer(self, pos: int) -> None:
        """Complete the pending read with the first ``pos`` buffered bytes."""
        self._clear_read_request()
        self._run_read_callback(pos, False)
        self._drop_read_interest()

    def _drop_read_interest(self) -> None:
        """Stop listening for READ once no read is pending and bytes are left in the buffer.

        Tornado 4 only recomputed its event mask at the end of an fd event, so a read completed from
        ``_try_inline_read`` left READ registered: the next readiness event pulled more bytes into a
        buffer nobody was reading (no flow control). We drop READ as soon as the read completes; the
        next read, or the idle error listener once the buffer empties, registers it again.
        """
        state = self._state
        if (state is not None and state & IOLoop.READ and not self.reading() and self._rbuf.size
                and not self.closed()):
            self._state = state & ~IOLoop.READ
            self.io_loop.update_handler(self.fileno(), self._state)

    def _run_read_callback(self, size: int, streaming: bool) -> None:
        self._note("deliver", nbytes=size, streaming=streaming)
        if streaming:
            callback = self._streaming_callback
        else:
            callback = self._read_callback
            streamed = self._streaming_callback is not None
            self._read_callback = self._streaming_callback = None
            if self._read_future is not None:
                if callback is not None:
                    raise RuntimeError("a read has both a callback and a future")
                future, self._read_future = self._read_future, None
                if streamed:
                    # Chunks given to the streaming callback are still queued on the loop. Resolved
                    # now, the future would let an awaiting coroutine (which continues at once on a
                    # done future) start its next read and receive later bytes before those chunks
                    # are delivered. Queue the resolution behind them instead.
                    self._run_callback(future.set_result, self._consume(size))
                    return
                future.set_result(self._consume(size))
        if callback is not None:
            self._run_callback(callback, self._consume(size))
        else:
            # A scheduled callback adds the error listener after it runs; without one, do it now.
            self._maybe_add_error_listener()

    def _finish_read_until_close(self) -> None:
        """Hand everything buffered to a ``read_until_close``: the stream has closed."""
        if self._streaming_callback is not None and self._rbuf.size:
            self._run_read_callback(self._rbuf.size, True)
        self._run_read_callback(self._rbuf.size, False)

    def _consume(self, loc: int) -> bytes:
        # The amortised O(1) shrink lives in ReadBuffer.consume, exactly as the seed describes it.
        return self._rbuf.consume(loc)

    def _handle_read(self) -> None:
        """READ event: pull what the fd has and complete the pending read if it can be."""
        try:
            pos = self._read_to_buffer_loop()
        except UnsatisfiableReadError:
            raise
        except Exception as exc:
            gen_log.warning("error on read: %s", exc)
            self.close(exc_info=True)
            # _read_to_buffer closed the stream already, while the pretend pending callback was held,
            # so that close could not finish the job and this one is a no-op. Tornado 4 stopped here
            # and the close callback never ran; finish it now.
            self._maybe_run_close_callback()
            return
        if pos is not None:
            self._read_from_buffer(pos)
        else:
            self._maybe_run_close_callback()
