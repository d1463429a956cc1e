"""The self-check's later stages: what catches a mutant the fixed matrix misses.

Rules for this module:
- A mutant goes through the stages in order and stops at the first that catches it: the fixed matrix
  (``harness._selftest.check_mutant``), then generated fault plans (``harness._generate.run_generated``, the
  plain cells, ``plans`` per cell), then generated sequences (``harness._sequences.first_failure``, at most
  ``budget``). Each stage is seeded from the self-check's seed, so its verdict is the same on every run.
- What each stage saw is kept on the ``MutantOutcome`` (``stage``, the counts), and ``stage_line`` says it
  in one line; the shrunk case of the stage that caught it is the outcome's ``shrunk`` case, replayable.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._cli_common import DEFAULT_EXAMPLES
from ._mutants import Mutant

#: Generated sequences the self-check runs at most on a mutant that fixed cases and generated plans miss.
SELFTEST_SEQUENCES = 1500
#: What each stage is called in the output.
STAGE_NAMES = {"fixed": "fixed cases", "plans": "generated plans", "sequences": "generated sequences"}


def escalate(outcome: Any, mutant: Mutant, *, seed: int, jobs: int, plans: int = DEFAULT_EXAMPLES,
             budget: int = SELFTEST_SEQUENCES) -> Any:
    """``outcome`` (the fixed matrix's) carried through the later stages until one catches the mutant."""
    if outcome.caught or outcome.skipped:
        return outcome
    if plans and "plain" in outcome.ran:
        from ._generate import generated_cells, run_generated

        results = run_generated(generated_cells(transports=("plain",)), seed=seed, examples=plans,
                                target_spec=mutant.spec, jobs=jobs)
        failing = [r for r in results if r.outcome != "pass"]
        outcome = dataclasses.replace(outcome, plans_cases=len(results), plans_failing=len(failing))
        if failing:
            best = min(failing, key=lambda r: (len(r.case.plan.read) + len(r.case.plan.write), r.steps))
            return _caught(outcome, "plans", best, f"{best.case.id} (a generated plan, shrunk)")
    if budget and "plain" in outcome.ran:
        from ._sequences import first_failure

        judged, failure = first_failure(budget, seed=seed, spec=mutant.spec, jobs=jobs)
        outcome = dataclasses.replace(outcome, sequences_run=judged, sequences_budget=budget)
        if failure is not None:
            return _caught(outcome, "sequences", failure, f"sequence #{judged} of at most {budget}")
    return outcome


def _caught(outcome: Any, stage: str, result: Any, where: str) -> Any:
    first = result.violations[0] if result.violations else None
    slug = first.slug if first is not None else "error"
    message = first.message if first is not None else result.error
    return dataclasses.replace(outcome, stage=stage, shrunk=result.case, shrunk_slug=slug, shrunk_from=where,
                               shrunk_message=message, shrink_runs=0)


def stage_line(outcome: Any) -> str:
    """``  found by: STAGE (what every stage before it saw)``, or ``  found by: nothing (...)``."""
    seen = [f"fixed cases: {outcome.failing} of {outcome.cases} failing"]
    if outcome.stage != "fixed":
        if outcome.plans_cases:
            seen.append(f"generated plans: {outcome.plans_failing} of {outcome.plans_cases} failing")
        if outcome.sequences_budget:
            caught = outcome.stage == "sequences"
            seen.append(f"generated sequences: {'caught at #' if caught else 'none failing of '}"
                        f"{outcome.sequences_run} (budget {outcome.sequences_budget})")
    return f"  found by: {STAGE_NAMES.get(outcome.stage, 'nothing')} ({'; '.join(seen)})"
