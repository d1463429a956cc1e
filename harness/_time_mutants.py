"""Mutants for reads under a deadline: streams whose read timeout is broken in one way each.

Rules for this module (those of ``harness._mutants``, whose catalogue lists these):
- Each mutant is a small subclass of faultio's ``IOStream`` with the broken line marked ``# BUG:``; it is
  code under test and knows nothing of plans, monitors or slugs.
- A stream with a read timeout of its own says so with ``faultio_deadline`` (the adapter hook of
  ``harness._deadline``): an object with ``cancels`` and ``wait(loop, future, deadline)``, whose future ends
  in ``("ok", data)``, ``("error", exc)`` or ``("timeout", None)``. ``CancellableReads`` is the correct
  one: at the deadline it cancels the read and keeps every byte the read had taken in, so the next read
  gets them; each mutant breaks one thing of it.
"""

from __future__ import annotations

from typing import Any

from faultio import Future, IOStream
from faultio._time_faults import DeadlineError, with_timeout


class _StreamDeadline:
    """A stream's own read timeout: ``with_timeout`` at ``deadline + skew`` (``never``: no timer at all), then,
    with ``cancels``, the stream's ``cancel_read``."""

    def __init__(self, stream: Any, *, cancels: bool, skew: float = 0.0, never: bool = False) -> None:
        self.stream = stream
        self.cancels = cancels
        self.skew = skew
        self.never = never

    def wait(self, loop: Any, future: Any, deadline: float) -> Future:
        out = Future(label="stream-deadline")
        if self.never:
            inner = future
        else:
            # skew < 0 takes a share of the time left: a deadline that fires early, whatever its length.
            when = deadline + self.skew * (deadline - loop.time()) if self.skew < 0 else deadline + self.skew
            inner = with_timeout(loop, when, future, label="stream read")

        def done(f: Any) -> None:
            exc = f.exception()
            if isinstance(exc, DeadlineError):
                if self.cancels:
                    self.stream.cancel_read(future)
                out.set_result(("timeout", None))
            else:
                out.set_result(("error", exc) if exc is not None else ("ok", f.result()))

        inner.add_done_callback(done)
        return out


class ReadCancelled(Exception):
    """What a cancelled read's future holds (it is done, and says it was cancelled, as an asyncio future does)."""


class CancellableFuture(Future):
    """A faultio ``Future`` that can be cancelled: ``cancelled()`` then says so and ``result()`` raises
    ``ReadCancelled``."""

    __slots__ = ("_cancelled",)

    def __init__(self, label: str = "") -> None:
        super().__init__(label=label)
        self._cancelled = False

    def cancel(self) -> bool:
        """Cancel a pending future (True), or do nothing to a done one (False)."""
        if self.done():
            return False
        self._cancelled = True
        self.set_exception(ReadCancelled(f"{self.label or 'read'} was cancelled"))
        return True

    def cancelled(self) -> bool:
        """Whether ``cancel()`` ended this future."""
        return self._cancelled


class CancellableReads(IOStream):
    """faultio's stream with a read timeout that cancels the read at the deadline; the bytes already taken in
    stay buffered for the next read (correct: the reference for the mutants below)."""

    @property
    def faultio_deadline(self) -> _StreamDeadline:
        return _StreamDeadline(self, cancels=True)

    def cancel_read(self, future: Any) -> None:
        """Forget the pending read whose future is ``future`` (it fails with ``ReadCancelled``); the buffer keeps
        what it holds."""
        if self._read_future is future:
            self._read_future = None
            self._streaming_callback = None
            self._clear_read_request()
            future.cancel()

    def _set_read_callback(self, callback: Any, label: str) -> Future | None:
        """``IOStream._set_read_callback``, with a read future that can be cancelled."""
        future = super()._set_read_callback(callback, label)
        if future is None:
            return None
        self._read_future = CancellableFuture(label=label)
        return self._read_future


class CancelDropsTakenBytes(CancellableReads):
    """A timed-out read is cancelled and the bytes it had taken in (the buffer) are thrown away with it."""

    def cancel_read(self, future: Any) -> None:
        """``CancellableReads.cancel_read``, dropping the buffered bytes."""
        if self._read_future is future:
            super().cancel_read(future)
            self._consume(self._rbuf.size)  # BUG: these bytes were received and never delivered


class CancelLeavesReadState(CancellableReads):
    """A timed-out read's future is abandoned but the read stays registered: every later read is refused
    with "Already reading" until the abandoned one completes."""

    def cancel_read(self, future: Any) -> None:
        """Nothing: the read stays pending."""
        # BUG: the cancelled read's state is kept, so the stream refuses the caller's next read.


class DeadlineNeverFires(IOStream):
    """The stream's read timeout never arms its timer: a read under a deadline waits for as long as the data
    takes."""

    @property
    def faultio_deadline(self) -> _StreamDeadline:
        return _StreamDeadline(self, cancels=False, never=True)  # BUG: no timer


class DeadlineFiresEarly(IOStream):
    """The stream's read timeout fires halfway to the deadline."""

    @property
    def faultio_deadline(self) -> _StreamDeadline:
        return _StreamDeadline(self, cancels=False, skew=-0.5)  # BUG: half the time asked for


class DeadlineFiresLate(IOStream):
    """The stream's read timeout fires a millisecond after the deadline."""

    @property
    def faultio_deadline(self) -> _StreamDeadline:
        return _StreamDeadline(self, cancels=False, skew=0.001)  # BUG: the clock has moved on


class _DroppingWriteDeadline:
    """A write timeout that, when it fires, throws the stream's queued bytes away (``drop_queued``)."""

    cancels = False

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def wait(self, loop: Any, future: Any, deadline: float) -> Future:
        out = Future(label="stream-write-deadline")
        inner = with_timeout(loop, deadline, future, label="stream write")

        def done(f: Any) -> None:
            exc = f.exception()
            if isinstance(exc, DeadlineError):
                self.stream.drop_queued()
                out.set_result(("timeout", None))
            else:
                out.set_result(("error", exc) if exc is not None else ("ok", f.result()))

        inner.add_done_callback(done)
        return out


class WriteTimeoutDropsQueued(IOStream):
    """A write whose deadline fires gives up on the bytes still queued (its own and those before it) and
    completes their futures, but the stream stays open and takes the next write."""

    @property
    def faultio_deadline(self) -> _DroppingWriteDeadline:
        return _DroppingWriteDeadline(self)

    def drop_queued(self) -> None:
        """Forget every byte not yet handed to the fd; the pending writes complete as if sent."""
        # BUG: the bytes were accepted by write() and the stream stays open: they must still go out.
        self._write_buffer = bytearray()
        self._write_buffer_pos = self._write_buffer_size = 0
        self._total_write_done_index = self._total_write_index
        while self._write_futures:
            self._write_futures.popleft()[1].set_result(None)
