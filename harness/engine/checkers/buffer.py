"""Buffer invariants: the configured limit holds, reads pull only what they need, max_bytes is honoured."""

from __future__ import annotations

from typing import Any

from ..registry import Checker, invariant
from ..verdict import ReadOp, is_buffer_full, is_unsatisfiable

GROUP = "reader contract"


def _limit(monitor: Any) -> int | None:
    limit = monitor.attr("max_buffer_size", None)
    return limit if isinstance(limit, int) else None


@invariant("buffer-bound", klass="contract", group=GROUP, builtin=True, observes=("stream-state",),
           requires=("_read_buffer_size", "max_buffer_size"),
           explanation="The read buffer never exceeds max_buffer_size while the stream is open (a flood closes "
           "it instead); the stream never closes for an overflow while what it holds fits in it, or while the "
           "first max_buffer_size bytes satisfy the pending read.")
class BufferBound(Checker):
    def on_step(self) -> None:
        m = self.monitor
        stream = m.stream  # (``m.attr`` of both, without its call: this runs after every step)
        buffered, limit = getattr(stream, "_read_buffer_size", None), getattr(stream, "max_buffer_size", None)
        if (isinstance(buffered, int) and isinstance(limit, int) and buffered > limit
                and not m.closed()):
            self.violate(f"the read buffer holds {buffered} bytes > max_buffer_size {limit}")

    def on_close(self) -> None:
        # The limit is inclusive: holding exactly max_buffer_size bytes is not an overflow (a line of that
        # length must still be read). Found by generated workloads, whose sizes land on the limit.
        m = self.monitor
        limit, error = _limit(m), m.attr("error", None)
        if limit is None or not is_buffer_full(error):
            return
        if m.held_len() <= limit:
            self.violate(f"the stream closed with {type(error).__name__} holding {m.held_len()} bytes, within "
                         f"max_buffer_size {limit}")
        elif m.pending_read is not None and m.pending_read.satisfiable(m.held(limit=limit)):
            # An overflow is only for a read the buffer cannot serve: one the first max_buffer_size bytes
            # satisfy (a delimiter the stream's search missed) must complete instead.
            self.violate(f"the stream closed with {type(error).__name__} while the first {limit} bytes it held "
                         f"satisfy the pending {m.pending_read.name}")


@invariant("overflow-error", klass="design", group=GROUP, builtin=True, observes=("stream-state",),
           requires=("max_buffer_size",),
           explanation="A stream closed by a buffer overflow records why: error is StreamBufferFullError (Tornado "
           "4.x leaves it None, so futures fail with real_error=None).")
class OverflowRecorded(Checker):
    def on_close(self) -> None:
        m = self.monitor
        limit, error = _limit(m), m.attr("error", None)
        held = m.held_len()
        # Bytes a streaming read handed to callbacks still queued count in held_len, not in the stream's buffer:
        # during a streaming read, where the stream says what it buffers, the smaller figure is what it held.
        buffered = m.attr("_read_buffer_size", None)
        op = m.pending_read
        if op is not None and op.streaming and isinstance(buffered, int) and not isinstance(buffered, bool):
            held = min(held, buffered)
        if limit is not None and held > limit and not is_buffer_full(error):
            self.violate(f"the stream overflowed max_buffer_size ({limit}) and closed with error {error!r} "
                         "instead of StreamBufferFullError")


@invariant("bounded-read", klass="design", group=GROUP, builtin=True, observes=("stream-state",),
           requires=("_read_buffer_size",),
           explanation="A pending read_bytes(n) or read_until(max_bytes=m) stops pulling from the fd once enough "
           "is buffered (within one read_chunk_size).")
class BoundedRead(Checker):
    def on_step(self) -> None:
        m = self.monitor
        op = m.pending_read
        if op is None or op.bound is None:  # no bounded read pending: nothing to judge (most steps)
            return
        buffered = m.attr("_read_buffer_size", None)
        # Only while open: pulling from the fd is what a bound limits (a closing TLS stream may still decrypt
        # records that already came off the fd, without any fd I/O).
        if not isinstance(buffered, int) or m.closed():
            return
        chunk = m.attr("read_chunk_size", 65536)
        chunk = chunk if isinstance(chunk, int) else 65536
        # What an unbounded read just before this one read ahead (a read_until without max_bytes reads all it
        # can, in the Tornado 4 design) was not pulled for this read: it may stay buffered.
        allowed = max(op.bound, op.carried) + chunk + m.record_slack
        if buffered > allowed:
            self.violate(f"{op.name} needs {op.bound} bytes but the stream buffered {buffered} (allowed: need + "
                         f"read_chunk_size {chunk})")


@invariant("max-bytes", klass="contract", group=GROUP, builtin=True, observes=("delivered", "stream-state"),
           explanation="An unsatisfiable read_until*(max_bytes=m) closes the stream with UnsatisfiableReadError "
           "as error, never raises synchronously, never matches beyond m bytes; a match ending within m bytes "
           "(m included) is never refused as unsatisfiable.")
class MaxBytes(Checker):
    def on_quiescent(self) -> None:
        m = self.monitor
        op = m.pending_read
        if op is not None and not m.closed() and op.overlong(m.held(op.decisive)):
            self.violate(f"{op.name} cannot be satisfied within max_bytes={op.max_bytes} but the stream is still "
                         "open and waiting")

    def on_close(self) -> None:
        m = self.monitor
        op, error = m.pending_read, m.attr("error", None)
        if m.expect_close_error == "UnsatisfiableReadError" and op is not None and op.overlong(m.held(op.decisive)):
            if not is_unsatisfiable(error):
                self.violate(f"{op.name} could not be satisfied within max_bytes={op.max_bytes}, but the stream "
                             f"closed with error {error!r}")
        if (op is not None and op.max_bytes is not None and is_unsatisfiable(error)
                and op.satisfiable(m.held(limit=op.max_bytes))):
            # The limit is inclusive: found by generated workloads, whose lines end exactly at max_bytes.
            self.violate(f"{op.name} was refused as unsatisfiable, but the bytes received hold a match ending "
                         f"within max_bytes={op.max_bytes}")

    def on_result(self, op: ReadOp, method: str, data: bytes, streaming: bool) -> None:
        if op.max_bytes is not None and not streaming and len(data) > op.max_bytes:
            self.violate(f"{method} returned {len(data)} bytes, more than max_bytes={op.max_bytes}")

    def on_read_raised(self, op: Any, method: str, exc: BaseException, after_close: bool) -> None:
        if is_unsatisfiable(exc):
            self.violate(f"{method} raised UnsatisfiableReadError synchronously")
