"""The loop's step budget: a livelock ends in an error, and a busy loop can be ended early (``watch_spin``).

Rules for this module:
- Steps and clock jumps together spend one budget, ``max_steps``; the loop asks ``_check_budget`` only when
  its count passes ``max_steps`` (a comparison on the hot path, nothing more), and the work that passed it is
  refused with ``LoopBudgetExceeded``.
- ``watch_spin`` lowers ``max_steps`` to a checkpoint every ``window`` steps; at each one the loop compares its
  clock, the bytes its fds have moved and what its caller counts as progress with the last checkpoint's. A change moves the checkpoint on (never
  past the whole budget); no change ends the run as a busy loop. Nothing is looked at between checkpoints.
"""

from __future__ import annotations

from typing import Any, Callable

from ._errors import LoopBudgetExceeded


class StepBudget:
    """The budget half of ``IOLoop`` (a base class of it; never used alone)."""

    max_steps: int
    step: int
    clock_jumps: int
    _time: float
    _fds: dict[int, Any]
    #: ``watch_spin``'s state, ``[window, progress at the last look, the whole budget, the caller's progress]``.
    _spin: list[Any] | None

    def _check_budget(self, last: str, *, jumping: bool = False) -> None:
        """Raise ``LoopBudgetExceeded`` once steps and clock jumps together pass ``max_steps``.

        Called just after ``step`` (or, with ``jumping``, ``clock_jumps``) was counted for the work that
        is about to happen; that work is refused.
        """
        if self.step + self.clock_jumps <= self.max_steps:
            return
        spin = self._spin
        budget = self.max_steps if spin is None else spin[2]
        if spin is not None and self.max_steps < budget:
            now = self._progress()
            if now == spin[1]:
                raise LoopBudgetExceeded(
                    f"the loop ran {spin[0]} steps in a row that moved no byte on any fd, no clock and no other "
                    f"progress it watches: a busy loop (last: {last})", steps=self.step + self.clock_jumps - 1)
            spin[1] = now
            self.max_steps = min(budget, self.max_steps + spin[0])
            return
        jumps = self.clock_jumps - 1 if jumping else self.clock_jumps
        spent = f" ({jumps} of them clock jumps to the next timeout)" if jumps else ""
        raise LoopBudgetExceeded(
            f"the loop ran {budget} steps without settling{spent}: a livelock or busy loop (last: {last})",
            steps=budget,
        )

    def watch_spin(self, window: int | None, progress: Callable[[], Any] | None = None) -> None:
        """End a busy loop early: every ``window`` steps (and clock jumps) the loop looks at its clock, at the
        bytes each of its fds has moved and at ``progress()`` (what its caller counts as progress: bytes handed
        to the stream's user, say); when nothing of it changed since the last look, ``window`` steps in a row
        did nothing, and the run ends there with ``LoopBudgetExceeded`` instead of at ``max_steps``. ``None``
        stops watching."""
        if window is None:
            if self._spin is not None:
                self.max_steps = self._spin[2]
            self._spin = None
            return
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive number of steps, got {window!r}")
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a function of no arguments, or None; got {progress!r}")
        budget = self.max_steps if self._spin is None else self._spin[2]
        self._spin = [window, None, budget, progress]
        self._spin[1] = self._progress()
        self.max_steps = min(budget, self.step + self.clock_jumps + window)

    def _progress(self) -> tuple[Any, ...]:
        """What a spin leaves unchanged: the clock, the bytes each fd has received and sent, and the caller's
        ``progress()``."""
        extra = self._spin[3] if self._spin is not None else None
        return (self._time, extra() if extra is not None else None,
                *((fd, getattr(sock, "bytes_received", 0), getattr(sock, "bytes_sent", 0))
                  for fd, sock in self._fds.items()))
