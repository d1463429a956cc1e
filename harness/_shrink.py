"""Shrinking: reduce a failing case's fault plan to a small one that still breaks the same invariant.

Rules for this module:
- Deterministic: the same case, target and slug always give the same result. No randomness, no wall clock;
  every candidate is judged by ``run_case`` (or, for ``shrink_plan``, by the caller's predicate) alone.
- Bounded: at most ``max_runs`` candidates are judged, the original included. A change is kept only if the
  candidate still fails with the slug; when the budget runs out the smallest plan found so far is returned.
- Only the plan changes. Operation, style, transport and seed stay, so the shrunk case runs the same scenario
  with the same payloads and can be replayed like any other case.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from faultio import FaultPlan, PlanError, Step

from ._case import Case, CaseResult
from ._runner import run_case
from ._targets import Target

#: Default bound on the cases one shrink may run.
MAX_RUNS = 200


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShrinkResult:
    """The outcome of a shrink: the smallest failing ``case`` found, the ``runs`` it took and the ``result``
    of running that case (``None`` if even the original did not fail with ``slug``)."""

    case: Case
    slug: str
    runs: int
    result: CaseResult | None

    @property
    def reproduced(self) -> bool:
        """False when the original case did not fail with the slug (nothing was shrunk)."""
        return self.result is not None


class _Budget:
    """Judges candidate plans at most ``limit`` times, remembering every verdict."""

    def __init__(self, fails: Callable[[FaultPlan], bool], limit: int) -> None:
        self.fails = fails
        self.limit = limit
        self.runs = 0
        self.seen: dict[FaultPlan, bool] = {}

    def __call__(self, plan: FaultPlan) -> bool:
        if plan in self.seen:
            return self.seen[plan]
        if self.runs >= self.limit:
            return False  # cannot afford to look: keep what we have
        self.runs += 1
        verdict = self.seen[plan] = bool(self.fails(plan))
        return verdict


def _with(plan: FaultPlan, side: str, steps: Sequence[Step]) -> FaultPlan:
    return dataclasses.replace(plan, **{side: tuple(steps)})


def _remove_steps(plan: FaultPlan, side: str, fails: _Budget) -> FaultPlan:
    """ddmin over one side: drop the whole side, then halves, quarters... down to single steps.

    Whenever dropping a chunk still fails, keep the smaller plan and retry at a coarser granularity.
    """
    steps = list(getattr(plan, side))
    parts = 1
    while steps:
        size = -(-len(steps) // parts)  # ceil
        for start in range(0, len(steps), size):
            candidate = steps[:start] + steps[start + size :]
            if fails(_with(plan, side, candidate)):
                steps = candidate
                parts = max(parts - 1, 1)
                break
        else:
            if size == 1:
                break
            parts = min(parts * 2, len(steps))
    return _with(plan, side, steps)


def _minimum(step: Step, field: str) -> int | None:
    """The smallest value ``field`` of ``step`` accepts (0 or 1), or None if it is not an integer field."""
    if not isinstance(getattr(step, field), int) or isinstance(getattr(step, field), bool):
        return None
    for value in (0, 1):
        try:
            dataclasses.replace(step, **{field: value})
        except PlanError:
            continue
        return value
    return None


def _lower_integers(plan: FaultPlan, fails: _Budget) -> FaultPlan:
    """Lower every integer parameter (sizes, counts, offsets) as far as the failure allows.

    Tries the minimum first, then bisects between the highest value seen to pass and the lowest seen to fail
    (assuming, as usual for shrinkers, that failing is roughly monotonic in the value).
    """
    for side in ("read", "write"):
        for index in range(len(getattr(plan, side))):
            step = getattr(plan, side)[index]
            for field in (f.name for f in dataclasses.fields(step)):
                lo = _minimum(step, field)
                hi = getattr(step, field)
                if lo is None or hi <= lo:
                    continue

                def candidate(value: int, step: Step = step, field: str = field, index: int = index,
                              side: str = side) -> FaultPlan:
                    steps = list(getattr(plan, side))
                    steps[index] = dataclasses.replace(step, **{field: value})
                    return _with(plan, side, steps)

                if fails(candidate(lo)):
                    hi = lo
                else:
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        if fails(candidate(mid)):
                            hi = mid
                        else:
                            lo = mid
                if hi != getattr(step, field):
                    plan = candidate(hi)
                    step = getattr(plan, side)[index]
    return plan


def shrink_plan(plan: FaultPlan, fails: Callable[[FaultPlan], bool], *,
                max_runs: int = MAX_RUNS) -> tuple[FaultPlan, int]:
    """Shrink ``plan`` while ``fails(plan)`` holds; return the smallest plan found and the judgements used.

    ``fails`` is called at most ``max_runs`` times (never twice for the same plan), the original plan first.
    If the original does not fail it is returned unchanged. Removal (whole sides, then chunks, then single
    steps) and integer lowering alternate until neither changes anything or the budget is spent.
    """
    if max_runs < 1:
        raise ValueError(f"max_runs must be at least 1, got {max_runs}")
    budget = _Budget(fails, max_runs)
    if not budget(plan):
        return plan, budget.runs
    while True:
        before = plan
        for side in ("read", "write"):
            plan = _remove_steps(plan, side, budget)
        plan = _lower_integers(plan, budget)
        if plan == before or budget.runs >= max_runs:
            return plan, budget.runs


def shrink_case(case: Case, target: Target, slug: str, *, max_runs: int = MAX_RUNS,
                runner: Callable[..., CaseResult] = run_case) -> ShrinkResult:
    """Shrink ``case``'s plan to a small one with which ``target`` still breaks invariant ``slug``.

    ``runner(case, target, keep_trace=False)`` judges each candidate (``run_case`` by default). At most
    ``max_runs`` cases run, the original included. The returned ``result`` is a fresh run of the shrunk case
    with its trace kept, or ``None`` if the original case does not report ``slug``.
    """
    verdicts: dict[FaultPlan, CaseResult] = {}

    def fails(plan: FaultPlan) -> bool:
        result = runner(dataclasses.replace(case, plan=plan), target, keep_trace=False)
        verdicts[plan] = result
        return slug in result.slugs

    plan, runs = shrink_plan(case.plan, fails, max_runs=max_runs)
    if slug not in verdicts[case.plan].slugs:
        return ShrinkResult(case=case, slug=slug, runs=runs, result=None)
    shrunk = dataclasses.replace(case, plan=plan)
    return ShrinkResult(case=shrunk, slug=slug, runs=runs, result=runner(shrunk, target, keep_trace=True))
