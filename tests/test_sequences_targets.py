"""Sequences on targets whose API lacks calls or styles (Tornado 6, asyncio streams), on the simulated asyncio loop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from faultio import FaultPlan, Sequence, StreamLimits, Workload
from faultio._plan import SendWouldBlock
from faultio._workload import CloseOp, PeerEndOp, ReadBytesOp, ReadUntilCloseOp, ReadUntilOp, ReadUntilRegexOp, WriteOp
from faultio.strategies import sequences
from harness._sequences import BATCH, run_sequence_case, run_sequences, sequence_api, sequence_case
from harness._targets import load_target

pytest.importorskip("tornado")

LIMITS = StreamLimits(max_buffer_size=64, read_chunk_size=16, max_write_buffer_size=None)


def _run(spec, ops, data, chunks, ending="eof", styles=None, plan=None, limits=LIMITS):
    seq = Sequence(workload=Workload(limits=limits, data=data, chunks=chunks, ops=ops, ending=ending),
                   styles=styles or ("future",) * len(ops), plan=plan or FaultPlan(name="generated"))
    target = load_target(spec)
    return run_sequence_case(sequence_case(seq, seed=0, index=0, profile=target.default_profile), target)


def test_what_a_sequence_may_call_comes_from_the_targets_lacks():
    all_calls, both = sequence_api(load_target("faultio"))
    assert both == ("future", "callback") and "read_bytes_streaming" in all_calls
    calls, styles = sequence_api(load_target("tornado"))
    assert styles == ("future",) and "read_bytes_streaming" not in calls and "read_until_regex" in calls
    calls, styles = sequence_api(load_target("asyncio-streams"))
    assert styles == ("future",)
    assert set(all_calls) - set(calls) == {"read_bytes_streaming", "read_until_max_bytes", "read_until_regex"}


@settings(max_examples=60, database=None, deadline=None)
@given(seq=sequences(calls=("read_bytes", "read_until", "read_until_close", "write"), styles=("future",)))
def test_sequences_draw_only_the_calls_and_styles_given(seq):
    for op, style in zip(seq.ops, seq.styles):
        assert style == "future"
        assert not isinstance(op, ReadUntilRegexOp)
        assert not (isinstance(op, ReadUntilOp) and op.max_bytes is not None)
        assert not (isinstance(op, (ReadBytesOp, ReadUntilCloseOp)) and op.streaming)
        assert not (isinstance(op, ReadBytesOp) and op.partial)


def test_sequences_refuse_an_unknown_call():
    from hypothesis.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="choose from"):
        sequences(calls=("read_line",)).example()


@pytest.mark.parametrize("spec", ["tornado", "asyncio-streams"])
def test_a_plain_sequence_passes_on_each_target(spec):
    ops = (ReadUntilOp(delimiter=b"\n"), WriteOp(nbytes=5), ReadBytesOp(nbytes=4), ReadUntilCloseOp())
    result = _run(spec, ops, b"hello\nabcdtail", (3, 5, 6))
    assert result.outcome == "pass", [v.message for v in result.violations]


def test_asyncio_streams_stay_open_for_writes_after_the_peers_eof():
    # A read fails at the EOF; the half-closed stream still writes (faultio_closes_at_eof = False).
    ops = (ReadBytesOp(nbytes=10), WriteOp(nbytes=3))
    result = _run("asyncio-streams", ops, b"abc", (3,))
    assert result.outcome == "pass", [v.message for v in result.violations]
    # faultio's own stream closes there, and a write after it is refused: the model says so for it.
    assert _run("faultio", ops, b"abc", (3,)).outcome == "pass"


def test_tornado_keeps_a_failed_regex_reads_state_and_a_later_read_raises_it():
    ops = (ReadUntilRegexOp(pattern=b"\n", max_bytes=2), ReadBytesOp(nbytes=4))
    # The regex read fails on 3 bytes (more than max_bytes); 3 stay buffered, fewer than read_bytes needs.
    result = _run("tornado", ops, b"aaa", (3,))
    assert "max-bytes" in result.slugs and "model-contract" in result.slugs


def test_asyncio_streams_flush_a_completed_write_before_the_peer_ends():
    # drain() returned with the byte still buffered (two EAGAINs on send): the peer reads it before it ends.
    ops = (WriteOp(nbytes=1), ReadBytesOp(nbytes=4), PeerEndOp())
    plan = FaultPlan(name="generated", write=(SendWouldBlock(count=2),))
    result = _run("asyncio-streams", ops, b"abcd", (4,), plan=plan)
    assert result.outcome == "pass", [v.message for v in result.violations]


def test_tornado_refuses_every_read_after_one_fails_on_the_closed_stream():
    limits = StreamLimits(max_buffer_size=8, read_chunk_size=4, max_write_buffer_size=None)
    ops = (ReadBytesOp(nbytes=1, partial=True), CloseOp(), ReadUntilOp(delimiter=b"\n"),
           ReadBytesOp(nbytes=1, partial=True))
    result = _run("tornado", ops, b"aaaaaaa\n", (7, 1), limits=limits)
    assert "reads-after-close" in result.slugs


def test_asyncio_streams_refuse_buffered_bytes_after_a_reset():
    ops = (ReadBytesOp(nbytes=1, partial=True), PeerEndOp(), ReadBytesOp(nbytes=1, partial=True))
    result = _run("asyncio-streams", ops, b"aa", (2,), ending="reset")
    assert "reads-after-close" in result.slugs


@pytest.mark.parametrize("spec", ["tornado", "asyncio-streams"])
def test_generated_sequences_run_on_each_target(spec):
    calls, _ = sequence_api(load_target(spec))
    results = run_sequences(10, seed=1, target_spec=spec, shrink_calls=10)
    assert results and all(r.case.sequence is not None and not r.error for r in results)
    for r in results:
        assert set(r.case.sequence.styles) == {"future"}
        assert all(not getattr(op, "streaming", False) for op in r.case.sequence.ops)
    assert any(r.outcome == "pass" for r in results)


def test_asyncio_streams_sequences_are_the_same_for_any_jobs():
    def key(results):
        return [(r.case.id, r.outcome, r.slugs, r.case.sequence.dumps()) for r in results]

    one = run_sequences(BATCH + 5, seed=4, target_spec="asyncio-streams", jobs=1, shrink_calls=10)
    two = run_sequences(BATCH + 5, seed=4, target_spec="asyncio-streams", jobs=2, shrink_calls=10)
    assert key(one) == key(two) and len(one) >= 2
