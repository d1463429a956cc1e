"""Talking to a third-party stream: its exceptions and its futures are not faultio's.

Rules for this module:
- A stream under test raises its *own* ``StreamClosedError`` / ``UnsatisfiableReadError`` /
  ``StreamBufferFullError`` (Tornado's live in ``tornado.iostream``). The harness recognises them by class
  name anywhere in the exception's MRO, never by ``isinstance`` against faultio's classes.
- A stream's futures may be foreign (Tornado 4's ``tornado.concurrent.Future`` has no ``_exception``,
  no ``completions`` and yields itself from ``__await__``). Read their outcome through public API only
  (``exc_info()``/``exception()``), and await them through ``adopt``.
"""

from __future__ import annotations

from typing import Any

from faultio import Future


def _named(exc: Any, name: str) -> bool:
    return isinstance(exc, BaseException) and any(k.__name__ == name for k in type(exc).__mro__)


def is_stream_closed(exc: Any) -> bool:
    """``exc`` is some stream's ``StreamClosedError``."""
    return _named(exc, "StreamClosedError")


def is_unsatisfiable(exc: Any) -> bool:
    """``exc`` is some stream's ``UnsatisfiableReadError``."""
    return _named(exc, "UnsatisfiableReadError")


def is_buffer_full(exc: Any) -> bool:
    """``exc`` is some stream's ``StreamBufferFullError``."""
    return _named(exc, "StreamBufferFullError")


def future_exception(future: Any) -> BaseException | None:
    """The exception a *done* future holds, without marking a faultio future as retrieved."""
    if isinstance(future, Future):
        return future._exception
    exc_info = getattr(future, "exc_info", None)
    if callable(exc_info):  # Tornado 4: exc_info() -> (type, value, tb) or None
        info = exc_info()
        return info[1] if info else None
    try:
        return future.exception()
    except Exception:
        return None


def adopt(future: Any) -> Any:
    """A faultio ``Future`` that settles like ``future`` (returned as is when it already is one), so a
    coroutine on the faultio loop can await a stream's foreign future."""
    if isinstance(future, Future) or future is None or not hasattr(future, "add_done_callback"):
        return future
    mine = Future(label=f"adopted {type(future).__module__}.{type(future).__qualname__}")

    def settle(f: Any) -> None:
        exc = future_exception(f)
        if exc is not None:
            mine.set_exception(exc)
        else:
            mine.set_result(f.result())

    future.add_done_callback(settle)
    return mine
