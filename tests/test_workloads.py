"""harness._workloads: generated workloads on faultio's own stream agree with the model; broken streams don't.

faultio's stream is checked byte-at-a-time (an endless dribble) and all-at-once (no plan), and under drawn
plans of the non-ending fault kinds. The mutants of ``harness._workload_mutants`` are missed by the fixed
matrix (a test below runs it) and caught by a bounded number of generated workloads.
"""

import time

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from faultio import (
    Dribble,
    FaultPlan,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    StreamLimits,
    Workload,
    WriteOp,
)
from faultio._plan import FAULT_KINDS
from faultio.strategies import fault_plans, workloads
from harness._matrix import build_cases, run_cases
from harness._targets import load_target
from harness._workload_mutants import WORKLOAD_MUTANTS
from harness._workloads import run_workload

#: Plans that leave the connection's end to the workload: no reset, no flood.
PLANS = fault_plans(kinds="eintr,ewouldblock,dribble")
BYTEWISE = FaultPlan(read=(Dribble(),))
MODES = {"bulk": None, "bytewise": BYTEWISE}
LIMITS = StreamLimits(max_buffer_size=16, read_chunk_size=8, max_write_buffer_size=8)


def settings_for(examples, phases=(Phase.generate, Phase.shrink)):
    return settings(max_examples=examples, database=None, derandomize=True, deadline=None,
                    suppress_health_check=list(HealthCheck), phases=list(phases))


@pytest.mark.parametrize("mode", list(MODES))
def test_a_line_ending_exactly_at_max_bytes_and_one_past_it(mode):
    ops = (ReadUntilOp(delimiter=b"\r\n", max_bytes=6), ReadUntilOp(delimiter=b"\r\n", max_bytes=6))
    data = b"abcd\r\nabcde\r\n"
    result = run_workload(Workload(limits=LIMITS, data=data, chunks=(5, 8), ops=ops), MODES[mode])
    assert result.ok, result.explain()
    assert result.observed[0].delivered == b"abcd\r\n"
    assert result.observed[1].failed and type(result.observed[1].real_error).__name__ == "UnsatisfiableReadError"


@pytest.mark.parametrize("mode", list(MODES))
def test_reads_writes_and_read_until_close_in_one_sequence(mode):
    ops = (ReadBytesOp(nbytes=3), WriteOp(nbytes=8), WriteOp(nbytes=9), WriteOp(nbytes=0),
           ReadBytesOp(nbytes=5, partial=True), ReadUntilCloseOp(streaming=True))
    data = b"0123456789" * 4
    result = run_workload(Workload(limits=LIMITS, data=data, chunks=(7, 33), ops=ops, ending="reset"),
                          MODES[mode])
    assert result.ok, result.explain()
    assert result.observed[0].delivered == b"012"
    assert type(result.observed[2].raised).__name__ == "StreamBufferFullError"
    assert result.peer_received == b"w1.w1.w1"


def test_faultio_stream_agrees_with_the_model_on_hundreds_of_generated_workloads():
    runs = []

    @settings_for(250)
    @given(workload=workloads(), plan=st.one_of(st.sampled_from([None, BYTEWISE]), PLANS))
    def check(workload, plan):
        runs.append(1)
        note(workload.describe())
        note(plan.describe() if plan is not None else "no plan")
        result = run_workload(workload, plan)
        assert result.ok, result.explain()

    started = time.perf_counter()
    check()
    assert len(runs) == 250
    assert time.perf_counter() - started < 15


def test_run_workload_supports_plain_only():
    with pytest.raises(ValueError, match="plain"):
        run_workload(Workload(limits=LIMITS, data=b"", chunks=(), ops=()), transport="ssl")


#: The workload mutants the fixed matrix does see, since generated workloads showed which rule was missing:
#: its lines of exactly max_bytes=50 and its floods reach these limits, but until then no invariant said that
#: a limit is inclusive. The slug that catches each now.
SEEN_BY_THE_SHARPENED_RULES = {"max-bytes-one-short": "max-bytes", "buffer-full-one-early": "buffer-bound"}


@pytest.mark.parametrize("mutant", WORKLOAD_MUTANTS, ids=lambda m: m.name)
def test_the_fixed_matrix_misses_the_workload_mutant(mutant):
    cases = build_cases(faults=FAULT_KINDS, transports=("plain",), seed=0)
    results = run_cases(cases, target_spec=mutant.spec, jobs=1)
    slugs = {slug for r in results for slug in r.slugs} | {"error" for r in results if r.error}
    assert slugs == ({SEEN_BY_THE_SHARPENED_RULES[mutant.name]} if mutant.name in SEEN_BY_THE_SHARPENED_RULES
                     else set())


#: The budget within which generated workloads must catch every workload mutant.
MUTANT_BUDGET = 2500
_DRAWN = []


def _load_every_module():
    """Import every module of faultio and harness. Hypothesis mixes constants it finds in the loaded modules of
    the project into what it draws, so without this the drawn cases would depend on which tests ran before in
    the same process (and on every constant a new module adds)."""
    import importlib
    import pkgutil

    import faultio
    import harness

    for package in (faultio, harness):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def drawn_cases():
    """``MUTANT_BUDGET`` seeded (workload, plan) pairs, drawn once for every mutant."""
    if not _DRAWN:
        _load_every_module()
        @settings_for(MUTANT_BUDGET, phases=(Phase.generate,))
        @given(workload=workloads(), plan=PLANS)
        def collect(workload, plan):
            _DRAWN.append((workload, plan))

        collect()
    return _DRAWN


@pytest.mark.parametrize("mutant", WORKLOAD_MUTANTS, ids=lambda m: m.name)
def test_generated_workloads_catch_the_workload_mutant_within_the_budget(mutant):
    target = load_target(mutant.spec)
    for number, (workload, plan) in enumerate(drawn_cases(), 1):
        result = run_workload(workload, plan, target=target)
        if not result.ok:
            break
    else:
        pytest.fail(f"{mutant.name} survived {MUTANT_BUDGET} generated workloads")
    # Say which it took, for whoever tunes the strategies.
    print(f"{mutant.name}: caught by workload #{number}: {result.explain().splitlines()[0]}")


@pytest.mark.parametrize("name", ["long-delimiter-split-missed", "early-write-at-limit"])
def test_a_failing_workload_shrinks_to_a_handful_of_ops_and_replays_from_json(name):
    from hypothesis import find
    from hypothesis import strategies as st

    from faultio import Workload

    (mutant,) = [m for m in WORKLOAD_MUTANTS if m.name == name]
    target = load_target(mutant.spec)
    _load_every_module()  # the same draws whichever tests ran before (see _load_every_module)

    def fails(case):
        return not run_workload(case[0], case[1], target=target).ok

    # Which constants Hypothesis mixes into its draws depends on the modules loaded (test modules included), so
    # where the first failure turns up moves between suites; ``find`` stops at it, and the bound is generous.
    workload, plan = find(st.tuples(workloads(), PLANS), fails, settings=settings_for(4 * MUTANT_BUDGET))
    # A handful: the ops and plan steps the bug needs, and at most a couple more.
    assert len(workload.ops) <= 4 and len(plan.read) + len(plan.write) <= 3
    first = run_workload(workload, plan, target=target)
    again = run_workload(Workload.from_json(workload.dumps()), FaultPlan.from_json(plan.dumps()), target=target)
    assert again.explain() == first.explain() and again.observed == first.observed
    assert again.received == first.received and again.peer_received == first.peer_received


def test_streamed_bytes_are_judged_in_full_past_what_the_monitor_keeps():
    limits = StreamLimits(max_buffer_size=64, read_chunk_size=32)
    ops = (ReadBytesOp(nbytes=9000, streaming=True), ReadUntilCloseOp(streaming=True))
    result = run_workload(Workload(limits=limits, data=bytes(range(256)) * 40, chunks=(5000, 5240), ops=ops))
    assert result.ok, result.explain()
    assert [len(o.delivered) for o in result.observed] == [9000, 1240]
    assert result.observed[1].delivered == (bytes(range(256)) * 40)[9000:]
