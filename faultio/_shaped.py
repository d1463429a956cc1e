"""The receiving surface that fake fds and real-socket wrappers share: the plan's faults before any byte.

Rules for this module:
- Only what is the same for both kinds of fd lives here: ``recv``/``recv_into``, the per-call faults the
  plan injects, a pending reset reported once, and the zero-length read. Where the bytes come from (a
  simulated pipe, a kernel socket, a generated flood) is each subclass's ``_deliver``.
- Exceptions are the stdlib's (``CALL_FAULT_ERRORS``); the trace says whether a fault was injected.
"""

from __future__ import annotations

import errno
from typing import Any

from ._cursor import CALL_FAULT_ERRORS, ReadCursor, oserror
from ._plan import Step


class PlanShapedSocket:
    """Base of ``FakeSocket`` and ``FaultySocket``: a socket surface whose receives obey a plan.

    Subclasses set ``_reads`` (a ``ReadCursor``), ``_so_error``, ``faults_injected``, ``recv_calls`` and
    provide ``_trace(kind, **detail)``, ``_settle()`` and ``_deliver(bufsize, flags, call) -> bytes``;
    ``_check_open(call)`` may refuse calls on a closed fd.
    """

    _reads: ReadCursor
    _so_error: int
    faults_injected: int
    recv_calls: int

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes, as the plan shapes them; ``b""`` at EOF.

        Raises what the OS would: ``BlockingIOError`` when nothing is there, ``InterruptedError`` or
        ``BlockingIOError`` by plan, ``ConnectionResetError`` after a reset (and, for a fake fd,
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
        if step is not None:
            return self._inject(call, step)
        if self._so_error:
            # A reset that arrived is reported once, by the first call that asks (like SO_ERROR).
            code, self._so_error = self._so_error, 0
            self._trace(call, asked=bufsize, result=errno.errorcode[code], injected=True)
            raise oserror(ConnectionResetError, code)
        if bufsize == 0:
            return b""
        return self._deliver(bufsize, flags, call)

    def _inject(self, call: str, step: Step) -> Any:
        """Raise what ``step`` makes this call raise, and say in the trace that it was injected."""
        cls, code = CALL_FAULT_ERRORS[type(step)]
        self.faults_injected += 1
        self._trace(call, result=errno.errorcode[code], injected=True, step=step.kind)
        raise oserror(cls, code)

    def _check_open(self, call: str) -> None:
        """Refuse a call on a closed fd (a real socket refuses by itself)."""

    # Provided by subclasses.
    def _trace(self, kind: str, **detail: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _settle(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _deliver(self, bufsize: int, flags: int, call: str) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError
