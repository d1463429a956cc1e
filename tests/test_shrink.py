import dataclasses

import pytest

from faultio import (
    Chunk,
    Eintr,
    FaultPlan,
    Flood,
    Pass,
    SendEintr,
    SendPartial,
    SendWouldBlock,
    WouldBlock,
    plan_for_kind,
)
from harness._case import Case
from harness._runner import derive_seed, run_case
from harness._shrink import shrink_case, shrink_plan
from harness._targets import DEFAULT_TARGET, load_target

EINTR_CLOSES_READ = load_target("harness._mutants:EintrClosesRead")


def padded_plan():
    """One EINTR that matters, buried among chunks, spurious wake-ups and write faults."""
    filler = tuple(s for i in range(12) for s in (Chunk(max_bytes=5 + i), WouldBlock(count=2)))
    return FaultPlan(read=filler[:10] + (Eintr(),) + filler[10:],
                     write=(SendPartial(max_bytes=9, count=3), SendWouldBlock(count=2)), name="padded")


def padded_case():
    operation, style, transport = "read_bytes", "future", "plain"
    return Case(operation=operation, style=style, fault="eintr", transport=transport, plan=padded_plan(),
                seed=derive_seed(0, operation, style, "eintr", transport))


def has_eintr(plan):
    return any(isinstance(step, Eintr) for step in plan.read)


# -- the plan shrinker, with a synthetic judge ------------------------------------------------------


def test_shrink_plan_keeps_only_the_step_that_makes_it_fail():
    plan, runs = shrink_plan(padded_plan(), has_eintr)
    assert plan == FaultPlan(read=(Eintr(),), name="padded")
    assert runs <= 200


def test_shrink_plan_lowers_an_integer_to_the_smallest_value_that_still_fails():
    def fails(plan):
        return any(isinstance(s, Pass) and s.nbytes >= 37 for s in plan.read)

    plan, _ = shrink_plan(FaultPlan(read=(Chunk(max_bytes=3), Pass(nbytes=500), Flood(nbytes=1 << 30))), fails)
    assert plan == FaultPlan(read=(Pass(nbytes=37),))


def test_shrink_plan_lowers_sizes_and_counts_towards_their_minimum():
    def fails(plan):
        return len(plan.read) == 2 and len(plan.write) == 1

    plan, _ = shrink_plan(FaultPlan(read=(Flood(nbytes=1 << 30, pattern_seed=77), WouldBlock(count=9)),
                                    write=(SendPartial(max_bytes=40, count=6),)), fails)
    assert plan == FaultPlan(read=(Flood(nbytes=1, pattern_seed=0), WouldBlock(count=1)),
                             write=(SendPartial(max_bytes=1, count=1),))


def test_shrink_plan_never_judges_more_than_its_budget():
    calls = []

    def fails(plan):
        calls.append(plan)
        return len(plan.read) >= 3

    big = plan_for_kind("eintr", seed=3, inbound_size=600, outbound_size=600)
    plan, runs = shrink_plan(big, fails, max_runs=25)
    assert runs == len(calls) <= 25
    assert fails(plan)


def test_shrink_plan_judges_each_plan_at_most_once():
    calls = []

    def fails(plan):
        calls.append(plan)
        return has_eintr(plan)

    shrink_plan(padded_plan(), fails)
    assert len(calls) == len(set(calls))


def test_shrink_plan_returns_a_plan_that_does_not_fail_unchanged():
    plan = padded_plan()
    assert shrink_plan(plan, lambda p: False) == (plan, 1)


def test_shrink_plan_rejects_a_budget_below_one():
    with pytest.raises(ValueError, match="max_runs"):
        shrink_plan(padded_plan(), has_eintr, max_runs=0)


# -- shrinking real failing cases ---------------------------------------------------------------------


def test_shrinking_a_padded_case_yields_a_minimal_case_that_still_breaks_the_invariant():
    case = padded_case()
    assert "eintr-invisible" in run_case(case, EINTR_CLOSES_READ, keep_trace=False).slugs
    shrunk = shrink_case(case, EINTR_CLOSES_READ, "eintr-invisible")
    assert shrunk.reproduced and shrunk.runs <= 200
    assert shrunk.case.plan.read == (Eintr(),) and shrunk.case.plan.write == ()
    assert dataclasses.replace(shrunk.case, plan=case.plan) == case  # only the plan changed
    assert "eintr-invisible" in shrunk.result.slugs and shrunk.result.trace


def test_a_shrunk_case_is_one_minimal():
    shrunk = shrink_case(padded_case(), EINTR_CLOSES_READ, "eintr-invisible")
    plan = shrunk.case.plan
    for side in ("read", "write"):
        steps = getattr(plan, side)
        for i in range(len(steps)):
            smaller = dataclasses.replace(plan, **{side: steps[:i] + steps[i + 1 :]})
            result = run_case(dataclasses.replace(shrunk.case, plan=smaller), EINTR_CLOSES_READ, keep_trace=False)
            assert "eintr-invisible" not in result.slugs


def test_shrinking_is_deterministic():
    first = shrink_case(padded_case(), EINTR_CLOSES_READ, "eintr-invisible")
    second = shrink_case(padded_case(), EINTR_CLOSES_READ, "eintr-invisible")
    assert (first.case, first.runs) == (second.case, second.runs)


def test_shrinking_a_case_that_does_not_fail_reports_it_not_reproduced():
    shrunk = shrink_case(padded_case(), DEFAULT_TARGET, "eintr-invisible")
    assert not shrunk.reproduced
    assert shrunk.case == padded_case() and shrunk.runs == 1


def test_shrinking_a_write_fault_keeps_the_write_step():
    operation, style, transport = "write", "future", "plain"
    case = Case(operation=operation, style=style, fault="eintr", transport=transport,
                plan=plan_for_kind("eintr", seed=5, inbound_size=0, outbound_size=2800),
                seed=derive_seed(0, operation, style, "eintr", transport))
    shrunk = shrink_case(case, load_target("harness._mutants:EintrClosesWrite"), "eintr-write-retried")
    assert shrunk.case.plan.write == (SendEintr(),) and shrunk.case.plan.read == ()
