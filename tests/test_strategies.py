"""faultio.strategies: valid, JSON-round-trippable plans that mix the fault kinds and shrink to sense."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import InvalidArgument

import faultio.strategies
from faultio import (
    FAULT_KINDS,
    Chunk,
    Dribble,
    Eintr,
    FaultPlan,
    Flood,
    Pass,
    Reset,
    SendEintr,
    SendPartial,
    SendReset,
    SendWouldBlock,
    WouldBlock,
)
from faultio.strategies import fault_plans, read_steps, write_steps

# Every Hypothesis run here is seeded-by-default and writes no .hypothesis/ directory.
QUICK = settings(max_examples=60, database=None, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])
FIND = settings(max_examples=500, database=None, derandomize=True, phases=[Phase.generate, Phase.shrink])

#: Which step types each fault kind may contribute (Pass only as a reset's or a flood's offset).
KIND_STEPS = {
    "eintr": {Eintr, SendEintr},
    "econnreset": {Pass, Reset, SendPartial, SendReset},
    "ewouldblock": {WouldBlock, Chunk, SendWouldBlock, SendPartial},
    "dribble": {Dribble, SendPartial},
    "flood": {Pass, Flood},
}
ENDINGS = (Reset, Flood, SendReset)


def kinds_in(plan: FaultPlan) -> set[str]:
    """The fault kinds a plan's steps unambiguously belong to."""
    found = set()
    for step in plan.read + plan.write:
        if isinstance(step, (Eintr, SendEintr)):
            found.add("eintr")
        elif isinstance(step, (Reset, SendReset)):
            found.add("econnreset")
        elif isinstance(step, (WouldBlock, Chunk, SendWouldBlock)):
            found.add("ewouldblock")
        elif isinstance(step, Dribble) or (isinstance(step, SendPartial) and step.max_bytes == 1 and step.count > 4):
            found.add("dribble")
        elif isinstance(step, Flood):
            found.add("flood")
    return found


def test_public_surface_is_the_plan_and_workload_strategy_functions():
    assert faultio.strategies.__all__ == sorted(faultio.strategies.__all__)
    assert faultio.strategies.__all__ == [
        "chunkings", "delimiter_regexes", "delimiters", "fault_plans", "partial_read_sizes", "read_steps",
        "sizes_around", "split_delimiters", "stream_limits", "tls_fault_plans", "workloads", "write_sizes",
        "write_steps",
    ]


@QUICK
@given(plan=fault_plans())
def test_fault_plans_are_valid_and_round_trip_through_json(plan):
    assert isinstance(plan, FaultPlan)
    assert FaultPlan.from_json(plan.to_json()) == plan
    assert FaultPlan.from_json(plan.dumps()) == plan
    assert plan.name == "mixed"


@QUICK
@given(plan=fault_plans(max_read_steps=4, max_write_steps=3))
def test_fault_plans_respect_the_step_limits(plan):
    assert len(plan.read) <= 4
    assert len(plan.write) <= 3


@QUICK
@given(plan=fault_plans())
def test_connection_ending_steps_come_last_and_only_once(plan):
    for steps in (plan.read, plan.write):
        ends = [i for i, s in enumerate(steps)
                if isinstance(s, ENDINGS) or (isinstance(s, Dribble) and s.nbytes is None)]
        assert ends in ([], [len(steps) - 1])
    for i, step in enumerate(plan.read):
        if isinstance(step, Pass):  # a Pass only ever places a reset or a flood
            assert i == len(plan.read) - 2 and isinstance(plan.read[-1], (Reset, Flood))


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_one_kind_gives_only_its_own_steps(kind):
    @QUICK
    @given(plan=fault_plans(kinds=kind))
    def check(plan):
        for step in plan.read + plan.write:
            assert type(step) in KIND_STEPS[kind], step

    check()


def test_plans_mix_several_kinds_in_one_plan():
    plan = find(fault_plans(), lambda p: len(kinds_in(p)) >= 4, settings=FIND)
    assert len(kinds_in(plan)) >= 4


def test_the_minimal_plan_is_the_clean_plan():
    assert find(fault_plans(), lambda p: True, settings=FIND) == FaultPlan(name="mixed")


def test_a_reset_shrinks_to_happening_at_once():
    plan = find(fault_plans(), lambda p: any(isinstance(s, Reset) for s in p.read), settings=FIND)
    assert plan == FaultPlan(read=(Pass(nbytes=0), Reset()), name="mixed")


def test_a_flood_shrinks_to_happening_at_once_with_the_chosen_size():
    plan = find(fault_plans(flood_bytes=1000), lambda p: any(isinstance(s, Flood) for s in p.read), settings=FIND)
    assert plan == FaultPlan(read=(Pass(nbytes=0), Flood(nbytes=1000, pattern_seed=0)), name="mixed")


def test_a_send_reset_shrinks_to_the_first_send():
    plan = find(fault_plans(), lambda p: any(isinstance(s, SendReset) for s in p.write), settings=FIND)
    assert plan == FaultPlan(write=(SendReset(),), name="mixed")


def test_counts_and_sizes_shrink_to_one():
    plan = find(fault_plans(kinds="ewouldblock"), lambda p: any(isinstance(s, Chunk) for s in p.read), settings=FIND)
    assert plan == FaultPlan(read=(Chunk(max_bytes=1),), name="mixed")
    plan = find(fault_plans(kinds="ewouldblock"), lambda p: any(isinstance(s, WouldBlock) for s in p.read),
                settings=FIND)
    assert plan == FaultPlan(read=(WouldBlock(count=1),), name="mixed")


def test_two_faults_shrink_to_exactly_those_two_steps():
    def eintr_and_reset(p):
        return any(isinstance(s, Eintr) for s in p.read) and any(isinstance(s, Reset) for s in p.read)

    plan = find(fault_plans(), eintr_and_reset, settings=FIND)
    assert plan == FaultPlan(read=(Eintr(), Pass(nbytes=0), Reset()), name="mixed")


@QUICK
@given(steps=read_steps(kinds="eintr,econnreset", max_steps=3, inbound_size=10))
def test_read_steps_stay_inside_the_exchange(steps):
    assert len(steps) <= 3
    for step in steps:
        assert isinstance(step, (Eintr, Pass, Reset))
        if isinstance(step, Pass):
            assert 0 <= step.nbytes <= 10


@QUICK
@given(steps=write_steps(kinds="dribble", outbound_size=7))
def test_write_dribble_is_one_byte_per_send_for_at_most_the_outbound_size(steps):
    for step in steps:
        assert step == SendPartial(max_bytes=1, count=step.count) and 1 <= step.count <= 7


@QUICK
@given(plan=fault_plans(max_write_steps=0))
def test_no_write_steps_when_max_write_steps_is_zero(plan):
    assert plan.write == ()


@QUICK
@given(steps=write_steps(kinds="flood"))
def test_flood_has_no_write_steps(steps):
    assert steps == ()


@pytest.mark.parametrize("kwargs", [
    {"kinds": "bogus"},
    {"kinds": ""},
    {"max_read_steps": -1},
    {"max_write_steps": 1.5},
    {"inbound_size": -3},
    {"flood_bytes": 0},
    {"name": 3},
], ids=lambda kw: ",".join(kw))
def test_bad_arguments_are_rejected_when_the_strategy_is_made(kwargs):
    with pytest.raises(InvalidArgument):
        fault_plans(**kwargs)
