"""faultio.strategies: valid, JSON-round-trippable plans that mix the fault kinds and shrink to sense."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
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
from faultio._plan import CONNECT_KINDS
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
        "chunkings", "connect_fault_plans", "delimiter_regexes", "delimiters", "fault_plans", "partial_read_sizes",
        "read_steps", "sequences", "sizes_around", "split_delimiters", "stream_limits", "time_fault_plans",
        "tls_fault_plans", "workloads", "write_sizes", "write_steps",
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


# --- workload strategies ---------------------------------------------------------------------------------

from faultio import (  # noqa: E402
    IdleOp,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    ReadUntilRegexOp,
    SplitDelimiter,
    StreamLimits,
    Workload,
    WriteOp,
)
from faultio.strategies import (  # noqa: E402
    chunkings,
    delimiter_regexes,
    delimiters,
    partial_read_sizes,
    sizes_around,
    split_delimiters,
    stream_limits,
    workloads,
    write_sizes,
)


def drawn(strategy, *, examples=300):
    """Every value ``strategy`` gives over ``examples`` seeded draws."""
    seen = []

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(strategy)
    def collect(value):
        seen.append(value)

    collect()
    return seen


def test_sizes_around_a_limit_hit_it_exactly_one_below_one_above_and_far():
    sizes = set(drawn(sizes_around(50)))
    assert {49, 50, 51} <= sizes
    assert any(n < 40 for n in sizes) and any(n > 60 for n in sizes)
    assert all(0 <= n <= 152 for n in sizes)
    assert find(sizes_around(50), lambda n: True, settings=FIND) == 50


def test_sizes_around_never_go_below_the_minimum():
    assert min(drawn(sizes_around(1, minimum=1))) == 1
    assert set(drawn(sizes_around(0, minimum=1), examples=50)) <= set(range(1, 3))


def test_stream_limits_put_the_read_chunk_at_one_half_and_all_of_the_buffer():
    limits = drawn(stream_limits())
    assert all(isinstance(lim, StreamLimits) and 8 <= lim.max_buffer_size <= 256 for lim in limits)
    ratios = {lim.read_chunk_size - lim.max_buffer_size for lim in limits}
    assert {0, 1} <= ratios
    assert any(lim.read_chunk_size == 1 for lim in limits)
    assert any(lim.max_write_buffer_size is None for lim in limits)
    assert any(lim.max_write_buffer_size is not None for lim in limits)


@QUICK
@given(chunks=chunkings(40, cuts=[7, 13]))
def test_chunkings_cut_the_bytes_at_the_required_offsets(chunks):
    assert sum(chunks) == 40 and all(size > 0 for size in chunks)
    edges = {sum(chunks[:i]) for i in range(len(chunks) + 1)}
    assert {7, 13} <= edges


def test_chunkings_shrink_to_one_send():
    assert find(chunkings(40), lambda c: True, settings=FIND) == (40,)
    assert drawn(chunkings(0), examples=5)[0] == ()


def test_split_delimiters_put_a_boundary_at_every_offset_inside_the_delimiter():
    seen = set()
    for split in drawn(split_delimiters(delimiter=st.just(b"\r\n\r\n"))):
        assert isinstance(split, SplitDelimiter)
        at = split.data.find(split.delimiter)
        edges = {sum(split.chunks[:i]) for i in range(len(split.chunks) + 1)}
        assert at + split.split in edges
        seen.add(split.split)
    assert seen == {0, 1, 2, 3}


def test_delimiters_shrink_to_a_newline_and_reach_four_bytes():
    assert find(delimiters(), lambda d: True, settings=FIND) == b"\n"
    assert {len(d) for d in drawn(delimiters())} == {1, 2, 3, 4}


@QUICK
@given(delim=delimiters(), data=st.data())
def test_delimiter_regexes_match_the_delimiter_exactly_and_nothing_longer(delim, data):
    import re

    pattern = data.draw(delimiter_regexes(delim))
    match = re.compile(pattern).search(b"ab" + delim + b"ab")
    assert match is not None and match.start() <= 2 and match.end() - match.start() == len(delim)


def test_write_sizes_are_empty_at_the_limit_and_past_it():
    sizes = set(drawn(write_sizes(32)))
    assert {0, 31, 32, 33} <= sizes and max(sizes) > 33
    assert 0 in set(drawn(write_sizes(None), examples=50))


def test_partial_read_sizes_cover_every_size_up_to_one_past_what_is_available():
    assert set(drawn(partial_read_sizes(6))) == set(range(1, 8))


@QUICK
@given(workload=workloads())
def test_workloads_are_valid_and_end_with_read_until_close_only_last(workload):
    assert isinstance(workload, Workload)
    assert sum(workload.chunks) == len(workload.data)
    assert workload.ops and len([op for op in workload.ops if not isinstance(op, IdleOp)]) <= 6
    for op in workload.ops[:-1]:
        assert not isinstance(op, ReadUntilCloseOp)
    assert workload.ending in ("eof", "reset")


def test_workloads_draw_every_kind_of_op():
    kinds = set()
    for workload in drawn(workloads(), examples=300):
        for op in workload.ops:
            kinds.add((type(op), getattr(op, "partial", False), getattr(op, "streaming", False)))
    assert {(ReadBytesOp, False, False), (ReadBytesOp, True, False), (ReadBytesOp, False, True),
            (ReadUntilOp, False, False), (ReadUntilRegexOp, False, False), (WriteOp, False, False),
            (IdleOp, False, False)} <= kinds
    assert any(k[0] is ReadUntilCloseOp for k in kinds)


def _line_past_max_bytes(workload):
    """How far past its ``max_bytes`` the line of a one-op ``read_until`` workload ends (None: no such line)."""
    op = workload.ops[-1]
    if not isinstance(op, ReadUntilOp) or op.max_bytes is None or op.delimiter not in workload.data:
        return None
    return workload.data.find(op.delimiter) + len(op.delimiter) - op.max_bytes


@pytest.mark.parametrize("past", [-1, 0, 1])
def test_workloads_draw_lines_ending_one_before_at_and_one_past_max_bytes(past):
    first = settings(max_examples=2000, database=None, derandomize=True, phases=[Phase.generate])
    workload = find(workloads(max_ops=1), lambda w: _line_past_max_bytes(w) == past, settings=first)
    assert _line_past_max_bytes(workload) == past


def test_a_workload_shrinks_to_one_read_of_one_line_in_one_send():
    workload = find(workloads(), lambda w: True, settings=FIND)
    assert len(workload.ops) == 1 and len(workload.chunks) <= 2 and workload.ending == "eof"


def test_workload_strategies_reject_bad_arguments():
    for bad in (lambda: sizes_around(-1), lambda: chunkings(-2), lambda: workloads(max_ops=0),
                lambda: workloads(endings=["hang"]), lambda: delimiter_regexes(b""), lambda: write_sizes(0)):
        with pytest.raises(InvalidArgument):
            bad().example()


@QUICK
@given(plan=faultio.strategies.connect_fault_plans(write_kinds="eintr"))
def test_connect_fault_plans_hold_one_connect_step_first_and_round_trip(plan):
    from faultio._connect_faults import connect_step, connect_variant

    assert plan.write and connect_step(plan) is plan.write[0]
    assert plan.name.partition(":")[0] in CONNECT_KINDS
    assert plan.name.partition(":")[2] == connect_variant(plan)
    assert FaultPlan.from_json(plan.dumps()) == plan


def test_connect_fault_plans_refuse_kinds_that_are_not_connect_kinds():
    with pytest.raises(InvalidArgument, match="valid connect kinds"):
        faultio.strategies.connect_fault_plans(kinds="eintr")
