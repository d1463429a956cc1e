"""Invariant monitors: watch one stream through the loop, its fake fd and its seed-design state.

Rules for this module:
- Monitors only observe. They read the attributes the seed's design exposes (``_pending_callbacks``,
  ``_state``, ``_read_buffer_size``, ``_close_callback``, ``reading()``, ``closed()``, ``error``) and skip a
  check when a third-party stream does not have them; they never patch or call into the stream.
- Checks run where the invariant can first be seen to break: on each trace event (fd calls, handler
  registration), after each loop step, when the loop idles before a clock jump, and at quiescence.
- The first violation of each slug is kept, with the step and trace event it points at.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable

from faultio import IOLoop, UnsatisfiableReadError

from ._case import Violation
from ._compat import future_exception, is_buffer_full, is_stream_closed, is_unsatisfiable

RESET_FAMILY = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError)
READ, WRITE, ERROR = IOLoop.READ, IOLoop.WRITE, IOLoop.ERROR
_RECV_CALLS = ("recv", "recv_into")
_NO_STATE = object()
#: Loggers opened down to DEBUG while a monitor listens: faultio's own and the streams people test with.
WATCHED_LOGGERS = ("faultio", "tornado", "asyncio")


class ReadOp:
    """The read the harness is waiting for: what it asked, and when received data would satisfy it."""

    def __init__(self, name: str, *, nbytes: int | None = None, partial: bool = False,
                 delimiter: bytes | None = None, regex: Any = None, max_bytes: int | None = None) -> None:
        self.name = name
        self.nbytes = nbytes
        self.partial = partial
        self.delimiter = delimiter
        self.regex = regex
        self.max_bytes = max_bytes

    def satisfiable(self, held: bytes) -> bool:
        """Would a correct stream complete this read from ``held`` (bytes received, not yet delivered)?"""
        if self.nbytes is not None:
            return len(held) >= self.nbytes or (self.partial and len(held) > 0)
        if self.delimiter is not None:
            end = held.find(self.delimiter)
            return end >= 0 and (self.max_bytes is None or end + len(self.delimiter) <= self.max_bytes)
        if self.regex is not None:
            match = self.regex.search(held)
            return match is not None and (self.max_bytes is None or match.end() <= self.max_bytes)
        return False  # read_until_close completes only at close

    def overlong(self, held: bytes) -> bool:
        """True when ``max_bytes`` already proves this read unsatisfiable."""
        if self.max_bytes is None or len(held) < self.max_bytes:
            return False
        return not self.satisfiable(held[: self.max_bytes + 64])

    @property
    def bound(self) -> int | None:
        """How many bytes this read may make the stream buffer, or None when unbounded."""
        if self.nbytes is not None:
            return self.nbytes
        return self.max_bytes


class Delivered:
    """What reached the caller: its length, and its first ``keep`` bytes for the report. The bytes themselves
    are checked against the peer's as they arrive, so a reader that consumes a 1 GiB flood costs nothing."""

    __slots__ = ("head", "keep", "_size")

    def __init__(self, keep: int = 4096) -> None:
        self.head = bytearray()
        self.keep = keep
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __iadd__(self, data: bytes) -> Delivered:
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
        self._size += len(data)
        return self

    def __getitem__(self, key: slice) -> bytes:
        start, stop, _ = key.indices(self._size)
        if stop > len(self.head):
            raise IndexError(f"only the first {self.keep} delivered bytes are kept")
        return bytes(self.head[start:stop])


class _LogCatcher(logging.Handler):
    def __init__(self, monitor: Monitor) -> None:
        super().__init__(logging.DEBUG)
        self.monitor = monitor

    def emit(self, record: logging.LogRecord) -> None:
        self.monitor._on_log(record)


class Monitor:
    """Checks every invariant of ``INVARIANTS.md`` on one stream during one run."""

    def __init__(self, *, loop: IOLoop, stream: Any, fd: Any, truth: Callable[[], bytes],
                 held_len: Callable[[], int], ssl_pending: Callable[[], int] | None = None,
                 record_slack: int = 0) -> None:
        self.loop = loop
        self.stream = stream
        self.fd = fd
        self.truth = truth
        self.held_len = held_len
        self.ssl_pending = ssl_pending
        self.record_slack = record_slack
        self.violations: dict[str, Violation] = {}
        self.delivered = Delivered()
        self.pending_read: ReadOp | None = None
        self.futures: list[tuple[Any, str]] = []
        self.close_cb_runs = 0
        self.close_cb_set = False
        self.ops_started = 0
        self.read_events = 0
        self.expect_close_error: type[BaseException] | None = None
        self._was_closed = False
        self._closed_at_event = -1
        self._err_only: tuple[int, bool] | None = None
        self._eagain_step: tuple[int, int] = (-1, -1)
        self._eagain_in_step = 0
        self._fd_closed = False
        self._removals = 0
        self._eintr_seen = False
        self._reset_seen = False
        # The read future pending at the last fd read: the one an EOF, reset or overflow there must not fail.
        self._read_future_at_recv: Any = None
        # Reads on the closed stream judged at the end: (op, delivered before, held, in flight, how, event).
        self._late_reads: list[tuple[ReadOp, int, bytes, int, str, int]] = []
        self._log_handler = _LogCatcher(self)
        self.log_records: list[logging.LogRecord] = []
        loop.add_observer(self._observe)
        loop.trace.add_listener(self._on_event)
        logging.getLogger().addHandler(self._log_handler)
        # "No log line" means at any level: open the streams' loggers down to DEBUG while we listen, or a
        # record below the ambient level (WARNING by default) would never be made, let alone seen.
        self._levels = {name: logging.getLogger(name).level for name in WATCHED_LOGGERS}
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)

    def detach(self) -> None:
        """Stop watching: remove the log handler, restore the loggers' levels and stop observing the loop."""
        logging.getLogger().removeHandler(self._log_handler)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        try:
            self.loop.remove_observer(self._observe)
        except ValueError:
            pass

    # -- recording -----------------------------------------------------------------------------------
    def violate(self, slug: str, message: str, event: int = -1) -> None:
        """Record a violation of ``slug`` (only the first per slug) at trace ``event`` (default: the latest)."""
        if slug in self.violations:
            return
        if event < 0:
            event = self.loop.trace.count - 1
        self.violations[slug] = Violation(slug=slug, message=message, step=self.loop.step, event=event)
        self.loop.trace.record("harness", "violation", slug=slug, message=message)

    def _attr(self, name: str, default: Any = _NO_STATE) -> Any:
        return getattr(self.stream, name, default)

    def _closed(self) -> bool:
        try:
            return bool(self.stream.closed())
        except Exception:
            return False

    def _reading(self) -> bool:
        try:
            return bool(self.stream.reading())
        except Exception:
            return False

    def _writing(self) -> bool:
        try:
            return bool(self.stream.writing())
        except Exception:
            return False

    def held(self) -> bytes:
        """Bytes the stream has received and not delivered (as far as the monitor can reconstruct)."""
        start = len(self.delivered)
        return bytes(self.truth()[start : start + max(0, self.held_len())])

    # -- hooks the scenario driver calls -------------------------------------------------------------
    def op_started(self, op: ReadOp | None) -> None:
        """The scenario started an operation: ``op`` is its read, ``None`` for a write."""
        self.ops_started += 1
        if op is not None:
            self.pending_read = op

    def read_finished(self) -> None:
        """The outstanding read ended (served or failed): no read is pending now."""
        self.pending_read = None

    def deliver(self, data: bytes, via: str) -> None:
        """``data`` reached the caller (a result, a callback argument or a streaming chunk)."""
        if not data:
            return
        start = len(self.delivered)
        truth = self.truth()
        expected = bytes(truth[start : start + len(data)])
        self.delivered += data
        if expected != data:
            if len(expected) < len(data):
                what = f"{len(data) - len(expected)} byte(s) more than the peer sent"
            else:
                at = next(i for i, (a, b) in enumerate(zip(expected, data)) if a != b)
                what = f"byte {start + at} is {data[at]:#04x}, the peer sent {expected[at]:#04x}"
            self.violate("data-integrity", f"{via} delivered {len(data)} byte(s) at offset {start}: {what}")
        self.loop.trace.record("harness", "delivered", via=via, offset=start, nbytes=len(data),
                               data_hex=bytes(data[:64]).hex())

    def read_failed(self, op: ReadOp | None, exc: BaseException | None, how: str, *, after_close: bool = False) -> None:
        """A read ended without data: ``exc`` raised synchronously, failed its future, or (callback style)
        the stream closed with the read outstanding (``exc`` is None). ``after_close``: the read was
        started on a stream that was already closed."""
        self.loop.trace.record("harness", "read_failed", how=how, error=repr(exc))
        if op is None:
            return
        error = self._attr("error", None)
        if is_buffer_full(error) or is_unsatisfiable(error) or (
            error is not None and not isinstance(error, RESET_FAMILY)
        ):
            return  # the stream closed for a reason of its own; the data rule does not apply
        held = self.held()
        if after_close:
            buffered = self._attr("_read_buffer_size", None)
            in_flight = len(held) - buffered if isinstance(buffered, int) and 0 <= buffered < len(held) else 0
            if in_flight:
                # Some received bytes have left the buffer undelivered: a chunk still queued for an earlier
                # read's streaming callback (not this read's to have), or bytes lost. Judge once they have
                # had their chance to arrive (see finish).
                self._late_reads.append((op, len(self.delivered), held, in_flight, how,
                                         self.loop.trace.count - 1))
                return
        if op.satisfiable(held):
            if after_close:
                self.violate("reads-after-close", f"{op.name} on the closed stream failed ({how}) although "
                             f"the {len(held)} byte(s) it still holds would serve it")
            else:
                self.violate("data-before-eof", f"{op.name} failed ({how}) although the {len(held)} byte(s) "
                             "already received would satisfy it")

    def close_callback_ran(self) -> None:
        """The close callback ran: it must run once, after the pending callbacks and futures."""
        self.close_cb_runs += 1
        self.loop.trace.record("harness", "close_callback", run=self.close_cb_runs)
        if self.close_cb_runs > 1:
            self.violate("close-cb-once", f"the close callback ran {self.close_cb_runs} times")
        pending = self._attr("_pending_callbacks", None)
        if isinstance(pending, int) and pending > 0:
            self.violate("close-cb-after-pending",
                         f"the close callback started with _pending_callbacks == {pending}")
        for future, label in self.futures:
            if not future.done():
                self.violate("close-cb-after-futures",
                             f"the close callback ran while the {label} future was still pending")

    def data_callback_ran(self, kind: str) -> None:
        """A ``kind`` (read or write) callback ran: it must not follow the close callback."""
        if self.close_cb_runs:
            self.violate("close-cb-after-pending", f"a {kind} callback ran after the close callback "
                         "(the caller has already been told the stream is closed: a truncated response)")

    def track_future(self, future: Any, label: str) -> None:
        """Watch a stream future. One started on an already-closed stream is held to the reads-after-close
        rule instead of the close-ordering rules."""
        if self._closed():
            self.futures.append((future, label))
            return
        self.futures.append((future, label))
        future.add_done_callback(lambda f: self._future_done(f, label))

    def _future_done(self, future: Any, label: str) -> None:
        exc = future_exception(future)  # a foreign (Tornado) future has no _exception
        if exc is None:
            return
        if self._inside_read_loop():
            self.violate("pending-scoped", f"the {label} future failed with {exc!r} inside "
                         "_read_to_buffer_loop, while the pretend pending callback should hold it back")
        if not is_stream_closed(exc):
            self.violate("close-cb-after-futures",
                         f"the {label} future failed with {type(exc).__name__}, not StreamClosedError")
            return
        error = self._attr("error", None)
        if exc.real_error is not error:
            self.violate("close-cb-after-futures", f"the {label} future failed with StreamClosedError("
                         f"real_error={exc.real_error!r}) but stream.error is {error!r}")
        if self.close_cb_runs:
            self.violate("close-cb-after-futures", f"the {label} future failed after the close callback ran")

    def _inside_read_loop(self) -> bool:
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_name == "_read_to_buffer_loop" and frame.f_locals.get("self") is self.stream:
                return True
            frame = frame.f_back
        return False

    # -- trace events --------------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        if event.source == "fd" and event.get("fd") == self.fd.fd and event.get("role") == "target":
            self._on_fd_event(event)
        elif event.source == "loop" and event.get("fd") == self.fd.fd:
            self._on_loop_event(event)
        elif event.source == "loop" and event.kind == "add_callback" and self._closed() and not self._was_closed:
            self._check_close_inside_read_loop(event)

    def _check_close_inside_read_loop(self, event: Any) -> None:
        """The stream closed during this step and schedules a callback: if that happens inside
        ``_read_to_buffer_loop``, the pretend pending callback must have kept close handling back."""
        if not self._inside_read_loop():
            return
        future = self._read_future_at_recv
        exc = future_exception(future) if future is not None and future.done() else None
        if exc is not None:
            self.violate("pending-scoped", f"the read future failed with {exc!r} inside "
                         "_read_to_buffer_loop, while the pretend pending callback should hold it back", event.index)
        if self.close_cb_set and self.close_cb_runs == 0 and self._attr("_close_callback", _NO_STATE) is None:
            self.violate("pending-scoped", "the close callback was scheduled inside _read_to_buffer_loop (the "
                         "stream closed there), while the pretend pending callback should hold it back", event.index)

    def _on_fd_event(self, event: Any) -> None:
        kind = event.kind
        result = event.get("result")
        if kind == "close":
            if self._fd_closed:
                self.violate("no-io-after-close", f"close_fd ran {event.get('calls')} times", event.index)
            self._fd_closed = True
            return
        if kind not in _RECV_CALLS and kind != "send":
            return
        if self._fd_closed or result == "EBADF":
            self.violate("no-io-after-close", f"{kind} on the fd after it was closed", event.index)
        elif self._closed() and kind in _RECV_CALLS:
            self.violate("no-io-after-close", f"{kind} on the fd after the stream closed", event.index)
        if result == "EINTR":
            self._eintr_seen = True
        if result in ("ECONNRESET", "EPIPE") or (kind == "send" and result == "EPIPE"):
            self._reset_seen = True
        if kind in _RECV_CALLS:
            self._read_future_at_recv = self._attr("_read_future", None)
            if result == "EAGAIN" and not event.get("injected"):
                # A new operation may legitimately try the fd once more within the same step.
                if (event.step, self.ops_started) != self._eagain_step:
                    self._eagain_step, self._eagain_in_step = (event.step, self.ops_started), 0
                self._eagain_in_step += 1
                if self._eagain_in_step > 3:
                    self.violate("no-busy-loop", f"{self._eagain_in_step} reads answered EWOULDBLOCK in one "
                                 "loop step: the stream retries instead of waiting for readiness", event.index)
            if result == "data" and not self._reading() and not self._closed():
                buffered = self._attr("_read_buffer_size", 0)
                if isinstance(buffered, int) and buffered > 0:
                    self.violate("no-read-when-buffered", f"read the fd with {buffered} byte(s) already "
                                 "buffered and no read pending", event.index)

    def _on_loop_event(self, event: Any) -> None:
        kind = event.kind
        if kind == "update_handler" and event.get("error"):
            self.violate("error-always-registered", "update_handler on an fd that is not registered", event.index)
        elif kind == "remove_handler":
            if not event.get("registered"):
                self.violate("error-always-registered", "remove_handler on an fd that is not registered",
                             event.index)
            else:
                self._removals += 1
        elif kind == "handler":
            events = event.get("events", 0)
            if self._closed():
                self.violate("error-always-registered", f"fd events ({events:#x}) delivered to a closed stream",
                             event.index)
            if events & READ:
                self.read_events += 1
            if events & ERROR and not events & (READ | WRITE):
                self._err_only = (event.step, self._closed())

    def _on_log(self, record: logging.LogRecord) -> None:
        self.log_records.append(record)
        exc = record.exc_info[1] if record.exc_info else None
        text = record.getMessage()
        if isinstance(exc, InterruptedError) or "Interrupted system call" in text or "EINTR" in text:
            self.violate("eintr-invisible", f"EINTR produced a log line: {record.levelname} {text[:120]!r}")
        if record.levelno >= logging.WARNING and (
            isinstance(exc, RESET_FAMILY) or "reset by peer" in text or "Broken pipe" in text
        ):
            self.violate("reset-quiet-close", f"a connection reset was logged: {record.levelname} {text[:120]!r}")

    # -- loop observer -------------------------------------------------------------------------------
    def _observe(self, loop: IOLoop, what: str) -> None:
        self._check_state()
        closed = self._closed()
        if closed and not self._was_closed:
            self._was_closed = True
            self._on_close()
        if what == "step" and self._err_only is not None:
            step, was_closed = self._err_only
            self._err_only = None
            if step == loop.step and closed and not was_closed:
                self.violate("error-event-deferred-close",
                             "an ERROR event closed the stream inside the event handler itself")
        if what in ("idle", "quiescent"):
            self._check_idle()
        if what == "quiescent":
            self._check_quiescent()

    def _check_state(self) -> None:
        pending = self._attr("_pending_callbacks", None)
        if isinstance(pending, int) and pending < 0:
            self.violate("pending-nonnegative", f"_pending_callbacks is {pending}")
        closed = self._closed()
        buffered = self._attr("_read_buffer_size", None)
        limit = getattr(self.stream, "max_buffer_size", None)
        if not closed and isinstance(buffered, int) and isinstance(limit, int) and buffered > limit:
            self.violate("buffer-bound", f"the read buffer holds {buffered} bytes > max_buffer_size {limit}")
        op = self.pending_read
        # Only while open: pulling from the fd is what a bound limits (a closing TLS stream may still
        # decrypt records that already came off the fd, without any fd I/O).
        if op is not None and op.bound is not None and isinstance(buffered, int) and not closed:
            chunk = getattr(self.stream, "read_chunk_size", 65536)
            allowed = op.bound + chunk + self.record_slack
            if buffered > allowed:
                self.violate("bounded-read", f"{op.name} needs {op.bound} bytes but the stream buffered "
                             f"{buffered} (allowed: need + read_chunk_size {chunk})")
        state = self._attr("_state")
        if state is not _NO_STATE:
            mask = self.loop.handler_mask(self.fd.fd)
            if state is not None and not state & ERROR:
                self.violate("error-always-registered", f"_state {state:#x} does not include ERROR")
            if (state is None) != (mask is None):
                self.violate("error-always-registered", f"_state is {state!r} but the loop has "
                             f"{'no handler' if mask is None else f'a handler with mask {mask:#x}'}")

    def _on_close(self) -> None:
        error = self._attr("error", None)
        self.loop.trace.record("harness", "stream_closed", error=repr(error))
        if isinstance(error, InterruptedError) or (self._eintr_seen and isinstance(error, OSError)
                                                   and getattr(error, "errno", None) == 4):
            self.violate("eintr-invisible", f"the stream closed with error {error!r} after an EINTR")
        if self._reset_seen and error is not None and not isinstance(error, RESET_FAMILY) and not (
            is_buffer_full(error) or is_unsatisfiable(error)
        ):
            self.violate("reset-quiet-close", f"after a connection reset the stream's error is {error!r}, "
                         "not the reset")
        if self._reset_seen and error is None and self.fd.faults_injected and self._reset_from_plan():
            self.violate("reset-quiet-close", "the stream closed after a connection reset with error None")
        limit = getattr(self.stream, "max_buffer_size", None)
        if isinstance(limit, int) and self.held_len() > limit and not is_buffer_full(error):
            self.violate("buffer-bound", f"the stream overflowed max_buffer_size ({limit}) and closed with "
                         f"error {error!r} instead of StreamBufferFullError")
        op = self.pending_read
        if self.expect_close_error is UnsatisfiableReadError and op is not None and op.overlong(self.held()):
            if not is_unsatisfiable(error):  # the target's own class (tornado.iostream.UnsatisfiableReadError)
                self.violate("max-bytes", f"{op.name} could not be satisfied within max_bytes={op.max_bytes}, "
                             f"but the stream closed with error {error!r}")

    def _reset_from_plan(self) -> bool:
        return any(e.get("fault") in ("reset", "send_reset", "peer_reset") for e in self.loop.trace.events("fd", "inject"))

    def _idle(self) -> bool:
        if self._closed() or self._reading() or self._writing():
            return False
        if self._attr("_pending_callbacks", 0) != 0 or self._attr("_connecting", False):
            return False
        return not (self._attr("_ssl_accepting", False) or self._attr("_handshake_reading", False)
                    or self._attr("_handshake_writing", False))

    def _check_idle(self) -> None:
        state = self._attr("_state")
        if state is _NO_STATE or not self._idle():
            return
        if self._attr("_close_callback", None) is None or self._attr("_read_buffer_size", 0) != 0:
            return
        if state is None or not state & READ:
            self.violate("listen-when-idle", "the stream is idle with a close callback and an empty buffer "
                         f"but is not listening for READ (_state={state!r}): a peer's close goes unnoticed")

    def _check_quiescent(self) -> None:
        if self._closed() and self.close_cb_set and self.close_cb_runs == 0:
            self.violate("close-cb-eventually", "the loop is quiescent, the stream is closed and its close "
                         "callback never ran")
        pending = self._attr("_pending_callbacks", None)
        if isinstance(pending, int) and pending != 0:
            self.violate("pending-zero-at-rest", f"the loop is quiescent with _pending_callbacks == {pending}")
        op = self.pending_read
        if op is None:
            return
        held = self.held()
        if op.satisfiable(held):
            self.violate("liveness", f"{op.name} waits at quiescence although the {len(held)} byte(s) "
                         "received would satisfy it")
        if self.ssl_pending is not None and not self._closed():
            stranded = self.ssl_pending()
            if stranded:
                self.violate("liveness", f"{op.name} waits at quiescence with {stranded} byte(s) of plaintext "
                             "stranded inside the SSL object (the drain rule was not followed)")
        if not self._closed() and op.overlong(held):
            self.violate("max-bytes", f"{op.name} cannot be satisfied within max_bytes={op.max_bytes} but the "
                         "stream is still open and waiting")

    # -- the end -------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Checks that need the whole run: completion counts, fd call bounds, close bookkeeping."""
        for future, label in self.futures:
            if getattr(future, "completions", 1) > 1:
                self.violate("read-completes-once", f"the {label} future completed {future.completions} times")
            elif not future.done():
                slug = "write-fifo" if label.startswith("write") else "read-completes-once"
                self.violate(slug, f"the {label} future never completed")
        for op, start, held, in_flight, how, event in self._late_reads:
            # Bytes in flight then were delivered since (to the earlier read): only the rest was servable.
            servable = held[in_flight:] if len(self.delivered) >= start + in_flight else held
            if op.satisfiable(servable):
                self.violate("reads-after-close", f"{op.name} on the closed stream failed ({how}) although "
                             f"the {len(servable)} byte(s) it still held would serve it", event)
        fd = self.fd
        bound = fd.bytes_received + fd.faults_injected + self.read_events + self.ops_started + 8
        if fd.recv_calls > bound:
            self.violate("no-busy-loop", f"{fd.recv_calls} fd reads for {fd.bytes_received} bytes received, "
                         f"{fd.faults_injected} faults and {self.read_events} readiness events (bound {bound})")
        if self._closed():
            if fd.close_calls != 1:
                self.violate("no-io-after-close", f"close_fd ran {fd.close_calls} times, not once")
            if self._removals > 1:
                self.violate("no-io-after-close", f"the handler was removed {self._removals} times")
            if self.loop.handler_mask(fd.fd) is not None:
                self.violate("no-io-after-close", "the stream closed but its fd handler is still registered")
        self.detach()
