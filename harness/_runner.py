"""Running cases: build the simulated world for one case, run its scenario under the monitors, judge.

Rules for this module:
- One case, one fresh loop, one fresh socket pair, one fresh stream. Nothing is shared between cases, so
  cases can run in any order, in any process, and give the same result.
- Nothing the target does can hang or crash the run: a livelock ends at the step budget, a spin at the fd's
  spin limit, a stall at quiescence.
- Attribution: an exception is the target's (``target-crashed``) only when it was raised in the target's
  code. One raised in the harness (a driver, a scenario, a checker) or in faultio's simulation is an
  ``error`` outcome naming the frame: our failure, never blamed on the stream.
- Containment: whatever is not an ``Exception`` (``SystemExit``, even ``sys.exit(0)``; a
  ``KeyboardInterrupt`` the target raises itself; ``GeneratorExit`` misused; any other ``BaseException``),
  raised while the factory builds the stream, while the scenario runs or while the monitor finishes (its
  checkers call the stream), is that case's ``error`` outcome naming the exception and its frame; the next
  case runs. The monitor is detached on every path (``run_case``'s ``finally``), so no logger stays
  captured and no observer stays on a loop.
- A real Ctrl-C is never swallowed. In a worker process SIGINT is ignored (the main process stops the
  workers), so every ``KeyboardInterrupt`` there is the target's. In the main thread of any other process,
  each phase of a case runs under ``_interrupt_guard``, a SIGINT handler that sets a flag before raising: a
  ``KeyboardInterrupt`` with the flag set is the user's and ends the run (re-raised, also when the target
  swallowed it or turned it into another exception); without the flag it is the target's. Off the main
  thread no handler can be installed, so every ``KeyboardInterrupt`` counts as the user's. The wall-clock
  guard's ``CaseHung`` and ``RunInterrupted`` (SIGTERM) are never contained.
- Bounded outputs: every message, repr and trace string a ``CaseResult`` carries is cut (``clip``) to
  ``MESSAGE_KEEP`` characters (trace details to ``TRACE_DETAIL_KEEP``), saying how much was cut.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import signal
import threading
from typing import Any, Iterator, Sequence

from faultio import (
    BusyLoopError,
    Flood,
    Pass,
    IOLoop,
    LoopBudgetExceeded,
    Peer,
    StalledError,
    socketpair,
)
from faultio._plan import FaultPlan
from faultio._time_faults import held_seconds
from faultio._trace import TraceEvent

from ._case import Case, CaseResult
from ._connect_setup import announce as announce_connect, make_connecting_stream
from ._attribution import raised_at, raised_in_harness
from .engine import Monitor, harness_frame
from ._scenarios import EXTRA_BYTES, OPERATIONS, Driver
from ._tls_peer import tls_setup
from ._write_deadline import fd_capacity
from ._targets import DEFAULT_TARGET, Target

#: Harness runs use a small buffer limit so floods overflow quickly and cheaply.
MAX_BUFFER_SIZE = 64 * 1024
#: Step budget per case: a correct stream needs a few thousand; a livelock is stopped here.
STEP_BUDGET = 50_000
#: Steps in a row that move no byte on any fd, no clock and no byte to the stream's user before a run is ended as
#: a busy loop (``IOLoop.watch_spin``, ``watch_progress``); a spinning stream would otherwise spend the whole
#: budget (and seconds) before it is called one. In the matrix, on faultio's stream, Tornado 6 and asyncio
#: streams, the longest such stretch of a case not judged a busy loop is 50 steps.
SPIN_WINDOW = 5_000
#: How many trace events a failing case keeps for the report (around the first violation).
TRACE_KEEP = 2500
#: Wall-clock seconds one case may take before it is called hung. Only a target that spins without ever
#: touching its fd or the loop can get here (everything else is bounded by steps); it is the last resort.
CASE_TIMEOUT_S = 60.0
#: The calibrated timeout: this many times a reference case's time, within [floor, CASE_TIMEOUT_S].
TIMEOUT_FACTOR, TIMEOUT_FLOOR_S = 100, 3.0
#: After this many hangs of one target in one operation (in one process), its remaining cases of that
#: operation are not run: each hang costs a whole timeout, and a target that spins once spins again.
HANG_LIMIT = 2
_HUNG: dict[tuple[str, str], int] = {}
#: Plaintext a TLS peer floods with, far beyond MAX_BUFFER_SIZE.
TLS_FLOOD_BYTES = 4 * MAX_BUFFER_SIZE
#: The largest plaintext one TLS record holds: an SSL stream may buffer one record beyond a bound.
TLS_RECORD = 16384


def derive_seed(seed: int, *parts: Any) -> int:
    """A stable 32-bit seed from the run's seed and a cell's name (no ``hash()``: it is salted per process)."""
    digest = hashlib.sha256(":".join([str(seed), *map(str, parts)]).encode()).digest()
    return int.from_bytes(digest[:4], "big")


#: How long a message or repr a result keeps (a target's 1 MiB exception message must not bloat the reports).
MESSAGE_KEEP = 2000
#: How long a string in a kept trace event's ``detail`` may be (``*_hex`` payloads are bounded by faultio).
TRACE_DETAIL_KEEP = 500


def clip(text: str, keep: int = MESSAGE_KEEP) -> str:
    """``text`` cut to ``keep`` characters, saying how much was cut."""
    if len(text) <= keep:
        return text
    return f"{text[:keep]}\u2026 [cut {len(text) - keep} of {len(text)} characters]"


class RunInterrupted(KeyboardInterrupt):
    """The run was told to stop (SIGTERM): ends it like Ctrl-C, never contained as the target's doing."""


_INTERRUPTED = [False]
#: True in a worker process of a parallel run: it ignores SIGINT (the main process stops it), so any
#: KeyboardInterrupt seen there was raised by the target.
IN_WORKER = False


@contextlib.contextmanager
def _interrupt_guard() -> Iterator[None]:
    """Tell a real Ctrl-C (SIGINT) apart from a ``KeyboardInterrupt`` the target raises itself (main thread
    only; elsewhere every KeyboardInterrupt counts as real). A SIGINT that arrived while the block ran ends
    it with a ``KeyboardInterrupt`` even when the target swallowed the one raised into it."""
    if IN_WORKER or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler installed outside Python: it cannot be put back, so leave it alone
        yield
        return

    def interrupted(signum: int, frame: Any) -> None:
        _INTERRUPTED[0] = True
        raise KeyboardInterrupt

    _INTERRUPTED[0] = False
    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if _INTERRUPTED[0]:
        raise KeyboardInterrupt("SIGINT arrived while the target ran (the target swallowed it)")


def _user_interrupted() -> bool:
    """Whether a real SIGINT arrived during the last ``_interrupt_guard`` block."""
    return _INTERRUPTED[0] and not IN_WORKER


def _real_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` must end the run: a real Ctrl-C (or anything raised after one arrived, as when the
    target turned it into another exception), SIGTERM's ``RunInterrupted``, or the wall-clock guard's own
    ``CaseHung``."""
    if isinstance(exc, (CaseHung, RunInterrupted)) or _user_interrupted():
        return True
    if isinstance(exc, KeyboardInterrupt):
        return not IN_WORKER and threading.current_thread() is not threading.main_thread()
    return False


def _describe(exc: BaseException) -> str:
    """``Type(args...)`` of ``exc``, cut to size; never raises for a target's exception whose repr does
    (a BaseException raised by a repr is contained too, unless it is a real interrupt)."""
    name = type(exc).__name__
    try:
        text = f"{name}({', '.join(clip(repr(a), MESSAGE_KEEP) for a in exc.args)})"
    except BaseException as inner:
        if _real_interrupt(inner):
            raise
        text = f"{name}(<its repr raised {type(inner).__name__}>)"
    return clip(text, 600)


def _text(exc: BaseException) -> str:
    """``str(exc)`` (its first line, cut), safe against a ``__str__`` that raises."""
    try:
        text = str(exc)
    except BaseException as inner:
        if _real_interrupt(inner):
            raise
        return f"<its str() raised {type(inner).__name__}>"
    return clip(text.splitlines()[0] if text else "", 600)


def _contained(exc: BaseException) -> str:
    where = harness_frame(exc.__traceback__)
    return clip(f"{_describe(exc)} at {where}", 800)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM ends a run the way Ctrl-C does (``RunInterrupted``: the workers are stopped, the caller writes
    what ran); main thread only (elsewhere no handler can be installed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: Any) -> None:
        raise RunInterrupted("SIGTERM")

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class CaseHung(BaseException):
    """Raised into a case that ran past ``CASE_TIMEOUT_S`` of wall-clock time (a BaseException, so a
    stream's ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _wall_clock_guard(seconds: float) -> Iterator[None]:
    """Interrupt the current thread after ``seconds`` (main thread only; elsewhere no guard)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CaseHung(f"the case ran for more than {seconds:g} s of wall-clock time without the loop "
                       "advancing: the target hangs inside one step")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Run:
    """Everything one case's scenario touches."""

    def __init__(self, case: Case, loop: IOLoop, fd: Any, peer_sock: Any, stream: Any, peer: Any) -> None:
        self.case = case
        self.loop = loop
        self.fd = fd
        self.peer_sock = peer_sock
        self.stream = stream
        self.peer = peer
        self.monitor: Monitor
        self._ready: Any = None

    async def peer_ready(self) -> None:
        """Plain: nothing. TLS: the peer's handshake, done once however many coroutines ask."""
        if not hasattr(self.peer, "handshake"):
            return
        if self._ready is None:
            self._ready = self.loop.spawn(self.peer.handshake())
        await self._ready

    def reset_injected(self) -> bool:
        """Whether the plan cut the connection (a reset or an early EOF was injected, or the TLS peer cut a
        record: ``eof-mid-record``)."""
        return any(e.get("fault") in ("reset", "send_reset", "peer_reset", "eof")
                   for e in self.loop.trace.events("fd", "inject")) or bool(self.loop.trace.events("harness", "peer_cut"))

    def flood_injected(self) -> bool:
        """Whether flood bytes actually joined the stream (through TLS, or generated under it)."""
        return getattr(self.peer, "flooded", 0) > 0 or any(
            e.get("fault") == "flood" for e in self.loop.trace.events("fd", "inject"))


def run_case(case: Case, target: Target = DEFAULT_TARGET, *, max_buffer_size: int = MAX_BUFFER_SIZE,
             budget: int = STEP_BUDGET, keep_trace: bool = True, full_trace: bool = False,
             timeout_s: float = CASE_TIMEOUT_S) -> CaseResult:
    """Run one case and judge it. Never raises for anything the target does.

    A failing case keeps a window of its trace around the first violation (``keep_trace``); ``full_trace``
    keeps every event whatever the outcome (for replay)."""
    # The collector runs at the end of each case (``Monitor.finish``), never in the middle of one: a collection
    # at an arbitrary step would run __del__ methods (asyncio's "Task was destroyed", a StreamWriter closing
    # its transport) at a point no seed decides.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_case(case, target, max_buffer_size=max_buffer_size, budget=budget, keep_trace=keep_trace,
                         full_trace=full_trace, timeout_s=timeout_s)
    finally:
        if collecting:
            gc.enable()


def _run_case(case: Case, target: Target = DEFAULT_TARGET, *, max_buffer_size: int = MAX_BUFFER_SIZE,
             budget: int = STEP_BUDGET, keep_trace: bool = True, full_trace: bool = False,
             timeout_s: float = CASE_TIMEOUT_S) -> CaseResult:
    """``run_case`` with the collector off."""
    hung = _HUNG.get((target.name, case.operation), 0)
    if hung >= HANG_LIMIT:
        return CaseResult(case=case, error=f"not run: the target already hung {hung} times in {case.operation} "
                          f"(each hang costs the {timeout_s:g} s case timeout); its other {case.operation} cases "
                          "in this worker are skipped")
    loop = target.make_loop(max_steps=budget)
    # The ssl transport: the peer's TLS behaviour and who is the TLS client come from the case (_tls_peer).
    connecting = case.operation == "connect"
    tls = tls_setup(case, client=connecting) if case.transport == "ssl" else None
    plan = tls.plan if tls is not None else case.plan
    fd, peer_sock = socketpair(loop, plan, record_payload=case.transport == "plain", profile=case.profile,
                               capacity=fd_capacity(case.operation))
    server_ctx = None
    if case.transport == "ssl":
        from faultio._certs import server_context

        server_ctx = server_context()
    try:
        with _wall_clock_guard(timeout_s), _interrupt_guard():
            if connecting:
                stream = make_connecting_stream(target, fd, io_loop=loop, transport=case.transport,
                                                max_buffer_size=max_buffer_size, server_context=server_ctx)
            elif tls is not None:
                stream = tls.make_stream(target, fd, io_loop=loop, max_buffer_size=max_buffer_size,
                                         server_context=server_ctx)
            else:
                stream = target.make(fd, io_loop=loop, transport=case.transport, max_buffer_size=max_buffer_size,
                                     ssl_context=server_ctx)
    except CaseHung as exc:
        _HUNG[target.name, case.operation] = hung + 1
        return CaseResult(case=case, error=clip(f"the target factory {target.name} hung: {exc}"))
    except Exception as exc:
        if _user_interrupted():
            raise KeyboardInterrupt from exc
        return CaseResult(case=case, error=clip(f"the target factory {target.name} raised {_describe(exc)}"))
    except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by the factory's own code, ...
        if _real_interrupt(exc):
            raise
        return CaseResult(case=case, error=clip(f"the target factory {target.name} raised {_contained(exc)}; "
                                                "the case could not be judged"))
    peer: Any = tls.make_peer(loop, peer_sock, flood_bytes=TLS_FLOOD_BYTES) if tls is not None else Peer(loop, peer_sock)
    run = Run(case, loop, fd, peer_sock, stream, peer)
    if connecting:  # before the monitor: the connect checkers watch the trace only in a connect case
        announce_connect(loop, case)
    monitor = run.monitor = attach_monitor(loop, stream, fd, peer, case.transport)
    watch_progress(loop, monitor)
    if tls is not None:
        tls.announce(loop)
    try:
        return _judge(run, target, hung=hung, timeout_s=timeout_s, keep_trace=keep_trace, full_trace=full_trace)
    finally:
        monitor.detach()  # on every path: a real interrupt, a harness bug, a contained exit


def _judge(run: Run, target: Target, *, hung: int, timeout_s: float, keep_trace: bool,
           full_trace: bool) -> CaseResult:
    """Run ``run``'s scenario under its monitor and build the result (``run_case`` detaches the monitor)."""
    case, loop, peer, monitor = run.case, run.loop, run.peer, run.monitor
    scenario = OPERATIONS[case.operation][0]
    contained: list[str] = []
    driver: Driver | None = None
    try:
        with _wall_clock_guard(timeout_s), _interrupt_guard():
            driver = Driver(run, case.style)
            loop.add_observer(_flood_cap(run, driver))
            loop.run_sync(lambda: scenario(run, driver))
            loop.run_until_quiescent()
    except (LoopBudgetExceeded, BusyLoopError, CaseHung) as exc:
        if isinstance(exc, CaseHung):
            _HUNG[target.name, case.operation] = hung + 1
        elif _user_interrupted():
            raise KeyboardInterrupt from exc
        monitor.violate("no-busy-loop", str(exc).splitlines()[0])
    except StalledError as exc:
        if _user_interrupted():
            raise KeyboardInterrupt from exc
        if not monitor.violations:
            closing = getattr(driver, "close_requested", None)
            if closing is not None and not driver.closed.done():
                monitor.violate("liveness", f"the stream was closed (close() at step {closing[0]}, t={closing[1]:g}s) "
                                "and its close never completed: the loop went quiet with the close callback not "
                                f"run and nothing left to wait for ({str(exc).splitlines()[0][:120]})")
            else:
                monitor.violate("liveness", "the run stalled: the loop went quiet with the scenario still waiting "
                                f"({str(exc).splitlines()[0][:160]})")
    except Exception as exc:
        if _user_interrupted():
            raise KeyboardInterrupt from exc
        _attribute(monitor, exc, "escaped the scenario")
    except BaseException as exc:  # not an Exception: the target tried to end the process or the run
        if _real_interrupt(exc):
            raise
        contained.append(_contain(monitor, exc, "while the case ran"))
    for exc in loop.uncaught:
        _attribute(monitor, exc, "escaped into the loop")
        break
    try:  # the checkers' last hooks read the stream: its code runs here too, under the same guards
        with _wall_clock_guard(timeout_s), _interrupt_guard():
            _shut_down(loop)
            monitor.finish()
    except CaseHung as exc:
        _HUNG[target.name, case.operation] = hung + 1
        monitor.violate("no-busy-loop", f"{str(exc).splitlines()[0]} (while the monitor finished the case)")
    except Exception as exc:  # the monitor itself failed: ours
        if _user_interrupted():
            raise KeyboardInterrupt from exc
        monitor.harness_error(f"finishing the monitor raised {_describe(exc)} at {harness_frame(exc.__traceback__)}")
    except BaseException as exc:
        if _real_interrupt(exc):
            raise
        contained.append(_contain(monitor, exc, "while the monitor finished the case"))
    monitor.detach()
    violations = tuple(sorted((_clipped(v) for v in monitor.violations.values()), key=lambda v: (v.event, v.slug)))
    error = "; ".join(monitor.harness_errors)
    if error:
        error = clip(f"harness error (not a finding about the target): {error}", 1000)
    contained = [c for c in contained if c]
    if contained:
        error = clip("; ".join([*contained, error] if error else contained))
    trace: tuple[dict[str, Any], ...] = ()
    if full_trace:
        trace = tuple(_event_json(e) for e in loop.trace)
    elif violations and keep_trace:
        trace = trace_window(list(loop.trace), violations[0].event)
    sent = bytes(peer.sent[:4096])
    got = bytes(monitor.delivered.head)
    with _interrupt_guard():  # formatting a log record runs the target's __str__ and __repr__
        logs = _logs_json(monitor)
    return CaseResult(case=case, violations=violations, error=error, steps=loop.step, trace=trace, sent=sent,
                      received=got, not_applicable=tuple(sorted(monitor.not_applicable.items())), logs=logs,
                      story=monitor.story(), virtual_s=loop.time(), held_s=held_seconds(loop.trace))


#: How many times its own buffer bound a stream may take in past what the peer sent before the harness, as
#: the stream's user, closes it: a stream that reads without bound (asyncio's ``read()`` to EOF) would
#: otherwise read a whole 1 GiB flood. A stream that bounds its buffer closes long before.
FLOOD_CAP_BOUNDS = 4


def _flood_cap(run: Run, driver: Any) -> Any:
    """An observer that closes the stream once it has taken in ``FLOOD_CAP_BOUNDS`` times its buffer bound
    (plus the scenario's margin) past the peer's own bytes; said in the trace."""
    bound = getattr(run.stream, "max_buffer_size", None)
    cap = EXTRA_BYTES + FLOOD_CAP_BOUNDS * (bound if isinstance(bound, int) and bound > 0 else MAX_BUFFER_SIZE)
    done = [False]

    def observe(loop: Any, what: str) -> None:
        if done[0] or what != "step":
            return
        extra = run.fd.bytes_received - len(getattr(run.peer, "sent", b""))
        if extra > cap:
            done[0] = True
            loop.trace.record("harness", "flood_cap", received=run.fd.bytes_received, cap=cap)
            loop.add_callback(driver.close)

    return observe


def _shut_down(loop: Any) -> None:
    """End what a case left running on an asyncio loop (tasks, transports) and close it, unobserved, so that
    nothing of this case is collected, or logs, during the next one."""
    shutdown = getattr(loop, "shutdown", None)
    if shutdown is None:
        return
    observers, loop._observers = loop._observers, []
    try:
        shutdown()
    finally:
        loop._observers = observers


def _contain(monitor: Monitor, exc: BaseException, when: str) -> str:
    """Record a contained non-``Exception`` and return what the case's error says (empty when it was the
    harness's own: then it is a harness error of the monitor's)."""
    monitor.loop.trace.record("harness", "contained", error=clip(_describe(exc), 200), when=when)
    where = raised_in_harness(exc)
    if where is not None:
        monitor.harness_error(f"{_describe(exc)} raised {when}, at {where}")
        return ""
    return f"the target raised {_contained(exc)} {when}; the case could not be judged"


def _clipped(violation: Any) -> Any:
    if len(violation.message) <= MESSAGE_KEEP:
        return violation
    return dataclasses.replace(violation, message=clip(violation.message))


def _logs_json(monitor: Monitor) -> tuple[dict[str, Any], ...]:
    """``monitor.logs_json()``, safe against a record whose arguments raise when formatted."""
    logs = []
    for record in monitor.log_records:
        try:
            message = record.getMessage()
        except BaseException as exc:
            if _real_interrupt(exc):
                raise
            message = f"{_text_of(record.msg)} (formatting its arguments raised {_describe(exc)})"
        logs.append({"logger": record.name, "level": record.levelname, "message": clip(message, 300)})
    return tuple(logs)


def _text_of(value: Any) -> str:
    try:
        return clip(value if isinstance(value, str) else repr(value), 200)
    except BaseException as exc:
        if _real_interrupt(exc):
            raise
        return f"<{type(value).__name__}>"


def _event_json(event: TraceEvent) -> dict[str, Any]:
    """``event.to_json()`` with every long string of its detail cut (a target's huge repr in a trace)."""
    data = event.to_json()
    detail = data["detail"]
    for key, value in detail.items():
        if isinstance(value, str) and len(value) > TRACE_DETAIL_KEEP and not key.endswith("_hex"):
            detail[key] = clip(value, TRACE_DETAIL_KEEP)
    return data


def _attribute(monitor: Monitor, exc: BaseException, how: str) -> None:
    where = raised_in_harness(exc)
    said = _text(exc)
    text = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
    if where is not None:
        monitor.harness_error(f"{text} {how}, raised at {where}")
    else:
        at = raised_at(exc)
        monitor.violate("target-crashed", f"{text} ({how}{', raised at ' + at if at else ''})")


def forget_hangs() -> None:
    """Start a new run's count of hangs (``HANG_LIMIT``) in this process."""
    _HUNG.clear()


def calibrated_timeout() -> tuple[float, float]:
    """``(timeout_s, reference_s)``: the per-case wall-clock timeout for this machine, from the time one
    reference case takes here (faultio's stream, a dribbled read), scaled by ``TIMEOUT_FACTOR`` and kept
    within [``TIMEOUT_FLOOR_S``, ``CASE_TIMEOUT_S``]."""
    import time

    from faultio import plan_for_kind

    case = Case(operation="read_bytes", style="future", fault="dribble", transport="plain",
                plan=plan_for_kind("dribble", seed=0, inbound_size=600), seed=0)
    run_case(case, DEFAULT_TARGET, keep_trace=False)  # warm: imports and caches
    start = time.perf_counter()
    run_case(case, DEFAULT_TARGET, keep_trace=False)
    took = time.perf_counter() - start
    return min(CASE_TIMEOUT_S, max(TIMEOUT_FLOOR_S, TIMEOUT_FACTOR * took)), took


def split_tls_flood(plan: FaultPlan) -> tuple[FaultPlan, int | None]:
    """Take the ``Flood`` read steps out of ``plan`` for the ssl transport.

    Returns ``(plan_without_flood, flood_at)``: ``flood_at`` is the plaintext offset of the first flood
    (the bytes of the ``Pass`` steps before it), or ``None`` (and ``plan`` unchanged) when it has none."""
    if not any(isinstance(s, Flood) for s in plan.read):
        return plan, None
    # Generated bytes are not TLS: on the ssl transport the peer floods application data through TLS,
    # at the same plaintext offset the plan puts its flood at.
    first = next(i for i, s in enumerate(plan.read) if isinstance(s, Flood))
    flood_at = sum(s.nbytes for s in plan.read[:first] if isinstance(s, Pass))
    return FaultPlan(read=tuple(s for s in plan.read if not isinstance(s, Flood)), write=plan.write,
                     name=plan.name), flood_at


def watch_progress(loop: Any, monitor: Monitor) -> None:
    """End a busy loop after ``SPIN_WINDOW`` steps in a row without progress: no byte moved on an fd, no virtual
    time passed, no byte reached the stream's user, no operation started (``IOLoop.watch_spin``)."""
    loop.watch_spin(SPIN_WINDOW, lambda: (len(monitor.delivered), monitor.ops_started))


def attach_monitor(loop: IOLoop, stream: Any, fd: Any, peer: Any, transport: str) -> Monitor:
    """A ``Monitor`` watching ``stream`` on ``fd`` from now on.

    On ``"plain"`` the truth is what ``fd`` received; on ``"ssl"`` it is the plaintext ``peer`` (a TLS
    peer) sent, and the stream also holds what its TLS connection decrypted but has not handed over."""
    if transport == "ssl":
        def ssl_pending() -> int:
            # Plaintext decrypted but not yet read out sits in the TLS connection, not the stream's buffer;
            # a stream with no connection under either name counts none (as does one whose pending() fails).
            conn = (getattr(stream, "_tls", None) or getattr(stream, "_ssl_conn", None)
                    or _tls_socket(getattr(stream, "socket", None)))
            try:
                return int(conn.pending()) if conn is not None else 0
            except Exception:
                return 0

        return Monitor(loop=loop, stream=stream, fd=fd, truth=lambda: peer.sent,
                       held_len=lambda: int(getattr(stream, "_read_buffer_size", 0) or 0) + ssl_pending(),
                       ssl_pending=ssl_pending, record_slack=TLS_RECORD)
    received = fd.received
    monitor = Monitor(loop=loop, stream=stream, fd=fd, truth=lambda: received,
                      held_len=lambda: len(received) - len(monitor.delivered))
    return monitor


def _tls_socket(sock: Any) -> Any:
    """``sock`` when it is a TLS socket (one that says how much plaintext it holds: a client stream that wrapped
    its socket once connected, as Tornado's ``SSLIOStream`` does), else None."""
    return sock if sock is not None and callable(getattr(sock, "pending", None)) else None


def trace_window(events: Sequence[TraceEvent], at: int) -> tuple[dict[str, Any], ...]:
    """Up to ``TRACE_KEEP`` of ``events`` as JSON, around the event whose index is ``at`` (all of them
    when there are no more than that)."""
    # Most of the window goes before the event: what led up to a violation explains it.
    pos = next((i for i, e in enumerate(events) if e.index >= at), len(events))
    start = max(0, min(pos - TRACE_KEEP * 4 // 5, len(events) - TRACE_KEEP))
    return tuple(_event_json(e) for e in events[start : start + TRACE_KEEP])
