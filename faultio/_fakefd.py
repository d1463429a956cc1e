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

import collections
import errno
import socket
from typing import TYPE_CHECKING, Any

from ._bytelog import ByteLog
from ._cursor import GeneratedBytes, ReadCursor, WriteCursor, oserror
from ._errors import BusyLoopError
from ._plan import Chunk, Dribble, Eintr, Eof, FaultPlan, Flood, Pass, Reset, SendBrokenPipe, SendReset
from ._shaped import PlanShapedSocket, check_profile
from ._time_faults import HOLD_STEPS, SendStall
from ._trace import hexdump_bytes

if TYPE_CHECKING:  # pragma: no cover
    from ._loop import IOLoop

READ = 0x001
WRITE = 0x004
ERROR = 0x018

#: How many EWOULDBLOCK answers one fd gives within a single loop step before it calls the caller a spinner.
SPIN_LIMIT = 256

#: How many bytes may sit unread in one direction before ``send`` reports EWOULDBLOCK.
DEFAULT_CAPACITY = 4 * 1024 * 1024



class _Pipe:
    """Bytes in flight in one direction: ordered segments (real bytes or generated floods)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.segments: collections.deque[Any] = collections.deque()
        self.available = 0
        self.accepted = 0  # bytes ever written into the pipe
        self.delivered = 0  # bytes ever read out of it
        self.fin = False  # the writer shut down: EOF once drained
        self.dead = False  # connection reset: nothing more flows
        #: The reading end closed its socket (not a reset): the first segment sent to it is still accepted by
        #: the sender's kernel, and the RST it provokes makes every later send fail (``FakeSocket.send``).
        self.reader_closed = False
        self.rst_provoked = False

    def append(self, data: bytes) -> None:
        if self.fin or self.dead:
            return  # the other side is gone or cut: bytes are dropped, as on a real reset
        self.segments.append(data)
        self.available += len(data)
        self.accepted += len(data)

    def insert_generated(self, nbytes: int, pattern_seed: int) -> None:
        self.segments.appendleft(GeneratedBytes(nbytes, pattern_seed))
        self.available += nbytes
        self.accepted += nbytes

    def take(self, n: int, log: ByteLog | None = None) -> bytes:
        """Remove and return up to ``n`` bytes; ``log`` (if given) records them, generated runs cheaply."""
        segments = self.segments
        if n > 0 and segments and type(segments[0]) is bytes:
            # One piece of real bytes answers the whole call (a dribble's byte, a read the first segment
            # covers): no copy into a bytearray. Same bytes, same log, same counts as the loop below.
            seg = segments[0]
            size = len(seg)
            if size > n:
                piece = seg[:n]
                segments[0] = seg[n:]
            elif size == n or len(segments) == 1:
                piece = segments.popleft()
            else:
                piece = None
            if piece is not None:
                if log is not None:
                    log.append(piece)
                self.available -= len(piece)
                self.delivered += len(piece)
                return piece
        out = bytearray()
        while n > 0 and self.segments:
            seg = self.segments[0]
            if isinstance(seg, GeneratedBytes):
                offset = seg.offset
                piece = seg.take(n)
                if log is not None:
                    log.append_generated(seg.pattern, offset, len(piece))
                if not seg.remaining:
                    self.segments.popleft()
            elif len(seg) <= n:
                piece = self.segments.popleft()
            else:
                piece, self.segments[0] = seg[:n], seg[n:]
            if log is not None and not isinstance(seg, GeneratedBytes):
                log.append(piece)
            out += piece
            n -= len(piece)
        self.available -= len(out)
        self.delivered += len(out)
        return bytes(out)

    def discard(self) -> int:
        lost = self.available
        self.segments.clear()
        self.available = 0
        return lost


class FakeSocket(PlanShapedSocket):
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
        inbound: _Pipe,
        outbound: _Pipe,
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
        self._writes = WriteCursor(self.plan.write)
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

    def connect(self, address: Any) -> None:
        """Non-blocking connect: raises EINPROGRESS; the socket becomes writable on the next poll."""
        self._check_open("connect")
        self._connecting = True
        self._trace("connect", address=repr(address))
        raise oserror(BlockingIOError, errno.EINPROGRESS)

    def connect_ex(self, address: Any) -> int:
        """``connect``, returning its errno (EINPROGRESS) instead of raising."""
        try:
            self.connect(address)
        except BlockingIOError as exc:
            return exc.errno
        return 0  # pragma: no cover

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

    # -- receiving (recv and recv_into come from PlanShapedSocket) ----------------------------------------
    def _deliver(self, bufsize: int, flags: int, call: str) -> bytes:
        inbound = self._in
        trace = self.loop.trace
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
            if trace.active:  # what ``_trace`` records, without its extra call and dict
                trace.record("fd", call, fd=self._fileno, role=self.role, asked=bufsize, result="EAGAIN",
                             injected=False)
            else:
                trace.skip()
            self._count_eagain(call)
            raise oserror(BlockingIOError, errno.EAGAIN)
        reads = self._reads
        shaped = reads.shaped
        data = inbound.take(reads.limit(min(bufsize, inbound.available)), self.received)
        reads.delivered(len(data))
        self.bytes_received += len(data)
        if trace.active:
            trace.record(
                "fd",
                call,
                fd=self._fileno,
                role=self.role,
                asked=bufsize,
                result="data",
                nbytes=len(data),
                shaped=shaped,
                **({"data_hex": hexdump_bytes(data)} if self.record_payload else {}),
            )
        else:
            trace.skip()
        if reads.arrivals_pending():
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
        the peer's FIN, the peer's RST, a time step holding the connection back (or letting it go)."""
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

    # -- sending ------------------------------------------------------------------------------------
    def send(self, data: Any, flags: int = 0) -> int:
        """Send what fits of ``data`` and return how many bytes were accepted (a ``SendPartial`` accepts fewer;
        under the ``cpython`` profile so does a send a ``SendEintr`` interrupts: see ``_send_fault``).

        Raises what the OS would: ``BlockingIOError`` when the peer's buffer is full; ``InterruptedError``
        (``raw`` profile only), ``BlockingIOError``, ``ConnectionResetError`` or ``BrokenPipeError`` by plan;
        ``ConnectionResetError`` or ``BrokenPipeError`` once the connection is reset or shut;
        ``OSError(EBADF)`` once closed.
        """
        self.send_calls += 1
        self._check_open("send")
        if isinstance(self._writes.step, SendStall):
            self._send_stalled()
        view = memoryview(data).cast("B")
        try:
            return self._send_view(view)
        finally:
            # No export of the caller's buffer may outlive the call (an exception's traceback keeps this frame):
            # asyncio clears and resizes its bytearray write buffer after a failed send.
            view.release()

    def _send_view(self, view: memoryview) -> int:
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
            raise oserror(ConnectionResetError, code)
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

    # -- what the loop asks -------------------------------------------------------------------------
    def poll_events(self) -> int:
        """The readiness an ``epoll`` would report now (level-triggered); a time step holding the connection
        back hides what waits (no READ) or the room to write (no WRITE) until its time has come."""
        if self._closed:
            return 0
        self._settle()
        events = 0
        if self._hold_until is None and (self._in.available or self._in.fin or self._read_fault_pending()):
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
    to_target, to_peer = _Pipe(capacity), _Pipe(capacity)
    target = FakeSocket(
        loop, inbound=to_target, outbound=to_peer, plan=plan, role="target", keep_received=keep_received,
        record_payload=record_payload, profile=profile,
    )
    peer = FakeSocket(loop, inbound=to_peer, outbound=to_target, plan=None, role="peer",
                      record_payload=record_payload)
    target.peer, peer.peer = peer, target
    return target, peer
