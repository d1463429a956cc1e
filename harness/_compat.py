"""Talking to a third-party stream: its futures are not faultio's.

Rules for this module:
- A stream under test raises its *own* ``StreamClosedError`` and friends: recognise them with
  ``harness.engine.verdict`` (by class name), never by ``isinstance`` against faultio's classes.
- A stream's futures may be foreign (Tornado 4's ``tornado.concurrent.Future`` has no ``_exception``,
  no ``completions`` and yields itself from ``__await__``). Read their outcome through public API only
  (``exc_info()``/``exception()``), and await them through ``adopt``.
"""

from __future__ import annotations

from typing import Any

from faultio import Future

from .engine.verdict import future_exception


class FutureCancelled(Exception):
    """A stream's foreign future was cancelled (``CancelledError`` is a ``BaseException``: a coroutine
    awaiting it through ``adopt`` hears of it as this)."""


def adopt(future: Any) -> Any:
    """A faultio ``Future`` that settles like ``future`` (returned as is when it already is one), so a
    coroutine on the faultio loop can await a stream's foreign future."""
    if isinstance(future, Future) or future is None or not hasattr(future, "add_done_callback"):
        return future
    mine = Future(label=f"adopted {type(future).__module__}.{type(future).__qualname__}")

    def settle(f: Any) -> None:
        cancelled = getattr(f, "cancelled", None)
        if callable(cancelled) and cancelled():  # an asyncio task cancelled when the case shut down
            mine.set_exception(FutureCancelled(f"{type(f).__qualname__} was cancelled"))
            return
        exc = future_exception(f)
        if exc is not None:
            mine.set_exception(exc)
        else:
            mine.set_result(f.result())

    future.add_done_callback(settle)
    return mine
