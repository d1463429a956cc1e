"""Every exception faultio raises, in one place.

Rules for this module:
- Two families live here and must not be mixed. ``FaultioError`` and its children say that *faultio was
  used wrongly or the simulation itself stopped* (a bad plan, a livelock, a stall). The stream errors
  (``StreamClosedError``, ``UnsatisfiableReadError``, ``StreamBufferFullError``) are the IOStream's public
  contract from the seed's design and are raised to the code under test.
- Messages say what happened, what was expected, and what the valid values are.
"""

from __future__ import annotations


class FaultioError(Exception):
    """Root of the errors that mean "faultio itself refused or stopped", never a stream's own error."""


class PlanError(FaultioError, ValueError):
    """A fault plan, a fault step or a fault kind name is malformed.

    The message names the bad value and lists the valid ones.
    """


class LoopBudgetExceeded(FaultioError):
    """The deterministic loop ran more steps than its budget allows: a livelock or a busy loop.

    Raised instead of hanging. ``steps`` is the budget that was exhausted.
    """

    def __init__(self, message: str, *, steps: int) -> None:
        super().__init__(message)
        self.steps = steps


class StalledError(FaultioError):
    """The loop became quiescent (nothing ready, nothing scheduled) while a result was still awaited.

    On a real machine this is a hang that lasts forever; here it is reported at once.
    """


class InvalidStateError(FaultioError, RuntimeError):
    """A future was completed twice, or its result was asked for before it was done."""


class StreamClosedError(IOError):
    """Raised by an IOStream method when the stream is closed.

    ``real_error`` carries the exception that caused the close (``stream.error``), or ``None`` when the
    stream was closed on purpose or by a clean EOF.
    """

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class UnsatisfiableReadError(Exception):
    """A ``read_until*`` with ``max_bytes`` cannot be satisfied within that many bytes.

    The stream closes with this exception as its ``error``; it is never raised synchronously to the
    caller of ``read_until``.
    """


class StreamBufferFullError(Exception):
    """The read buffer would grow past ``max_buffer_size``; the stream closes with this as ``error``."""


class BusyLoopError(BaseException):
    """The code under test kept calling a fake fd that said EWOULDBLOCK, within one loop step.

    A real program would spin at 100 % CPU here. This derives from ``BaseException`` on purpose: a
    stream's ``except Exception`` must not swallow it, so the spin ends and is reported.
    """
