"""harness/engine/checkers/timed_writes.py: write-timeout-keeps-bytes holds for the writes in order and fails,
saying how, for bytes lost on an open stream, duplicated or reordered."""

import pytest

from faultio import FaultPlan
from harness._case import Case
from harness._runner import derive_seed, run_case
from harness._targets import load_target
from harness._write_deadline import WriteLog
from harness.engine import INVARIANTS
from harness.engine.checkers.timed_writes import WriteTimeoutKeepsBytes

SLUG = "write-timeout-keeps-bytes"
WRITES = (b"a" * 10, b"b" * 20, bytes(range(40)), b"d" * 5)
ALL = b"".join(WRITES)


class FakeMonitor:
    def __init__(self, log):
        self.write_log = log
        self.violations = {}

    def violate(self, slug, message, event=-1):
        self.violations[slug] = message


def judge(received, *, timed_out=(1,), closed_itself=False, cut=False, peer_read=True):
    monitor = FakeMonitor(WriteLog(writes=WRITES, received=received, timed_out=timed_out,
                                   closed_itself=closed_itself, cut=cut, peer_read=peer_read))
    WriteTimeoutKeepsBytes(monitor).on_finish()
    return monitor.violations.get(SLUG)


def test_it_is_a_time_contract():
    assert INVARIANTS[SLUG].klass == "contract" and INVARIANTS[SLUG].group == "time"


def test_every_byte_in_order_holds():
    assert judge(ALL) is None


def test_a_case_without_a_write_log_is_not_judged():
    monitor = FakeMonitor(None)
    WriteTimeoutKeepsBytes(monitor).on_finish()
    assert monitor.violations == {}


def test_a_prefix_on_an_open_stream_is_a_violation_naming_where_it_stopped():
    message = judge(ALL[:30])
    assert "stayed open" in message and "at a write boundary" in message and "write #2" in message
    assert "#1" in message  # the write that timed out
    assert "inside write #2" in judge(ALL[:35])


@pytest.mark.parametrize("how", [{"closed_itself": True}, {"cut": True}, {"peer_read": False}])
def test_a_prefix_is_accepted_where_the_connection_ended_or_the_peer_could_not_read(how):
    assert judge(ALL[:30], **how) is None
    assert judge(ALL[:35], **how) is None


def test_duplicated_bytes_are_a_violation_even_on_a_closed_stream():
    message = judge(ALL[:30] + WRITES[1] + WRITES[2], closed_itself=True)
    assert "duplicated" in message and "write #1" in message


def test_a_later_write_before_an_earlier_one_is_a_violation():
    message = judge(WRITES[0] + WRITES[2] + WRITES[1] + WRITES[3])
    assert "write #1 belongs" in message and "write #2" in message and "overtook" in message


def test_more_bytes_than_written_is_a_violation():
    assert "more than were written" in judge(ALL + b"x")


def test_the_mutant_that_drops_queued_bytes_on_a_timeout_is_caught():
    case = Case(operation="write_deadline", style="future", fault="dribble", transport="plain", plan=FaultPlan(),
                seed=derive_seed(0, "write_deadline", "future", "dribble", "plain"))
    result = run_case(case, load_target("harness._time_mutants:WriteTimeoutDropsQueued"))
    assert SLUG in result.slugs, result.violations
    # The correct stream passes the same case.
    assert run_case(case).outcome == "pass"
