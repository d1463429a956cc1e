"""The self-check: prove, on every run, that the monitors catch bugs nobody told them about.

Rules for this module:
- Two claims are checked, and both must hold for exit 0: the reference (faultio's own streams) comes out
  of the fixed matrix clean, and every mutant of ``harness._mutants`` and ``harness._workload_mutants`` is
  caught (at least one violation, of any slug, on some case): by the fixed matrix, else by generated plans,
  else by generated sequences (``harness._selftest_stages``); each block says which. A mutant's ``expects``
  is shown, never required.
- Cases come only from ``build_cases`` and run only through ``run_cases``; worker processes load each
  mutant by its spec string. A mutant runs only on the transports it applies to.
- Deterministic: for one seed, every line before the timing lines is the same on every run and for any
  ``jobs``. Timing lines come last and are the only ones that vary.
- Plain text for humans on ``out``; ``SelftestResult`` carries the same facts for machine output.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from faultio._plan import ALL_KINDS

from ._case import TRANSPORTS, Case, CaseResult
from ._matrix import build_cases, run_cases
from ._mutants import MUTANTS, Mutant, get_mutant
from ._selftest_stages import SELFTEST_SEQUENCES, STAGE_NAMES, escalate, stage_line
from ._workload_mutants import WORKLOAD_MUTANTS
from ._report import replay_command
from ._shrink import MAX_RUNS, shrink_case
from ._targets import DEFAULT_TARGET_SPEC, load_target

EXIT_OK = 0
EXIT_FAILED = 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class MutantOutcome:
    """What the matrix showed for one mutant.

    ``slugs`` pairs each invariant that caught it with the number of failing cases reporting it (most
    first). ``shrunk`` is the smallest failing case after shrinking for ``shrunk_slug`` (``None`` when not
    caught); ``shrunk_from`` is the id of the matrix case it was shrunk from.
    """

    name: str
    spec: str
    description: str
    expects: tuple[str, ...]
    #: The transports the mutant applies to, and those of them this run asked for (and ran).
    transports: tuple[str, ...]
    ran: tuple[str, ...]
    cases: int
    failing: int
    slugs: tuple[tuple[str, int], ...] = ()
    shrunk: Case | None = None
    shrunk_slug: str = ""
    shrunk_from: str = ""
    shrunk_message: str = ""
    shrink_runs: int = 0
    #: The stage that caught it (``fixed``, ``plans``, ``sequences``; empty: none), and what the later stages
    #: judged (``harness._selftest_stages``).
    stage: str = ""
    plans_cases: int = 0
    plans_failing: int = 0
    sequences_run: int = 0
    sequences_budget: int = 0
    seconds: float = dataclasses.field(default=0.0, compare=False)

    @property
    def skipped(self) -> bool:
        """True when none of the requested transports applies to this mutant (it ran no case)."""
        return self.cases == 0

    @property
    def caught(self) -> bool:
        """True when a stage caught it: a fixed case, a generated plan or a generated sequence failed."""
        return self.failing > 0 or self.stage in ("plans", "sequences")

    @property
    def expected_seen(self) -> bool:
        """True when at least one expected slug is among those that caught it."""
        seen = {slug for slug, _ in self.slugs}
        return any(slug in seen for slug in self.expects)

    def to_json(self) -> dict[str, Any]:
        """The outcome as a JSON object, the shrunk case included."""
        return {
            "name": self.name,
            "spec": self.spec,
            "description": self.description,
            "expects": list(self.expects),
            "transports": list(self.transports),
            "ran": list(self.ran),
            "cases": self.cases,
            "failing": self.failing,
            "caught": self.caught,
            "skipped": self.skipped,
            "stage": "fixed" if self.failing else self.stage,
            "stages": {"fixed": {"cases": self.cases, "failing": self.failing},
                       "plans": {"cases": self.plans_cases, "failing": self.plans_failing},
                       "sequences": {"run": self.sequences_run, "budget": self.sequences_budget,
                                     "caught": self.stage == "sequences"}},
            "slugs": dict(self.slugs),
            "classes": {slug: _klass(slug) for slug, _ in self.slugs},
            "shrunk": None if self.shrunk is None else {
                "from": self.shrunk_from,
                "slug": self.shrunk_slug,
                "message": self.shrunk_message,
                "runs": self.shrink_runs,
                "case": self.shrunk.to_json(),
            },
            "seconds": round(self.seconds, 3),
        }


@dataclasses.dataclass(frozen=True, kw_only=True)
class SelftestResult:
    """The whole self-check: the reference run and one ``MutantOutcome`` per mutant, in catalogue order.

    ``reference_failures`` lists ``(case id, slugs)`` for every reference case that did not pass.
    """

    seed: int
    faults: tuple[str, ...]
    transports: tuple[str, ...]
    reference_cases: int
    reference_failures: tuple[tuple[str, tuple[str, ...]], ...]
    mutants: tuple[MutantOutcome, ...]
    reference_seconds: float = dataclasses.field(default=0.0, compare=False)
    seconds: float = dataclasses.field(default=0.0, compare=False)

    @property
    def reference_clean(self) -> bool:
        """True when every reference case passed."""
        return not self.reference_failures

    @property
    def missed(self) -> tuple[str, ...]:
        """Names of the mutants that ran and were not caught."""
        return tuple(m.name for m in self.mutants if not m.skipped and not m.caught)

    @property
    def ok(self) -> bool:
        """True when the reference is clean and no mutant that ran was missed."""
        return self.reference_clean and not self.missed

    @property
    def exit_code(self) -> int:
        """0 when ``ok``, else 1."""
        return EXIT_OK if self.ok else EXIT_FAILED

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object: the reference run and every mutant."""
        return {
            "seed": self.seed,
            "faults": list(self.faults),
            "transports": list(self.transports),
            "ok": self.ok,
            "reference": {
                "target": DEFAULT_TARGET_SPEC,
                "cases": self.reference_cases,
                "failures": [{"id": cid, "slugs": list(slugs)} for cid, slugs in self.reference_failures],
            },
            "mutants": [m.to_json() for m in self.mutants],
            "seconds": round(self.seconds, 3),
        }


# --- running -------------------------------------------------------------------------------------------


def _pick(failing: Sequence[CaseResult], mutant: Mutant) -> tuple[CaseResult, str]:
    """The failing case to shrink, and the slug to keep: the smallest plan (fewest steps, then fewest loop
    steps, then matrix order) among the cases reporting an expected slug, else among all failing cases."""
    expected = [r for r in failing if set(r.slugs) & set(mutant.expects)]
    pool = expected or list(failing)
    best = min(pool, key=lambda r: (len(r.case.plan.read) + len(r.case.plan.write), r.steps))
    slug = next((s for s in mutant.expects if s in best.slugs), best.violations[0].slug)
    return best, slug


def check_mutant(mutant: Mutant, *, seed: int = 0, jobs: int = 1, faults: Sequence[str] = ALL_KINDS,
                 transports: Sequence[str] = TRANSPORTS, operations: Sequence[str] | None = None,
                 shrink_runs: int = MAX_RUNS) -> MutantOutcome:
    """Run the fixed matrix against one mutant (on the transports it applies to) and shrink its smallest
    failing case."""
    started = time.perf_counter()
    applies = tuple(t for t in transports if t in mutant.transports)
    base = dict(name=mutant.name, spec=mutant.spec, description=mutant.description, expects=mutant.expects,
                transports=mutant.transports, ran=applies)
    if not applies:
        return MutantOutcome(**base, cases=0, failing=0)
    cases = build_cases(faults=faults, transports=applies, operations=operations, seed=seed)
    results = run_cases(cases, target_spec=mutant.spec, jobs=jobs)
    failing = [r for r in results if r.violations]
    counts: dict[str, int] = {}
    for result in failing:
        for slug in result.slugs:
            counts[slug] = counts.get(slug, 0) + 1
    slugs = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    if not failing:
        return MutantOutcome(**base, cases=len(cases), failing=0, seconds=time.perf_counter() - started)
    best, slug = _pick(failing, mutant)
    shrunk = shrink_case(best.case, load_target(mutant.spec), slug, max_runs=shrink_runs)
    final = shrunk.result if shrunk.result is not None else best
    message = next((v.message for v in final.violations if v.slug == slug), "")
    return MutantOutcome(**base, cases=len(cases), failing=len(failing), slugs=slugs, shrunk=shrunk.case,
                         shrunk_slug=slug, shrunk_from=best.case.id, shrunk_message=message,
                         shrink_runs=shrunk.runs, seconds=time.perf_counter() - started)


def selftest(*, seed: int = 0, jobs: int = 1, faults: Sequence[str] = ALL_KINDS,
             transports: Sequence[str] = TRANSPORTS, operations: Sequence[str] | None = None,
             mutants: Sequence[Mutant] | None = None, shrink_runs: int = MAX_RUNS,
             report: Callable[[str], None] | None = None,
             save_dir: str | Path | None = None, plans: int | None = None,
             sequences: int = SELFTEST_SEQUENCES) -> SelftestResult:
    """Run the self-check and return its result; ``report(text)`` gets each block as soon as it is known.

    ``mutants`` defaults to the whole catalogue (``MUTANTS`` then ``WORKLOAD_MUTANTS``); ``operations``
    (default: all) narrows the matrix. A mutant the fixed matrix misses is tried with ``plans`` generated plans
    per plain cell (default ``DEFAULT_EXAMPLES``), then up to ``sequences`` generated sequences. With
    ``save_dir``, each shrunk case is also written there as ``<mutant>.json``, a case file
    ``python -m harness replay`` accepts.
    """
    faults = tuple(faults)
    transports = tuple(transports)
    unknown = [t for t in transports if t not in TRANSPORTS]
    if unknown or not transports:
        raise ValueError(f"transports {transports!r} are not valid; valid: {', '.join(TRANSPORTS)}")
    chosen = tuple(MUTANTS + WORKLOAD_MUTANTS if mutants is None else mutants)
    emit = report or (lambda text: None)
    started = time.perf_counter()
    if jobs > 1 and "ssl" in transports:
        # Generate the test certificates once, here: worker processes forked from this one inherit them
        # instead of each generating its own RSA keys.
        from faultio._certs import client_context, server_context

        server_context(), client_context()
    emit(f"selftest: seed {seed}, faults {','.join(faults)}, transports {','.join(transports)}, "
         f"{len(chosen)} mutants")
    reference = run_cases(build_cases(faults=faults, transports=transports, operations=operations, seed=seed),
                          target_spec=DEFAULT_TARGET_SPEC, jobs=jobs)
    reference_seconds = time.perf_counter() - started
    failures = tuple((r.case.id, tuple(r.slugs) or ("error",)) for r in reference if r.outcome != "pass")
    emit(format_reference(len(reference), failures))
    outcomes = []
    for mutant in chosen:
        outcome = check_mutant(mutant, seed=seed, jobs=jobs, faults=faults, transports=transports,
                               operations=operations, shrink_runs=shrink_runs)
        if not outcome.caught and not outcome.skipped:
            from ._cli_common import DEFAULT_EXAMPLES

            began = time.perf_counter()
            outcome = escalate(outcome, mutant, seed=seed, jobs=jobs,
                               plans=DEFAULT_EXAMPLES if plans is None else plans, budget=sequences)
            outcome = dataclasses.replace(outcome, seconds=outcome.seconds + time.perf_counter() - began)
        elif outcome.caught:
            outcome = dataclasses.replace(outcome, stage="fixed")
        saved = _save(outcome, Path(save_dir)) if save_dir is not None and outcome.shrunk else None
        outcomes.append(outcome)
        emit(format_mutant(outcome, seed=seed, saved=saved))
    return SelftestResult(seed=seed, faults=faults, transports=transports, reference_cases=len(reference),
                          reference_failures=failures, mutants=tuple(outcomes),
                          reference_seconds=reference_seconds, seconds=time.perf_counter() - started)


def run_selftest(*, seed: int = 0, jobs: int = 1, out: TextIO | None = None,
                 faults: Sequence[str] = ALL_KINDS, transports: Sequence[str] = TRANSPORTS,
                 operations: Sequence[str] | None = None, mutants: Sequence[Mutant] | None = None,
                 shrink_runs: int = MAX_RUNS, save_dir: str | Path | None = None, plans: int | None = None,
                 sequences: int = SELFTEST_SEQUENCES) -> int:
    """Run the self-check, print one block per mutant on ``out`` (default ``sys.stderr``), return the exit
    code: 0 if the reference is clean and every mutant is caught, 1 otherwise (``plans``, ``sequences``: the
    budgets of the later stages, as for ``selftest``)."""
    stream = out if out is not None else sys.stderr

    def emit(text: str) -> None:
        print(text, file=stream, flush=True)

    result = selftest(seed=seed, jobs=jobs, faults=faults, transports=transports, operations=operations,
                      mutants=mutants, shrink_runs=shrink_runs, report=emit, save_dir=save_dir, plans=plans,
                      sequences=sequences)
    emit(format_summary(result))
    emit(format_timing(result, jobs=jobs))
    return result.exit_code


# --- text ----------------------------------------------------------------------------------------------


def format_reference(cases: int, failures: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The reference block: clean, or every failing case with its slugs."""
    if not failures:
        return f"reference {DEFAULT_TARGET_SPEC}: {cases} cases, clean"
    lines = [f"reference {DEFAULT_TARGET_SPEC}: {len(failures)} of {cases} cases NOT clean "
             "(the harness or faultio's own stream is wrong):"]
    lines += [f"  {case_id}: {', '.join(slugs)}" for case_id, slugs in failures]
    return "\n".join(lines)


def replay_hint(outcome: MutantOutcome, *, seed: int, saved: Path | None = None) -> str:
    """A command that re-runs the shrunk case of ``outcome`` and prints its trace."""
    if saved is not None:
        return replay_command(saved, target=outcome.spec)
    return (f"python -c 'from harness._selftest import replay; "
            f"replay(\"{outcome.name}\", \"{outcome.shrunk_from}\", seed={seed})'")


def _klass(slug: str) -> str:
    from .engine import INVARIANTS

    spec = INVARIANTS.get(slug)
    return spec.klass if spec is not None else "?"


def format_mutant(outcome: MutantOutcome, *, seed: int, saved: Path | None = None) -> str:
    """One mutant's block: verdict, the bug, expected and catching slugs, the shrunk plan, a replay hint."""
    where = ",".join(outcome.ran)
    if outcome.skipped:
        return (f"{outcome.name}: SKIPPED (applies to {','.join(outcome.transports)}; not among the requested "
                "transports)")
    if outcome.caught and outcome.failing:
        head = f"{outcome.name}: caught on {outcome.failing} of {outcome.cases} cases ({where})"
    elif outcome.caught:
        head = (f"{outcome.name}: caught by {STAGE_NAMES[outcome.stage]}; the fixed matrix missed it on all "
                f"{outcome.cases} cases ({where})")
    else:
        head = f"{outcome.name}: NOT caught on any of {outcome.cases} cases ({where})"
    lines = [head, f"  bug: {outcome.description}", stage_line(outcome)]
    expects = ", ".join(f"{slug} [{_klass(slug)}]" for slug in outcome.expects) or "-"
    if outcome.caught and outcome.failing:
        note = "seen" if outcome.expected_seen else "not seen; caught by others"
        lines.append(f"  expected: {expects} ({note})")
        lines.append("  caught by: " + ", ".join(f"{slug} [{_klass(slug)}] x{count}" for slug, count in outcome.slugs))
    elif outcome.caught:
        lines.append(f"  expected: {expects}")
        lines.append(f"  caught by: {outcome.shrunk_slug} [{_klass(outcome.shrunk_slug)}]")
    else:
        lines.append(f"  expected: {expects}")
        lines.append("  no invariant noticed this bug: a gap in the monitors or the scenarios")
    if outcome.shrunk is not None:
        runs = f"{outcome.shrink_runs} runs" if outcome.shrink_runs else "by Hypothesis"
        lines.append(f"  shrunk ({runs}) from {outcome.shrunk_from}:")
        clean = " (no fault needed)" if outcome.shrunk.plan.is_clean else ""
        if outcome.shrunk.sequence is not None:
            lines.append(f"    {outcome.shrunk.sequence.describe()}")
        else:
            lines.append(f"    {outcome.shrunk.plan.describe()}{clean}")
        lines.append(f"    {outcome.shrunk_slug}: {outcome.shrunk_message}")
        lines.append(f"  replay: {replay_hint(outcome, seed=seed, saved=saved)}")
    return "\n".join(lines)


def format_summary(result: SelftestResult) -> str:
    """The verdict line (deterministic)."""
    ran = [m for m in result.mutants if not m.skipped]
    caught = sum(1 for m in ran if m.caught)
    reference = "reference clean" if result.reference_clean else "reference NOT clean"
    skipped = len(result.mutants) - len(ran)
    extra = f", {skipped} skipped" if skipped else ""
    verdict = "passed" if result.ok else "FAILED"
    missed = f" (missed: {', '.join(result.missed)})" if result.missed else ""
    later = [m for m in ran if m.caught and not m.failing]
    if later:  # some needed a later stage: say how many each stage caught
        counts = {stage: sum(1 for m in ran if m.caught and (m.stage or "fixed") == stage) for stage in STAGE_NAMES}
        extra += " (" + ", ".join(f"{n} by {STAGE_NAMES[stage]}" for stage, n in counts.items()) + ")"
    return f"selftest {verdict}: {caught} of {len(ran)} mutants caught{extra}{missed}; {reference}"


def format_timing(result: SelftestResult, *, jobs: int) -> str:
    """The timing line: the only output that differs between runs."""
    slowest = max(result.mutants, key=lambda m: m.seconds, default=None)
    tail = f"; slowest mutant {slowest.name} {slowest.seconds:.1f}s" if slowest is not None else ""
    return (f"time: {result.seconds:.1f}s with jobs={jobs} (reference {result.reference_seconds:.1f}s"
            f"{tail})")


# --- replay --------------------------------------------------------------------------------------------


def _save(outcome: MutantOutcome, directory: Path) -> Path:
    """Write the mutant's shrunk case as ``<mutant>.json``, a case file ``python -m harness replay`` reads
    (the format ``harness._generate.save_case`` writes, plus the slug and message it was shrunk for),
    replaced atomically."""
    from ._generate import CASE_FILE_FORMAT
    from ._report_json import write_atomic

    case = outcome.shrunk
    if case is None:
        raise ValueError(f"mutant {outcome.name} has no shrunk case to save")
    data = {
        "format": CASE_FILE_FORMAT,
        "case": case.to_json(),
        "target": outcome.spec,
        "slug": outcome.shrunk_slug,
        "message": outcome.shrunk_message,
    }
    directory.mkdir(parents=True, exist_ok=True)
    return write_atomic(directory / f"{outcome.name}.json", json.dumps(data, indent=2, sort_keys=True) + "\n")


def replay(name: str, case_id: str, *, seed: int = 0, shrink: bool = True, out: TextIO | None = None,
           events: int = 60) -> CaseResult:
    """Re-run mutant ``name`` on the fixed case ``case_id`` of seed ``seed`` (shrunk again, as the
    self-check did, unless ``shrink`` is false); print the plan, about ``events`` trace events leading up to
    the first violation, and the violations. Returns the result."""
    stream = out if out is not None else sys.stdout
    mutant = get_mutant(name)
    operation, style, fault, transport = case_id.split("/")
    cases = build_cases(faults=[fault], transports=[transport], operations=[operation], seed=seed)
    case = next((c for c in cases if c.id == case_id), None)
    if case is None:
        raise ValueError(f"no fixed case {case_id!r}; valid: {', '.join(c.id for c in cases)}")
    target = load_target(mutant.spec)
    result = run_cases([case], target_spec=mutant.spec)[0]
    if shrink and result.violations:
        _, slug = _pick([result], mutant)
        shrunk = shrink_case(case, target, slug)
        result = shrunk.result or result
    print(f"{name} ({mutant.spec}) on {result.case.id}, seed {seed}", file=stream)
    print(f"plan: {result.case.plan.describe()}", file=stream)
    trace = list(result.trace)
    end = len(trace)
    if result.violations:  # stop at the first violation: what led up to it is what explains it
        first = result.violations[0].event
        end = next((i + 1 for i, event in enumerate(trace) if event["index"] >= first), end)
    for event in trace[max(0, end - events) : end]:
        detail = " ".join(f"{k}={v}" for k, v in event["detail"].items())
        print(f"  #{event['index']:<5} step {event['step']:<5} {event['source']:<7} {event['kind']:<14} {detail}",
              file=stream)
    for violation in result.violations:
        print(f"VIOLATION {violation.slug} at step {violation.step}: {violation.message}", file=stream)
    return result
