"""Close-callback invariants (group A): at most once, eventually, after pending data, after the futures."""

from __future__ import annotations

from typing import Any

from ..registry import Checker, invariant
from ..verdict import is_closed_error

GROUP = "close callback"


@invariant("close-cb-once", klass="contract", group=GROUP, builtin=True, observes=("callbacks",),
           explanation="The close callback runs at most once per registration.")
class CloseCallbackOnce(Checker):
    def on_close_callback(self) -> None:
        runs = self.monitor.close_cb_runs
        if runs > 1:
            self.violate(f"the close callback ran {runs} times")


@invariant("close-cb-eventually", klass="contract", group=GROUP, builtin=True, observes=("callbacks",),
           explanation="A closed stream with a close callback runs it before the loop goes quiet (a pending "
           "read on an already-closed stream must not hang).")
class CloseCallbackEventually(Checker):
    def on_quiescent(self) -> None:
        m = self.monitor
        if m.closed() and m.close_cb_set and m.close_cb_runs == 0:
            self.violate("the loop is quiescent, the stream is closed and its close callback never ran")


@invariant("close-cb-after-pending", klass="contract", group=GROUP, builtin=True, observes=("callbacks",),
           explanation="No read, write or streaming callback runs after the close callback: the caller "
           "told the stream is closed is never handed more data (a truncated response).")
class CloseCallbackAfterData(Checker):
    def on_data_callback(self, kind: str) -> None:
        if self.monitor.close_cb_runs:
            self.violate(f"a {kind} callback ran after the close callback (the caller has already been told "
                         "the stream is closed: a truncated response)")


@invariant("close-cb-counter", klass="design", group=GROUP, builtin=True,
           observes=("callbacks", "stream-state"), requires=("_pending_callbacks",),
           explanation="The close callback starts only once _pending_callbacks is 0 (the seed design's "
           "counter rule; with a counter above 0 a callback scheduled earlier has not run yet).")
class CloseCallbackCounter(Checker):
    def on_close_callback(self) -> None:
        pending = self.monitor.attr("_pending_callbacks", None)
        if isinstance(pending, int) and pending > 0:
            self.violate(f"the close callback started with _pending_callbacks == {pending}")


@invariant("close-cb-after-futures", klass="contract", group=GROUP, builtin=True,
           observes=("futures", "callbacks", "stream-state"),
           explanation="Every future outstanding at close completes, exactly once, with "
           "StreamClosedError(real_error=stream.error) before the close callback runs.")
class CloseCallbackAfterFutures(Checker):
    def on_close_callback(self) -> None:
        for future, label in self.monitor.futures:
            if not future.done() and id(future) not in self.monitor.late_futures:
                self.violate(f"the close callback ran while the {label} future was still pending")

    def on_future_done(self, future: Any, label: str, exc: BaseException | None) -> None:
        if exc is None:
            return
        m = self.monitor
        if label == "connect" and exc is m.attr("error", None) and exc is not None:
            # A connect (TLS: its handshake) future may fail with the error itself, as Tornado's SSLIOStream's does
            # by design ("_ssl_connect_future expects to see the real exception"): its user is told the error.
            # connect-outcome judges which error it is.
            return
        if not is_closed_error(exc):
            self.violate(f"the {label} future failed with {type(exc).__name__}, not StreamClosedError")
            return
        error = m.attr("error", None)
        if hasattr(exc, "real_error") and exc.real_error is not error:
            self.violate(f"the {label} future failed with StreamClosedError(real_error={exc.real_error!r}) but "
                         f"stream.error is {error!r}")
        if m.close_cb_runs:
            self.violate(f"the {label} future failed after the close callback ran")
