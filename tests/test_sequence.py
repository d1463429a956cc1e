"""faultio._sequence and strategies.sequences(): a sequence is one value (ops, styles, plan) that round-trips."""

import pytest
from hypothesis import HealthCheck, given, settings

from faultio import (
    CloseOp,
    Eintr,
    FaultPlan,
    IdleOp,
    PeerEndOp,
    PlanError,
    ReadBytesOp,
    Sequence,
    SetCloseCallbackOp,
    StreamLimits,
    Workload,
    WriteOp,
)
from faultio.strategies import sequences

LIMITS = StreamLimits(max_buffer_size=16, read_chunk_size=8)
OPS = (ReadBytesOp(nbytes=3), SetCloseCallbackOp(), IdleOp(seconds=3600.0), WriteOp(nbytes=2), CloseOp(),
       PeerEndOp(), ReadBytesOp(nbytes=1))


def a_sequence(**changes):
    fields = dict(workload=Workload(limits=LIMITS, data=b"abcdef", chunks=(2, 4), ops=OPS),
                  styles=("callback",) + ("future",) * 6, plan=FaultPlan(read=(Eintr(),)))
    fields.update(changes)
    return Sequence(**fields)


@settings(max_examples=100, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(seq=sequences())
def test_drawn_sequences_round_trip_through_json_with_one_style_per_op(seq):
    assert Sequence.from_json(seq.to_json()) == seq and Sequence.from_json(seq.dumps()) == seq
    assert len(seq.styles) == len(seq.ops) >= 1 and seq.size >= len(seq.ops)


def test_a_sequence_describes_its_ops_with_the_style_of_each_read_and_its_plan():
    seq = a_sequence()
    text = seq.describe()
    assert "read_bytes(nbytes=3)[callback]" in text and "close()" in text and "peer_end()" in text
    assert "idle(seconds=3600.0)" in text and "set_close_callback()" in text and "eintr()" in text
    assert seq.size == 8 and Sequence.from_json(seq.dumps()) == seq


@pytest.mark.parametrize("make", [
    lambda: a_sequence(styles=("future",)),
    lambda: a_sequence(styles=("sideways",) * 7),
    lambda: a_sequence(plan="eintr"),
    lambda: Sequence.from_json('{"format": "faultio-sequence/1", "styles": []}'),
    lambda: Sequence.from_json("[1, 2]"),
    lambda: Sequence.from_json("not json"),
])
def test_bad_sequences_are_refused_with_a_plan_error_that_says_what_is_wrong(make):
    with pytest.raises(PlanError, match="sequence|Sequence"):
        make()


def test_sequences_refuses_bad_arguments():
    from hypothesis.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        sequences(endings=("hang",)).example()
