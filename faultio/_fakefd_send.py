"""The send side of a fake socket: what a ``send`` does to the connection, as the plan's write steps shape it.

Rules for this module:
- ``SendingSocket`` is the part of ``faultio._fakefd.FakeSocket`` that sends (a base class: it uses the fake
  fd's pipes, cursors, trace and counters, and holds no state of its own). The read side, the poll and the
  plan's connection steps stay in ``faultio._fakefd``.
- A send raises what the OS would (``BlockingIOError``, ``InterruptedError``, ``ConnectionResetError``,
  ``BrokenPipeError``, ``OSError(EBADF)``); whether a fault was injected is written in the trace only.
- The common send (bytes into an open connection with room, no write step left) has a short way that must
  give what the general path gives: same counts, same bytes, same trace event (``tests/test_fakefd.py``
  compares them).
"""

from __future__ import annotations

import errno
from typing import Any

from ._cursor import oserror
from ._events import DATA_KEYS, DATA_KEYS_BARE
from ._plan import SendBrokenPipe, SendReset
from ._time_faults import SendStall
from ._trace import PAYLOAD_PREFIX, hexdump_bytes


class SendingSocket:
    """The send half of ``FakeSocket`` (a base class: it uses the fake fd's pipes, cursors, trace and counters)."""

    _closed: bool
    _so_error: int
    _reset: bool
    _stall_until: float | None
    _connect: Any
    _writes: Any
    _out: Any
    loop: Any
    role: str
    record_payload: bool
    send_calls: int
    bytes_sent: int
    faults_injected: int

    def send(self, data: Any, flags: int = 0) -> int:
        """Send what fits of ``data`` and return how many bytes were accepted (a ``SendPartial`` accepts fewer;
        under the ``cpython`` profile so does a send a ``SendEintr`` interrupts: see ``_send_fault``).

        Raises what the OS would: ``BlockingIOError`` when the peer's buffer is full; ``InterruptedError``
        (``raw`` profile only), ``BlockingIOError``, ``ConnectionResetError`` or ``BrokenPipeError`` by plan;
        ``ConnectionResetError`` or ``BrokenPipeError`` once the connection is reset or shut;
        ``OSError(EBADF)`` once closed.
        """
        out = self._out
        connect = self._connect
        if (type(data) is bytes and self._writes.step is None and data and not self._closed
                and not self._so_error and not out.dead and not out.fin and not out.reader_closed
                and out.available < out.capacity and not connect.reset_pending
                and (connect.state == "idle" or connect.state == "connected")):
            # The common send: bytes into an open connection with room, no write step left to shape or fail
            # it. The general path below does exactly this for it (same counts, same bytes, same event).
            self.send_calls += 1
            asked = limit = len(data)
            room = out.capacity - out.available
            if room < asked:
                limit = room
                chunk = data[:limit]
            else:
                chunk = data
            out.segments.append(chunk)  # ``out.append(chunk)`` on a pipe neither shut nor cut
            out.available += limit
            out.accepted += limit
            self.bytes_sent += limit
            trace = self.loop.trace
            if trace.active:
                if trace.packing:  # nobody listens: kept packed (``Trace.emit``)
                    trace.emit("fd", "send", DATA_KEYS if self.record_payload else DATA_KEYS_BARE,
                               (self._fileno, self.role, asked, "data", limit, "", chunk[:PAYLOAD_PREFIX]))
                elif self.record_payload:
                    trace.record("fd", "send", fd=self._fileno, role=self.role, asked=asked, result="data",
                                 nbytes=limit, shaped="", data_hex=hexdump_bytes(chunk))
                else:
                    trace.record("fd", "send", fd=self._fileno, role=self.role, asked=asked, result="data",
                                 nbytes=limit, shaped="")
            else:
                trace._count += 1  # ``trace.skip()``, without the call (a hot path)
            return limit
        self.send_calls += 1
        self._check_open("send")
        if self._connect.reset_pending:
            self._reset_after_connect()
        if isinstance(self._writes.step, SendStall):
            self._send_stalled()
        view = memoryview(data).cast("B")
        try:
            return self._send_view(view)
        finally:
            # A kernel keeps no hold on the caller's buffer once send returns or raises; the traceback of a raised
            # error would otherwise keep this view (and the caller's bytearray export) alive: asyncio clears its
            # bytearray buffer right after a failed send, which must not meet "Existing exports".
            view.release()

    def _send_view(self, view: memoryview) -> int:
        """``send`` of the bytes ``view`` holds."""
        if self._connect.state in ("connecting", "refused") and not self._so_error:
            return self._send_unconnected(len(view))
        space = self._out.capacity - self._out.available
        bound_to_fail = self._so_error or self._out.dead or self._out.fin
        step, interrupted = self._send_fault(len(view), 0 if bound_to_fail else min(len(view), max(space, 0)))
        if isinstance(step, SendReset):
            self._apply_reset("send_reset")
            self._so_error = 0
            return self._inject("send", step)
        if isinstance(step, SendBrokenPipe):
            self._out.dead = True
            return self._inject("send", step)
        if step is not None:
            return self._inject("send", step)
        if self._so_error:
            code, self._so_error = self._so_error, 0
            self._trace("send", result=errno.errorcode[code], injected=True)
            raise oserror(OSError, code)  # the subclass the errno names (ConnectionResetError, ...Refused...)
        if (len(view) and self._out.reader_closed and not self._out.rst_provoked and not self._out.fin
                and not self._reset):
            # A kernel accepts the first send after the peer closed its socket (it only learns of the close
            # from the RST that segment provokes): the bytes are lost, and from then on sends fail with EPIPE.
            self._out.rst_provoked = True
            self.bytes_sent += len(view)
            self._trace("send", asked=len(view), result="data", nbytes=len(view), lost="the peer had closed; "
                        "its kernel answers with RST")
            return len(view)
        if self._out.dead or self._out.fin:
            self._trace("send", asked=len(view), result="EPIPE", injected=self._reset)
            raise oserror(BrokenPipeError, errno.EPIPE)
        if not len(view):
            return 0
        if space <= 0:
            self._trace("send", asked=len(view), result="EAGAIN", injected=False)
            self._count_eagain("send")
            raise oserror(BlockingIOError, errno.EAGAIN)
        if interrupted:
            # The first half went out before the signal; the plan's next write step is left for the next send.
            limit, shaped, outcome = interrupted, "", self._partial_send()
        else:
            shaped = self._writes.shaped
            limit = self._writes.limit(min(len(view), space))
            self._writes.sent(limit)
            outcome = {"result": "data"}
        chunk = bytes(view[:limit])
        self._out.append(chunk)
        self.bytes_sent += limit
        trace = self.loop.trace
        if trace.active:
            trace.record(
                "fd",
                "send",
                fd=self._fileno,
                role=self.role,
                asked=len(view),
                **outcome,
                nbytes=limit,
                shaped=shaped,
                **({"data_hex": hexdump_bytes(chunk)} if self.record_payload else {}),
            )
        else:
            trace.skip()
        return limit

    def _send_stalled(self) -> None:
        """A ``SendStall`` step: start its clock at the first send that meets it and answer EWOULDBLOCK until its
        time has come; then the plan goes on with the next write step (this send is served by it)."""
        step = self._writes.step
        now = self.loop.time()
        if self._stall_until is None:
            self._stall_until = now + step.seconds  # type: ignore[union-attr]
            self.faults_injected += 1
            self._trace("inject", fault=step.kind, seconds=step.seconds, until=self._stall_until)  # type: ignore[union-attr]
            self.loop.add_timeout(self._stall_until, self._time_up)
        if now < self._stall_until:
            self._trace("send", result="EAGAIN", injected=True, step=step.kind, until=self._stall_until)  # type: ignore[union-attr]
            self._count_eagain("send")
            raise oserror(BlockingIOError, errno.EAGAIN)
        self._trace("release", fault=step.kind, held=step.seconds)  # type: ignore[union-attr]
        self._stall_until = None
        self._writes.advance()
