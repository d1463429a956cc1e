"""harness/_deadline.py: reads under a deadline in the matrix (faultio's with_timeout, asyncio.wait_for)."""

import dataclasses

import pytest

from faultio import FaultPlan
from faultio._time_faults import latency_plan, stall_plan
from harness._case import Case
from harness._deadline import AsyncioDeadline, LoopDeadline, deadline_for
from harness._matrix import build_cases
from harness._runner import derive_seed, run_case
from harness._targets import DEFAULT_TARGET, load_target


def deadline_case(plan, fault="stall", transport="plain", seed=0):
    return Case(operation="read_deadline", style="future", fault=fault, transport=transport, plan=plan,
                seed=derive_seed(seed, "read_deadline", "future", fault, transport))


def timeouts(result):
    return [e for e in result.trace if e["source"] == "harness" and e["kind"] == "timed_out"]


def test_the_matrix_runs_read_deadline_in_future_style_under_every_kind():
    cases = build_cases(faults=["stall", "eintr"], transports=["plain", "ssl"], operations=["read_deadline"])
    assert [(c.fault, c.transport, c.style) for c in cases] == [
        ("stall", "plain", "future"), ("eintr", "plain", "future"), ("stall", "ssl", "future"),
        ("eintr", "ssl", "future")]


def test_a_stalled_read_times_out_at_each_deadline_and_then_gets_its_bytes_on_faultio_s_loop():
    result = run_case(deadline_case(stall_plan(at=5, seconds=60.0)), full_trace=True)
    assert result.outcome == "pass", result.violations
    fired = timeouts(result)
    assert fired, "a 60 s stall must outlast the deadline"
    assert all(e["time"] == e["detail"]["deadline"] for e in fired)
    assert result.held_s == 60.0 and result.virtual_s >= 60.0


@pytest.mark.parametrize("transport", ["plain", "ssl"])
def test_faultio_s_own_stream_passes_read_deadline_under_latency(transport):
    plan = latency_plan(delays=(0.3,) * 8, sizes=(3, 40, 1, 64, 64, 64, 64, 64))
    result = run_case(deadline_case(plan, fault="latency", transport=transport), full_trace=True)
    assert result.outcome == "pass", result.violations


def test_the_deadline_is_the_loop_s_own_unless_the_stream_brings_one():
    class Run:
        def __init__(self, loop, stream):
            self.loop, self.stream = loop, stream

    assert isinstance(deadline_for(Run(object(), object())), LoopDeadline)
    asyncio_like = type("Kernel", (), {"asyncio_loop": None})()
    assert isinstance(deadline_for(Run(asyncio_like, object())), AsyncioDeadline)
    own = object()
    assert deadline_for(Run(object(), type("S", (), {"faultio_deadline": own})())) is own


def test_asyncio_streams_reads_are_cancellation_safe_under_wait_for():
    # readexactly, readuntil and read(n) under asyncio.wait_for through a stall and a latency plan: every timed-out
    # read is cancelled, the next one gets the bytes the cancelled one had left in the reader's buffer.
    target = load_target("asyncio-streams")
    for plan, fault in ((stall_plan(at=5, seconds=60.0), "stall"),
                        (latency_plan(delays=(0.3,) * 8, sizes=(3, 40, 1, 64, 64, 64, 64, 64)), "latency")):
        case = dataclasses.replace(deadline_case(plan, fault=fault), profile="cpython")
        result = run_case(case, target, full_trace=True)
        assert result.outcome == "pass", result.violations
        assert timeouts(result)


def test_tornado_refuses_the_read_after_a_cancelled_one_and_drops_its_bytes():
    pytest.importorskip("tornado")
    # tornado/iostream.py (6.x): _start_read asserts "Already reading" while the cancelled read's future is still
    # _read_future; once its bytes come, _finish_read consumes them and future_set_result_unless_cancelled drops
    # them. Under latency the bytes come while the caller keeps retrying, so both are seen.
    plan = latency_plan(delays=(0.3,) * 8, sizes=(3, 40, 1, 64, 64, 64, 64, 64))
    case = dataclasses.replace(deadline_case(plan, fault="latency"), profile="cpython")
    result = run_case(case, load_target("tornado"))
    assert {"timeout-stream-usable", "timeout-no-byte-lost"} <= set(result.slugs)


def test_a_clean_plan_gives_a_passing_case_with_its_virtual_time():
    result = run_case(deadline_case(FaultPlan(), fault="eintr"), DEFAULT_TARGET)
    assert result.outcome == "pass" and result.held_s == 0.0 and result.virtual_s >= 1.0
