"""Plan cursors: where one fd is in its fault plan, and what the plan says the next call does.

Rules for this module:
- Decisions only, no I/O: a cursor is told what a call found (bytes available, bytes moved) and answers
  with what the plan makes of it. The fake fds (``_fakefd``) and the real-socket wrapper (``_realfd``) both
  ask the same cursors, so one plan means the same thing everywhere.
- A cursor never raises an OS error itself; it returns the step that fires and the fd raises the matching
  stdlib exception (``CALL_FAULT_ERRORS``).
"""

from __future__ import annotations

import errno
import os
from typing import Iterator

from ._plan import (
    Chunk,
    Dribble,
    Eintr,
    Eof,
    Flood,
    Pass,
    Reset,
    SendBrokenPipe,
    SendEintr,
    SendPartial,
    SendReset,
    SendWouldBlock,
    Step,
    WouldBlock,
)


_STRERROR: dict[int, str] = {}


def oserror(cls: type[OSError], code: int) -> OSError:
    """The exception the OS would raise: ``cls`` with ``code`` and its standard message."""
    message = _STRERROR.get(code)
    if message is None:
        message = _STRERROR[code] = os.strerror(code)
    return cls(code, message)


#: What each per-call fault step makes the call raise (exception class, errno).
CALL_FAULT_ERRORS: dict[type[Step], tuple[type[OSError], int]] = {
    Eintr: (InterruptedError, errno.EINTR),
    WouldBlock: (BlockingIOError, errno.EAGAIN),
    SendEintr: (InterruptedError, errno.EINTR),
    SendWouldBlock: (BlockingIOError, errno.EAGAIN),
    SendReset: (ConnectionResetError, errno.ECONNRESET),
    SendBrokenPipe: (BrokenPipeError, errno.EPIPE),
}


class GeneratedBytes:
    """``nbytes`` bytes of a repeating 256-byte pattern, produced on demand (a flood never materialised)."""

    __slots__ = ("remaining", "offset", "pattern")

    def __init__(self, nbytes: int, pattern_seed: int) -> None:
        self.remaining = nbytes
        self.offset = 0
        # A permutation of all byte values, rotated by the seed: every byte value appears, none is special.
        base = bytes(range(256))
        shift = pattern_seed % 256
        self.pattern = base[shift:] + base[:shift]

    def __len__(self) -> int:
        return self.remaining

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes of the pattern (fewer if fewer remain), consumed."""
        n = min(n, self.remaining)
        start = self.offset % 256
        reps = (start + n) // 256 + 1
        out = (self.pattern * reps)[start : start + n]
        self.offset += n
        self.remaining -= n
        return out


#: The read steps ``ReadCursor.arrivals`` acts on (an exhausted ``Pass`` is skipped there).
_CONNECTION_STEPS = (Pass, Flood, Eof, Reset)


#: ``ReadCursor.fixed_limit`` with no read step left: no cap.
NO_LIMIT = 1 << 62


def _fixed_limit(step: Step | None) -> int:
    """``ReadCursor.fixed_limit`` for ``step`` (see there)."""
    if step is None:
        return NO_LIMIT
    if type(step) is Dribble and step.nbytes is None:
        return 1
    return -1


class ReadCursor:
    """The read side of a plan: per-call faults, delivery shaping and connection-level arrivals."""

    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps
        self.index = 0
        self._left: int | None = None  # progress inside the current counted step
        #: The current read step, or ``None`` once the plan's read side is used up (kept by ``_advance``, the
        #: only place ``index`` moves: the fds ask for it several times per call).
        self.step: Step | None = steps[0] if steps else None
        #: How many bytes any delivery may hand out while the current step stays as it is, when that is all
        #: there is to it (no step left: no cap; a ``Dribble`` for ever: 1): ``limit`` gives that cap and
        #: ``delivered`` changes nothing. ``-1`` when the step needs ``limit`` and ``delivered`` asked.
        self.fixed_limit = _fixed_limit(self.step)

    @property
    def shaped(self) -> str:
        """The kind of the step shaping the next delivery ("" when none)."""
        step = self.step
        return step.kind if step is not None else ""

    def _advance(self) -> None:
        self.index += 1
        self._left = None
        self.step = self.steps[self.index] if self.index < len(self.steps) else None
        self.fixed_limit = _fixed_limit(self.step)

    def arrivals_pending(self) -> bool:
        """Whether ``arrivals()`` may have anything to do (cheap: the current step is one it looks at)."""
        return isinstance(self.step, _CONNECTION_STEPS)

    def _remaining(self, total: int) -> int:
        return self._left if self._left is not None else total

    def arrivals(self) -> Iterator[Step]:
        """The steps that happen *to the connection* and are due now (a flood arriving, the peer's FIN, the
        peer's RST), consumed in order. An exhausted ``Pass`` is skipped on the way."""
        for _ in range(len(self.steps) + 1):
            step = self.step
            if isinstance(step, Pass) and self._remaining(step.nbytes) <= 0:
                self._advance()
            elif isinstance(step, (Flood, Eof, Reset)):
                self._advance()
                yield step
            else:
                return

    def call_fault(self) -> Step | None:
        """The step that makes this call fail (``Eintr`` or one of a ``WouldBlock`` burst), consumed; or None."""
        step = self.step
        if isinstance(step, Eintr):
            self._advance()
            return step
        if isinstance(step, WouldBlock):
            left = self._remaining(step.count) - 1
            if left:
                self._left = left
            else:
                self._advance()
            return step
        return None

    def pending_call_fault(self) -> bool:
        """True when the next call will fail by plan (a poll reports the fd readable: a spurious wakeup)."""
        return isinstance(self.step, (Eintr, WouldBlock))

    def limit(self, wanted: int) -> int:
        """How many of ``wanted`` bytes the next delivery may hand out."""
        step = self.step
        if isinstance(step, Chunk):
            return min(wanted, step.max_bytes)
        if isinstance(step, Pass):
            return min(wanted, self._remaining(step.nbytes))
        if isinstance(step, Dribble):
            return min(wanted, 1)
        return wanted

    def delivered(self, nbytes: int) -> None:
        """Account for ``nbytes`` handed out by a recv: a ``Chunk`` is used up; ``Pass``/``Dribble`` count."""
        step = self.step
        if isinstance(step, Chunk):
            self._advance()
        elif isinstance(step, (Pass, Dribble)) and step.nbytes is not None:
            left = self._remaining(step.nbytes) - nbytes
            self._left = left
            if left <= 0:
                self._advance()


class WriteCursor:
    """The write side of a plan: per-call faults and short sends."""

    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps
        self.index = 0
        self._left: int | None = None
        #: The current write step, or ``None`` once the plan's write side is used up (kept by ``_next``, the
        #: only place ``index`` moves: every send asks for it).
        self.step: Step | None = steps[0] if steps else None

    def _next(self) -> None:
        self.index += 1
        self._left = None
        self.step = self.steps[self.index] if self.index < len(self.steps) else None

    @property
    def shaped(self) -> str:
        """The kind of the step shaping the next send ("" when none)."""
        step = self.step
        return step.kind if step is not None else ""

    def _count_down(self, total: int) -> None:
        left = (self._left if self._left is not None else total) - 1
        if left:
            self._left = left
        else:
            self._next()

    def call_fault(self) -> Step | None:
        """The step that makes this send fail (EINTR, EAGAIN, reset, broken pipe), consumed; or None."""
        step = self.step
        if isinstance(step, SendWouldBlock):
            self._count_down(step.count)
            return step
        if isinstance(step, (SendEintr, SendReset, SendBrokenPipe)):
            self._next()
            return step
        return None

    def limit(self, wanted: int) -> int:
        """How many of ``wanted`` bytes the next send may accept (a ``SendPartial`` caps it, and so does the
        rest of a byte budget: ``step.nbytes`` of a step with ``counts_bytes``, ``faultio._time_faults.SendPass``)."""
        step = self.step
        if isinstance(step, SendPartial):
            return min(wanted, step.max_bytes)
        if getattr(step, "counts_bytes", False):
            return min(wanted, self._left if self._left is not None else step.nbytes)  # type: ignore[union-attr]
        return wanted

    def sent(self, nbytes: int = 0) -> None:
        """A send moved ``nbytes``: a ``SendPartial`` counts one of its sends, a byte budget the bytes."""
        step = self.step
        if isinstance(step, SendPartial):
            self._count_down(step.count)
        elif getattr(step, "counts_bytes", False):
            left = (self._left if self._left is not None else step.nbytes) - nbytes  # type: ignore[union-attr]
            if left > 0:
                self._left = left
            else:
                self._next()

    def advance(self) -> None:
        """The current step is over (a stall whose time has come): the plan goes on with the next one."""
        self._next()
