"""Generated sequences: stateful runs of one stream, drawn by Hypothesis, judged, shrunk as one value.

Rules for this module:
- A sequence (``faultio.Sequence``: ops, a style per read, a fault plan) comes only from
  ``faultio.strategies.sequences`` and runs only through ``harness._workloads.run_workload``, so it is judged
  by every invariant's monitor *and* by the reference model; a model disagreement is a ``model-contract``
  violation. A sequence case is a ``Case`` with ``operation="sequence"`` carrying its ``Sequence``, so the
  reports, the case files and ``replay`` take it as they take any case.
- One seed in, the same results out, for any ``jobs``: ``count`` sequences are drawn in batches of
  ``BATCH`` whose Hypothesis seeds derive from the run's seed and the batch's number; no example database.
- Bounded by counts, never by a clock: a batch judges at most its share of sequences while generating,
  stops at its first failure, and judges at most ``MAX_SHRINK_CALLS`` more while Hypothesis shrinks it
  (ops, bytes and plan together). The minimal failure is run once more, uncached, to confirm it.
- Only the plain transport (the model's truth is what the fd delivered; TLS is not covered).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence as Seq

from hypothesis import HealthCheck, Phase, Verbosity, given, note, settings
from hypothesis import seed as hypothesis_seed

from faultio import FaultPlan, Sequence
from faultio._sequence import READ_STYLES
from faultio._strategies_workload import SEQUENCE_CALLS
from faultio.strategies import fault_plans, sequences

from ._case import SEQUENCE_OPERATION, Case, CaseResult
from ._generate import GENERATED_FAULT, without_local_constants
from ._matrix import DEFAULT_MEMORY_LIMIT, dead_worker_result, load_invariant_specs, pool_map
from ._runner import CaseHung, _wall_clock_guard, derive_seed
from ._targets import Target, load_target
from ._workloads import run_workload
from .engine import Violation

#: Sequences per Hypothesis run (a batch): the unit of work of a worker process.
BATCH = 25
#: Sequences judged while shrinking one failure, at most.
MAX_SHRINK_CALLS = 400
#: Trace events a failing sequence keeps in a run's report (``replay`` prints them all).
TRACE_KEEP = 600
#: Wall-clock seconds one sequence may run (they take milliseconds): past it, the target hangs in a step.
SEQUENCE_TIMEOUT = 30.0
#: The default of ``python -m harness run --sequences``.
DEFAULT_SEQUENCES = 50
#: The default of ``--sequences`` on the built-in targets on the simulated asyncio loop (one batch: a failing
#: batch is shrunk, and these targets have known findings, so a larger default costs their default run its speed).
TARGET_SEQUENCES = {"tornado": 25, "asyncio-streams": 25}
#: Sequences judged while shrinking one failure in a ``run`` on those targets: their sequences run on the asyncio
#: loop, several times slower, and their known findings shrink to two or three ops well within it.
TARGET_SHRINK_CALLS = {"tornado": 100, "asyncio-streams": 100}


def shrink_budget(spec: str) -> int:
    """Sequences ``run`` judges while shrinking one failure on the target ``spec``."""
    return TARGET_SHRINK_CALLS.get(spec, MAX_SHRINK_CALLS)
#: The fault kinds a sequence's plan draws from: those that leave the connection's end to the sequence.
SEQUENCE_PLAN_KINDS = ("eintr", "ewouldblock", "dribble")


def sequence_case(sequence: Sequence, *, seed: int, index: int, profile: str = "raw") -> Case:
    """The ``Case`` of one generated sequence (``index``: its number in the run)."""
    return Case(operation=SEQUENCE_OPERATION, style="scenario", fault=GENERATED_FAULT, transport="plain",
                plan=sequence.plan, seed=seed, origin="generated", index=index, profile=profile,
                sequence=sequence)


def run_sequence_case(case: Case, target: Target, *, keep_trace: bool = False,
                      full_trace: bool = False) -> CaseResult:
    """Run a sequence case on ``target`` and judge it (monitors and model); deterministic.

    A failing result keeps the last ``TRACE_KEEP`` trace events (``keep_trace``), or all (``full_trace``).
    """
    seq = case.sequence
    if seq is None:
        raise ValueError(f"case {case.id} is not a sequence case")
    # A target that hangs inside one loop step (no loop budget can see it) is stopped by the wall clock.
    try:
        with _wall_clock_guard(SEQUENCE_TIMEOUT):
            result = run_workload(seq.workload, seq.plan, target=target, styles=seq.styles,
                                  keep_trace=keep_trace or full_trace, profile=case.profile)
    except CaseHung as exc:
        return CaseResult(case=case, violations=(Violation(slug="no-busy-loop", message=str(exc), step=0),))
    violations = list(result.violations)
    for message in result.mismatches:
        violations.append(Violation(slug="model-contract", message=message, step=result.steps))
    if result.error:
        violations.append(Violation(slug="target-crashed", message=f"{result.error} escaped the sequence run",
                                    step=result.steps))
    trace = result.trace
    if violations and not full_trace:
        trace = trace[-TRACE_KEEP:]
    elif not violations and not full_trace:
        trace = ()
    return CaseResult(case=case, violations=tuple(violations), steps=result.steps, trace=trace,
                      sent=result.received[:4096], received=result.received[:4096], story=result.story)


def signature(result: CaseResult) -> str:
    """What "the same failure" means while shrinking: the first violation's slug."""
    return result.violations[0].slug if result.violations else "pass"


def explain(result: CaseResult) -> str:
    """A few lines: the sequence (one line and JSON) and its violations."""
    seq = result.case.sequence
    lines = [f"case {result.case.id}: {result.outcome}", f"sequence {seq.describe()}", f"JSON {seq.dumps()}"]
    lines += [f"violation {v.slug}: {v.message}" for v in result.violations]
    return "\n".join(lines)


class _Failed(Exception):
    def __init__(self, result: CaseResult) -> None:
        super().__init__(signature(result))
        self.result = result


class _Enough(BaseException):
    """The batch's share is judged, and passed: end the Hypothesis run (a ``BaseException``, which Hypothesis
    passes through, so the draws it would still make cost nothing)."""


class _InternalError(BaseException):
    """The harness raised: passed through Hypothesis instead of being shrunk as the target's failure."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


def run_batch(number: int, *, seed: int, count: int, target: Target, profile: str | None = None,
              shrink_calls: int = MAX_SHRINK_CALLS, kinds: Seq[str] = SEQUENCE_PLAN_KINDS) -> list[CaseResult]:
    """Batch ``number`` of a run: up to ``count`` distinct drawn sequences, under plans of the fault ``kinds``,
    judged in order; the first failure ends the batch and comes back last, shrunk (ops and plan together)."""
    # The fds' realism profile: the run's, else the target's own (Tornado and asyncio run on CPython's sockets).
    profile = profile or target.default_profile
    unknown = [k for k in kinds if k not in SEQUENCE_PLAN_KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds {list(kinds)!r} are not valid for sequences; valid: {', '.join(SEQUENCE_PLAN_KINDS)}")
    case_seed = derive_seed(seed, "sequences")
    first = number * BATCH
    seen: dict[str, CaseResult | None] = {}
    passed: list[CaseResult] = []
    failure: list[CaseResult] = []
    budget = [shrink_calls]

    def judge(seq: Sequence) -> CaseResult | None:
        key = seq.dumps()
        if key in seen:
            return seen[key]
        if not failure:
            if len(passed) >= count:
                raise _Enough()
            index = first + len(passed)
        else:
            if budget[0] <= 0:
                return None  # the shrink cap: an unseen candidate counts as passing, unrun
            budget[0] -= 1
            index = failure[0].case.index
        try:
            # No trace while judging (most pass): the failure that comes back is run once more, with it.
            result = run_sequence_case(sequence_case(seq, seed=case_seed, index=index, profile=profile), target)
        except Exception as exc:
            raise _InternalError(exc) from exc
        if not failure and result.outcome == "pass":
            passed.append(result)
        if not failure and result.outcome != "pass":
            failure.append(result)
        same = result.outcome != "pass" and signature(result) == signature(failure[0])
        seen[key] = result if same else None
        return seen[key]

    calls, styles = sequence_api(target)
    if not calls:
        raise ValueError(f"target {target.name} lacks every call a sequence makes: " + "; ".join(
            sorted({why for op in SEQUENCE_CALLS for s in READ_STYLES if (why := target.lacking(op, s))})))

    @hypothesis_seed(derive_seed(seed, "hypothesis", "sequences", number))
    @settings(max_examples=2 * count + 10, database=None, deadline=None, derandomize=False,
              phases=(Phase.generate, Phase.shrink), report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
    @given(seq=sequences(plans=fault_plans(kinds=",".join(kinds)), calls=calls, styles=styles))
    def property_(seq: Sequence) -> None:
        result = judge(seq)
        if result is not None:
            note(explain(result))
            raise _Failed(result)

    shrunk = None
    try:
        with without_local_constants():
            property_()
    except _Failed as exc:
        shrunk = exc.result
    except _Enough:
        return passed
    except _InternalError as exc:
        raise exc.exc from None
    if not failure:
        return passed
    shrunk = shrunk or failure[0]
    again = run_sequence_case(shrunk.case, target, keep_trace=True)
    if signature(again) != signature(shrunk):
        again = dataclasses.replace(again, error=(
            f"the shrunk sequence failed with {signature(shrunk)!r}, but re-running it gave {signature(again)!r}: "
            "the target keeps state between runs (a class attribute, a module global), so nothing it says can "
            "be shrunk or trusted"))
    return passed + [dataclasses.replace(again, shrunk=again.case.plan)]


def first_failure(budget: int, *, seed: int, target: Target | None = None, spec: str | None = None, jobs: int = 1,
                  shrink_calls: int = MAX_SHRINK_CALLS) -> tuple[int, CaseResult | None]:
    """Run the batches of a ``budget``-sequence run in order until one fails: ``(sequences judged, the shrunk
    failure)``, or ``(budget judged, None)``. The same sequences as ``run_sequences(budget, seed=seed)``.

    With ``jobs > 1`` (and the target's ``spec``), ``jobs`` batches at a time run in worker processes; the
    first failing batch in order decides, so the answer is the same for any ``jobs``."""
    sizes = batch_sizes(budget)
    group = jobs if jobs > 1 and spec is not None else 1
    judged = 0
    for start in range(0, len(sizes), group):
        numbers = range(start, min(start + group, len(sizes)))
        if group == 1:
            runs = [run_batch(n, seed=seed, count=sizes[n], target=target or load_target(spec or ""),
                              shrink_calls=shrink_calls) for n in numbers]
        else:
            def dead(args: tuple, why: str) -> list[CaseResult]:
                raise RuntimeError(f"a worker died running sequence batch {args[1]}: {why}")

            runs = pool_map(_run_batch_in_worker, [(spec, n, seed, sizes[n], "raw", shrink_calls, SEQUENCE_PLAN_KINDS)
                                                   for n in numbers], jobs=jobs, on_dead=dead)
        for results in runs:
            failing = [r for r in results if r.outcome != "pass"]
            if failing:
                return failing[0].case.index + 1, failing[0]
            judged += len(results)
    return judged, None


def batch_sizes(count: int) -> list[int]:
    """How ``count`` sequences split into batches of ``BATCH`` (the last may be smaller)."""
    return [min(BATCH, count - start) for start in range(0, count, BATCH)]


def _run_batch_in_worker(args: tuple[str, int, int, int, str, int, tuple[str, ...]]) -> list[CaseResult]:
    spec, number, seed, count, profile, shrink_calls, kinds = args
    return run_batch(number, seed=seed, count=count, target=load_target(spec), profile=profile,
                     shrink_calls=shrink_calls, kinds=kinds)


def run_sequences(count: int, *, seed: int, target_spec: str, jobs: int = 1,
                  progress: Callable[[CaseResult], None] | None = None, invariants: Seq[str] = (),
                  memory_limit: int = DEFAULT_MEMORY_LIMIT, contain: bool = False, profile: str | None = None,
                  shrink_calls: int = MAX_SHRINK_CALLS, kinds: Seq[str] = SEQUENCE_PLAN_KINDS,
                  **_: Any) -> list[CaseResult]:
    """Draw, run and judge ``count`` sequences on the target ``target_spec``; results in batch order.

    ``jobs > 1`` (or ``contain``) runs batches in worker processes; results are the same for any ``jobs``.
    A batch's first failure ends it and comes back last in it, shrunk. ``progress`` sees every result.
    """
    for name, value, minimum in (("count", count, 0), ("jobs", jobs, 1), ("shrink_calls", shrink_calls, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    sizes = batch_sizes(count)
    kinds = tuple(kinds)
    load_invariant_specs(invariants)
    if (jobs == 1 and not contain) or not sizes:
        target = load_target(target_spec)
        out: list[CaseResult] = []
        for number, size in enumerate(sizes):
            results = run_batch(number, seed=seed, count=size, target=target, profile=profile,
                                shrink_calls=shrink_calls, kinds=kinds)
            for result in results:
                if progress:
                    progress(result)
            out += results
        return out
    load_target(target_spec)  # a bad spec fails here, with its own message

    def report(results: list[CaseResult]) -> None:
        for result in results:
            if progress:
                progress(result)

    def dead(args: tuple, why: str) -> list[CaseResult]:
        number = args[1]
        stand_in = Sequence(workload=_EMPTY, styles=(), plan=FaultPlan(name="generated"))
        case = sequence_case(stand_in, seed=derive_seed(seed, "sequences"), index=number * BATCH,
                             profile=profile or "raw")
        return [dead_worker_result(case, why.replace("this case", "this batch of sequences"))]

    tasks = [(target_spec, number, seed, size, profile, shrink_calls, kinds) for number, size in enumerate(sizes)]
    per_batch = pool_map(_run_batch_in_worker, tasks, jobs=jobs, invariants=invariants, memory_limit=memory_limit,
                         on_result=report, on_dead=dead)
    return [result for results in per_batch for result in results or ()]


def _empty_workload() -> Any:
    from faultio import StreamLimits, Workload

    return Workload(limits=StreamLimits(max_buffer_size=1, read_chunk_size=1), data=b"", chunks=(), ops=())


_EMPTY = _empty_workload()


def sequence_kinds(faults: Seq[str]) -> tuple[str, ...]:
    """The fault kinds of a run (``--faults``) a sequence's plans draw from."""
    return tuple(k for k in SEQUENCE_PLAN_KINDS if k in faults)


def sequence_count(requested: int | None, *, target: Target, spec: str, transports: Seq[str],
                   faults: Seq[str] = SEQUENCE_PLAN_KINDS, fixed_only: bool = False) -> tuple[int, str]:
    """How many sequences ``run`` draws, and why none when it draws none though some were asked for (or are
    the default): ``requested`` (``--sequences``), else ``DEFAULT_SEQUENCES`` on faultio's own stream,
    ``TARGET_SEQUENCES`` on a built-in asyncio-loop target and 0 on another target (whose limits the sequences
    set as attributes of the Tornado 4 design) or in a run of fixed cases only (``fixed_only``: ``--examples 0``).
    A target lacking some calls or styles (``Target.lacks``) gets sequences of what it has (``sequence_api``)."""
    from ._targets import DEFAULT_TARGET_NAMES

    default = 0 if fixed_only else DEFAULT_SEQUENCES if spec in DEFAULT_TARGET_NAMES else TARGET_SEQUENCES.get(spec, 0)
    count = requested if requested is not None else default
    if count and not sequence_kinds(faults):
        return 0, (f"their plans draw from {', '.join(SEQUENCE_PLAN_KINDS)} (the kinds that leave the connection's "
                   "end to the sequence), and --faults names none of them")
    if count and "plain" not in transports:
        return 0, "they run on the plain transport only, and this run has none"
    if count and "plain" not in getattr(target, "transports", ("plain",)):
        return 0, "they run on the plain transport only, and the target has none"
    calls, _ = sequence_api(target)
    if count and not any(call in calls for call in SEQUENCE_READS):
        lacks = sorted({why for op in SEQUENCE_CALLS for style in READ_STYLES if (why := target.lacking(op, style))})
        return 0, f"the target has none of the reads a sequence makes: {'; '.join(lacks)}"
    return count, ""


#: The calls of ``SEQUENCE_CALLS`` that read (a sequence without one of them tests nothing the model knows).
SEQUENCE_READS = tuple(c for c in SEQUENCE_CALLS if c.startswith("read"))


def sequence_api(target: Target) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What of a sequence's calls and read styles ``target`` has, from its declared ``lacks``: the styles in
    which it has some call, then the calls it has in every one of those styles (so each drawn read can take
    any drawn style). faultio's own stream has them all; a futures-only stream without streaming reads
    (Tornado 6) gets no callbacks and no streaming; asyncio streams also lose regex and per-read max_bytes."""
    styles = tuple(s for s in READ_STYLES if any(not target.lacking(c, s) for c in SEQUENCE_CALLS))
    calls = tuple(c for c in SEQUENCE_CALLS if styles and all(not target.lacking(c, s) for s in styles))
    return calls, styles
