import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultio._errors import PlanError
from faultio._plan import (
    FAULT_KINDS,
    Chunk,
    Dribble,
    Eintr,
    FaultPlan,
    Flood,
    Pass,
    Reset,
    SendPartial,
    WouldBlock,
    parse_kinds,
    plan_for_kind,
)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_kind_builds_a_plan_that_round_trips_through_json(kind):
    plan = plan_for_kind(kind, seed=7, inbound_size=300, outbound_size=40)
    assert plan.name == kind
    assert FaultPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    assert FaultPlan.from_json(plan.dumps()) == plan


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_same_seed_gives_same_plan_and_other_seeds_differ_somewhere(kind):
    assert plan_for_kind(kind, seed=1) == plan_for_kind(kind, seed=1)
    if kind != "dribble":  # dribble has nothing to randomise
        plans = {plan_for_kind(kind, seed=s).dumps() for s in range(6)}
        assert len(plans) > 1


def test_parse_kinds_accepts_all_and_lists_in_canonical_order():
    assert parse_kinds("all") == FAULT_KINDS
    assert parse_kinds("flood,eintr,eintr") == ("eintr", "flood")
    assert parse_kinds(["dribble"]) == ("dribble",)


@pytest.mark.parametrize("spec", ["bogus", "eintr,nope", "", " , "])
def test_unknown_or_empty_kind_names_the_valid_ones(spec):
    with pytest.raises(PlanError) as info:
        parse_kinds(spec)
    assert "eintr, econnreset, ewouldblock, dribble, flood, all" in str(info.value)


def test_plan_for_kind_refuses_all_with_a_pointer_to_parse_kinds():
    with pytest.raises(PlanError, match="parse_kinds"):
        plan_for_kind("all")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"read": [{"kind": "teleport"}]}, "valid read step kinds: chunk, dribble, eintr, eof, flood, pass"),
        ({"read": [{"kind": "chunk", "max_bytes": 0}]}, "chunk.max_bytes = 0"),
        ({"read": [{"kind": "chunk", "max_bytes": 2, "colour": 1}]}, "unknown field"),
        ({"write": [{"kind": "eintr"}]}, "valid write step kinds"),
        ({"read": "eintr"}, "must be a list"),
        ({"format": "faultio-plan/99"}, "not supported"),
        ({"reed": []}, "unknown key"),
        ("[not json", "must be JSON"),
        ([], "must be a JSON object"),
        ({"read": [{"kind": "wouldblock", "count": True}]}, "wouldblock.count"),
    ],
)
def test_malformed_plans_get_an_error_naming_what_is_wrong(bad, message):
    with pytest.raises(PlanError) as info:
        FaultPlan.from_json(bad)
    assert message in str(info.value)


@pytest.mark.parametrize("kind", [["eintr"], {"eintr": 1}, 5, None])
def test_a_step_kind_that_is_not_a_string_is_a_plan_error_naming_the_valid_kinds(kind):
    with pytest.raises(PlanError, match="valid read step kinds: chunk, dribble"):
        FaultPlan.from_json({"read": [{"kind": kind}]})


def test_constructor_refuses_a_write_step_on_the_read_side():
    with pytest.raises(PlanError, match="not a read step"):
        FaultPlan(read=(SendPartial(max_bytes=1),))
    with pytest.raises(PlanError, match="tuple"):
        FaultPlan(read=[Eintr()])


def test_plans_compose_in_time_and_are_immutable():
    a = FaultPlan(read=(Eintr(),), name="a")
    b = FaultPlan(read=(Chunk(max_bytes=2),), write=(SendPartial(max_bytes=1),), name="b")
    c = a.then(b)
    assert c.read == (Eintr(), Chunk(max_bytes=2))
    assert c.write == (SendPartial(max_bytes=1),)
    assert c.name == "a+b"
    assert a.read == (Eintr(),)
    with pytest.raises(Exception):
        c.name = "x"  # type: ignore[misc]


def test_reset_and_flood_land_at_the_requested_offset():
    assert plan_for_kind("econnreset", at=10).read == (Pass(nbytes=10), Reset())
    flood = plan_for_kind("flood", at=5, flood_bytes=1 << 30).read
    assert flood[0] == Pass(nbytes=5) and isinstance(flood[1], Flood) and flood[1].nbytes == 1 << 30


def test_describe_is_one_readable_line():
    text = FaultPlan(read=(Dribble(nbytes=3), WouldBlock(count=2)), name="x").describe()
    assert text == "x: read[dribble(nbytes=3), wouldblock(count=2)] write[-]"


@settings(max_examples=60, derandomize=True)
@given(
    st.lists(
        st.one_of(
            st.builds(Chunk, max_bytes=st.integers(1, 99)),
            st.builds(Pass, nbytes=st.integers(0, 99)),
            st.builds(Dribble, nbytes=st.none() | st.integers(1, 9)),
            st.just(Eintr()),
            st.builds(WouldBlock, count=st.integers(1, 5)),
            st.just(Reset()),
            st.builds(Flood, nbytes=st.integers(1, 1 << 40), pattern_seed=st.integers(0, 999)),
        ),
        max_size=12,
    )
)
def test_any_plan_round_trips(steps):
    plan = FaultPlan(read=tuple(steps))
    assert FaultPlan.from_json(plan.dumps()) == plan
