"""A small, loop-agnostic future that ``async def`` code can await.

Rules for this module:
- No scheduling lives here. Done-callbacks run synchronously, in registration order, at the moment the
  future completes (Tornado 4 semantics); whoever wants "on the next loop iteration" (the coroutine runner
  in ``_loop``) schedules that itself.
- Done-callbacks are isolated from each other and from whoever completed the future: an ``Exception``
  from one is logged on ``faultio.future`` (with its traceback) and the next one runs. A stream completes
  futures in the middle of its own bookkeeping, and harness monitors attach done-callbacks; a broken
  callback must not close the stream or skip the callbacks after it. A ``BaseException`` that is not an
  ``Exception`` (``KeyboardInterrupt``, ``faultio.BusyLoopError``) still propagates: it means "stop".
- A second completion is never silently ignored: it is counted in ``completions`` (so monitors can see it)
  and then raises ``InvalidStateError``.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ._errors import InvalidStateError

log = logging.getLogger("faultio.future")

_PENDING = "pending"
_DONE = "done"


class Future:
    """The result of an asynchronous operation: a value, or an exception, set exactly once."""

    __slots__ = ("_state", "_result", "_exception", "_callbacks", "completions", "_retrieved", "label")

    def __init__(self, label: str = "") -> None:
        self._state = _PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], Any]] = []
        #: How many times ``set_result``/``set_exception`` was called. Anything but 0 or 1 is a bug.
        self.completions = 0
        self._retrieved = False
        #: Free text naming what this future stands for ("read_bytes", "write"...); shown in traces.
        self.label = label

    def __repr__(self) -> str:
        if self._state == _PENDING:
            what = "pending"
        elif self._exception is not None:
            what = f"exception={self._exception!r}"
        else:
            what = "result"
        return f"<Future {self.label or hex(id(self))} {what}>"

    def done(self) -> bool:
        """True once a result or an exception is set."""
        return self._state == _DONE

    def result(self) -> Any:
        """The result, or raise the exception the future holds (either counts as retrieved).

        Raises ``InvalidStateError`` while the future is pending.
        """
        if self._state != _DONE:
            raise InvalidStateError(f"{self!r}: result() asked for before the future was done")
        self._retrieved = True
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        """The exception the future holds, or ``None`` for a result (counts as retrieved).

        Raises ``InvalidStateError`` while the future is pending.
        """
        if self._state != _DONE:
            raise InvalidStateError(f"{self!r}: exception() asked for before the future was done")
        self._retrieved = True
        return self._exception

    def set_result(self, result: Any) -> None:
        """Complete with ``result`` and run the done-callbacks; a second completion raises ``InvalidStateError``."""
        self._complete(result, None)

    def set_exception(self, exception: BaseException) -> None:
        """Complete with ``exception`` (an instance, else ``TypeError``) and run the done-callbacks; a second
        completion raises ``InvalidStateError``."""
        if not isinstance(exception, BaseException):
            raise TypeError(f"set_exception() takes an exception instance, not {exception!r}")
        self._complete(None, exception)

    def _complete(self, result: Any, exception: BaseException | None) -> None:
        self.completions += 1
        if self._state == _DONE:
            raise InvalidStateError(
                f"{self!r} completed a second time (completion #{self.completions}); "
                "every future must be completed exactly once"
            )
        self._result = result
        self._exception = exception
        self._state = _DONE
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            self._run_done_callback(callback)

    def add_done_callback(self, fn: Callable[[Future], Any]) -> None:
        """Call ``fn(self)`` when done; at once if already done.

        An exception from ``fn`` is logged on ``faultio.future``, never raised to whoever completed the
        future (or, for a done future, to the caller of this method).
        """
        if self._state == _DONE:
            self._run_done_callback(fn)
        else:
            self._callbacks.append(fn)

    def _run_done_callback(self, fn: Callable[[Future], Any]) -> None:
        try:
            fn(self)
        except Exception:
            name = getattr(fn, "__qualname__", None) or repr(fn)
            log.error("Exception in done-callback %s of %r", name, self, exc_info=True)

    def __await__(self):
        if self._state != _DONE:
            yield self
        if self._state != _DONE:  # pragma: no cover - only a broken runner resumes us early
            raise InvalidStateError(f"{self!r} resumed before it was done")
        return self.result()

    __iter__ = __await__
