"""Fake file descriptors: non-blocking sockets whose kernel side obeys a ``FaultPlan``.

Rules for this module:
- Fds never decide a fault. Every deviation from an ordinary non-blocking socket comes from the plan,
  through a cursor each fd owns; with an empty plan a fake fd is an ordinary socket.
- Fds raise exactly what the OS would (``InterruptedError``, ``BlockingIOError``,
  ``ConnectionResetError``, ``BrokenPipeError``, ``OSError(EBADF)``). Whether a fault was *injected* is
  written in the trace, never in the exception.
- What "the OS" is, is the fd's realism profile (``_shaped.PROFILES``), fixed when the pair is made: a
  ``raw`` fd raises an injected EINTR, a ``cpython`` fd absorbs it as CPython's socket methods do (PEP 475)
  and only the trace shows it. The plan is the same under both.
- Generated flood bytes are produced on demand from a pattern; a 1 GiB flood costs only what is read.
"""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, Any

from ._bytelog import ByteLog
from ._connect_faults import ConnectAttempt, connect_step, without_connect_steps
from ._cursor import ReadCursor, WriteCursor, oserror
from ._events import DATA_KEYS, DATA_KEYS_BARE, EAGAIN_KEYS, ERROR, READ, WRITE
from ._errors import BusyLoopError
from ._fakefd_connect import ConnectingSocket
from ._fakefd_send import SendingSocket
from ._pipe import Pipe
from ._plan import Chunk, Dribble, Eintr, Eof, FaultPlan, Flood, Pass, Reset
from ._shaped import PlanShapedSocket, check_profile
from ._time_faults import HOLD_STEPS
from ._trace import PAYLOAD_PREFIX, hexdump_bytes

if TYPE_CHECKING:  # pragma: no cover
    from ._loop import IOLoop


#: How many EWOULDBLOCK answers one fd gives within a single loop step before it calls the caller a spinner.
SPIN_LIMIT = 256

#: How many bytes may sit unread in one direction before ``send`` reports EWOULDBLOCK.
DEFAULT_CAPACITY = 4 * 1024 * 1024

#: Read steps at which a recv neither fails by plan nor settles anything on the connection first (and no step
#: left: ``None``): ``FakeSocket.recv`` goes straight to the delivery for them.
_QUIET_READ_STEPS = frozenset({type(None), Chunk, Dribble})

#: Whether ``FakeSocket.recv`` takes its shortest way (a test turns it off to compare it with the general path).
_SHORT_RECV = True

#: The message of the EAGAIN a recv with nothing to read raises (what ``oserror`` gives it).
_EAGAIN_MESSAGE = oserror(BlockingIOError, errno.EAGAIN).strerror
_EAGAIN = errno.EAGAIN



class FakeSocket(ConnectingSocket, SendingSocket, PlanShapedSocket):
    """A connected, non-blocking, socket-like object living in a loop's simulated kernel.

    ``role`` is ``"target"`` (obeys the plan) or ``"peer"`` (ordinary). Both ends record every call
    in the loop's trace. ``profile`` (``"raw"`` or ``"cpython"``) says what an interruption the plan
    injects looks like to the caller: an ``InterruptedError``, or nothing but a trace event.
    """

    #: What asyncio's transports read of a socket: a stream socket that is not TCP (so no ``TCP_NODELAY``
    #: is set on it) and not an ``ssl.SSLSocket``.
    family = socket.AF_UNIX
    type = socket.SOCK_STREAM
    proto = 0

    def __init__(
        self,
        loop: IOLoop,
        *,
        inbound: Pipe,
        outbound: Pipe,
        plan: FaultPlan | None,
        role: str,
        keep_received: bool = True,
        record_payload: bool = True,
        profile: str = "raw",
    ) -> None:
        self.loop = loop
        self.role = role
        #: The realism profile (``raw`` or ``cpython``): whether an injected EINTR reaches the caller.
        self.profile = check_profile(profile)
        #: Whether trace events carry a hex prefix of the bytes (off for ciphertext, which is random).
        self.record_payload = record_payload
        self.plan = plan or FaultPlan()
        self._in = inbound
        self._out = outbound
        self._reads = ReadCursor(self.plan.read)
        self._writes = WriteCursor(without_connect_steps(self.plan.write))
        #: The connect and what the plan's connect step makes of it (``faultio._connect_faults``).
        self._connect = ConnectAttempt(connect_step(self.plan))
        self._closed = False
        self._reset = False
        self._so_error = 0
        self._connecting = False
        self._blocking = True
        self._eagain_step = -1
        self._eagain_count = 0
        #: Virtual time until which a read-side time step (``Delay``, ``LateFin``) holds the connection back,
        #: or None; and the same for a ``SendStall`` on the write side.
        self._hold_until: float | None = None
        self._stall_until: float | None = None
        #: Counters the monitors and benchmarks read.
        self.recv_calls = 0
        self.send_calls = 0
        self.faults_injected = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.close_calls = 0
        #: Every byte ``recv`` handed out, in order (the ground truth for data-integrity checks); floods are
        #: recorded as generated runs, never materialised.
        self.received = ByteLog() if keep_received else None
        self._fileno = loop._register_fd(self)
        self.peer: FakeSocket | None = None
        self._settle()

    # -- plain socket surface -----------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<FakeSocket fd={self._fileno} {self.role} {state}>"

    def fileno(self) -> int:
        """The fd number, or -1 once closed (like a real socket)."""
        return self._fileno if not self._closed else -1

    @property
    def fd(self) -> int:
        """The fd number, also after close (``fileno()`` returns -1 then, like a real socket)."""
        return self._fileno

    def setblocking(self, flag: bool) -> None:
        """Record the blocking flag; every call stays non-blocking whatever it says."""
        self._blocking = bool(flag)

    def settimeout(self, value: float | None) -> None:
        """Record the blocking mode ``value`` implies (``None``: blocking); calls stay non-blocking."""
        self._blocking = value is None

    def setsockopt(self, *args: Any) -> None:
        """Accept any option; it is recorded in the trace and has no effect."""
        self._trace("setsockopt", args=repr(args))

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> int:
        """``SO_ERROR`` returns and clears the pending error (ECONNRESET after a reset); other options read 0."""
        if level == socket.SOL_SOCKET and optname == socket.SO_ERROR:
            err, self._so_error = self._so_error, 0
            self._trace("getsockopt", option="SO_ERROR", value=err)
            return err
        return 0

    def getpeername(self) -> tuple[str, int]:
        """A placeholder address, ``("fake-peer", fd)``."""
        return ("fake-peer", self._fileno)

    def getsockname(self) -> tuple[str, int]:
        """A placeholder address, ``("fake-local", fd)``."""
        return ("fake-local", self._fileno)

    def shutdown(self, how: int) -> None:
        """Shut down a direction: ``SHUT_WR``/``SHUT_RDWR`` send FIN (the peer reads EOF after what was sent)."""
        self._check_open("shutdown")
        self._trace("shutdown", how=how)
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._out.fin = True

    def close(self) -> None:
        """Close this end: the peer reads EOF after what was sent, its later sends are dropped, and the fd leaves
        the loop. Closing again is counted in ``close_calls``, not an error."""
        self.close_calls += 1
        self._trace("close", calls=self.close_calls)
        if self._closed:
            return
        self._closed = True
        self._out.fin = True  # the peer reads EOF after what we sent
        self._in.dead = True  # the peer's later sends go nowhere
        self._in.reader_closed = True
        self.loop._unregister_fd(self)

    def closed(self) -> bool:
        """True once ``close()`` or ``reset()`` was called."""
        return self._closed

    # -- receiving (recv_into comes from PlanShapedSocket; sending is SendingSocket's) --------------------
    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """``PlanShapedSocket.recv``, with two short ways for the common calls.

        Both need an open, connected fd with no error or reset pending. When the read step has a fixed limit
        (none left, or a ``Dribble`` for ever: ``ReadCursor.fixed_limit``) and no time step holds the
        connection, this is ``_deliver`` written out for bytes waiting (``Pipe.take`` too, when the first
        segment is real bytes) and for nothing waiting (EAGAIN): the call of every readiness event of a
        dribble, and the EAGAIN that ends it. Otherwise, for a read step that neither fails the call nor
        happens to the connection (a ``Chunk``), ``_recv``'s checks all pass and it comes to ``_deliver``; so
        does this, directly. Same bytes, counts, trace events and exceptions as the general path
        (``tests/test_fakefd.py`` compares them)."""
        connect = self._connect
        if (bufsize > 0 and not self._closed and not self._so_error and not connect.reset_pending
                and (connect.state == "idle" or connect.state == "connected")):
            reads = self._reads
            fixed = reads.fixed_limit
            if fixed >= 0 and self._hold_until is None and _SHORT_RECV:
                self.recv_calls += 1
                inbound = self._in
                available = inbound.available
                trace = self.loop.trace
                if available:
                    wanted = bufsize if bufsize < available else available
                    if fixed < wanted:
                        wanted = fixed
                    segments = inbound.segments
                    data = segments[0]
                    over = len(data) - wanted if type(data) is bytes else -1
                    if over >= 0:
                        # ``inbound.take(wanted, self.received)`` when its first segment answers the call.
                        if over:
                            segments[0] = data[wanted:]
                            data = data[:wanted]
                        else:
                            segments.popleft()
                        if self.received is not None:
                            self.received.append(data)
                        inbound.available -= wanted
                        inbound.delivered += wanted
                    else:
                        data = inbound.take(wanted, self.received)
                        wanted = len(data)
                    self.bytes_received += wanted
                    if trace.active:  # what ``_deliver`` records
                        step = reads.step
                        shaped = step.kind if step is not None else ""
                        if trace.packing:  # nobody listens: kept packed (``Trace.emit``)
                            trace.emit("fd", "recv", DATA_KEYS if self.record_payload else DATA_KEYS_BARE,
                                       (self._fileno, self.role, bufsize, "data", wanted, shaped,
                                        data[:PAYLOAD_PREFIX]))
                        elif self.record_payload:
                            trace.record("fd", "recv", fd=self._fileno, role=self.role, asked=bufsize,
                                         result="data", nbytes=wanted, shaped=shaped,
                                         data_hex=hexdump_bytes(data))
                        else:
                            trace.record("fd", "recv", fd=self._fileno, role=self.role, asked=bufsize,
                                         result="data", nbytes=wanted, shaped=shaped)
                    else:
                        trace._count += 1  # ``trace.skip()``, without the call (a hot path)
                    return data
                if not inbound.fin and not self._reset:
                    # Nothing to read: ``_deliver``'s EAGAIN, as it records and counts it.
                    if trace.packing:
                        trace.emit("fd", "recv", EAGAIN_KEYS, (self._fileno, self.role, bufsize, "EAGAIN", False))
                    elif trace.active:
                        trace.record("fd", "recv", fd=self._fileno, role=self.role, asked=bufsize,
                                     result="EAGAIN", injected=False)
                    else:
                        trace._count += 1
                    step = self.loop.step
                    if step != self._eagain_step:
                        self._eagain_step, self._eagain_count = step, 1
                    elif self._eagain_count < SPIN_LIMIT:
                        self._eagain_count += 1
                    else:
                        self._count_eagain("recv")
                    raise BlockingIOError(_EAGAIN, _EAGAIN_MESSAGE)
                return self._deliver(bufsize, flags, "recv")  # EOF
            if type(reads.step) in _QUIET_READ_STEPS:
                self.recv_calls += 1
                return self._deliver(bufsize, flags, "recv")
        return PlanShapedSocket.recv(self, bufsize, flags)

    def _deliver(self, bufsize: int, flags: int, call: str) -> bytes:
        inbound = self._in
        trace = self.loop.trace
        if self._connect.state != "idle" and self._connect.state != "connected":
            return self._deliver_unconnected(bufsize, call)
        if self._hold_until is not None:
            # A time step holds back what waits (bytes, or the FIN): the call sees nothing yet.
            self._trace(call, asked=bufsize, result="EAGAIN", injected=True, step=self._reads.shaped,
                        until=self._hold_until)
            self._count_eagain(call)
            raise oserror(BlockingIOError, errno.EAGAIN)
        if not inbound.available:
            if inbound.fin or self._reset:
                self._trace(call, asked=bufsize, result="EOF", nbytes=0)
                return b""
            # The detail is built only for a trace that keeps or hears it (the hot path of a dribble).
            if trace.packing:  # what ``_trace`` records, without its extra call (and packed: ``Trace.emit``)
                trace.emit("fd", call, EAGAIN_KEYS, (self._fileno, self.role, bufsize, "EAGAIN", False))
            elif trace.active:
                trace.record("fd", call, fd=self._fileno, role=self.role, asked=bufsize, result="EAGAIN",
                             injected=False)
            else:
                trace._count += 1  # ``trace.skip()``, without the call (a hot path)
            # What ``_count_eagain`` does short of the spin limit, without the call.
            step = self.loop.step
            if step != self._eagain_step:
                self._eagain_step, self._eagain_count = step, 1
            elif self._eagain_count < SPIN_LIMIT:
                self._eagain_count += 1
            else:
                self._count_eagain(call)
            raise BlockingIOError(_EAGAIN, _EAGAIN_MESSAGE)  # ``oserror(BlockingIOError, errno.EAGAIN)``
        reads = self._reads
        step = reads.step
        wanted = min(bufsize, inbound.available)
        fixed = reads.fixed_limit
        if fixed < 0:
            data = inbound.take(reads.limit(wanted), self.received)
            reads.delivered(len(data))
        else:  # a step ``limit`` caps at ``fixed`` and ``delivered`` leaves as it is (the cursor says so)
            data = inbound.take(wanted if wanted < fixed else fixed, self.received)
        self.bytes_received += len(data)
        if trace.active:
            shaped = step.kind if step is not None else ""  # the step that shaped it (``reads.shaped``)
            if trace.packing:
                trace.emit("fd", call, DATA_KEYS if self.record_payload else DATA_KEYS_BARE,
                           (self._fileno, self.role, bufsize, "data", len(data), shaped, data[:PAYLOAD_PREFIX]))
            elif self.record_payload:
                trace.record("fd", call, fd=self._fileno, role=self.role, asked=bufsize, result="data",
                             nbytes=len(data), shaped=shaped, data_hex=hexdump_bytes(data))
            else:
                trace.record("fd", call, fd=self._fileno, role=self.role, asked=bufsize, result="data",
                             nbytes=len(data), shaped=shaped)
        else:
            trace._count += 1  # ``trace.skip()``, without the call (a hot path)
        if fixed < 0 and reads.arrivals_pending():  # (a step with a fixed limit is no connection step)
            self._settle()
        return data

    def _count_eagain(self, call: str) -> None:
        step = self.loop.step
        if step != self._eagain_step:
            self._eagain_step, self._eagain_count = step, 0
        self._eagain_count += 1
        if self._eagain_count > SPIN_LIMIT:
            self._trace("spin", call=call, eagain=self._eagain_count)
            error = BusyLoopError(
                f"fd {self._fileno}: {call} answered EWOULDBLOCK {self._eagain_count} times in loop step {step}; "
                "the caller retries instead of waiting for readiness (a busy loop)"
            )
            if self.loop.pending_abort is None:
                self.loop.pending_abort = error
            raise error

    def _settle(self) -> None:
        """Apply the steps that happen *to* the connection rather than to one call: a flood arriving,
        the peer's FIN, the peer's RST, a time step holding the connection back (or letting it go). They take
        effect as soon as the cursor reaches them (and so does the reset a connect step left for right after the
        connection came up)."""
        if self._connect.reset_pending:
            self._reset_after_connect()
        reads = self._reads
        if reads.arrivals_pending():
            self._arrive()
        if isinstance(reads.step, HOLD_STEPS):
            self._settle_time()

    def _settle_time(self) -> None:
        """Start the clock of the time step the cursor is at when it applies (something waits), and end it
        when its time has come (the plan goes on; what follows may arrive, or be held by the next step).
        A hold registers a timeout for its end, so the loop's clock jumps there when nothing else is ready."""
        reads = self._reads
        for _ in range(len(reads.steps) + 1):
            step = reads.step
            if not isinstance(step, HOLD_STEPS):
                return
            now = self.loop.time()
            if self._hold_until is None:
                if not step.holds(self._in.available, self._in.fin):  # type: ignore[attr-defined]
                    return
                self._hold_until = now + step.seconds  # type: ignore[attr-defined]
                self.faults_injected += 1
                self._trace("inject", fault=step.kind, seconds=step.seconds, until=self._hold_until)  # type: ignore[attr-defined]
                self.loop.add_timeout(self._hold_until, self._time_up)
                return
            if now < self._hold_until:
                return
            self._trace("release", fault=step.kind, held=step.seconds)  # type: ignore[attr-defined]
            self._hold_until = None
            reads._advance()
            if reads.arrivals_pending():
                self._arrive()

    def _time_up(self) -> None:
        """The moment a time step ends: nothing to do here (the next poll or call settles the fd); the timeout
        only makes the loop's clock come to this moment."""

    def _arrive(self) -> None:
        for step in self._reads.arrivals():
            if isinstance(step, Flood):
                self._in.insert_generated(step.nbytes, step.pattern_seed)
                self.faults_injected += 1
                self._trace("inject", fault="flood", nbytes=step.nbytes)
            elif isinstance(step, Eof):
                lost = self._in.discard()
                self._in.fin = True
                self._in.dead = True
                self.faults_injected += 1
                self._trace("inject", fault="eof", discarded=lost)
            elif isinstance(step, Reset):
                self._apply_reset("reset")

    def _apply_reset(self, why: str) -> None:
        lost = self._in.discard()
        self._in.dead = True
        self._out.dead = True
        self._out.discard()
        self._reset = True
        self._so_error = errno.ECONNRESET
        self.faults_injected += 1
        self._trace("inject", fault=why, discarded=lost)

    # -- what the loop asks -------------------------------------------------------------------------
    def poll_events(self) -> int:
        """The readiness an ``epoll`` would report now (level-triggered); a time step holding the connection
        back hides what waits (no READ) or the room to write (no WRITE) until its time has come."""
        if self._closed:
            return 0
        connect = self._connect
        if connect.state != "idle" and connect.state != "connected":
            return self._poll_unconnected()
        reads = self._reads
        fixed = reads.fixed_limit >= 0
        if connect.reset_pending or (not fixed and (reads.arrivals_pending() or isinstance(reads.step, HOLD_STEPS))):
            # (a step with a fixed limit settles nothing; a reset left by the connect always does, and a time
            # step starts or ends its hold here)
            self._settle()
        events = 0
        inbound = self._in
        # (a step with a fixed limit, none or a Dribble, fails no call: no read fault is pending under it)
        if self._hold_until is None and (inbound.available or inbound.fin
                                         or (not fixed and self._read_fault_pending())):
            events |= READ
        if self._reset:
            events |= READ | ERROR | WRITE
        elif self._connecting:
            self._connecting = False  # the handshake with the fake peer completes at the first poll
            events |= WRITE
        elif self._stall_until is not None and self.loop.time() < self._stall_until:
            pass  # the peer does not read: no room to write yet
        elif self._out.dead or self._out.available < self._out.capacity:
            events |= WRITE
        return events

    def _read_fault_pending(self) -> bool:
        """Whether the plan wakes a reader for its next recv although no byte waits (a spurious wakeup).

        Under ``cpython`` an EINTR is retried inside recv and wakes nobody: what counts is the step behind the
        EINTRs. It wakes the reader when it would without them (a burst of EWOULDBLOCK) or when it happens to
        the connection (a flood, the peer's FIN or RST, which settle once the EINTRs are consumed), unless
        it only shapes a delivery that waits for bytes to arrive.
        """
        reads = self._reads
        if self.profile == "raw" or not isinstance(reads.step, Eintr):
            return reads.pending_call_fault()
        behind = next((s for s in reads.steps[reads.index:] if not isinstance(s, Eintr)), None)
        waits = behind is None or isinstance(behind, (Chunk, Dribble))
        return not (waits or (isinstance(behind, Pass) and behind.nbytes > 0))

    # -- peer conveniences --------------------------------------------------------------------------
    def reset(self) -> None:
        """Reset the connection from this end: the other end's next recv raises ECONNRESET."""
        self._check_open("reset")
        self._trace("reset")
        other = self.peer
        if other is not None and not other._closed:
            other._apply_reset("peer_reset")
        self._closed = True
        self.loop._unregister_fd(self)

    def pending(self) -> int:
        """Bytes waiting to be received on this end."""
        return self._in.available

    def _check_open(self, call: str) -> None:
        if self._closed:
            self._trace(call, result="EBADF", injected=False)
            raise oserror(OSError, errno.EBADF)

    def _trace(self, kind: str, **detail: Any) -> None:
        self.loop.trace.record("fd", kind, fd=self._fileno, role=self.role, **detail)


def socketpair(
    loop: IOLoop,
    plan: FaultPlan | None = None,
    *,
    capacity: int = DEFAULT_CAPACITY,
    keep_received: bool = True,
    record_payload: bool = True,
    profile: str = "raw",
) -> tuple[FakeSocket, FakeSocket]:
    """A connected pair ``(target, peer)``: ``target`` obeys ``plan``, ``peer`` is ordinary.

    ``record_payload=False`` keeps byte prefixes out of the trace (for ciphertext, which differs on
    every run and says nothing). ``profile`` is the target's realism profile (``faultio.PROFILES``):
    ``"raw"`` raises an injected EINTR as ``InterruptedError``; ``"cpython"`` absorbs it as CPython's
    socket methods do since PEP 475 (a recv or send retried inside; a send of more than one byte that a
    ``SendEintr`` interrupts returns the first half, at least one byte). A bad name is a ``ValueError``."""
    if plan is not None and not isinstance(plan, FaultPlan):
        raise TypeError(f"plan must be a FaultPlan or None, got {type(plan).__name__}")
    check_profile(profile)
    to_target, to_peer = Pipe(capacity), Pipe(capacity)
    target = FakeSocket(
        loop, inbound=to_target, outbound=to_peer, plan=plan, role="target", keep_received=keep_received,
        record_payload=record_payload, profile=profile,
    )
    peer = FakeSocket(loop, inbound=to_peer, outbound=to_target, plan=None, role="peer",
                      record_payload=record_payload)
    target.peer, peer.peer = peer, target
    return target, peer
