import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultio._errors import PlanError
from faultio._plan import (
    DESCRIBE_CHARS,
    FAULT_KINDS,
    Chunk,
    Dribble,
    Eintr,
    FaultPlan,
    Flood,
    Pass,
    Reset,
    Run,
    SendEintr,
    SendPartial,
    WouldBlock,
    parse_kinds,
    plan_for_kind,
    runs,
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
        ({"read": [{"kind": "teleport"}]}, "valid read step kinds: chunk, delay, dribble, eintr, eof, flood, late_fin, pass"),
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
    with pytest.raises(PlanError, match="valid read step kinds: chunk, delay, dribble"):
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


def test_describe_of_a_short_plan_without_repeats_is_unchanged():
    assert plan_for_kind("econnreset", at=11, outbound_size=0).describe() == (
        "econnreset: read[pass(nbytes=11), reset()] write[-]"
    )
    assert FaultPlan().describe() == "plan: read[-] write[-]"


def test_describe_run_length_encodes_an_alternating_plan():
    plan = FaultPlan(read=(Eintr(), Chunk(max_bytes=8)) * 60, name="alt")
    text = plan.describe()
    assert len(text) < 320
    assert text == "alt: read[60 × (eintr(), chunk(max_bytes=8))] write[-]"
    assert plan.describe(full=True) == text


def test_describe_run_length_encodes_a_single_repeated_step_and_mixed_groups():
    plan = FaultPlan(
        read=(WouldBlock(),) * 12 + (Eintr(), Eintr(), Chunk(max_bytes=1)) * 3 + (Reset(),),
        write=(SendEintr(),) * 2,
    )
    assert plan.describe() == (
        "plan: read[12 × wouldblock(count=1), 3 × (eintr(), eintr(), chunk(max_bytes=1)), reset()] "
        "write[2 × send_eintr()]"
    )


def test_runs_are_greedy_left_to_right_prefer_the_shorter_group_and_expand_back():
    a, b, c = Eintr(), Chunk(max_bytes=1), Reset()
    assert runs((a,) * 4) == (Run(steps=(a,), count=4),)  # not 2 × (a, a)
    assert runs((c, a, b, a, b, a)) == (Run(steps=(c,)), Run(steps=(a, b), count=2), Run(steps=(a,)))
    plan = plan_for_kind("eintr", seed=3)
    assert tuple(s for r in runs(plan.read) for _ in range(r.count) for s in r.steps) == plan.read
    with pytest.raises(PlanError, match="run.count"):
        Run(steps=(a,), count=0)


def test_describe_caps_a_long_plan_and_full_true_holds_every_step():
    read = tuple(Chunk(max_bytes=n) for n in range(1, 121))  # 120 steps, nothing repeats
    plan = FaultPlan(read=read, write=(SendEintr(),), name="long")
    text = plan.describe()
    assert len(text) <= DESCRIBE_CHARS < 320
    assert text.startswith("long: read[chunk(max_bytes=1), chunk(max_bytes=2), ")
    assert "…] write[send_eintr()]" in text  # the short side is kept whole
    shown = text.count("chunk(")
    assert text.endswith(f" (+{120 - shown} more steps; describe(full=True) for all)")
    full = plan.describe(full=True)
    assert full == "long: read[" + ", ".join(s.describe() for s in read) + "] write[send_eintr()]"
    assert len(full) > 2000


def test_describe_caps_both_sides_of_a_generated_plan():
    plan = plan_for_kind("eintr", seed=3, inbound_size=600, outbound_size=600)
    text = plan.describe()
    assert len(text) <= DESCRIBE_CHARS
    assert "read[eintr(), " in text and "write[send_eintr(), " in text
    assert "more steps; describe(full=True) for all)" in text
    assert "…" not in plan.describe(full=True)


def test_compact_describe_leaves_json_exact():
    plan = FaultPlan(read=(Eintr(), Chunk(max_bytes=8)) * 60, write=(SendEintr(),) * 5, name="alt")
    data = plan.to_json()
    assert len(data["read"]) == 120 and len(data["write"]) == 5
    assert data["read"][:2] == [{"kind": "eintr"}, {"kind": "chunk", "max_bytes": 8}]
    assert FaultPlan.from_json(plan.dumps()) == plan
    assert FaultPlan.from_json(json.loads(json.dumps(data))) == plan


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
