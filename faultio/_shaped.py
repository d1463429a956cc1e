"""The surface that fake fds and real-socket wrappers share: the plan's faults before any byte moves.

Rules for this module:
- Only what is the same for both kinds of fd lives here: ``recv``/``recv_into``, the per-call faults the
  plan injects, a pending reset reported once, the zero-length read, and which write step a send meets
  under the fd's profile. Where the bytes come from or go to (a simulated pipe, a kernel socket, a
  generated flood) is each subclass's ``_deliver`` and ``send``.
- Exceptions are the stdlib's (``CALL_FAULT_ERRORS``); the trace says whether a fault was injected.
- The realism profile (``PROFILES``) is a property of the fd, never of the plan: it decides only what an
  interruption the plan injects looks like to the caller. ``raw`` raises it (``InterruptedError``), as a
  raw fd does; ``cpython`` absorbs it, as CPython's socket methods do since PEP 475 (Python 3.5): the call
  is retried inside, or a send that had moved bytes returns its partial count. An absorbed interruption
  is still a fault that happened: counted in ``faults_injected`` and traced as injected.
"""

from __future__ import annotations

import errno
from typing import Any

from ._cursor import CALL_FAULT_ERRORS, ReadCursor, WriteCursor, oserror
from ._plan import Eintr, SendEintr, Step

#: The realism profiles an fd can have: ``raw`` (an interruption raises ``InterruptedError``, as a raw fd's
#: syscall does) and ``cpython`` (CPython's socket methods retry EINTR themselves, PEP 475).
PROFILES: tuple[str, ...] = ("raw", "cpython")

#: Trace results of an interruption a ``cpython`` fd absorbed: the call was retried, or (a send) it returned
#: the bytes it had moved before the signal.
RETRIED, PARTIAL = "EINTR-retried", "EINTR-partial"


def check_profile(profile: object) -> str:
    """``profile`` when it names a realism profile; otherwise a ``ValueError`` naming the valid ones."""
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"profile {profile!r} is not valid; valid: {', '.join(PROFILES)}")
    return profile


def interrupted_send_bytes(nbytes: int) -> int:
    """How many of ``nbytes`` a ``cpython`` send keeps when a ``SendEintr`` step interrupts it: the first half
    (at least 1) when it sends more than one byte, else 0 (nothing had moved, so CPython retries the call)."""
    return max(1, nbytes // 2) if nbytes > 1 else 0


class PlanShapedSocket:
    """Base of ``FakeSocket`` and ``FaultySocket``: a socket surface whose receives obey a plan.

    Subclasses set ``_reads`` (a ``ReadCursor``), ``_writes`` (a ``WriteCursor``), ``_so_error``,
    ``faults_injected``, ``recv_calls`` and ``profile`` (one of ``PROFILES``; ``raw`` unless set) and
    provide ``_trace(kind, **detail)``, ``_settle()`` and ``_deliver(bufsize, flags, call) -> bytes``;
    ``_check_open(call)`` may refuse calls on a closed fd.
    """

    #: The realism profile: what an interruption the plan injects looks like to the caller (``PROFILES``).
    profile: str = "raw"
    _reads: ReadCursor
    _writes: WriteCursor
    _so_error: int
    faults_injected: int
    recv_calls: int

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes, as the plan shapes them; ``b""`` at EOF.

        Raises what the OS would: ``BlockingIOError`` when nothing is there, ``InterruptedError`` (``raw``
        profile only) or ``BlockingIOError`` by plan, ``ConnectionResetError`` after a reset (and, for a fake fd,
        ``OSError(EBADF)`` once closed and ``BusyLoopError`` when EWOULDBLOCK repeats past its spin limit
        in one loop step).
        """
        self.recv_calls += 1
        return self._recv(bufsize, flags, "recv")

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """``recv`` into ``buffer`` (at most ``nbytes``, or its size); returns how many bytes were written."""
        self.recv_calls += 1
        view = memoryview(buffer).cast("B")
        data = self._recv(nbytes or len(view), flags, "recv_into")
        view[: len(data)] = data
        return len(data)

    def _recv(self, bufsize: int, flags: int, call: str) -> bytes:
        self._check_open(call)
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        self._settle()
        step = self._reads.call_fault()
        while isinstance(step, Eintr) and self.profile == "cpython":
            # PEP 475: CPython retries recv() on EINTR itself, so the caller never sees the interruption. The
            # retry is a second call into the kernel: the connection settles again and the plan's next
            # step decides it (another EINTR is absorbed the same way).
            self._absorbed(call, step, asked=bufsize, result=RETRIED)
            self._settle()
            step = self._reads.call_fault()
        if step is not None:
            return self._inject(call, step)
        if self._so_error:
            # A reset that arrived is reported once, by the first call that asks (like SO_ERROR).
            code, self._so_error = self._so_error, 0
            self._trace(call, asked=bufsize, result=errno.errorcode[code], injected=True)
            raise oserror(OSError, code)  # the subclass the errno names: ConnectionResetError, ...RefusedError
        if bufsize == 0:
            return b""
        return self._deliver(bufsize, flags, call)

    def _inject(self, call: str, step: Step) -> Any:
        """Raise what ``step`` makes this call raise, and say in the trace that it was injected."""
        cls, code = CALL_FAULT_ERRORS[type(step)]
        self.faults_injected += 1
        self._trace(call, result=errno.errorcode[code], injected=True, step=step.kind)
        raise oserror(cls, code)

    def _absorbed(self, call: str, step: Step, **detail: Any) -> None:
        """Count and trace an interruption the ``cpython`` profile kept from the caller: it was injected all
        the same, so monitors and reports see it."""
        self.faults_injected += 1
        self._trace(call, **detail, injected=True, step=step.kind, profile=self.profile)

    def _send_fault(self, asked: int, movable: int) -> tuple[Step | None, int]:
        """The write step that fails a send of ``asked`` bytes (consumed), and, under ``cpython``, how many
        bytes an interruption lets it move (0: none interrupted it, or one came before any byte moved).
        ``movable`` is how many bytes the send could move now (0 when it is bound to fail: a reset pending,
        the connection shut, no room).

        ``raw`` returns the step as the plan has it (a ``SendEintr`` is raised). ``cpython`` absorbs each
        ``SendEintr``. When the send can move more than one byte, the signal is taken to arrive once the
        kernel holds the first half (``interrupted_send_bytes``): CPython returns that partial count instead of
        retrying, so the send moves those bytes and says so in its trace event (``result=EINTR-partial``), and
        the plan's next write step waits for the next send. Otherwise nothing had moved, so CPython retries the
        call: the interruption is traced here (``result=EINTR-retried``) and the plan's next step decides.
        """
        step = self._writes.call_fault()
        while isinstance(step, SendEintr) and self.profile == "cpython":
            keep = interrupted_send_bytes(movable)
            if keep:
                return None, keep  # counted and traced by the send, with the bytes it moved
            self._absorbed("send", step, asked=asked, result=RETRIED)
            step = self._writes.call_fault()
        return step, 0

    def _partial_send(self) -> dict[str, Any]:
        """Count the interruption that cut a ``cpython`` send short; the detail its trace event adds."""
        self.faults_injected += 1
        return {"result": PARTIAL, "injected": True, "step": SendEintr.kind, "profile": self.profile,
                "why": "a signal arrived once the kernel held the first half; CPython returns the partial count"}

    def _check_open(self, call: str) -> None:
        """Refuse a call on a closed fd (a real socket refuses by itself)."""

    # Provided by subclasses.
    def _trace(self, kind: str, **detail: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _settle(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _deliver(self, bufsize: int, flags: int, call: str) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError
