"""Pending-callback invariants (group B): the seed design's counter, and callbacks run exactly once."""

from __future__ import annotations

from typing import Any

from ..registry import Checker, declare, invariant
from ..verdict import future_exception

GROUP = "pending-callback counter"
READ_LOOP = "_read_to_buffer_loop"


@invariant("pending-nonnegative", klass="design", group=GROUP, builtin=True, observes=("stream-state",),
           requires=("_pending_callbacks",), explanation="_pending_callbacks is never negative.")
class PendingNonNegative(Checker):
    def on_step(self) -> None:
        pending = getattr(self.monitor.stream, "_pending_callbacks", None)  # ``attr``, without its call
        if isinstance(pending, int) and pending < 0:
            self.violate(f"_pending_callbacks is {pending}")


@invariant("pending-zero-at-rest", klass="design", group=GROUP, builtin=True, observes=("stream-state",),
           requires=("_pending_callbacks",), explanation="When the loop is quiescent _pending_callbacks is 0 "
           "(a stuck counter blocks the close callback for ever).")
class PendingZeroAtRest(Checker):
    def on_quiescent(self) -> None:
        pending = self.monitor.attr("_pending_callbacks", None)
        if isinstance(pending, int) and pending != 0:
            self.violate(f"the loop is quiescent with _pending_callbacks == {pending}")


@invariant("pending-scoped", klass="design", group=GROUP, builtin=True,
           observes=("frames", "futures", "stream-state", "trace"), requires=("_pending_callbacks", READ_LOOP),
           explanation="The pretend pending callback around the read loop is balanced, and while it is held no "
           "future fails and no close callback is scheduled, even on EOF or reset inside the loop.")
class PendingScoped(Checker):
    def on_future_done(self, future: Any, label: str, exc: BaseException | None) -> None:
        if exc is not None and self.monitor.inside(READ_LOOP):
            self.violate(f"the {label} future failed with {exc!r} inside {READ_LOOP}, while the pretend pending "
                         "callback should hold it back")

    def on_callback_scheduled(self, event: Any) -> None:
        # The stream closed during this step and schedules a callback: inside the read loop, the pretend
        # pending callback must have kept close handling back.
        m = self.monitor
        if not m.inside(READ_LOOP):
            return
        future = m.read_future_at_recv
        if future is not None and _failed(future):
            self.violate(f"the read future failed with {future_exception(future)!r} inside {READ_LOOP}, while the "
                         "pretend pending callback should hold it back", event.index)
        if m.close_cb_set and m.close_cb_runs == 0 and m.attr("_close_callback", None) is None:
            self.violate(f"the close callback was scheduled inside {READ_LOOP} (the stream closed there), while "
                         "the pretend pending callback should hold it back", event.index)


def _failed(future: Any) -> bool:
    return bool(future.done()) and future_exception(future) is not None


# Judged where the drivers count callback runs (they call ``violate`` with this slug).
declare("pending-exactly-once", klass="contract", group=GROUP, observes=("callbacks",),
        explanation="Every callback the stream schedules runs exactly once (a read or write callback that runs "
        "twice hands the caller one completion twice).")
