import pytest

from faultio import FaultPlan, plan_for_kind
from harness._case import Case
from harness._runner import run_case
from harness._targets import load_target


def case(kind="eintr", operation="read_bytes", style="future", transport="plain"):
    plan = FaultPlan() if kind == "clean" else plan_for_kind(kind, seed=3, inbound_size=600)
    return Case(operation=operation, style=style, fault=kind, transport=transport, plan=plan, seed=3)


def test_a_target_that_hangs_inside_one_step_is_a_violation_not_a_hang():
    result = run_case(case(), load_target("_broken_targets:HangsInRead"), timeout_s=0.5)
    assert result.outcome == "violation"
    assert "no-busy-loop" in result.slugs
    assert "wall-clock" in result.violations[0].message or any("wall-clock" in v.message for v in result.violations)


def test_a_target_whose_factory_raises_is_an_error_case():
    result = run_case(case(), load_target("_broken_targets:explode"))
    assert result.outcome == "error" and "boom" in result.error


@pytest.mark.parametrize("transport", ["plain", "ssl"])
def test_the_reference_passes_and_the_run_is_deterministic(transport):
    first = run_case(case("ewouldblock", "read_until", "callback", transport), full_trace=True)
    second = run_case(case("ewouldblock", "read_until", "callback", transport), full_trace=True)
    assert first.outcome == "pass"
    assert first.trace == second.trace and first.steps == second.steps


def test_a_failing_case_keeps_its_trace_and_points_at_the_event():
    result = run_case(case("eintr", "write"), load_target("_broken_targets:EintrClosesOnWrite"))
    assert result.outcome == "violation"
    first = result.violations[0]
    assert any(e["index"] == first.event for e in result.trace)
    assert result.trace[-1]["index"] >= first.event


def test_split_tls_flood_moves_the_flood_to_the_plaintext_offset():
    from faultio import Chunk, Flood, Pass, Reset
    from harness._runner import split_tls_flood

    plan = FaultPlan(read=(Pass(nbytes=10), Chunk(max_bytes=3), Pass(nbytes=5), Flood(nbytes=99), Reset()))
    stripped, at = split_tls_flood(plan)
    assert at == 15
    assert stripped.read == (Pass(nbytes=10), Chunk(max_bytes=3), Pass(nbytes=5), Reset())
    clean = FaultPlan(read=(Pass(nbytes=1),))
    assert split_tls_flood(clean) == (clean, None)


def test_a_target_that_spins_on_the_loop_is_ended_as_a_busy_loop_long_before_the_budget():
    from harness._runner import SPIN_WINDOW, STEP_BUDGET

    result = run_case(case("ewouldblock", "read_bytes", "future"), load_target("_broken_targets:SpinsOnTheLoop"))
    assert "no-busy-loop" in result.slugs
    (busy,) = [v for v in result.violations if v.slug == "no-busy-loop"]
    assert "steps in a row that moved no byte" in busy.message
    assert result.steps <= 3 * SPIN_WINDOW < STEP_BUDGET
