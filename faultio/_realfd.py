"""Real sockets that obey a ``FaultPlan``: the fake fd's faults, on a kernel socket any event loop can poll.

Rules for this module:
- The plan decides every fault, with the semantics ``docs/design.md`` gives the fake fds (``_fakefd``):
  the same steps, consumed in the same order, on the same calls. This module only translates them onto a
  real socket; it never invents a fault and never sleeps.
- The wrapper raises exactly what the OS would (``InterruptedError``, ``BlockingIOError``,
  ``ConnectionResetError``, ``BrokenPipeError``). Whether a fault was injected is written in the trace.
  The realism profile is the fake fd's too (``raw`` by default; ``cpython`` absorbs an injected EINTR the
  way CPython's socket methods do, PEP 475), decided by the shared code of ``_shaped``.
- Only ``recv``, ``recv_into``, ``send`` and ``sendall`` move bytes, and every one of them goes through the
  plan. Other byte-moving socket methods are refused rather than passed through unshaped.
- Readiness belongs to the kernel. A reset or the peer's FIN taken from the plan shuts the real socket's
  read side so that ``select``/``epoll`` report it readable and the reader comes to see it. Flood bytes live
  in this object, like plaintext inside a TLS object: a reader sees them when it reads (a correct reader
  reads until EWOULDBLOCK or until satisfied, and tries the socket again before waiting for readiness).
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from ._bytelog import ByteLog
from ._connect_faults import without_connect_steps
from ._cursor import GeneratedBytes, ReadCursor, WriteCursor, oserror
from ._plan import Eof, FaultPlan, Flood, Reset, SendBrokenPipe, SendEintr, SendReset
from ._shaped import RETRIED, PlanShapedSocket, check_profile
from ._trace import Trace, hexdump_bytes
from ._errors import PlanError
from ._time_faults import HOLD_STEPS, SendStall


def _is_timed(step: object) -> bool:
    """Whether ``step`` names virtual time (a real socket has no virtual clock to honour it with)."""
    return isinstance(step, (*HOLD_STEPS, SendStall))

__all__ = ["FaultySocket", "real_socketpair"]

#: Socket methods that move bytes outside the plan; the wrapper refuses them by name.
_UNSHAPED = frozenset({"recvfrom", "recvfrom_into", "recvmsg", "recvmsg_into", "sendto", "sendmsg",
                       "sendfile", "makefile", "dup"})



class FaultySocket(PlanShapedSocket):
    """A connected, non-blocking kernel socket whose ``recv``/``recv_into``/``send`` obey ``plan``.

    Hand it to any code that takes a socket object (Tornado 6's ``IOStream``, an asyncio reader using
    ``loop.add_reader(sock.fileno(), ...)`` or ``loop.sock_recv``). ``fileno()`` is the real descriptor.

    Counters for assertions: ``recv_calls``, ``send_calls``, ``faults_injected``, ``bytes_received``,
    ``bytes_sent``; ``received`` holds every byte ``recv`` handed out. ``trace`` records every call, one
    event per call (the event's ``step`` is the call's number). ``profile`` is the realism profile, as for
    ``faultio.socketpair``: ``"raw"`` raises an injected EINTR, ``"cpython"`` absorbs it.
    """

    def __init__(self, sock: socket.socket, plan: FaultPlan | None = None, *, trace: Trace | None = None,
                 profile: str = "raw") -> None:
        if plan is not None and not isinstance(plan, FaultPlan):
            raise TypeError(f"plan must be a FaultPlan or None, got {type(plan).__name__}")
        self.profile = check_profile(profile)
        timed = [s.kind for s in (plan.read + plan.write if plan is not None else ()) if _is_timed(s)]
        if timed:
            raise PlanError(f"a real socket cannot honour the time steps {', '.join(sorted(set(timed)))}: they need "
                            "the simulated kernel's virtual clock (faultio.socketpair)")
        self._sock = sock
        sock.setblocking(False)
        self.plan = plan or FaultPlan()
        self.trace = trace if trace is not None else Trace()
        self._reads = ReadCursor(self.plan.read)
        # A connect step takes effect only on a fake fd's connect(); a real socket is connected already.
        self._writes = WriteCursor(without_connect_steps(self.plan.write))
        self._flood: GeneratedBytes | None = None
        self._eof = False  # the plan's FIN arrived: recv returns b"" from now on
        self._reset = False
        self._so_error = 0
        self._closed = False
        self._calls = 0
        self.recv_calls = 0
        self.send_calls = 0
        self.faults_injected = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        #: Every byte ``recv``/``recv_into`` handed out, in order (flood bytes kept as generated runs).
        self.received = ByteLog()
        self._settle()

    # -- the plain socket surface -------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._sock.fileno()}"
        return f"<FaultySocket {state} plan={self.plan.name or 'plan'}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in _UNSHAPED:
            raise AttributeError(
                f"FaultySocket does not offer {name}(): it would move bytes around the fault plan; "
                "use recv, recv_into, send or sendall"
            )
        return getattr(self._sock, name)

    @property
    def sock(self) -> socket.socket:
        """The wrapped kernel socket (bytes moved through it directly skip the plan)."""
        return self._sock

    @property
    def family(self) -> int:
        """The wrapped socket's address family."""
        return self._sock.family

    @property
    def type(self) -> int:
        """The wrapped socket's type."""
        return self._sock.type

    def fileno(self) -> int:
        """The real descriptor, for any event loop to poll."""
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        """Set the wrapped socket's blocking mode."""
        self._sock.setblocking(flag)

    def gettimeout(self) -> float | None:
        """The wrapped socket's timeout."""
        return self._sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        """Set the wrapped socket's timeout."""
        self._sock.settimeout(value)

    def setsockopt(self, *args: Any) -> None:
        """Set an option on the wrapped socket."""
        self._sock.setsockopt(*args)

    def getsockopt(self, level: int, optname: int, *args: Any) -> Any:
        """``SO_ERROR`` returns (and clears) the error of a reset the plan injected; anything else asks the
        wrapped socket."""
        if level == socket.SOL_SOCKET and optname == socket.SO_ERROR and self._so_error:
            code, self._so_error = self._so_error, 0
            self._trace("getsockopt", option="SO_ERROR", value=code, injected=True)
            return code
        return self._sock.getsockopt(level, optname, *args)

    def shutdown(self, how: int) -> None:
        """Shut down the wrapped socket (recorded in the trace)."""
        self._trace("shutdown", how=how)
        self._sock.shutdown(how)

    def close(self) -> None:
        """Close the wrapped socket (recorded in the trace)."""
        self._trace("close")
        self._closed = True
        self._sock.close()

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    # -- receiving (recv and recv_into come from PlanShapedSocket) ----------------------------------------
    def _deliver(self, bufsize: int, flags: int, call: str) -> bytes:
        if self._eof or self._reset:
            self._trace(call, asked=bufsize, result="EOF", nbytes=0, injected=True)
            return b""
        shaped = self._reads.shaped
        limit = self._reads.limit(bufsize)
        if self._flood is not None:
            flood, offset = self._flood, self._flood.offset
            data = flood.take(limit)
            self.received.append_generated(flood.pattern, offset, len(data))
            if not flood.remaining:
                self._flood = None
        else:
            try:
                data = self._sock.recv(limit, flags)
            except BlockingIOError:
                self._trace(call, asked=bufsize, result="EAGAIN", injected=False)
                raise
            except OSError as exc:
                self._trace(call, asked=bufsize, result=errno.errorcode.get(exc.errno or 0, repr(exc)),
                             injected=False)
                raise
            if not data:
                self._trace(call, asked=bufsize, result="EOF", nbytes=0, injected=False)
                return b""
            self.received.append(data)
        self._reads.delivered(len(data))
        self.bytes_received += len(data)
        self._trace(call, asked=bufsize, result="data", nbytes=len(data), data_hex=hexdump_bytes(data),
                     shaped=shaped)
        self._settle()
        return data

    def _settle(self) -> None:
        """Apply the steps that happen to the connection rather than to one call (a flood, the peer's FIN,
        the peer's RST) as soon as the cursor reaches them, as the fake fd does."""
        for step in self._reads.arrivals():
            if isinstance(step, Flood):
                self._flood = GeneratedBytes(step.nbytes, step.pattern_seed)
                self.faults_injected += 1
                self._trace("inject", fault="flood", nbytes=step.nbytes)
            elif isinstance(step, Eof):
                self._eof = True
                self._flood = None
                self.faults_injected += 1
                self._trace("inject", fault="eof")
                # The kernel must see the end too, or a reader waiting for readiness would wait for ever.
                self._shutdown_quietly(socket.SHUT_RD)
            elif isinstance(step, Reset):
                self._apply_reset("reset")

    def _apply_reset(self, why: str) -> None:
        self._reset = True
        self._flood = None
        self._so_error = errno.ECONNRESET
        self.faults_injected += 1
        self._trace("inject", fault=why)
        # Both directions end: our reader becomes readable (and sees the reset), the peer reads EOF.
        self._shutdown_quietly(socket.SHUT_RDWR)

    def _shutdown_quietly(self, how: int) -> None:
        try:
            self._sock.shutdown(how)
        except OSError:
            pass  # already shut down or disconnected: the end is visible either way

    # -- sending ------------------------------------------------------------------------------------
    def send(self, data: Any, flags: int = 0) -> int:
        """Send some of ``data`` through the wrapped socket and return how many bytes went out (a ``SendPartial``
        sends fewer; under ``cpython`` so does a send a ``SendEintr`` interrupts). Raises the kernel's own
        errors, or ``InterruptedError`` (``raw`` only), ``BlockingIOError``, ``ConnectionResetError`` or
        ``BrokenPipeError`` by plan."""
        self.send_calls += 1
        view = memoryview(data).cast("B")
        step, interrupted = self._send_fault(len(view), 0 if self._so_error or self._reset else len(view))
        if isinstance(step, SendReset):
            self._apply_reset("send_reset")
            self._so_error = 0
            return self._inject("send", step)
        if isinstance(step, SendBrokenPipe):
            self._shutdown_quietly(socket.SHUT_WR)
            return self._inject("send", step)
        if step is not None:
            return self._inject("send", step)
        if self._so_error:
            code, self._so_error = self._so_error, 0
            self._trace("send", result=errno.errorcode[code], injected=True)
            raise oserror(ConnectionResetError, code)
        if self._reset:
            self._trace("send", asked=len(view), result="EPIPE", injected=True)
            raise oserror(BrokenPipeError, errno.EPIPE)
        if not len(view):
            return 0
        shaped = "" if interrupted else self._writes.shaped
        limit = interrupted or self._writes.limit(len(view))
        try:
            sent = self._sock.send(view[:limit], flags)
        except OSError as exc:
            if interrupted:  # the kernel took nothing, so nothing had moved: CPython retried and met this
                self._absorbed("send", SendEintr(), asked=len(view), result=RETRIED)
            self._trace("send", asked=len(view), result=errno.errorcode.get(exc.errno or 0, repr(exc)),
                         injected=False)
            raise
        if interrupted:
            outcome = self._partial_send()
        else:
            self._writes.sent(sent)
            outcome = {"result": "data"}
        self.bytes_sent += sent
        self._trace("send", asked=len(view), **outcome, nbytes=sent, data_hex=hexdump_bytes(view[:sent]),
                    shaped=shaped)
        return sent

    def sendall(self, data: Any, flags: int = 0) -> None:
        """``send`` until everything is accepted; like a non-blocking socket's ``sendall`` it raises
        ``BlockingIOError`` when the kernel buffer fills (after sending what fitted)."""
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view, flags):]

    def _trace(self, kind: str, **detail: Any) -> None:
        self._calls += 1
        self.trace.step = self._calls
        self.trace.record("fd", kind, fd=self._sock.fileno() if not self._closed else -1, role="target",
                          **detail)


def real_socketpair(plan: FaultPlan | None = None, *, family: int | None = None,
                    profile: str = "raw") -> tuple[FaultySocket, socket.socket]:
    """A connected pair of kernel sockets ``(target, peer)``, both non-blocking.

    ``target`` is a ``FaultySocket`` that obeys ``plan`` under the realism ``profile`` (``"raw"`` or
    ``"cpython"``); ``peer`` is an ordinary ``socket.socket`` the test drives. ``family`` defaults to
    ``AF_UNIX`` where it exists (else loopback TCP), as ``socket.socketpair``.
    """
    check_profile(profile)
    a, b = socket.socketpair() if family is None else socket.socketpair(family)
    b.setblocking(False)
    return FaultySocket(a, plan, profile=profile), b
