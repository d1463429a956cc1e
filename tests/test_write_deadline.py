"""harness/_write_deadline.py: writes under a deadline in the matrix, over a small fd, to a peer that reads late."""

import dataclasses
import random

import pytest

from faultio import FaultPlan
from faultio._time_faults import send_stall_plan
from harness._case import Case
from harness._deadline import DEADLINES
from harness._matrix import build_cases
from harness._runner import derive_seed, run_case
from harness._targets import load_target
from harness._write_deadline import ABOVE_HIGH_WATER, SEND_CAPACITY, WRITES, write_sizes


def write_case(plan, fault="send-stall", transport="plain", seed=0):
    return Case(operation="write_deadline", style="future", fault=fault, transport=transport, plan=plan,
                seed=derive_seed(seed, "write_deadline", "future", fault, transport))


def short_deadline_seed(fault, transport="plain"):
    """The first matrix seed whose write_deadline case waits with a deadline shorter than the peer's sleep."""
    for seed in range(50):
        case = write_case(FaultPlan(), fault=fault, transport=transport, seed=seed)
        if random.Random(f"harness:write_deadline:{case.seed}:{case.id}").choice(DEADLINES) < 1.0:
            return seed
    raise AssertionError("no seed below 50 draws a short deadline")


def events(result, kind):
    return [e for e in result.trace if e["source"] == "harness" and e["kind"] == kind]


def test_the_matrix_runs_write_deadline_in_future_style_under_the_kernel_and_time_kinds_only():
    cases = build_cases(faults=["send-stall", "eintr", "connect-refused"], transports=["plain", "ssl"],
                        operations=["write_deadline"])
    assert [(c.fault, c.transport, c.style) for c in cases] == [
        ("send-stall", "plain", "future"), ("eintr", "plain", "future"), ("send-stall", "ssl", "future"),
        ("eintr", "ssl", "future")]


def test_write_sizes_are_seeded_and_one_is_above_asyncio_s_high_water_mark():
    for seed in range(30):
        sizes = write_sizes(random.Random(seed))
        assert sizes == write_sizes(random.Random(seed))
        assert WRITES[0] <= len(sizes) <= WRITES[1]
        assert any(n >= ABOVE_HIGH_WATER[0] for n in sizes) and max(sizes) > SEND_CAPACITY


@pytest.mark.parametrize("transport", ["plain", "ssl"])
def test_faultio_s_stream_times_out_under_a_send_stall_and_the_peer_still_gets_every_byte(transport):
    seed = short_deadline_seed("send-stall", transport)
    result = run_case(write_case(send_stall_plan(after=100, seconds=90.0), transport=transport, seed=seed),
                      full_trace=True)
    assert result.outcome == "pass", result.violations
    fired = events(result, "timed_out")
    assert fired and all(e["time"] == e["detail"]["deadline"] for e in fired)
    assert result.held_s == 90.0


def test_the_fd_of_a_write_deadline_case_holds_only_its_send_capacity():
    seed = short_deadline_seed("eintr")
    result = run_case(write_case(FaultPlan(), fault="eintr", seed=seed), full_trace=True)
    assert result.outcome == "pass", result.violations
    sends = [e for e in result.trace if e["source"] == "fd" and e["kind"] == "send" and e["detail"]["role"] == "target"]
    assert max(e["detail"].get("nbytes", 0) for e in sends) <= SEND_CAPACITY
    assert events(result, "timed_out"), "with the peer asleep, a write above the fd's capacity must time out"


def test_asyncio_streams_waits_in_drain_and_keeps_every_byte_under_wait_for():
    seed = short_deadline_seed("send-stall")
    case = dataclasses.replace(write_case(send_stall_plan(after=100, seconds=90.0), seed=seed), profile="cpython")
    result = run_case(case, load_target("asyncio-streams"), full_trace=True)
    assert result.outcome == "pass", result.violations
    assert events(result, "timed_out")


def test_tornado_s_write_future_raises_cancelled_error_into_the_loop_when_wait_for_cancels_it():
    pytest.importorskip("tornado")
    # tornado/iostream.py (6.x), BaseIOStream.write: future.add_done_callback(lambda f: f.exception()); on a
    # future asyncio.wait_for cancelled, exception() raises CancelledError, which asyncio's Handle._run logs as
    # "Exception in callback". The bytes themselves still go out in order.
    seed = short_deadline_seed("send-stall")
    case = dataclasses.replace(write_case(send_stall_plan(after=100, seconds=90.0), seed=seed), profile="cpython")
    result = run_case(case, load_target("tornado"))
    assert "target-crashed" in result.slugs
    assert "CancelledError" in next(v.message for v in result.violations if v.slug == "target-crashed")
    assert "write-timeout-keeps-bytes" not in result.slugs


def test_only_write_deadline_cases_get_a_small_fd():
    from faultio._fakefd import DEFAULT_CAPACITY
    from harness._write_deadline import fd_capacity

    assert fd_capacity("write_deadline") == SEND_CAPACITY < DEFAULT_CAPACITY
    assert fd_capacity("write") == fd_capacity("read_deadline") == DEFAULT_CAPACITY
