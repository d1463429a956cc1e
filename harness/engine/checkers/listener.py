"""Error-listener invariants (group C): the seed design's READ/ERROR registration rules."""

from __future__ import annotations

from typing import Any

from ..monitor import ERROR, NO_STATE, READ, WRITE
from ..registry import Checker, invariant

GROUP = "error listener"
_RECV = ("recv", "recv_into")


@invariant("listen-when-idle", klass="design", group=GROUP, builtin=True, observes=("stream-state",),
           requires=("_state", "_close_callback", "_read_buffer_size"),
           explanation="An idle open stream with a close callback and an empty buffer listens for READ (with "
           "ERROR), so a peer's close is noticed.")
class ListenWhenIdle(Checker):
    def on_idle(self) -> None:
        m = self.monitor
        if not m.idle() or m.attr("_close_callback", None) is None or m.attr("_read_buffer_size", 0) != 0:
            return
        state = m.attr("_state")
        if state is None or not state & READ:
            self.violate("the stream is idle with a close callback and an empty buffer but is not listening "
                         f"for READ (_state={state!r}): a peer's close goes unnoticed")


@invariant("no-read-when-buffered", klass="design", group=GROUP, builtin=True,
           observes=("trace", "stream-state"), requires=("_read_buffer_size",),
           explanation="With data buffered and no read pending the stream does not read the fd (flow control).")
class NoReadWhenBuffered(Checker):
    FD_RESULTS = frozenset({"data"})

    def on_fd_record(self, record: tuple[Any, ...]) -> None:
        m = self.monitor
        if record[4] in _RECV and record[5].get("result") == "data" and not m.reading() and not m.closed():
            buffered = m.attr("_read_buffer_size", 0)
            if isinstance(buffered, int) and buffered > 0:
                self.violate(f"read the fd with {buffered} byte(s) already buffered and no read pending",
                             record[0])


@invariant("error-always-registered", klass="design", group=GROUP, builtin=True,
           observes=("trace", "stream-state"), requires=("_state",),
           explanation="Every registered mask includes ERROR; _state is None exactly when the fd is "
           "unregistered; no update of an unregistered fd; no events after close.")
class ErrorAlwaysRegistered(Checker):
    LOOP_KINDS = frozenset({"update_handler", "remove_handler", "handler"})

    def on_loop_record(self, record: tuple[Any, ...]) -> None:
        index, _, _, _, kind, detail = record
        if kind == "update_handler" and detail.get("error"):
            self.violate("update_handler on an fd that is not registered", index)
        elif kind == "remove_handler" and not detail.get("registered"):
            self.violate("remove_handler on an fd that is not registered", index)
        elif kind == "handler" and self.monitor.closed():
            self.violate(f"fd events ({detail.get('events', 0):#x}) delivered to a closed stream", index)

    def on_step(self) -> None:
        m = self.monitor
        state = getattr(m.stream, "_state", NO_STATE)  # ``m.attr("_state")``, without its call (every step)
        if state is NO_STATE:
            return
        mask = m.loop.handler_mask(m.fd.fd if m.fd_number is None else m.fd_number)
        if state is not None and not state & ERROR:
            self.violate(f"_state {state:#x} does not include ERROR")
        if (state is None) != (mask is None):
            self.violate(f"_state is {state!r} but the loop has "
                         f"{'no handler' if mask is None else f'a handler with mask {mask:#x}'}")


@invariant("error-event-deferred-close", klass="design", group=GROUP, builtin=True,
           observes=("trace", "stream-state"), requires=("_state",),
           explanation="An ERROR event sets error and closes on a later loop iteration, not inside the event "
           "handler.")
class ErrorEventDeferredClose(Checker):
    LOOP_KINDS = frozenset({"handler"})

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._err_only: tuple[int, bool] | None = None

    def on_loop_record(self, record: tuple[Any, ...]) -> None:
        events = record[5].get("events", 0)
        if record[4] == "handler" and events & ERROR and not events & (READ | WRITE):
            self._err_only = (record[1], self.monitor.closed())

    def on_step(self) -> None:
        if self._err_only is None:
            return
        step, was_closed = self._err_only
        self._err_only = None
        if step == self.monitor.loop.step and self.monitor.closed() and not was_closed:
            self.violate("an ERROR event closed the stream inside the event handler itself")
