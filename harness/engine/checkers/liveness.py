"""Liveness invariants: nothing waits that could be served, and nothing spins."""

from __future__ import annotations

from typing import Any

from ..registry import Checker, invariant

GROUP = "reader contract"
_RECV = ("recv", "recv_into")
#: EWOULDBLOCK answers one operation may meet within a single loop step before it counts as spinning.
EAGAIN_PER_STEP = 3
#: fd reads allowed beyond bytes received + faults injected + readiness events + operations started.
RECV_SLACK = 8


@invariant("liveness", klass="contract", group=GROUP, builtin=True, observes=("delivered", "stream-state"),
           explanation="At quiescence no read waits that received data could satisfy, and no plaintext sits "
           "inside an SSL object while a read waits (the SSL drain rule).")
class Liveness(Checker):
    def on_quiescent(self) -> None:
        m = self.monitor
        op = m.pending_read
        if op is None:
            return
        held = m.held(op.decisive)
        if op.satisfiable(held):
            self.violate(f"{op.name} waits at quiescence although the {m.held_len()} byte(s) received would "
                         "satisfy it")
        if m.ssl_pending is not None and not m.closed():
            stranded = m.ssl_pending()
            if stranded:
                self.violate(f"{op.name} waits at quiescence with {stranded} byte(s) of plaintext stranded inside "
                             "the SSL object (the drain rule was not followed)")


@invariant("no-busy-loop", klass="contract", group=GROUP, builtin=True, observes=("trace",),
           explanation="EWOULDBLOCK ends the read loop: no fd calls without new readiness, fd calls bounded by "
           "bytes delivered plus faults injected, and the loop settles.")
class NoBusyLoop(Checker):
    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._where: tuple[int, int] = (-1, -1)
        self._count = 0

    FD_RESULTS = frozenset({"EAGAIN"})

    def on_fd_record(self, record: tuple[Any, ...]) -> None:
        index, step, _, _, kind, detail = record
        if kind not in _RECV or detail.get("result") != "EAGAIN" or detail.get("injected"):
            return
        # A new operation may legitimately try the fd once more within the same step.
        where = (step, self.monitor.ops_started)
        if where != self._where:
            self._where, self._count = where, 0
        self._count += 1
        if self._count > EAGAIN_PER_STEP:
            self.violate(f"{self._count} reads answered EWOULDBLOCK in one loop step: the stream retries instead "
                         "of waiting for readiness", index)

    def on_finish(self) -> None:
        m = self.monitor
        fd = m.fd
        bound = fd.bytes_received + fd.faults_injected + m.read_events + m.ops_started + RECV_SLACK
        if fd.recv_calls > bound:
            self.violate(f"{fd.recv_calls} fd reads for {fd.bytes_received} bytes received, {fd.faults_injected} "
                         f"faults and {m.read_events} readiness events (bound {bound})")

