"""Time invariants: deadlines fire at their virtual time, a timed-out read loses nothing, and faults that
only move time (latency, bandwidth, a late FIN) never change the bytes.

Rules for this module:
- Times are the loop's virtual clock, compared exactly: a deadline set for ``t`` fires at ``t``, because
  nothing on the virtual clock can delay a due timer except the code under test.
- A read under a deadline is reported by the driver (``Monitor.deadline_set``, ``timed_out``,
  ``deadline_cleared``); these checkers judge only what those reports and the bytes delivered show.
- Which plans only move time is read from the plan's steps, never from the kind's name.
"""

from __future__ import annotations

from typing import Any

from faultio import Chunk, Pass
from faultio._time_faults import Delay, LateFin

from ..registry import Checker, invariant

GROUP = "time"
#: A ``Delay`` up to this long shapes the timing of the bytes (latency, bandwidth); a longer one is a stall,
#: which a stream may legitimately answer with a timeout of its own (asyncio's TLS handshake timeout).
SHAPING_MAX_S = 1.0


def _t(seconds: float) -> str:
    """A virtual time for messages, in milliseconds."""
    return f"{seconds * 1000:.3f} ms"


@invariant("deadline-on-time", klass="contract", group=GROUP, builtin=True, observes=("futures",),
           explanation="A read or a write under a deadline times out at the deadline's virtual time: not before "
           "it, not after it (a step late, or never), and one that completes does so before its deadline passed.")
class DeadlineOnTime(Checker):
    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._armed: tuple[str, str, float] | None = None

    def on_deadline(self, op: Any, method: str, deadline: float) -> None:
        self._armed = (op.name, method, deadline)

    def on_timeout(self, op: Any, method: str, deadline: float) -> None:
        now = self.monitor.loop.time()
        if now < deadline:
            self.violate(f"{op.name} under a deadline at {_t(deadline)} timed out early, at {_t(now)}")
        elif now > deadline:
            self.violate(f"{op.name} under a deadline at {_t(deadline)} timed out late, at {_t(now)}")
        self._armed = None

    def on_deadline_cleared(self, op: Any) -> None:
        armed, self._armed = self._armed, None
        now = self.monitor.loop.time()
        if armed is not None and now > armed[2]:
            self.violate(f"{armed[0]} ended at {_t(now)}, after its deadline at {_t(armed[2])} passed without "
                         "firing")

    def on_idle(self) -> None:
        now = self.monitor.loop.time()
        if self._armed is not None and now > self._armed[2]:
            name, _, deadline = self._armed
            self._armed = None
            self.violate(f"the deadline of {name} at {_t(deadline)} passed (now {_t(now)}) and the wait neither "
                         "ended nor timed out: the deadline never fired")

    def on_quiescent(self) -> None:
        if self._armed is not None:
            name, _, deadline = self._armed
            self._armed = None
            self.violate(f"the loop went quiet with {name} waiting for a deadline at {_t(deadline)} that never "
                         "fired")


@invariant("timeout-no-byte-lost", klass="contract", group=GROUP, builtin=True, observes=("delivered",),
           explanation="After a read timed out, the next bytes delivered are the next bytes received: the bytes "
           "the timed-out read had taken in are not lost (cancellation safety).")
class TimeoutNoByteLost(Checker):
    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._since: tuple[str, float] | None = None

    def on_timeout(self, op: Any, method: str, deadline: float) -> None:
        self._since = (op.name, deadline)

    def on_deliver(self, data: bytes, via: str, offset: int, expected: bytes) -> None:
        since, self._since = self._since, None
        if since is None or data == expected:
            return
        skipped = _skipped(self.monitor, data, offset)
        lost = f"{skipped} byte(s) received after offset {offset} were lost" if skipped else "they differ"
        self.violate(f"after {since[0]} timed out at {_t(since[1])}, {via} delivered {len(data)} byte(s) that are "
                     f"not the next {len(data)} received at offset {offset}: {lost} (the timed-out read took bytes "
                     "in and dropped them)")


def _skipped(monitor: Any, data: bytes, offset: int) -> int:
    """How many received bytes after ``offset`` come before ``data`` shows up in what was received (0: not
    found close by)."""
    window = bytes(monitor.truth()[offset : offset + 65536 + len(data)])
    at = window.find(bytes(data)) if isinstance(data, (bytes, bytearray)) else -1
    return max(at, 0)


@invariant("timeout-stream-usable", klass="contract", group=GROUP, builtin=True, observes=("stream-state",),
           explanation="After a read timed out the stream is either closed with an error or still usable: a new "
           "read on the open stream is accepted, never refused with anything but StreamClosedError.")
class TimeoutStreamUsable(Checker):
    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._since: tuple[str, float] | None = None

    def on_timeout(self, op: Any, method: str, deadline: float) -> None:
        self._since = (op.name, deadline)

    def on_result(self, op: Any, method: str, data: bytes, streaming: bool) -> None:
        self._since = None

    def on_read_raised(self, op: Any, method: str, exc: BaseException, after_close: bool) -> None:
        if self._since is None or after_close or self.monitor.closed():
            return
        self.violate(f"after {self._since[0]} timed out at {_t(self._since[1])} (the deadline cancelled it), the "
                     f"next {method} on the open stream raised {exc!r}: the timed-out read left the stream unusable")


def _shaping_only(plan: Any) -> bool:
    """Whether ``plan``'s read side only moves time (pieces delayed by less than ``SHAPING_MAX_S``, a late FIN),
    with at least one such step, and its write side is clean."""
    steps = plan.read
    timed = [s for s in steps if isinstance(s, (Delay, LateFin))]
    return (bool(timed) and not plan.write and all(isinstance(s, (Delay, LateFin, Chunk, Pass)) for s in steps)
            and all(s.seconds <= SHAPING_MAX_S for s in timed if isinstance(s, Delay)))


@invariant("timing-keeps-bytes", klass="contract", group=GROUP, builtin=True, observes=("delivered", "stream-state"),
           explanation="Latency, bandwidth and a late FIN change when bytes arrive, never which: the stream ends "
           "without an error, and once the peer's FIN was read every byte the peer sent was received and is "
           "delivered or still in the stream's buffer.")
class TimingKeepsBytes(Checker):
    FD_RESULTS = frozenset({"EOF"})

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        plan = getattr(monitor.fd, "plan", None)
        self.watching = plan is not None and _shaping_only(plan)
        self._eof = False

    def on_fd_record(self, record: tuple[Any, ...]) -> None:
        if record[5].get("result") == "EOF":
            self._eof = True

    def on_finish(self) -> None:
        m = self.monitor
        error = m.attr("error", None)
        if error is not None and not (m.expect_close_error and type(error).__name__ == m.expect_close_error):
            self.violate(f"the stream closed with {error!r} under a fault that only delays bytes")
            return
        if not self._eof:
            return  # the harness closed the stream before the end: what it had not read yet is not judged
        peer = getattr(m.fd, "peer", None)
        if peer is not None and m.fd.bytes_received != peer.bytes_sent:
            self.violate(f"the fd received {m.fd.bytes_received} of the {peer.bytes_sent} byte(s) the peer sent "
                         "before its FIN")
            return
        buffered = m.attr("_read_buffer_size", None)
        if not isinstance(buffered, int) or isinstance(buffered, bool):
            return  # the stream does not say what it holds: only the fd's count is judged
        held = buffered + (m.ssl_pending() if m.ssl_pending is not None else 0)
        received = len(m.truth())
        if len(m.delivered) + held < received:
            self.violate(f"{received} byte(s) received, {len(m.delivered)} delivered and {held} still held: "
                         f"{received - len(m.delivered) - held} byte(s) vanished under a fault that only delays "
                         "bytes")
