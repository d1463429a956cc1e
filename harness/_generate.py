"""Generated cases: Hypothesis-drawn fault plans that mix the fault kinds, shrunk to minimal reproducers.

Rules for this module:
- Plans come only from ``faultio.strategies``; cases are run only through ``run_case``. This module owns
  the Hypothesis run around them and nothing else.
- One seed in, the same results out: each cell's Hypothesis run is seeded from the run's seed and the cell's
  name, with no example database, so ``jobs`` (and the order cells run in) never change a result.
- Every run is bounded by counts, never by a clock: per cell at most ``examples`` cases judged while
  generating and, for a failing cell, at most ``examples + shrink_calls + 2`` more to shrink (see ``_Cell``).
- Hypothesis prints nothing and writes nothing; what it finds comes back as ``CaseResult`` values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given, note, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from faultio import FaultPlan
from faultio._shaped import check_profile
from faultio.strategies import DEFAULT_MAX_WRITE_STEPS, fault_plans

from ._case import TRANSPORTS, Case, CaseResult
from ._matrix import DEFAULT_MEMORY_LIMIT, dead_worker_result, load_invariant_specs, plan_sizes, pool_map
from ._report_json import write_atomic
from ._runner import derive_seed, run_case
from ._scenarios import OPERATIONS
from ._targets import Target, load_target

#: The ``fault`` of every generated case: its plan mixes the kinds.
GENERATED_FAULT = "mixed"
#: Cases judged while shrinking one failure, at most (on top of the ``examples`` judged while generating).
MAX_SHRINK_CALLS = 300
#: The format tag of a file written by ``save_case``.
CASE_FILE_FORMAT = "faultio-case/1"

#: A cell of the generated matrix: ``(operation, style, transport)``.
Cell = tuple[str, str, str]


def generated_cells(operations: Sequence[str] | None = None,
                    transports: Sequence[str] = TRANSPORTS) -> list[Cell]:
    """Every ``(operation, style, transport)`` cell, in matrix order (transport, operation, style)."""
    return [(operation, style, transport)
            for transport in transports
            for operation in (operations or tuple(OPERATIONS))
            for style in OPERATIONS[operation][1]]


@functools.lru_cache(maxsize=None)
def plan_strategy(operation: str, transport: str) -> Any:
    """The plans drawn for one cell: every fault kind, sized to the bytes the operation moves.

    A plain read scenario never sends, so its plans have no write steps (they could never fire); over TLS
    the handshake sends, so write faults stay. Cached per cell: a strategy is an immutable description (the
    draws depend on it and the seed only), so a campaign's chunks build and validate it once per worker.
    """
    inbound, outbound = plan_sizes(operation)
    max_write = DEFAULT_MAX_WRITE_STEPS if (outbound or transport != "plain") else 0
    return fault_plans(inbound_size=inbound, outbound_size=outbound, max_write_steps=max_write,
                       name=GENERATED_FAULT)


def _check_cell(cell: Any) -> Cell:
    try:
        operation, style, transport = cell
    except (TypeError, ValueError):
        raise ValueError(f"a cell is (operation, style, transport), got {cell!r}") from None
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; valid: {', '.join(OPERATIONS)}")
    styles = OPERATIONS[operation][1]
    if style not in styles:
        raise ValueError(f"operation {operation!r} does not run in style {style!r}; valid: {', '.join(styles)}")
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}; valid: {', '.join(TRANSPORTS)}")
    return operation, style, transport


def signature(result: CaseResult) -> str:
    """What "the same failure" means while shrinking: the first violation's slug (``error`` for an error).

    A candidate that fails differently does not count as reproducing, so shrinking cannot slide from one
    bug to another, simpler one.
    """
    if result.error:
        return "error"
    return result.violations[0].slug if result.violations else "pass"


def explain(result: CaseResult, *, events: int = 12) -> str:
    """A few lines saying what failed, under which plan, and the trace events leading up to it."""
    lines = [f"case {result.case.id} (seed {result.case.seed}): {result.outcome}",
             f"plan {result.case.plan.describe()}",
             f"plan JSON {result.case.plan.dumps()}"]
    if result.error:
        lines.append(f"error: {result.error}")
    for v in result.violations:
        lines.append(f"violation {v.slug} at step {v.step}: {v.message}")
    if result.violations and result.trace:
        at = result.violations[0].event
        upto = [e for e in result.trace if e.get("index", -1) <= at] or list(result.trace)
        lines.append("trace before the first violation:")
        for e in upto[-events:]:
            detail = ", ".join(f"{k}={v}" for k, v in e.get("detail", {}).items() if not k.endswith("_hex"))
            lines.append(f"  #{e.get('index')} step {e.get('step')} {e.get('source')}.{e.get('kind')} {detail}")
    return "\n".join(lines)


def _nondeterministic(result: CaseResult, what: str) -> str:
    return (f"{result.case.id} failed with {signature(result)!r} under plan {result.case.plan.dumps()}, but {what}. "
            "run_case is deterministic, so the target must keep state between cases (a class attribute, a "
            "module global): its results cannot be trusted or shrunk. Replay the case on its own.")


@contextlib.contextmanager
def without_local_constants() -> Iterator[None]:
    """Keep Hypothesis from mixing this process's source-code constants into the draws, for the duration.

    Hypothesis (6.131 and later) sometimes draws an integer from the literals found in the "local" modules
    loaded so far, instead of at random. Which modules are loaded differs between the CLI and pytest, between
    targets, and even between jobs=1 and a worker (``faultio._certs`` is imported by the first TLS case):
    the same seed then gave different plans. With no local constants, a seed means the same plans
    everywhere (for one Hypothesis version). Hypothesis has no setting for this, so the switch is its
    internal hook, patched only while our runs draw; if a later Hypothesis moves it, this does nothing and
    the determinism tests say so.
    """
    try:
        from hypothesis.internal.conjecture import providers

        original = providers._get_local_constants
        empty = providers.Constants
        cache = providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):  # pragma: no cover - a Hypothesis without the feature
        yield
        return
    providers._get_local_constants = lambda: empty()
    cache.clear()  # pools already computed with the local constants in them
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


class _Failed(Exception):
    """Raised inside the Hypothesis property: this plan reproduces the failure (carries its result)."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(f"{result.case.id}: {signature(result)}")
        self.result = result


class _InternalError(BaseException):
    """The harness itself raised. A ``BaseException`` so Hypothesis passes it through instead of shrinking
    a harness bug as if it were the target's."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


class _Enough(BaseException):
    """Raised inside the property once ``examples`` plans have been judged: the draws Hypothesis would still
    make could only pass without running, so they are not made (a ``BaseException``, so Hypothesis passes it
    through)."""


class _Cell:
    """One cell's two Hypothesis runs, with the same seed and settings.

    Why two: a generated case's payloads derive from its id, which holds its example ``index``, so "does this
    plan fail" depends on the index as well as the plan. Hypothesis remembers every draw's outcome and never
    asks again, so one run that judged example 0 under index 0 and shrank example 3 under index 3 would wrongly
    treat what passed under index 0 (always the clean plan, which Hypothesis draws first) as passing under 3.

    1. *Generate* (``Phase.generate`` only): each new, distinct, non-clean plan becomes example ``index`` =
       0, 1, ... and is judged, until ``examples`` have been (then ``_Enough`` ends the run; the budget of
       draws is a few more than ``examples``, so duplicates and the clean plan are skipped, not counted).
       The first failure stops the run.
    2. *Shrink* (only after a failure at index ``k``; ``Phase.generate`` and ``Phase.shrink``): the property
       is now "this plan, run as example ``k``, fails with the same first slug" (``signature``), a pure
       function of the plan, judged once per plan (``run_case`` is deterministic, so results are cached).
       The same seed replays the same draws, so this run meets the failure again no later than run 1 did
       (sooner if an earlier, simpler plan, such as the clean one, also fails as example ``k``), then shrinks.

    The cap: run 2 judges at most ``shrink_calls`` plans beyond the ones run 1 judged (plus the clean plan).
    After that a plan never judged before counts as *not* failing, without being run: Hypothesis then finds
    nothing smaller and ends, cheaply, on the best failure it has, whose result is cached for its final
    replay. So shrinking is bounded by a count, never by a clock, and always ends on a plan seen to fail.
    One last, uncached run of the minimal case confirms it; a target that answers differently is reported
    as an ``error`` (it keeps state between cases, so nothing it says can be shrunk or trusted).
    """

    def __init__(self, cell: Cell, *, seed: int, examples: int, target: Target, shrink_calls: int,
                 run_options: dict[str, Any], profile: str = "raw") -> None:
        self.operation, self.style, self.transport = cell
        self.profile = profile
        self.examples = examples
        self.target = target
        self.shrink_calls = shrink_calls
        self.run_options = run_options
        self.case_seed = derive_seed(seed, self.operation, self.style, GENERATED_FAULT, self.transport)
        self.hypothesis_seed = derive_seed(seed, "hypothesis", self.operation, self.style, self.transport)
        #: The index of the first example (a campaign's chunks number their examples on from each other).
        self.first_index = 0

    def case(self, plan: FaultPlan, index: int) -> Case:
        return Case(operation=self.operation, style=self.style, fault=GENERATED_FAULT, transport=self.transport,
                    plan=plan, seed=self.case_seed, origin="generated", index=index, profile=self.profile)

    def _run(self, case: Case) -> CaseResult:
        try:
            return run_case(case, self.target, **self.run_options)
        except Exception as exc:
            raise _InternalError(exc) from exc

    def _hypothesis(self, judge: Callable[[FaultPlan], CaseResult | None], phases: tuple[Phase, ...]) -> None:
        """Run ``judge`` over drawn plans; raises ``_Failed`` with the (final) failing result, if any."""

        @hypothesis_seed(self.hypothesis_seed)
        @settings(
            max_examples=2 * self.examples + 10,
            database=None,
            derandomize=False,
            deadline=None,
            phases=phases,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @given(plan=plan_strategy(self.operation, self.transport))
        def property_(plan: FaultPlan) -> None:
            result = judge(plan)
            if result is not None:
                note(explain(result))
                raise _Failed(result)

        try:
            with without_local_constants():
                property_()
        except _InternalError as exc:
            raise exc.exc from None

    def generate(self) -> tuple[list[CaseResult], CaseResult | None]:
        """Run 1: the passing examples, in order, and the first failing one (or None)."""
        seen: set[FaultPlan] = set()
        passed: list[CaseResult] = []
        failure: list[CaseResult] = []

        def judge(plan: FaultPlan) -> CaseResult | None:
            if failure:  # Hypothesis replays the failing draw once at the end
                return failure[0] if plan == failure[0].case.plan else None
            if plan.is_clean or plan in seen or len(seen) >= self.examples:
                return None
            seen.add(plan)
            result = self._run(self.case(plan, self.first_index + len(seen) - 1))
            if result.outcome == "pass":
                passed.append(result)
                if len(seen) >= self.examples:
                    raise _Enough
                return None
            failure.append(result)
            return result

        try:
            self._hypothesis(judge, (Phase.generate,))
        except (_Failed, _Enough):
            pass
        return passed, (failure[0] if failure else None)

    def shrink(self, failure: CaseResult) -> CaseResult:
        """Run 2: the minimal plan failing like ``failure`` as the same example (see the class docstring)."""
        index, wanted = failure.case.index, signature(failure)
        cache: dict[FaultPlan, CaseResult | None] = {failure.case.plan: failure}
        budget = [self.shrink_calls + index - self.first_index + 1]

        def judge(plan: FaultPlan) -> CaseResult | None:
            if plan not in cache:
                if budget[0] <= 0:
                    return None  # the cap
                budget[0] -= 1
                result = self._run(self.case(plan, index))
                cache[plan] = result if signature(result) == wanted else None
            return cache[plan]

        try:
            self._hypothesis(judge, (Phase.generate, Phase.shrink))
        except _Failed as exc:
            shrunk = exc.result
        except Flaky as exc:  # cannot happen with the cache above; kept as a clear message all the same
            return dataclasses.replace(failure, error=_nondeterministic(failure, f"Hypothesis raised {exc!r}"))
        else:
            # Not met again within the budget (only with a tiny shrink_calls): keep it as found, unshrunk.
            return failure
        # The cache answered Hypothesis from memory; one fresh run proves the reproducer really reproduces
        # (and catches a target that keeps state between cases).
        again = self._run(shrunk.case)
        if signature(again) != wanted:
            return dataclasses.replace(shrunk, shrunk=shrunk.case.plan, error=_nondeterministic(
                shrunk, f"re-running it gave {signature(again)!r}"))
        return dataclasses.replace(shrunk, shrunk=shrunk.case.plan)

    def run(self) -> list[CaseResult]:
        if self.examples == 0:
            return []
        passed, failure = self.generate()
        return passed if failure is None else passed + [self.shrink(failure)]


def _run_cell(cell: Cell, *, seed: int, examples: int, target: Target, shrink_calls: int,
              run_options: dict[str, Any], profile: str = "raw") -> list[CaseResult]:
    return _Cell(cell, seed=seed, examples=examples, target=target, shrink_calls=shrink_calls,
                 run_options=run_options, profile=profile).run()


def _run_cell_in_worker(args: tuple[str, Cell, int, int, int, dict[str, Any], str]) -> list[CaseResult]:
    spec, cell, seed, examples, shrink_calls, run_options, profile = args
    return _run_cell(cell, seed=seed, examples=examples, target=load_target(spec), shrink_calls=shrink_calls,
                     run_options=run_options, profile=profile)


def run_generated(cells: Sequence[Cell], *, seed: int, examples: int, target_spec: str, jobs: int = 1,
                  progress: Callable[[CaseResult], None] | None = None, shrink_calls: int = MAX_SHRINK_CALLS,
                  invariants: Sequence[str] = (), memory_limit: int = DEFAULT_MEMORY_LIMIT,
                  contain: bool = False, profile: str = "raw", **run_options: Any) -> list[CaseResult]:
    """Run ``examples`` generated plans in each cell; results in cell order, then example order. Every case
    runs its fds under ``profile`` (``faultio.PROFILES``).

    For each cell, passing examples come back as passing results; a failing example is shrunk and comes
    back, last, as the result of the minimal plan that still fails with the same first slug (its
    ``case.plan`` and ``shrunk`` are that plan). ``jobs > 1`` runs cells in worker processes, which load
    the target from ``target_spec``; results are identical to ``jobs=1``. ``run_options`` go to
    ``run_case``. ``progress`` is called with every result, in the main process.
    """
    checked = [_check_cell(cell) for cell in cells]
    check_profile(profile)
    for name, value, minimum in (("examples", examples, 0), ("jobs", jobs, 1), ("shrink_calls", shrink_calls, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    per_cell: list[list[CaseResult] | None] = [None] * len(checked)
    load_invariant_specs(invariants)
    if (jobs == 1 and not contain) or not checked:
        target = load_target(target_spec)
        for i, cell in enumerate(checked):
            per_cell[i] = _run_cell(cell, seed=seed, examples=examples, target=target,
                                    shrink_calls=shrink_calls, run_options=run_options, profile=profile)
            for result in per_cell[i] or ():
                if progress:
                    progress(result)
    else:
        load_target(target_spec)  # a bad spec fails here, with its own message, not in a worker

        def report(results: list[CaseResult]) -> None:
            for result in results:
                if progress:
                    progress(result)

        def dead(args: tuple, why: str) -> list[CaseResult]:
            _, cell, *_ = args
            stand_in = _Cell(cell, seed=seed, examples=examples, target=None, shrink_calls=shrink_calls,
                             run_options=run_options, profile=profile).case(FaultPlan(name="generated"), 0)
            return [dead_worker_result(stand_in, why.replace("this case", "this cell's generated cases"))]

        per_cell = list(pool_map(_run_cell_in_worker, [(target_spec, cell, seed, examples, shrink_calls,
                                                        run_options, profile) for cell in checked],
                                 jobs=jobs, invariants=invariants, memory_limit=memory_limit, on_result=report,
                                 on_dead=dead))
    return [result for results in per_cell for result in results or ()]


def case_file_name(case: Case) -> str:
    """A file name for ``case``: its id with ``/`` and ``#`` made safe."""
    return case.id.replace("/", ".").replace("#", ".") + ".json"


def save_case(result: CaseResult, directory: str | Path, *, target: str | None = None) -> Path:
    """Write ``result``'s case as a replayable file in ``directory`` (created if needed); return its path.

    The file is ``{"format", "case", "outcome", "violations", "error"}`` plus ``"target"`` when given (the
    spec the case ran against; ``python -m harness replay FILE`` names it but runs it only when given it as
    ``--target``). ``case`` is ``Case.to_json()``, which
    holds the case's ``index`` (a generated case's payloads depend on it), so
    ``run_case(Case.from_json(data["case"]), ...)`` runs exactly the saved case again. The file is named
    after the case id and replaced atomically.
    """
    case = result.case
    data: dict[str, Any] = {
        "format": CASE_FILE_FORMAT,
        "case": case.to_json(),
        "outcome": result.outcome,
        "violations": [v.to_json() for v in result.violations],
        "error": result.error,
    }
    if target is not None:
        data["target"] = target
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    return write_atomic(out / case_file_name(case), json.dumps(data, indent=2, sort_keys=True) + "\n")
