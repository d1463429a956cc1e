"""The monitor: watches one stream through the loop, its fake fd and its state, and feeds the checkers.

Rules for this module:
- The monitor only observes. It keeps the facts every checker shares (bytes delivered, the read pending,
  the futures, the close callback's runs) and calls each applicable checker's hooks; it judges nothing.
- When each hook runs: ``on_fd``/``on_loop`` (or their compact forms ``on_fd_record``/``on_loop_record``) on
  trace events of the stream's fd whose result or kind the checker looks at, ``on_step`` after every loop step, ``on_idle`` before a clock jump, ``on_quiescent`` when nothing is left to run, ``on_close``
  the first step the stream is seen closed, the driver hooks when the stream's user sees something, and
  ``on_finish`` once at the end.
- A checker that raises is the harness's error, not the stream's: it is recorded in ``harness_errors``
  (naming the checker and the frame), the checker is switched off, and the stream is never disturbed.
- A checker whose ``requires`` the stream lacks is *not applicable*; it is listed, not run.
- The target's loggers are captured while a monitor listens: their records go to the trace and the
  checkers, not to the user's terminal.
- The *story* is what the stream's user saw, in order, as short strings (``read ok 12``, ``read closed
  StreamClosedError``, ``close-callback``, ...; see ``Monitor.tell``): a record for comparing targets
  (``harness._diff``), never an input to a verdict. Recording it never raises and never calls the stream
  beyond reading its ``error``.
- Watching costs little per event (a case runs tens of thousands): the monitor hears only the trace events it
  looks at (``Trace.add_listener(hears=...)``, compact records), makes a ``TraceEvent`` only for a checker
  that takes one, and asks faultio's own stream ``closed()``, ``reading()`` and ``writing()`` directly.
"""

from __future__ import annotations

import functools
import gc
import logging
import operator
import sys
import traceback
import zlib
from typing import Any, Callable

from faultio import BaseIOStream

from .hooks import HookTables, hears_add_callback, hears_fd, hears_loop
from .registry import CHECKERS, Checker, INVARIANTS
from .verdict import Delivered, future_exception, ReadOp, Violation, already_reading, is_buffer_full, is_closed_error, is_unsatisfiable

READ, WRITE, ERROR = 0x001, 0x004, 0x018
_NO_STATE = object()
#: Loggers captured while a monitor listens: faultio's own and those of the streams people test with.
WATCHED_LOGGERS = ("faultio", "tornado", "asyncio")
#: How many log records a case keeps for its report.
LOG_KEEP = 50
#: How long a violation message may be.
MESSAGE_KEEP = 2000
#: How many entries a case's story keeps (a run of identical entries is one entry, counted).
STORY_KEEP = 200
#: The fd results the monitor keeps a fact of (``eintr_seen``, ``reset_seen``).
_FACT_RESULTS = frozenset({"EINTR", "ECONNRESET", "EPIPE"})


class _LogCatcher(logging.Handler):
    def __init__(self, monitor: Monitor) -> None:
        super().__init__(logging.DEBUG)
        self.monitor = monitor

    def emit(self, record: logging.LogRecord) -> None:
        self.monitor._on_log(record)


def harness_frame(tb: Any) -> str:
    """``file:line in function`` of the innermost frame of ``tb`` (for naming a harness failure)."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "an unknown frame"
    last = frames[-1]
    return f"{_short(last.filename)}:{last.lineno} in {last.name}"


def _short(path: str) -> str:
    for anchor in ("/harness/", "/faultio/"):
        at = path.rfind(anchor)
        if at >= 0:
            return path[at + 1 :]
    return path


class Monitor:
    """Watches one stream during one run and runs every applicable registered checker on it."""

    def __init__(self, *, loop: Any, stream: Any, fd: Any, truth: Callable[[], bytes],
                 held_len: Callable[[], int], ssl_pending: Callable[[], int] | None = None,
                 record_slack: int = 0, only: Any = None) -> None:
        self.loop = loop
        self.stream = stream
        self.fd = fd
        number = getattr(fd, "fd", None)
        #: ``fd.fd``, read once: the monitor asks for it at every trace event it hears and the checkers after
        #: every step (a fake fd's number never changes). ``None`` for an fd without a number.
        self.fd_number: int | None = number if isinstance(number, int) else None
        #: ``fd_taken()`` when the last read to finish was unbounded, else None (see ``ReadOp.carried``).
        self._unbounded_end: int | None = None
        self.truth = truth
        self.held_len = held_len
        self.ssl_pending = ssl_pending
        self.record_slack = record_slack
        self.violations: dict[str, Violation] = {}
        self.harness_errors: list[str] = []
        self.delivered = Delivered()
        self.pending_read: ReadOp | None = None
        self.futures: list[tuple[Any, str]] = []
        #: ids of the futures started on an already-closed stream (the close-ordering rules skip them).
        self.late_futures: set[int] = set()
        self.close_cb_runs = 0
        self.close_cb_set = False
        self.ops_started = 0
        self.read_events = 0
        self.expect_close_error: str | None = None
        self.was_closed = False
        self.eintr_seen = False
        self.reset_seen = False
        #: How many reads under a deadline timed out (``timed_out``).
        self.timeouts = 0
        #: What a case of writes under deadlines wrote and its peer received (``harness._write_deadline``).
        self.write_log: Any = None
        #: The read future pending at the last fd read: the one an EOF, reset or overflow there must not fail.
        self.read_future_at_recv: Any = None
        self.log_records: list[logging.LogRecord] = []
        #: The story so far: ``[text, repeats]`` per entry (``tell``), and the entries past ``STORY_KEEP``.
        self._story: list[list[Any]] = []
        self._story_dropped = 0
        #: CRC-32 of every byte delivered to the caller (the bytes themselves are not all kept).
        self._delivered_crc = 0
        self.not_applicable: dict[str, str] = {}
        self.checkers: list[Checker] = []
        # faultio's own stream says closed(), reading() and writing() with a bool and never raises: ask it
        # directly (the checkers ask after every event and step) rather than through the safe readers below.
        kind = type(stream)
        if isinstance(stream, BaseIOStream):
            if kind.closed is BaseIOStream.closed:
                # ``closed()`` is ``return self._closed``: read it without a Python frame (the most asked of all).
                self.closed = functools.partial(operator.attrgetter("_closed"), stream)  # type: ignore[method-assign]
            if kind.reading is BaseIOStream.reading:
                self.reading = stream.reading  # type: ignore[method-assign]
            if kind.writing is BaseIOStream.writing:
                self.writing = stream.writing  # type: ignore[method-assign]
        #: A target adapter may say which invariants its library's API does not promise, and why
        #: (``faultio_not_applicable = {slug: reason}``): those are listed as not applicable, never run.
        declared = getattr(stream, "faultio_not_applicable", None) or {}
        for slug, cls in CHECKERS.items():
            if cls is None or (only is not None and slug not in only):
                continue
            if slug in declared:
                self.not_applicable[slug] = str(declared[slug])
                continue
            missing = [name for name in cls.invariant.requires if not hasattr(stream, name)]
            if missing:
                self.not_applicable[slug] = f"the stream has no {', '.join(missing)}"
                continue
            self.checkers.append(cls(self))
        self._index_hooks()
        self._log_handler = _LogCatcher(self)
        loop.add_observer(self._observe)
        # Three raw listeners, each hearing only the events it looks at (the trace asks ``hears`` once per
        # source and kind): the fd events, the loop's fd events, and, for the checkers that judge a callback
        # scheduled by a closed stream, ``add_callback``. A step's own ``callback`` event reaches none of them.
        trace = loop.trace
        trace.add_listener(self._on_fd_record, compact=True, hears=hears_fd)
        trace.add_listener(self._on_loop_record, compact=True, hears=hears_loop)
        if self._hooks["on_callback_scheduled"]:
            trace.add_listener(self._on_add_callback, compact=True, hears=hears_add_callback)
        self._loggers: list[tuple[logging.Logger, int, bool]] = []
        # "No log line" means at any level: open the streams' loggers down to DEBUG while we listen (or a
        # record below the ambient level would never be made) and keep their records off the terminal.
        # The stream's own package logs too (a project's stream under ``myproject.streams`` logs to
        # ``myproject...``): capture its top-level logger beside the well-known ones.
        package = type(stream).__module__.split(".")[0]
        for name in dict.fromkeys((*WATCHED_LOGGERS, package)):
            if name in ("builtins", "__main__"):
                continue
            logger = logging.getLogger(name)
            self._loggers.append((logger, logger.level, logger.propagate))
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
            logger.addHandler(self._log_handler)
        self._attached = True

    def _index_hooks(self) -> None:
        tables = self._tables = HookTables(self.checkers)
        self._hooks = tables.hooks
        self._fd_hooks = tables.fd
        self._loop_hooks = tables.loop

    def _call(self, hook: str, *args: Any) -> None:
        for checker, fn in self._hooks[hook]:
            try:
                fn(*args)
            except Exception as exc:
                self._checker_failed(checker, hook, exc)

    def _checker_failed(self, checker: Checker, hook: str, exc: Exception) -> None:
        where = harness_frame(exc.__traceback__)
        self.harness_errors.append(f"the {checker.slug} checker raised {type(exc).__name__}: {exc} "
                                   f"(in {hook}, at {where})"[:400])
        self.loop.trace.record("harness", "checker_error", slug=checker.slug, error=repr(exc)[:200])
        self.checkers.remove(checker)
        self._index_hooks()

    def detach(self) -> None:
        """Stop watching: give the loggers back as they were and stop observing the loop (idempotent)."""
        if not self._attached:
            return
        self._attached = False
        for logger, level, propagate in self._loggers:
            logger.removeHandler(self._log_handler)
            logger.setLevel(level)
            logger.propagate = propagate
        try:
            self.loop.remove_observer(self._observe)
        except ValueError:
            pass

    # -- recording -----------------------------------------------------------------------------------
    def violate(self, slug: str, message: str, event: int = -1) -> None:
        """Record a violation of ``slug`` (only the first per slug) at trace ``event`` (default: the latest)."""
        if slug in self.violations:
            return
        if len(message) > MESSAGE_KEEP:  # a target's 1 MiB exception message must not bloat every output
            message = f"{message[:MESSAGE_KEEP]}\u2026 [cut {len(message) - MESSAGE_KEEP} of {len(message)} characters]"
        if event < 0:
            event = self.loop.trace.count - 1
        self.violations[slug] = Violation(slug=slug, message=message, step=self.loop.step, event=event)
        self.loop.trace.record("harness", "violation", slug=slug, message=message)

    def tell(self, text: str) -> None:
        """Add ``text`` to the story of what the stream's user saw; the same text twice in a row is one entry
        seen twice. The entries: ``read ok N`` (a read's result, N bytes), ``chunk N`` (a streaming
        callback), ``read raised E`` (the read call raised), ``read closed E`` (its future failed with a
        closed error), ``read failed E`` (its future failed with another error), ``read ended by close`` (a
        callback-style read the close ended), ``write ok``, ``write failed E``, ``close-callback``, and
        ``closed`` or ``closed E`` (the stream seen closed, with its ``error``). ``E`` is a class name, with
        a ``StreamClosedError``'s ``real_error`` class in brackets."""
        if self._story and self._story[-1][0] == text:
            self._story[-1][1] += 1
        elif len(self._story) < STORY_KEEP:
            self._story.append([text, 1])
        else:
            self._story_dropped += 1

    def story(self) -> tuple[str, ...]:
        """The story as a tuple of strings (``text xN`` for an entry seen N times in a row), ending with
        ``delivered N crc32:XXXXXXXX``: how many bytes reached the caller and their CRC-32."""
        entries = [text if n == 1 else f"{text} x{n}" for text, n in self._story]
        if self._story_dropped:
            entries.append(f"... {self._story_dropped} more")
        entries.append(f"delivered {len(self.delivered)} crc32:{self._delivered_crc:08x}")
        return tuple(entries)

    def harness_error(self, message: str) -> None:
        """Record a failure of harness code (a driver, a scenario, a checker): the case cannot be judged."""
        message = message[:400]
        if message not in self.harness_errors:
            self.harness_errors.append(message)
        self.loop.trace.record("harness", "harness_error", message=message[:200])

    # -- safe readers of the stream's state ------------------------------------------------------------
    def attr(self, name: str, default: Any = _NO_STATE) -> Any:
        """The stream's attribute ``name``, or ``default`` (``NO_STATE``) when it has none."""
        return getattr(self.stream, name, default)

    def closed(self) -> bool:
        """``stream.closed()``, False when it cannot say."""
        try:
            return bool(self.stream.closed())
        except Exception:
            return False

    def reading(self) -> bool:
        """``stream.reading()``, False when it cannot say."""
        try:
            return bool(self.stream.reading())
        except Exception:
            return False

    def writing(self) -> bool:
        """``stream.writing()``, False when it cannot say."""
        try:
            return bool(self.stream.writing())
        except Exception:
            return False

    def held(self, limit: int | None = None) -> bytes:
        """Bytes the stream has received and not delivered (as far as the monitor can reconstruct), at most
        ``limit`` of them (a stream holding a 1 GiB flood must not make the monitor build a copy)."""
        start = len(self.delivered)
        size = max(0, self.held_len())
        if limit is not None:
            size = min(size, limit)
        return bytes(self.truth()[start : start + size])

    def inside(self, function: str) -> bool:
        """Whether the stream's method ``function`` is on the call stack (for the pretend-pending rule)."""
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_name == function and frame.f_locals.get("self") is self.stream:
                return True
            frame = frame.f_back
        return False

    def idle(self) -> bool:
        """Open, nothing read or written, no callback pending, not connecting or handshaking."""
        if self.closed() or self.reading() or self.writing():
            return False
        if self.attr("_pending_callbacks", 0) != 0 or self.attr("_connecting", False):
            return False
        return not (self.attr("_ssl_accepting", False) or self.attr("_handshake_reading", False)
                    or self.attr("_handshake_writing", False))

    # -- hooks the drivers call ----------------------------------------------------------------------
    def op_started(self, op: ReadOp | None) -> None:
        """An operation started: ``op`` is its read, ``None`` for a write."""
        self.ops_started += 1
        if op is not None:
            op.started_at = len(self.delivered)
            buffered = self.attr("_read_buffer_size", 0)
            if (self._unbounded_end is not None and self._unbounded_end == self.fd_taken()
                    and isinstance(buffered, int) and not isinstance(buffered, bool)):
                op.carried = buffered
            self.pending_read = op

    def fd_taken(self) -> int | None:
        """How many bytes the stream has taken from its fd so far (None when the fd does not keep them)."""
        received = getattr(self.fd, "received", None)
        return len(received) if received is not None else None

    def read_finished(self) -> None:
        """The outstanding read ended (served or failed): no read is pending now."""
        op = self.pending_read
        # An unbounded read (no nbytes, no max_bytes) may read ahead: remember how far the fd was taken then.
        self._unbounded_end = self.fd_taken() if op is not None and op.bound is None else None
        self.pending_read = None

    def deliver(self, data: bytes, via: str) -> None:
        """``data`` reached the caller (a result, a callback argument or a streaming chunk)."""
        if not data:
            return
        start = len(self.delivered)
        expected = bytes(self.truth()[start : start + len(data)])
        self.delivered += data
        try:
            self._delivered_crc = zlib.crc32(data, self._delivered_crc)
        except TypeError:  # not a bytes-like object: the integrity checker says so
            pass
        if via.endswith("streaming_callback"):
            self.tell(f"chunk {_size(data)}")
        self._call("on_deliver", data, via, start, expected)
        self.loop.trace.record("harness", "delivered", via=via, offset=start, nbytes=len(data),
                               data_hex=bytes(data[:64]).hex())

    def read_result(self, op: ReadOp, method: str, data: bytes, streaming: bool) -> None:
        """A read completed with ``data`` (its final result; streamed chunks went through ``deliver``)."""
        self.tell(f"read ok {_size(data)}")
        self._call("on_result", op, method, data, streaming)
        if not streaming:
            self.deliver(data, method)

    def read_failed(self, op: ReadOp | None, exc: BaseException | None, how: str, *,
                    after_close: bool = False) -> None:
        """A read ended without data: ``exc`` raised synchronously, failed its future, or (callback style)
        the stream closed with the read outstanding (``exc`` is None). ``after_close``: the read was
        started on a stream that was already closed."""
        self.loop.trace.record("harness", "read_failed", how=how, error=repr(exc))
        if how != "raised":  # a read that raised is in the story already (``read_raised``)
            self.tell("read ended by close" if exc is None else f"read closed {error_name(exc)}")
        if op is not None:
            self._call("on_read_failed", op, exc, how, after_close)

    def read_raised(self, op: ReadOp | None, method: str, exc: BaseException, *, after_close: bool,
                    crash: bool = True) -> str:
        """A read call raised ``exc`` synchronously. Returns ``"closed"`` when the stream refused or closed
        (``StreamClosedError``, a documented ``StreamBufferFullError``, an ``UnsatisfiableReadError``, which
        ``max-bytes`` judges) and ``"crashed"`` otherwise. With ``crash`` an exception no rule covers is a
        ``target-crashed`` violation (the plugin passes False: the user's test sees the exception)."""
        self.read_finished()
        self.tell(f"read raised {error_name(exc)}")
        self.loop.trace.record("harness", "read_raised", method=method, error=repr(exc)[:200])
        if is_closed_error(exc):
            self.read_failed(op, exc, "raised", after_close=after_close)
            return "closed"
        self._call("on_read_raised", op, method, exc, after_close)
        if is_unsatisfiable(exc) or is_buffer_full(exc):
            # Tornado 4.x documents StreamBufferFullError as "raised by IOStream methods when the buffer is
            # full": the stream is closed, and the overflow checkers judge the close.
            return "closed"
        if crash and not already_reading(exc):  # "Already reading" has a rule of its own
            self.violate("target-crashed", f"{method} raised {exc!r}")
        return "crashed"

    def deadline_set(self, op: ReadOp, method: str, deadline: float) -> None:
        """The caller waits for ``op`` until virtual time ``deadline`` (a read under a deadline)."""
        self.loop.trace.record("harness", "deadline_set", op=op.name, deadline=deadline)
        self._call("on_deadline", op, method, deadline)

    def timed_out(self, op: ReadOp, method: str, deadline: float) -> None:
        """The caller's wait for ``op`` ended at its deadline (``deadline``) without the read's outcome."""
        self.tell("read timed out")
        self.timeouts += 1
        self.loop.trace.record("harness", "timed_out", op=op.name, method=method, deadline=deadline,
                               held=max(0, self.held_len()))
        self._call("on_timeout", op, method, deadline)

    def deadline_cleared(self, op: ReadOp) -> None:
        """The caller's wait for ``op`` ended with the read's own outcome (or the caller gave up): no deadline
        is pending any more."""
        self._call("on_deadline_cleared", op)

    def close_callback_ran(self) -> None:
        """The close callback ran."""
        self.close_cb_runs += 1
        self.tell("close-callback")
        self.loop.trace.record("harness", "close_callback", run=self.close_cb_runs)
        self._call("on_close_callback")

    def data_callback_ran(self, kind: str) -> None:
        """A ``kind`` (read, streaming or write) callback ran."""
        if kind == "write":  # a read's callback is told by ``read_result``
            self.tell("write ok")
        self._call("on_data_callback", kind)

    def track_future(self, future: Any, label: str) -> None:
        """Watch a stream future (any library's: only ``done``/``exception``/``add_done_callback`` are used).
        One started on an already-closed stream is held to the reads-after-close rule instead of the
        close-ordering rules."""
        self.futures.append((future, label))
        if self.closed():
            self.late_futures.add(id(future))
            return
        future.add_done_callback(lambda f: self._future_done(f, label))

    def _future_done(self, future: Any, label: str) -> None:
        try:
            exc = future_exception(future)
        except Exception as error:  # a future that cannot say how it ended: ours to report
            self.harness_error(f"reading the {label} future's outcome raised {error!r}")
            return
        if label.startswith("write"):
            self.tell("write ok" if exc is None else f"write failed {error_name(exc)}")
        elif exc is not None and not is_closed_error(exc):  # a closed error is told by ``read_failed``
            self.tell(f"read failed {error_name(exc)}")
        self._call("on_future_done", future, label, exc)

    # -- trace events --------------------------------------------------------------------------------
    def _on_fd_record(self, record: tuple[Any, ...]) -> None:
        # A compact listener of the fd events (about half of a run's are the peer's): no TraceEvent is made
        # unless a checker takes one.
        detail = record[5]
        number = self.fd_number
        if detail.get("fd") != (self.fd.fd if number is None else number) or detail.get("role") != "target":
            return
        # An event of the stream's fd: the facts every checker shares, then the checkers that look at events
        # with its result.
        result = detail.get("result")
        if result in _FACT_RESULTS:
            if result == "EINTR":
                self.eintr_seen = True
            else:
                self.reset_seen = True
        kind = record[4]
        if kind == "recv" or kind == "recv_into":
            self.read_future_at_recv = getattr(self.stream, "_read_future", None)
        try:
            hooks = self._fd_hooks[result]
        except (KeyError, TypeError):  # a result not met yet (or an unhashable one)
            hooks = self._tables.fd_for(result)
        self._run_record_hooks(hooks, record, "on_fd")

    def _on_loop_record(self, record: tuple[Any, ...]) -> None:
        # A compact listener of the loop's events but ``callback`` (a step starting) and ``add_callback``.
        detail = record[5]
        number = self.fd_number
        if detail.get("fd") == (self.fd.fd if number is None else number):
            kind = record[4]
            if kind == "handler" and detail.get("events", 0) & READ:
                self.read_events += 1
            hooks = self._loop_hooks.get(kind)
            if hooks is None:
                hooks = self._tables.loop_for(kind)
            self._run_record_hooks(hooks, record, "on_loop")

    def _run_record_hooks(self, hooks: Any, record: tuple[Any, ...], hook: str) -> None:
        """Each of ``hooks`` (``(checker, fn, compact)``) on ``record`` in its form: the compact record, or the
        TraceEvent (made once, for the first that takes it). ``hook`` names them (``on_fd``, ``on_loop``)."""
        event = None
        for checker, fn, compact in hooks:
            try:
                if compact:
                    fn(record)
                else:
                    if event is None:
                        event = self.loop.trace.event_of(record)
                    fn(event)
            except Exception as exc:
                self._checker_failed(checker, f"{hook}_record" if compact else hook, exc)

    def _on_add_callback(self, record: tuple[Any, ...]) -> None:
        # A callback scheduled: the checkers that judge one a closed stream schedules during the step it closed.
        if not self.was_closed and self.closed():
            self._call("on_callback_scheduled", self.loop.trace.event_of(record))

    def _on_log(self, record: logging.LogRecord) -> None:
        if len(self.log_records) < LOG_KEEP:
            self.log_records.append(record)
        self.loop.trace.record("log", record.levelname.lower(), logger=record.name,
                               message=record.getMessage()[:200])
        self._call("on_log", record)

    # -- loop observer -------------------------------------------------------------------------------
    def _observe(self, loop: Any, what: str) -> None:
        for checker, fn in self._hooks["on_step"]:  # ``self._call("on_step")``, after every step
            try:
                fn()
            except Exception as exc:
                self._checker_failed(checker, "on_step", exc)
        closed = self.closed()
        if closed and not self.was_closed:
            self.was_closed = True
            error = self.attr("error", None)
            self.tell("closed" if error is None else f"closed {error_name(error)}")
            self.loop.trace.record("harness", "stream_closed", error=repr(error))
            self._call("on_close")
        if what != "step":
            if what in ("idle", "quiescent"):
                self._call("on_idle")
            if what == "quiescent":
                self._call("on_quiescent")

    # -- the end -------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Checks that need the whole run; then stop watching."""
        # Records a stream's objects make when they are collected (Tornado's "Future exception was never
        # retrieved") belong to this case: collect while the loggers are still captured. faultio's own
        # objects log nothing when collected, so its stream skips the (10 ms) collection.
        if (not type(self.stream).__module__.startswith(("faultio.", "harness."))
                or hasattr(self.loop, "asyncio_loop")):  # asyncio's tasks and transports log when collected
            gc.collect()
        self._call("on_finish")
        self.detach()

    def logs_json(self) -> list[dict[str, Any]]:
        """The captured log records, as the report keeps them."""
        return [{"logger": r.name, "level": r.levelname, "message": r.getMessage()[:300]} for r in self.log_records]


def _size(data: Any) -> str:
    """``len(data)`` as text, or the type's name for something that is not bytes (the checkers judge it)."""
    return str(len(data)) if isinstance(data, (bytes, bytearray, memoryview)) else type(data).__name__


def error_name(exc: Any) -> str:
    """``exc``'s class name, with the class of a ``StreamClosedError``'s ``real_error`` in brackets:
    ``StreamClosedError(ConnectionResetError)``. Never raises (a target's ``real_error`` may be a property)."""
    name = type(exc).__name__
    try:
        real = getattr(exc, "real_error", None)
    except Exception:
        real = None
    return f"{name}({type(real).__name__})" if real is not None else name


NO_STATE = _NO_STATE
__all__ = ["Monitor", "NO_STATE", "STORY_KEEP", "WATCHED_LOGGERS", "error_name", "harness_frame", "INVARIANTS"]
