"""harness/engine/checkers/timing.py: each time invariant fails on a stream that breaks it, holds on one that
does not, and is registered with its class."""

import pytest

from faultio import Chunk, FaultPlan, Pass, Reset
from faultio._time_faults import Delay, LateFin, latency_plan, stall_plan
from harness._case import Case
from harness._runner import derive_seed, run_case
from harness._targets import DEFAULT_TARGET, load_target
from harness.engine import INVARIANTS
from harness.engine.checkers.timing import _shaping_only

SLUGS = ("deadline-on-time", "timeout-no-byte-lost", "timeout-stream-usable", "timing-keeps-bytes")


def case(plan, operation="read_deadline", style="future", fault="stall"):
    return Case(operation=operation, style=style, fault=fault, transport="plain", plan=plan,
                seed=derive_seed(0, operation, style, fault, "plain"))


LATENCY = latency_plan(delays=(0.3,) * 8, sizes=(3, 40, 1, 64, 64, 64, 64, 64))


def test_the_time_invariants_are_registered_as_contracts():
    for slug in SLUGS:
        assert INVARIANTS[slug].klass == "contract" and INVARIANTS[slug].group == "time"


@pytest.mark.parametrize("mutant, slug", [
    ("DeadlineNeverFires", "deadline-on-time"),
    ("DeadlineFiresEarly", "deadline-on-time"),
    ("DeadlineFiresLate", "deadline-on-time"),
    ("CancelDropsTakenBytes", "timeout-no-byte-lost"),
    ("CancelLeavesReadState", "timeout-stream-usable"),
])
def test_each_deadline_mutant_is_caught_by_its_contract(mutant, slug):
    result = run_case(case(LATENCY, fault="latency"), load_target(f"harness._time_mutants:{mutant}"))
    assert slug in result.slugs, result.violations


@pytest.mark.parametrize("mutant, words", [
    ("DeadlineNeverFires", "never fired"),
    ("DeadlineFiresEarly", "timed out early"),
    ("DeadlineFiresLate", "timed out late"),
])
def test_deadline_on_time_says_how_the_deadline_missed(mutant, words):
    result = run_case(case(stall_plan(at=5, seconds=60.0)), load_target(f"harness._time_mutants:{mutant}"))
    (message,) = [v.message for v in result.violations if v.slug == "deadline-on-time"]
    assert words in message or (words == "never fired" and "passed without firing" in message)


def test_a_stream_that_cancels_reads_correctly_passes_every_time_invariant():
    for plan, fault in ((stall_plan(at=5, seconds=60.0), "stall"), (LATENCY, "latency")):
        result = run_case(case(plan, fault=fault), load_target("harness._time_mutants:CancellableReads"))
        assert result.outcome == "pass", result.violations


def test_timing_keeps_bytes_watches_only_plans_that_only_move_time():
    assert _shaping_only(LATENCY)
    assert _shaping_only(FaultPlan(read=(Chunk(max_bytes=3), LateFin(seconds=20.0))))
    assert not _shaping_only(stall_plan(at=5, seconds=60.0))  # a stall is no shaping: a stream may time out
    assert not _shaping_only(FaultPlan(read=(Delay(seconds=0.1), Pass(nbytes=3), Reset())))
    assert not _shaping_only(FaultPlan())


def test_timing_keeps_bytes_catches_bytes_lost_under_latency():
    result = run_case(case(LATENCY, operation="read_until_close", style="future", fault="latency"),
                      load_target("harness._mutants:TruncatesReadUntilClose"))
    assert "timing-keeps-bytes" in result.slugs or "data-integrity" in result.slugs


@pytest.mark.parametrize("operation, style", [("read_bytes", "callback"), ("read_until", "future"),
                                              ("read_until_close", "future"), ("echo", "scenario")])
def test_faultio_s_own_stream_keeps_every_byte_under_latency(operation, style):
    result = run_case(case(LATENCY, operation=operation, style=style, fault="latency"), DEFAULT_TARGET)
    assert result.outcome == "pass", result.violations
