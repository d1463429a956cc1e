"""Mutants: deliberately broken streams, each re-introducing one real bug class of the 4.x design.

Rules for this module:
- A mutant is a small subclass of faultio's ``IOStream`` (or ``SSLIOStream``) that overrides as little as
  possible (one method where it can) and marks the broken line ``# BUG:``. It is code under test, never
  harness: it knows nothing of plans, monitors or slugs.
- Every mutant class lives at module level, so ``load_target("harness._mutants:ClassName")`` finds it in a
  worker process. ``MUTANTS`` is the catalogue, in a fixed order; names are stable slugs.
- ``expects`` names the invariants a mutant is meant to break. It is for display only: the self-check's
  criterion is "at least one violation, of any slug, on some case".
- Nothing here is ever used for I/O outside the self-check.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from faultio import IOLoop, IOStream, NonDrainingSSLIOStream, SSLIOStream, StreamBufferFullError, StreamClosedError
from faultio._ssl import RaggedEOFError
from faultio._iostream_util import gen_log

from ._case import TRANSPORTS
from ._connect_mutants import (
    CloseCallbackTwiceOnRefusal,
    ConnectErrorSwallowed,
    ConnectRefusalIgnored,
    ConnectSkipsSoError,
    QueuedWritesDropped,
    QueuedWritesReordered,
)
from ._time_mutants import (CancelDropsTakenBytes, CancelLeavesReadState, DeadlineFiresEarly, DeadlineFiresLate,
                            DeadlineNeverFires, WriteTimeoutDropsQueued)
from .engine import INVARIANTS

# --- EINTR ---------------------------------------------------------------------------------------------


class EintrClosesRead(IOStream):
    """EINTR from ``recv`` is treated like any other read error: the stream closes with it as ``error``."""

    def read_from_fd(self) -> bytes | None:
        """``IOStream.read_from_fd``, except that an EINTR closes the stream."""
        try:
            return super().read_from_fd()
        except InterruptedError as exc:
            # BUG: a signal is not an error; the call should simply be retried.
            gen_log.warning("Read error on %s: %s", self._fd_label(), exc)
            self.close(exc_info=True)
            return None


class EintrClosesWrite(IOStream):
    """EINTR from ``send`` closes the stream (what 4.x's ``_handle_write`` did: only EWOULDBLOCK was retried)."""

    def write_to_fd(self, data: memoryview) -> int:
        """``IOStream.write_to_fd``, except that an EINTR closes the stream."""
        try:
            return super().write_to_fd(data)
        except InterruptedError as exc:
            # BUG: nothing was written; the send should simply be retried.
            gen_log.warning("Write error on %s: %s", self._fd_label(), exc)
            self.close(exc_info=True)
            return 0


# --- the close callback --------------------------------------------------------------------------------


class CloseCallbackIgnoresPending(IOStream):
    """``_maybe_run_close_callback`` does not wait for ``_pending_callbacks`` to drain."""

    def _maybe_run_close_callback(self) -> None:
        # BUG: the "and self._pending_callbacks == 0" half of the guard is gone, and so is the step-back.
        if not self.closed():
            return
        futures = [f for f in (self._read_future, self._connect_future, self._ssl_connect_future) if f]
        futures += [future for _, future in self._write_futures]
        self._read_future = self._connect_future = self._ssl_connect_future = None
        self._write_futures.clear()
        self._clear_read_request()
        self._streaming_callback = None
        for future in futures:
            future.set_exception(StreamClosedError(real_error=self.error))
        if self._close_callback is not None:
            callback, self._close_callback = self._close_callback, None
            self._run_callback(callback)
        self._read_callback = self._write_callback = self._connect_callback = None


class CloseCallbackLostOnReadLoopClose(IOStream):
    """After the read loop closed the stream (EOF or reset seen while the pretend pending callback was
    held), ``_handle_read`` never comes back to run the close handling: a pending read hangs for ever."""

    def _handle_read(self) -> None:
        pos = self._read_to_buffer_loop()
        if pos is not None:
            self._read_from_buffer(pos)
        # BUG: no ``else: self._maybe_run_close_callback()``; the close inside the loop was held back.


class CloseCallbackTwice(IOStream):
    """The close callback's step-back (a read served from the buffer after close queued a data callback
    behind it) re-registers the callback for later but falls through and runs it now as well."""

    def _run_close_callback_last(self, callback: Callable[[], Any]) -> Any:
        if self._pending_callbacks > 0:
            self._close_callback = callback
            # BUG: a missing ``return None``: the callback runs now and again when the others are done.
        return callback()


class CloseCallbackOvertakesData(IOStream):
    """A read served from the buffer after close queues its callback behind an already-scheduled close
    callback, and the close callback does not step back: data arrives after "closed" (the seed's
    ``_maybe_run_close_callback`` schedules it unconditionally)."""

    def _run_close_callback_last(self, callback: Callable[[], Any]) -> Any:
        # BUG: runs even though a data callback scheduled after it is still pending.
        return callback()


# --- the pending-callback counter ----------------------------------------------------------------------


class NoPretendPending(IOStream):
    """``_read_to_buffer_loop`` without the pretend pending callback: an EOF, reset or overflow inside the
    loop runs the close handling right there, failing the read and scheduling the close callback before the
    loop has handed out what it holds."""

    def _read_to_buffer_loop(self) -> int | None:
        if self._read_bytes is not None:
            target_bytes: int | None = self._read_bytes
        elif self._read_max_bytes is not None:
            target_bytes = self._read_max_bytes
        elif self.reading():
            target_bytes = None
        else:
            target_bytes = 0
        next_find_pos = 0
        # BUG: no ``self._pending_callbacks += 1`` / ``-= 1`` around the loop.
        while not self.closed():
            if self._read_to_buffer() == 0:
                break
            self._run_streaming_callback()
            if target_bytes is not None and self._rbuf.size >= target_bytes:
                break
            if self._rbuf.size >= next_find_pos:
                pos = self._find_read_pos()
                if pos is not None:
                    return pos
                next_find_pos = min(self._rbuf.size * 2, self.max_buffer_size)
        return self._find_read_pos()


# --- the error listener --------------------------------------------------------------------------------


class ErrorListenerNotRearmed(IOStream):
    """A future-style read that completes inline does not re-arm the error listener, so an idle stream
    never notices the peer closing."""

    def _run_read_callback(self, size: int, streaming: bool) -> None:
        if streaming or self._read_future is None or self._streaming_callback is not None:
            return super()._run_read_callback(size, streaming)
        self._read_callback = None
        future, self._read_future = self._read_future, None
        future.set_result(self._consume(size))
        # BUG: no ``self._maybe_add_error_listener()``: nothing else will register READ.


class ErrorEventClosesSynchronously(IOStream):
    """An ERROR event closes the stream inside the event handler instead of on a later iteration, ahead of
    the callbacks the same event queued."""

    def _handle_events(self, fd: int, events: int) -> None:
        super()._handle_events(fd, events)
        if events & IOLoop.ERROR and not self.closed():
            # BUG: close now, inside the handler. (The base took the ERROR branch: it set ``error`` and
            # deferred the close with add_callback; that later close() finds the stream closed.)
            self.close()


# --- flow control and busy loops -----------------------------------------------------------------------


class EagerReader(IOStream):
    """``_read_to_buffer_loop`` reads until EWOULDBLOCK whatever the pending read needs: a flood fills the
    buffer to overflow even though a bounded read was satisfiable long before."""

    def _read_to_buffer_loop(self) -> int | None:
        self._pending_callbacks += 1
        try:
            # BUG: no target_bytes, no early look for a match: pull everything the fd has.
            while not self.closed():
                if self._read_to_buffer() == 0:
                    break
                self._run_streaming_callback()
            return self._find_read_pos()
        finally:
            self._pending_callbacks -= 1


class KeepsReadInterest(IOStream):
    """A read completed inline leaves READ registered, so readiness keeps pulling bytes into a buffer
    nobody reads (the seed's design recomputes its mask only at the end of an fd event)."""

    def _drop_read_interest(self) -> None:
        # BUG: READ stays registered with a full buffer and no read pending.
        return None


class BusyLoopOnWouldBlock(IOStream):
    """``read_from_fd`` retries EWOULDBLOCK as if it were EINTR: the stream spins instead of waiting."""

    def read_from_fd(self) -> bytes | None:
        """Retry ``recv`` on EWOULDBLOCK instead of waiting for readiness."""
        while True:
            try:
                chunk = self.socket.recv(self._next_read_size())
            except BlockingIOError:
                continue  # BUG: should return None and wait for readiness
            if not chunk:
                self.close()
                return None
            return chunk


class SSLStopsDraining(NonDrainingSSLIOStream):
    """The SSL drain rule broken: plaintext left inside the SSL object after one record is not looked for
    until the fd has more ciphertext (``faultio.NonDrainingSSLIOStream``, faultio's own negative control)."""


# --- TLS: truncation, cut records, handshakes ----------------------------------------------------------


class RaggedEofTakenAsClean(SSLIOStream):
    """A connection that ends without close_notify (a ragged EOF) closes the stream as if the peer had said
    close_notify: error stays None, so a truncated response looks complete (the truncation attack)."""

    def read_from_fd(self) -> bytes | None:
        """``SSLIOStream.read_from_fd``, except that a ragged EOF is a clean close."""
        try:
            return super().read_from_fd()
        except RaggedEOFError:
            self.close()  # BUG: no exc_info: a truncation taken for close_notify
            return None


class PartialRecordAtEof(SSLIOStream):
    """At an EOF inside a record, the bytes of the incomplete record are handed to the caller as data (a
    record layer that flushes what it holds at EOF) before the ragged EOF is reported: bytes no MAC ever
    checked reach the application."""

    _since_plaintext = b""
    _flushed = False

    def _recv_ciphertext(self) -> bytes | None:
        chunk = super()._recv_ciphertext()
        if chunk:
            self._since_plaintext += chunk
        return chunk

    def read_from_fd(self) -> bytes | None:
        """``SSLIOStream.read_from_fd``; at a ragged EOF, first the ciphertext fed since the last plaintext."""
        try:
            data = super().read_from_fd()
        except RaggedEOFError:
            if self._since_plaintext and not self._flushed:
                self._flushed = True
                partial, self._since_plaintext = self._since_plaintext, b""
                return partial  # BUG: the cut record's bytes, never authenticated, delivered as data
            raise
        if data:
            self._since_plaintext = b""
        return data


class HandshakeErrorSwallowed(SSLIOStream):
    """A failed handshake closes the stream without its error: the caller sees a clean close and cannot tell
    a rejected certificate from a peer that simply hung up."""

    def _handshake_failed(self, exc: Exception) -> None:
        gen_log.debug("TLS handshake failed on %s: %s", self._fd_label(), exc)
        self.close()  # BUG: no exc_info: the failure is swallowed


class ClientSkipsVerification(SSLIOStream):
    """As a TLS client, the stream accepts any certificate: an untrusted chain or a certificate for another
    host name completes the handshake, and the application talks to whoever answered."""

    def _verify_certificate(self, conn: Any, cert: Any, code: int, depth: int, ok: int) -> bool:
        return True  # BUG: neither the chain nor the host name is checked


# --- closing bookkeeping -------------------------------------------------------------------------------


class WriteFuturesOrphaned(IOStream):
    """On close, outstanding write futures are dropped instead of failed: their writers wait for ever."""

    def _maybe_run_close_callback(self) -> None:
        if self.closed() and self._pending_callbacks == 0:
            self._write_futures.clear()  # BUG: forgotten, never failed with StreamClosedError
        super()._maybe_run_close_callback()


class OverflowLeavesErrorNone(IOStream):
    """Buffer overflow closes the stream with ``error`` None (4.x: ``self.close()`` then raise)."""

    def close(self, exc_info: Any = False) -> None:
        """Close, dropping a ``StreamBufferFullError`` reason (``error`` stays ``None``)."""
        if isinstance(exc_info, tuple) and exc_info[0] is StreamBufferFullError:
            exc_info = False  # BUG: the reason for the close is lost
        super().close(exc_info)


class DropsBufferOnClose(IOStream):
    """Closing also clears the read buffer, so bytes the peer sent before closing are lost to reads started
    afterwards (the seed's ``_maybe_run_close_callback`` carries a TODO to do exactly this)."""

    def close(self, exc_info: Any = False) -> None:
        """Close, then empty the read buffer."""
        super().close(exc_info)
        self._rbuf.clear()  # BUG: a read after close can no longer be served from the buffer


class AlreadyReadingAfterClosedRead(IOStream):
    """A read on a closed stream that the buffer cannot serve raises but stays registered, so the next read
    fails with "Already reading" (4.x: ``_check_closed`` raised from ``_try_inline_read``, and
    ``_set_read_callback`` asserted). Two methods: the base's ``_set_read_callback`` hides the leftover."""

    def _fail_unservable_read(self) -> None:
        raise StreamClosedError(real_error=self.error)  # BUG: the read request is never unregistered

    def _set_read_callback(self, callback: Callable[..., Any] | None, label: str) -> Any:
        if self.reading():
            raise RuntimeError("Already reading")
        return super()._set_read_callback(callback, label)


class MaxBytesRaisedSynchronously(IOStream):
    """An unsatisfiable ``read_until(max_bytes=...)`` found in buffered data raises
    ``UnsatisfiableReadError`` to the caller instead of closing the stream."""

    def _start_read(self, future: Any) -> Any:
        self._try_inline_read()  # BUG: UnsatisfiableReadError escapes to the caller of read_until
        return future


class EintrLogsRetry(IOStream):
    """EINTR is retried, but each retry writes a log line (at INFO): "no log line" is part of making a
    signal invisible, and a busy signal handler would flood the logs."""

    def read_from_fd(self) -> Any:
        """``IOStream.read_from_fd``, retried on EINTR with a log line each time."""
        for _ in range(1024):
            try:
                return super().read_from_fd()
            except InterruptedError as exc:
                gen_log.info("EINTR on read, retrying: %s", exc)  # BUG: a log line for an invisible event
        return None


class TruncatesReadUntilClose(IOStream):
    """``read_until_close`` loses the last buffered byte at EOF (a truncated response)."""

    def _finish_read_until_close(self) -> None:
        if self._rbuf.size:
            del self._rbuf.data[-1:]  # BUG: the final byte never reaches the caller
            self._rbuf.size -= 1
        super()._finish_read_until_close()


class RefusesReadsAfterClose(IOStream):
    """Every read on a closed stream fails with "Already reading", even one the buffer could serve."""

    def _set_read_callback(self, callback: Callable[..., Any] | None, label: str) -> Any:
        if self.closed():
            raise RuntimeError("Already reading")  # BUG: a closed stream refuses the wrong way
        return super()._set_read_callback(callback, label)


# --- the catalogue -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mutant:
    """One catalogue entry: a broken stream class and what it is expected to break.

    ``name`` is a stable slug; ``transports`` are the transports it applies to; ``expects`` are the
    invariant slugs meant to catch it (display only).
    """

    name: str
    cls: type
    description: str
    transports: tuple[str, ...] = ("plain",)
    expects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c == "-" for c in self.name):
            raise ValueError(f"mutant name {self.name!r} is not a slug (letters, digits, '-')")
        bad = [t for t in self.transports if t not in TRANSPORTS]
        if bad or not self.transports:
            raise ValueError(f"mutant {self.name}: transports {self.transports!r}; valid: {', '.join(TRANSPORTS)}")
        unknown = [s for s in self.expects if s not in INVARIANTS]
        if unknown:
            raise ValueError(f"mutant {self.name}: unknown invariant slug(s) {unknown}")

    @property
    def spec(self) -> str:
        """The target spec a worker process loads: ``harness._mutants:ClassName``."""
        return f"{self.cls.__module__}:{self.cls.__qualname__}"


def _m(name: str, cls: type, transports: tuple[str, ...], *expects: str) -> Mutant:
    # The class docstring, on one line and without reST literals, is the description shown in reports.
    doc = " ".join((cls.__doc__ or "").replace("``", "").split())
    return Mutant(name=name, cls=cls, description=doc, transports=transports, expects=expects)


PLAIN = ("plain",)
SSL = ("ssl",)

#: The catalogue, in display order.
MUTANTS: tuple[Mutant, ...] = (
    _m("eintr-closes-read", EintrClosesRead, PLAIN, "eintr-invisible"),
    _m("eintr-closes-write", EintrClosesWrite, PLAIN, "eintr-write-retried"),
    _m("close-cb-ignores-pending", CloseCallbackIgnoresPending, PLAIN, "close-cb-counter", "pending-scoped"),
    _m("close-cb-lost-on-read-loop-close", CloseCallbackLostOnReadLoopClose, PLAIN, "close-cb-eventually"),
    _m("close-cb-twice", CloseCallbackTwice, PLAIN, "close-cb-once"),
    _m("close-cb-overtakes-data", CloseCallbackOvertakesData, PLAIN, "close-cb-after-pending",
       "close-cb-after-futures", "close-cb-counter"),
    _m("no-pretend-pending", NoPretendPending, PLAIN, "pending-scoped", "data-before-eof"),
    _m("error-listener-not-rearmed", ErrorListenerNotRearmed, PLAIN, "listen-when-idle"),
    _m("error-event-closes-sync", ErrorEventClosesSynchronously, PLAIN, "error-event-deferred-close"),
    _m("eager-reader", EagerReader, PLAIN, "bounded-read"),
    _m("keeps-read-interest", KeepsReadInterest, PLAIN, "no-read-when-buffered"),
    _m("busy-loop-on-ewouldblock", BusyLoopOnWouldBlock, PLAIN, "no-busy-loop"),
    _m("ssl-stops-draining", SSLStopsDraining, SSL, "liveness"),
    _m("ragged-eof-taken-as-clean", RaggedEofTakenAsClean, SSL, "tls-ragged-eof"),
    _m("partial-record-at-eof", PartialRecordAtEof, SSL, "tls-no-partial-record"),
    _m("handshake-error-swallowed", HandshakeErrorSwallowed, SSL, "tls-handshake-fail"),
    _m("client-skips-verification", ClientSkipsVerification, SSL, "tls-handshake-fail"),
    _m("write-futures-orphaned", WriteFuturesOrphaned, PLAIN, "write-fifo"),
    _m("overflow-leaves-error-none", OverflowLeavesErrorNone, PLAIN, "overflow-error"),
    _m("drops-buffer-on-close", DropsBufferOnClose, PLAIN, "reads-after-close"),
    _m("already-reading-after-closed-read", AlreadyReadingAfterClosedRead, PLAIN, "no-already-reading"),
    _m("max-bytes-raised-sync", MaxBytesRaisedSynchronously, PLAIN, "max-bytes"),
    _m("eintr-logs-retry", EintrLogsRetry, PLAIN, "eintr-invisible"),
    _m("truncates-read-until-close", TruncatesReadUntilClose, PLAIN, "data-integrity"),
    _m("refuses-reads-after-close", RefusesReadsAfterClose, PLAIN, "reads-after-close", "no-already-reading"),
    # the connect path (harness._connect_mutants)
    _m("connect-error-swallowed", ConnectErrorSwallowed, PLAIN, "connect-outcome"),
    _m("connect-skips-so-error", ConnectSkipsSoError, PLAIN, "connect-outcome"),
    _m("connect-refusal-ignored", ConnectRefusalIgnored, PLAIN, "connect-outcome"),
    _m("connect-queued-writes-dropped", QueuedWritesDropped, PLAIN, "connect-writes"),
    _m("connect-queued-writes-reordered", QueuedWritesReordered, PLAIN, "connect-writes"),
    _m("connect-close-cb-twice", CloseCallbackTwiceOnRefusal, PLAIN, "connect-outcome", "close-cb-once"),
    _m("cancel-drops-taken-bytes", CancelDropsTakenBytes, PLAIN, "timeout-no-byte-lost"),
    _m("cancel-leaves-read-state", CancelLeavesReadState, PLAIN, "timeout-stream-usable"),
    _m("deadline-never-fires", DeadlineNeverFires, PLAIN, "deadline-on-time"),
    _m("deadline-fires-early", DeadlineFiresEarly, PLAIN, "deadline-on-time"),
    _m("deadline-fires-late", DeadlineFiresLate, PLAIN, "deadline-on-time"),
    _m("write-timeout-drops-queued", WriteTimeoutDropsQueued, PLAIN, "write-timeout-keeps-bytes"),
)


def get_mutant(name: str) -> Mutant:
    """The catalogue entry called ``name`` (a KeyError names the valid ones)."""
    for mutant in MUTANTS:
        if mutant.name == name:
            return mutant
    raise KeyError(f"unknown mutant {name!r}; valid: {', '.join(m.name for m in MUTANTS)}")
