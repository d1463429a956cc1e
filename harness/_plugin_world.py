"""One faulted test's world and its verdict: the plan, the loop, the monitored pairs, the judgement.

Rules for this module:
- Imported only when a test uses the ``faults`` marker or a ``fault_*`` fixture (``harness.pytest_plugin``
  must stay cheap to load). It may import faultio and the monitors at the top; pyOpenSSL and the report
  code only where the ssl transport or a report needs them.
- Nothing is judged here that a monitor can judge. This module adds only what needs the whole test: a loop
  that stalled or never settled, an exception nobody retrieved, what the test's own code read.
- A test's state lives in ``item.stash[STATE_KEY]``; it is created by the first fixture that needs it and
  closed by ``fault_loop``'s (or ``fault_event_loop``'s) teardown, whatever happened.
- One test, one kernel: faultio's Tornado-4 loop (``fault_loop``, ``fault_streams``) or the simulated asyncio
  loop (``fault_event_loop``, built in ``harness._plugin_asyncio``). The verdict is the same code for both:
  each exchange (a ``StreamPair`` or a ``FaultEventLoop``) says how to end itself, each loop which coroutines
  died unseen.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
from typing import Any, NamedTuple

import pytest

from faultio import (
    BusyLoopError,
    FaultPlan,
    IOLoop,
    LoopBudgetExceeded,
    StalledError,
    plan_for_kind,
    socketpair,
)

from ._case import Case, CaseResult, Violation
from ._plugin_stream import ForgivingPeer, MonitoredStream
from ._runner import (
    MAX_BUFFER_SIZE,
    TLS_FLOOD_BYTES,
    attach_monitor,
    derive_seed,
    trace_window,
)
from ._targets import DEFAULT_TARGET, DEFAULT_TARGET_SPEC, Target, load_target, stream_class_factory
from .engine.verdict import is_closed_error
from ._plugin_exchange import Exchange
from ._plugin_settings import GENERATED, Cell, Settings

#: A faulted test's loop budget: generous for a real exchange, small enough that a livelock ends in seconds.
STEP_BUDGET = 200_000
#: Trace events shown in a failure's "faultio" section, before and after the step it points at.
EXCERPT_BEFORE, EXCERPT_AFTER = 16, 4
#: How much of a plan a failure message shows (the report and the JUnit properties have all of it).
PLAN_CHARS = 400

STATE_KEY = pytest.StashKey["TestState"]()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def state_for(item: pytest.Item, settings: Settings) -> TestState:
    """The test's state, created on first use."""
    state = item.stash.get(STATE_KEY, None)
    if state is None:
        state = item.stash[STATE_KEY] = TestState(item, settings)
    return state


def configured_factory(spec: str | None) -> Any:
    """The stream factory ``--fault-target`` (or the ini value) names, or faultio's own stream."""
    if not spec:
        return DEFAULT_TARGET.factory
    try:
        return load_target(spec).factory
    except ValueError as exc:
        raise pytest.UsageError(f"--fault-target: {exc}") from None


def generated_plans(count: int, *, seed: int, nodeid: str, kinds: tuple[str, ...], inbound_size: int,
                    outbound_size: int) -> list[FaultPlan]:
    """``count`` distinct, non-clean plans mixing ``kinds``, drawn by Hypothesis from
    ``faultio.strategies.fault_plans``, seeded by the fault seed and the test (the same on every xdist
    worker, so they all collect the same ids)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed

    from faultio.strategies import fault_plans

    from ._generate import without_local_constants

    base = nodeid.split("[")[0]
    found: list[FaultPlan] = []

    @hypothesis_seed(derive_seed(seed, "plugin-hypothesis", base))
    # derandomize=False: a settings profile of the session (a CI profile) must not replace the seed.
    @settings(max_examples=2 * count + 10, database=None, derandomize=False, phases=[Phase.generate],
              deadline=None, verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))
    @given(fault_plans(kinds=kinds, inbound_size=inbound_size, outbound_size=outbound_size, name=GENERATED))
    def draw(plan: FaultPlan) -> None:
        if not plan.is_clean and plan not in found and len(found) < count:
            found.append(plan)

    # Without the source-code constants of whatever modules this process has loaded (see
    # ``without_local_constants``), or xdist workers could draw different plans under one test id.
    with without_local_constants():
        draw()
    return found


def factory_name(factory: Any, settings: Settings) -> str:
    """The report's name for ``factory``: the default target's spec, ``--fault-target``'s value, or
    ``module:qualname``."""
    if factory is DEFAULT_TARGET.factory:
        return DEFAULT_TARGET_SPEC
    if settings.target:
        return settings.target
    return f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', type(factory).__name__)}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PluginCase(Case):
    """A faulted test as a report case: its ``operation`` is the test's id, not an operation of the
    harness's matrix (so it is not checked against ``harness._scenarios.OPERATIONS``)."""

    def _check_operation(self) -> None:
        if not isinstance(self.operation, str) or not self.operation:
            raise ValueError(f"a test case's operation must be the test's id, got {self.operation!r}")


class PluginLoop(IOLoop):
    """faultio's loop, remembering every coroutine it started so that one that died unseen is reported."""

    def __init__(self) -> None:
        super().__init__(max_steps=STEP_BUDGET, make_current=True)
        self.spawned: list[Any] = []

    def spawn(self, func: Any) -> Any:
        """``IOLoop.spawn``, remembering the future in ``spawned``."""
        future = super().spawn(func)
        self.spawned.append(future)
        return future

    def unawaited_failures(self) -> list[str]:
        """What a coroutine the test spawned died of, when nothing awaited it (a closed stream aside)."""
        found = []
        for future in self.spawned:
            exc = future._exception if future.done() else None
            if exc is not None and not future._retrieved and not is_closed_error(exc):
                found.append(f"the coroutine {future.label} ended with {exc!r}, and nothing awaited it")
        return found

    def end(self) -> None:
        """Close the loop (the test is over)."""
        self.close()


class _TLSCell(NamedTuple):
    """What ``harness._tls_peer.tls_setup`` reads of a case, for a faulted test's cell."""

    fault: str
    plan: FaultPlan
    seed: int


class FaultSocketPair(NamedTuple):
    """``fault_socketpair``'s value: ``(target, peer)`` real sockets; ``target`` obeys the plan."""

    target: Any
    peer: Any


class StreamPair(Exchange):
    """``fault_streams``'s value: the monitored ``stream`` under test and the ``peer`` the test drives."""

    def __init__(self, state: TestState, factory: Any) -> None:
        loop, plan, transport = state.loop, state.plan, state.cell.transport
        self.loop = loop
        self.plan = plan
        self.transport = transport
        self._state = state
        make = stream_class_factory(factory) if isinstance(factory, type) else factory
        # The ssl transport is set up as the matrix sets up a case (``harness._tls_peer``): the fd plan without
        # the steps that mean plaintext positions there, the peer's TLS behaviour for a TLS kind (how it shapes
        # records and ends the connection, whom it trusts) and which side is the TLS client.
        tls = None
        if transport == "ssl":
            from ._tls_peer import TLSRoleError, tls_setup  # pyOpenSSL: only for the ssl transport

            tls = tls_setup(_TLSCell(fault=state.cell.kind, plan=plan, seed=state.seed))
        self.tls = tls
        fd_plan = tls.plan if tls is not None else plan
        # Ciphertext hex says nothing and varies: payloads are recorded on the plain transport only.
        self.fd, self.peer_sock = socketpair(loop, fd_plan, record_payload=transport == "plain",
                                             profile=state.cell.profile)
        # ``raw_stream``: the stream exactly as the factory made it (``stream`` is it, seen by the monitors).
        if tls is not None:
            from faultio._certs import server_context

            target = Target(name=factory_name(factory, state.settings), factory=make)
            try:
                self.raw_stream = tls.make_stream(target, self.fd, io_loop=loop, max_buffer_size=MAX_BUFFER_SIZE,
                                                  server_context=server_context())
            except TLSRoleError as exc:
                pytest.skip(f"{plan.name} needs the stream under test as the TLS client: {exc}")
            self.peer: Any = tls.make_peer(loop, self.peer_sock, flood_bytes=TLS_FLOOD_BYTES)
        else:
            self.raw_stream = make(self.fd, io_loop=loop, transport=transport, max_buffer_size=MAX_BUFFER_SIZE,
                                   ssl_context=None)
            self.peer = ForgivingPeer(loop, self.peer_sock)
        self.monitor = attach_monitor(loop, self.raw_stream, self.fd, self.peer, transport)
        if tls is not None:
            tls.announce(loop)  # the case's TLS expectation, for the TLS checkers
        self.stream = MonitoredStream(self.raw_stream, self.monitor)
        self.finished = False

    def new_pair(self) -> StreamPair:
        """Another monitored pair on the same loop, under the same plan (its own fd and cursor)."""
        return self._state.open_pair(self._state.factory)

    def end(self, state: TestState) -> None:
        """The test is over: close the stream if the test left it open (the harness does so at the end of a
        scenario), so that the close rules are judged on it."""
        try:
            if not self.raw_stream.closed():
                self.raw_stream.close()
        except Exception as exc:
            state._violate("target-crashed", f"closing the stream raised {exc!r}"[:300])

    def report_bytes(self) -> tuple[bytes, bytes]:
        """What the peer sent and what the stream delivered to the test (the report's dumps)."""
        return bytes(self.peer.sent[:4096]), bytes(self.monitor.delivered.head)


class TestState:
    """Everything one faulted test set up, and its verdict."""

    __test__ = False  # not a test class, whatever pytest's collection rules say

    def __init__(self, item: pytest.Item, settings: Settings) -> None:
        self.item = item
        self.settings = settings
        self.cell = Cell("clean")
        self.plan = FaultPlan(name="clean")
        self.seed = derive_seed(settings.seed, item.nodeid)
        #: The test's kernel: a ``PluginLoop`` (``fault_loop``) or a ``PluginEventLoop`` (``fault_event_loop``).
        self.loop: Any = None
        #: The monitored exchanges: ``StreamPair``s, or the one ``FaultEventLoop``.
        self.pairs: list[Exchange] = []
        self.real_pairs: list[FaultSocketPair] = []
        self.factory: Any = None
        self.target = DEFAULT_TARGET_SPEC
        self.extra: dict[str, Violation] = {}
        self.judged = False
        self.raised: BaseException | None = None
        self.recorded = False

    # -- set-up --------------------------------------------------------------------------------------
    def set_cell(self, cell: Cell) -> FaultPlan:
        """Take on ``cell``: pick its plan (seeded by the test) and record both in the test's user properties;
        returns the plan."""
        self.cell = cell
        if cell.kind == GENERATED:
            self.plan = cell.plan
        elif cell.kind != "clean":
            self.plan = plan_for_kind(cell.kind, seed=self.seed, inbound_size=cell.inbound_size,
                                      outbound_size=cell.outbound_size)
        props = self.item.user_properties
        props += [("faultio_seed", self.settings.seed), ("faultio_plan_seed", self.seed),
                  ("faultio_fault", cell.kind), ("faultio_transport", cell.transport),
                  ("faultio_profile", cell.profile),
                  ("faultio_plan", self.plan.dumps())]
        return self.plan

    def make_loop(self) -> PluginLoop:
        """Create the test's loop and return it."""
        self._one_kernel("fault_loop")
        self.loop = PluginLoop()
        return self.loop

    def open_event_loop(self) -> Any:
        """The test's ``FaultEventLoop``: the simulated asyncio loop and the faulty connection on it."""
        from ._plugin_asyncio import FaultEventLoop, PluginEventLoop

        self._one_kernel("fault_event_loop")
        self.loop = PluginEventLoop(max_steps=STEP_BUDGET)
        self.target = "fault_event_loop"
        exchange = FaultEventLoop(self)
        self.pairs.append(exchange)
        return exchange

    def _one_kernel(self, fixture: str) -> None:
        # Collection refuses the mix (``pytest_generate_tests``); this catches a fixture requested by name
        # at run time (``request.getfixturevalue``).
        if self.loop is not None:
            raise pytest.UsageError(f"{self.item.nodeid}: {fixture} cannot join the loop this test already has; "
                                    "fault_event_loop (asyncio) and fault_loop/fault_streams (faultio's loop) do "
                                    "not mix in one test")

    def open_pair(self, factory: Any) -> StreamPair:
        """A new monitored ``StreamPair`` made by ``factory`` (the loop is created on first use)."""
        if self.loop is None:
            self.make_loop()
        elif not isinstance(self.loop, PluginLoop):
            self._one_kernel("fault_streams")
        self.factory = factory
        self.target = factory_name(factory, self.settings)
        pair = StreamPair(self, factory)
        self.pairs.append(pair)
        return pair

    def real_pair(self) -> FaultSocketPair:
        """A new ``FaultSocketPair`` of real sockets under the test's plan."""
        from faultio._realfd import real_socketpair

        pair = FaultSocketPair(*real_socketpair(self.plan, profile=self.cell.profile))
        self.real_pairs.append(pair)
        return pair

    # -- the verdict ---------------------------------------------------------------------------------
    def _violate(self, slug: str, message: str) -> None:
        if self.pairs:
            self.pairs[0].monitor.violate(slug, message)
        elif slug not in self.extra and self.loop is not None:
            self.extra[slug] = Violation(slug=slug, message=message, step=self.loop.step,
                                         event=self.loop.trace.count - 1)
            self.loop.trace.record("harness", "violation", slug=slug, message=message)

    def _run_quiet(self) -> bool:
        try:
            self.loop.run_until_quiescent()
        except (LoopBudgetExceeded, BusyLoopError) as exc:
            self._violate("no-busy-loop", str(exc).splitlines()[0])
            return False
        return True

    def judge(self, raised: BaseException | None) -> BaseException | None:
        """Settle the loop, close what is still open, finish the monitors; return the failure to raise
        (``None`` when every invariant held)."""
        if self.judged:
            return None
        self.judged = True
        self.raised = raised
        loop = self.loop
        if loop is not None:
            if isinstance(raised, StalledError):
                self._violate("liveness", f"the test waited on a loop with nothing left to do, a hang on a real "
                              f"machine ({str(raised).splitlines()[0]})")
            elif isinstance(raised, (LoopBudgetExceeded, BusyLoopError)):
                self._violate("no-busy-loop", str(raised).splitlines()[0])
            # Run what is still queued, then end every exchange (a stream the test left open is closed, as
            # the harness does at the end of a scenario; the asyncio connection's peer hangs up) and let
            # that play out: the close rules are judged on it.
            if self._run_quiet():
                for pair in self.pairs:
                    pair.end(self)
                self._run_quiet()
            for exc in loop.uncaught[:1]:
                self._violate("target-crashed", f"an exception escaped into the loop: {exc!r}"[:300])
            for message in loop.unawaited_failures()[:1]:
                self._violate("target-crashed", message[:300])
            for pair in self.pairs:
                self._finish(pair)
        violations = self.violations()
        errors = [e for pair in self.pairs for e in pair.monitor.harness_errors]
        if errors:
            return pytest.fail.Exception("faultio: the harness failed while judging this test (a bug in faultio, "
                                         "not in your stream): " + "; ".join(errors), pytrace=False)
        fail_on = self.settings.fail_on(self.target)
        if not any(v.klass in fail_on for v in violations):
            return None  # findings of a class this session does not fail on: still in the report
        return pytest.fail.Exception(self.failure_text(violations), pytrace=False)

    @staticmethod
    def absorbed(exc: BaseException | None) -> bool:
        """Whether ``exc`` is the loop stopping (a stall or a livelock), which the verdict reports itself."""
        return isinstance(exc, (StalledError, LoopBudgetExceeded, BusyLoopError))

    def _finish(self, pair: StreamPair) -> None:
        if pair.finished:
            return
        pair.finished = True
        try:
            pair.monitor.finish()
        except Exception as exc:  # a broken stream may break our reads of its state; say so
            pair.monitor.violate("target-crashed", f"inspecting the stream failed: {exc!r}")
            pair.monitor.detach()

    def violations(self) -> list[Violation]:
        """Every violation found so far, in trace order."""
        found = list(self.extra.values())
        for pair in self.pairs:
            found += pair.monitor.violations.values()
        return sorted(found, key=lambda v: (v.event, v.slug))

    def close(self) -> None:
        """Detach every monitor and end the loop (the fixtures' teardown)."""
        for pair in self.pairs:
            pair.monitor.detach()
        if self.loop is not None:
            self.loop.end()

    # -- what the failure says -----------------------------------------------------------------------
    def _plan_line(self) -> str:
        profile = "" if self.cell.profile == "raw" else f", profile {self.cell.profile}"
        return _clip(f"fault plan {self.cell.id} over {self.cell.transport}{profile} (fault seed "
                     f"{self.settings.seed}, plan seed {self.seed}): {self.plan.describe()}", PLAN_CHARS)

    def failure_text(self, violations: list[Violation]) -> str:
        """The failure message: each violation, the plan and the replay command."""
        from ._plugin_settings import replay_command

        slugs = ", ".join(dict.fromkeys(v.slug for v in violations))
        lines = [f"faultio: {slugs} broken under the {self.cell.id} fault plan"]
        for v in violations:
            lines.append(f"[{v.slug}] {v.message} ({v.klass}, loop step {v.step})")
            lines.append(f"    {v.explanation}")
        if self.raised is not None and not self.absorbed(self.raised):
            lines.append(_clip(f"the test itself also raised {type(self.raised).__name__}: {self.raised}", 400))
        lines.append(self._plan_line())
        lines.append(f"replay: {replay_command(self.item)}")
        return "\n".join(lines)

    def excerpt(self, violations: list[Violation]) -> list[str]:
        """The trace around the first violation (or the end of the trace), one event a line."""
        events = self._events()
        if not events:
            return []
        at = violations[0].event if violations else events[-1].index
        pos = next((i for i, e in enumerate(events) if e.index >= at), len(events) - 1)
        window = events[max(0, pos - EXCERPT_BEFORE): pos + EXCERPT_AFTER + 1]
        out = [f"trace events #{window[0].index}..#{window[-1].index} of {len(events)}"
               + (f" (the first violation points at #{at}):" if violations else ":")]
        for e in window:
            detail = " ".join(f"{k}={v}" for k, v in e.detail if not k.endswith("_hex"))
            out.append(f"  {'>' if e.index == at and violations else ' '} #{e.index} step {e.step} {e.source} "
                       f"{e.kind} {detail}".rstrip()[:200])
        return out

    def _events(self) -> list[Any]:
        if self.loop is not None:
            return list(self.loop.trace)
        if self.real_pairs:
            return list(self.real_pairs[0].target.trace)
        return []

    def section(self, violations: list[Violation], replay: str) -> str:
        """The "faultio" report section: the plan, the violations, what the test raised, a trace excerpt and
        ``replay``."""
        plan_json = self.plan.dumps()
        if len(plan_json) > PLAN_CHARS * 2:
            plan_json = (f"{len(self.plan.read)} read and {len(self.plan.write)} write steps (in full in "
                         "--junitxml properties and the --fault-report report)")
        what = "code under test" if self.target == "fault_event_loop" else "stream under test"
        lines = [self._plan_line(), f"plan JSON: {plan_json}", f"{what}: {self.target}"]
        for v in violations:
            lines += [f"[{v.slug}] at loop step {v.step} (trace event #{v.event}): {v.message}",
                      f"    {v.explanation}"]
        if self.raised is not None and violations and not self.absorbed(self.raised):
            lines.append("the test raised:")
            lines += ["  " + line for line in "".join(
                traceback.format_exception(self.raised)).rstrip().splitlines()[-12:]]
        lines += self.excerpt(violations)
        lines.append(f"replay: {replay}")
        return "\n".join(lines)

    # -- what the report gets ------------------------------------------------------------------------
    def annotate(self, report: pytest.TestReport, call: pytest.CallInfo, *, replay: str) -> None:
        """Attach the case to the report (``report.faultio_case``, carried to the xdist controller) and,
        for a failure, the "faultio" section."""
        if self.recorded or report.skipped or (call.when == "setup" and report.passed):
            return
        if call.when == "teardown" and report.passed:
            return
        self.recorded = True
        violations = self.violations()
        error = ""
        if not violations and report.failed:
            what = "its set-up" if call.when == "setup" else ("its teardown" if call.when == "teardown"
                                                               else "the test")
            exc = call.excinfo.value if call.excinfo is not None else None
            error = f"{what} failed: {type(exc).__name__}: {exc}" if exc is not None else f"{what} failed"
        if report.failed:
            report.sections.append(("faultio", self.section(violations, replay)))
        if violations:
            self.item.user_properties.append(("faultio_violations", " ".join(sorted({v.slug for v in violations}))))
        report.faultio_case = self.case_json(violations, error[:2000], replay)

    def case_json(self, violations: list[Violation], error: str, replay: str) -> dict[str, Any]:
        """The test as a report case (plain JSON values), with a trace window when it failed."""
        from ._report import case_to_json

        cell = self.cell
        case = PluginCase(operation=self._test_name(), style="scenario", fault=cell.kind,
                          transport=cell.transport, plan=self.plan, seed=self.seed,
                          origin="generated" if cell.kind == GENERATED else "fixed", index=cell.index,
                          profile=cell.profile)
        trace: tuple[dict[str, Any], ...] = ()
        if violations or error:
            events = self._events()
            at = violations[0].event if violations else (events[-1].index if events else 0)
            trace = trace_window(events, at)
        sent = received = b""
        if self.pairs:
            sent, received = self.pairs[0].report_bytes()
        elif self.real_pairs:
            received = bytes(self.real_pairs[0].target.received[:4096])
        result = CaseResult(case=case, violations=tuple(violations), error=error,
                            steps=self.loop.step if self.loop is not None else 0, trace=trace, sent=sent,
                            received=received)
        data = case_to_json(result, report_path=None, fail_on=self.settings.fail_on(self.target))
        data.update(id=self.item.nodeid, replay=replay, target=self.target,
                    fail_on=list(self.settings.fail_on(self.target)))
        # Cases reach the xdist controller through execnet: plain JSON values only.
        return json.loads(json.dumps(data, default=str))

    def _test_name(self) -> str:
        """The test's id without its parameters: the report's "operation"."""
        return self.item.nodeid.split("[")[0]

