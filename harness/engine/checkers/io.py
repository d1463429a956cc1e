"""fd hygiene after close: no I/O on it, closed once, its handler removed once."""

from __future__ import annotations

from typing import Any

from ..registry import Checker, invariant

GROUP = "reader contract"
_RECV = ("recv", "recv_into")


@invariant("no-io-after-close", klass="contract", group=GROUP, builtin=True, observes=("trace",),
           explanation="After close there is no fd read or write, close_fd runs once and the handler is removed "
           "exactly once.")
class NoIoAfterClose(Checker):
    LOOP_KINDS = frozenset({"remove_handler"})

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._fd_closed = False
        self._removals = 0

    def on_fd_record(self, record: tuple[Any, ...]) -> None:
        index, _, _, _, kind, detail = record
        if kind == "close":
            if self._fd_closed:
                self.violate(f"close_fd ran {detail.get('calls')} times", index)
            self._fd_closed = True
            return
        if kind not in _RECV and kind != "send":
            return
        if self._fd_closed or detail.get("result") == "EBADF":
            self.violate(f"{kind} on the fd after it was closed", index)
        elif kind in _RECV and self.monitor.closed():
            self.violate(f"{kind} on the fd after the stream closed", index)

    def on_loop_record(self, record: tuple[Any, ...]) -> None:
        if record[4] == "remove_handler" and record[5].get("registered"):
            self._removals += 1

    def on_finish(self) -> None:
        m = self.monitor
        if not m.closed():
            return
        if m.fd.close_calls != 1:
            self.violate(f"close_fd ran {m.fd.close_calls} times, not once")
        if self._removals > 1:
            self.violate(f"the handler was removed {self._removals} times")
        if m.loop.handler_mask(m.fd.fd) is not None:
            self.violate("the stream closed but its fd handler is still registered")
