"""faultio._workload: workload values validate, describe themselves and round-trip through JSON."""

import pytest
from hypothesis import HealthCheck, given, settings

from faultio import (
    IdleOp,
    PlanError,
    ReadBytesOp,
    ReadUntilOp,
    ReadUntilRegexOp,
    StreamLimits,
    Workload,
    WriteOp,
    write_payload,
)
from faultio.strategies import workloads

LIMITS = StreamLimits(max_buffer_size=16, read_chunk_size=8)


@settings(max_examples=100, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(workload=workloads())
def test_workloads_round_trip_through_json(workload):
    assert Workload.from_json(workload.to_json()) == workload
    assert Workload.from_json(workload.dumps()) == workload


@pytest.mark.parametrize("make", [
    lambda: StreamLimits(max_buffer_size=0, read_chunk_size=1),
    lambda: ReadBytesOp(nbytes=-1),
    lambda: ReadBytesOp(nbytes=3, partial=True, streaming=True),
    lambda: ReadUntilOp(delimiter=b""),
    lambda: ReadUntilOp(delimiter=b"\\n", max_bytes=0),
    lambda: ReadUntilRegexOp(pattern=b"("),
    lambda: WriteOp(nbytes=-3),
    lambda: IdleOp(seconds=0),
    lambda: Workload(limits=LIMITS, data=b"abc", chunks=(1, 1), ops=()),
    lambda: Workload(limits=LIMITS, data=b"", chunks=(), ops=(), ending="hang"),
    lambda: Workload(limits=LIMITS, data=b"", chunks=(), ops=("read",)),
    lambda: Workload.from_json('{"format": "faultio-workload/1", "ops": []}'),
    lambda: Workload.from_json("not json"),
])
def test_bad_values_are_refused_with_a_plan_error(make):
    with pytest.raises(PlanError):
        make()


def test_a_workload_cuts_its_data_into_the_peers_sends_and_describes_itself():
    workload = Workload(limits=LIMITS, data=b"abcdef", chunks=(2, 4), ops=(ReadUntilOp(delimiter=b"f"),))
    assert workload.pieces() == [b"ab", b"cdef"]
    assert "read_until(delimiter=b'f')" in workload.describe() and "[2, 4]" in workload.describe()


def test_write_payloads_differ_per_op_and_have_the_asked_size():
    assert write_payload(1, 7) == b"w1.w1.w" and len(write_payload(12, 100)) == 100 and write_payload(3, 0) == b""
