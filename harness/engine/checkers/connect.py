"""Connect invariants: a connect reports one outcome, the right one, on its own; the writes queued while it was
in progress reach the peer in order, or fail with its error.

Rules for this module:
- What the case expects is read from the trace, never from the plan: the runner records it once (``harness``
  event ``connect_fault``: ``must_fail``, the ``error``'s errno name, ``timeout``), and the ``connect`` scenario
  records what it saw (``connect_started``, ``connect_done``, ``connect_write``, ``connect_deadline``,
  ``connect_peer``; see ``harness._scenario_connect``). A case without ``connect_fault`` (every operation but
  ``connect``) gives these checkers nothing to judge.
- The outcome is read as the stream's user sees it: a future that resolves or fails (``real_error`` naming the
  error), a connect callback that runs, or, for a callback-style connect that failed, the close callback with
  the stream's ``error`` set (Tornado's callback API reports a failed connect only there).
- Everything is judged at the end of the case (``on_finish``), when every write and the close callback have had
  their chance; the close callback's count is the monitor's.
"""

from __future__ import annotations

from typing import Any

from ..registry import Checker, invariant

GROUP = "connect"
#: The fd faults that cut an established connection (the writes may then fail, or reach the peer in part).
_CUTS = ("reset", "send_reset", "peer_reset", "eof", "connect_reset", "send_broken_pipe")


def _hears(source: str, kind: str) -> bool:
    """What ``_ConnectWatch._on_trace`` looks at: the harness's events and the fd's injected faults."""
    return source == "harness" or (source == "fd" and kind == "inject")


class _ConnectWatch(Checker):
    """Shared by the connect rules: the case's expectation and the scenario's record, from the trace."""

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self.expect: dict[str, Any] | None = None
        self.started: dict[str, Any] = {}
        self.done: list[dict[str, Any]] = []
        self.writes: list[dict[str, Any]] = []
        self.deadline = False
        self.peer: dict[str, Any] | None = None
        self.cut = False
        trace = monitor.loop.trace
        # What happened before the monitor was attached (a reset a plan puts at byte 0 lands when the fd is made;
        # the runner announces a connect case's expectation before it attaches the monitor).
        for event in (*trace.events("fd", "inject"), *trace.events("harness")):
            self._on_trace(event.source, event.kind, dict(event.detail))
        if self.expect is not None:  # a connect case: no other case pays for hearing every trace event
            trace.add_listener(self._on_trace, raw=True, hears=_hears)

    def _on_trace(self, source: str, kind: str, detail: dict[str, Any]) -> None:
        if source == "fd":
            if kind == "inject" and detail.get("role") == "target" and detail.get("fault") in _CUTS:
                self.cut = True
            return
        if source != "harness" or not kind.startswith("connect_"):
            return
        if kind == "connect_fault":
            self.expect = dict(detail)
        elif kind == "connect_started":
            self.started = dict(detail)
        elif kind == "connect_done":
            self.done.append(dict(detail))
        elif kind == "connect_write":
            self.writes.append(dict(detail))
        elif kind == "connect_deadline":
            self.deadline = True
        elif kind == "connect_peer":
            self.peer = dict(detail)

    @property
    def judged(self) -> bool:
        """True when this is a connect case whose scenario started."""
        return self.expect is not None and bool(self.started)

    @property
    def outcome(self) -> dict[str, Any] | None:
        """The first outcome the connect reported, or None."""
        return self.done[0] if self.done else None

    def connected(self) -> bool:
        """Whether the connect reported success (first outcome), before the user gave up."""
        first = self.outcome
        return bool(first and first.get("ok") and not first.get("late"))


@invariant("connect-outcome", klass="contract", group=GROUP, builtin=True, observes=("trace", "futures", "callbacks"),
           explanation="A connect reports exactly one outcome, on its own: success when the peer accepts; a "
           "refused or reset connect fails (its future with the error, or, called with a callback, the close "
           "callback with error set) and closes the stream exactly once; one that never completes never succeeds "
           "and fails once its user closes the stream.")
class ConnectOutcome(_ConnectWatch):
    def on_finish(self) -> None:
        if not self.judged:
            return
        expect = self.expect or {}
        first = self.outcome
        style = self.started.get("style", "")
        if len(self.done) > 1 and any(d.get("again") for d in self.done):
            hows = ", ".join(f"{d.get('how')} ({'ok' if d.get('ok') else d.get('error') or 'failed'})" for d in self.done)
            self.violate(f"the connect reported {len(self.done)} outcomes: {hows}")
        if not expect.get("must_fail"):
            if first is None:
                self.violate("a connect the peer accepts was never reported, neither as success nor as failure")
            elif not first.get("ok") and not self.cut:
                self.violate(f"a connect the peer accepts failed ({first.get('how')}: {first.get('error') or 'no error'})")
            elif first.get("late"):
                self.violate(f"a connect the peer accepts was reported only after the user gave up waiting "
                             f"({first.get('how')})")
            return
        what = ("never completes" if expect.get("timeout")
                else f"is {'refused' if expect.get('error') == 'ECONNREFUSED' else 'reset'} "
                     f"({expect.get('variant') or expect.get('error')})")
        if first is not None and first.get("ok"):
            self.violate(f"the connect {what} but it was reported as a success ({first.get('how')})")
            return
        if first is None:
            self.violate(f"the connect {what} and was never reported as failed, even after the user closed the "
                         "stream (its future never resolved, or the close callback never ran)")
            return
        if not expect.get("timeout"):
            if first.get("late"):
                self.violate(f"the connect {what} and was reported only after the user gave up waiting for it and "
                             "closed the stream: until then the failure was not reported (its future pending, or "
                             "no close callback)")
            elif first.get("error") != expect.get("error"):
                seen = first.get("error") or "no error"
                self.violate(f"the connect {what} but it failed with {seen} ({first.get('how')}), not "
                             f"{expect.get('error')}" + (": the close callback ran with error unset"
                                                           if style == "callback" else ""))
        runs = self.monitor.close_cb_runs
        if runs != 1:
            self.violate(f"the connect {what} and the close callback ran {runs} times, not once")


@invariant("connect-writes", klass="contract", group=GROUP, builtin=True, observes=("trace", "futures"),
           explanation="Writes made while a connect is in progress reach the peer whole and in order once it "
           "succeeds, completing in order; if it fails, every one of them fails (none completes, none is left "
           "pending) with the connect's error, and the peer receives none of their bytes.")
class ConnectWrites(_ConnectWatch):
    def on_finish(self) -> None:
        if not self.judged:
            return
        expect = self.expect or {}
        count = int(self.started.get("writes", 0))
        seen = {w.get("index") for w in self.writes}
        missing = [i for i in range(count) if i not in seen]
        if missing:
            self.violate(f"write #{missing[0]} (of {count} queued while connecting) never completed nor failed")
        done_ok = [w.get("index") for w in self.writes if w.get("ok")]
        if done_ok != sorted(done_ok):
            self.violate(f"the writes queued while connecting completed out of order: {done_ok}")
        peer = self.peer or {}
        if self.connected() and not expect.get("must_fail"):
            if self.cut:
                if peer.get("match") == "differs":
                    self.violate(f"the peer received bytes that differ from what was written (first difference at "
                                 f"byte {peer.get('first_difference')}) before the connection was cut")
                return
            failed = [w for w in self.writes if not w.get("ok")]
            if failed:
                w = failed[0]
                self.violate(f"write #{w.get('index')} failed ({w.get('error') or 'no error'}) although the connect "
                             "succeeded and nothing cut the connection")
            if peer and peer.get("match") != "all":
                self.violate(f"after a successful connect the peer received {peer.get('nbytes')} of the "
                             f"{peer.get('expected')} bytes queued while connecting"
                             + (f", differing at byte {peer.get('first_difference')}" if peer.get("match") == "differs"
                                else ""))
            return
        if not expect.get("must_fail"):
            return  # the connect failed where it should not: connect-outcome says so
        ok = [w for w in self.writes if w.get("ok")]
        if ok:
            self.violate(f"write #{ok[0].get('index')} completed although the connect failed")
        if peer.get("nbytes"):
            self.violate(f"the peer received {peer.get('nbytes')} byte(s) although the connect failed")
        wanted = expect.get("error")
        if wanted:
            wrong = [w for w in self.writes if not w.get("ok") and w.get("error") != wanted]
            if wrong:
                w = wrong[0]
                self.violate(f"write #{w.get('index')} failed with {w.get('error') or 'no error'}, not with the "
                             f"connect's {wanted}")
