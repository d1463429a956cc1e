"""harness._model: the reference model's answers at every limit, worked out by hand (sans-IO)."""

import pytest

from faultio import (
    IdleOp,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    ReadUntilRegexOp,
    StreamBufferFullError,
    StreamClosedError,
    StreamLimits,
    UnsatisfiableReadError,
    WriteOp,
)
from harness._model import EITHER, FAIL, OK, Model, Observed

LIMITS = StreamLimits(max_buffer_size=10, read_chunk_size=4, max_write_buffer_size=8)


def answer(op, received, ending="eof", limits=LIMITS):
    want = Model(limits, received, ending).expect(op)
    return want.outcome, want.lengths, want.error


@pytest.mark.parametrize("line, outcome, error", [
    (b"aaa\n", OK, None),                          # ends one byte before max_bytes=5
    (b"aaaa\n", OK, None),                         # ends exactly at max_bytes
    (b"aaaaa\n", FAIL, UnsatisfiableReadError),    # one byte past it
    (b"aaaaaaaaaaaaa\n", FAIL, UnsatisfiableReadError),  # far past it
])
def test_read_until_max_bytes_is_inclusive(line, outcome, error):
    got = answer(ReadUntilOp(delimiter=b"\n", max_bytes=5), line)
    assert got[0] == outcome and got[2] is error
    if outcome == OK:
        assert got[1] == (len(line), len(line))


def test_read_until_without_the_delimiter_and_short_of_max_bytes_fails_at_the_end():
    assert answer(ReadUntilOp(delimiter=b"\n", max_bytes=5), b"aaaa") == (FAIL, (0, 0), None)
    assert answer(ReadUntilOp(delimiter=b"\n", max_bytes=5), b"aaaa", "reset") == (FAIL, (0, 0), ConnectionResetError)


def test_holding_max_bytes_without_a_delimiter_settles_read_until_but_not_a_regex():
    # Five bytes and EOF: the delimiter cannot end within 5; a regex match might still depend on byte 6.
    assert answer(ReadUntilOp(delimiter=b"\n", max_bytes=5), b"aaaaa")[2] is UnsatisfiableReadError
    assert answer(ReadUntilRegexOp(pattern=b"\n", max_bytes=5), b"aaaaa")[2] is None
    assert answer(ReadUntilRegexOp(pattern=b"\n", max_bytes=5), b"aaaaaa")[2] is UnsatisfiableReadError


@pytest.mark.parametrize("length, outcome, error", [
    (9, OK, None), (10, OK, None), (11, FAIL, StreamBufferFullError),
])
def test_a_line_fits_when_it_ends_at_max_buffer_size(length, outcome, error):
    line = b"a" * (length - 1) + b"\n"
    got = answer(ReadUntilOp(delimiter=b"\n"), line + b"more")
    assert got[0] == outcome and got[2] is error


def test_a_line_of_max_buffer_size_then_eof_is_not_an_overflow():
    assert answer(ReadUntilOp(delimiter=b"\n"), b"a" * 10) == (FAIL, (0, 0), None)
    assert answer(ReadUntilOp(delimiter=b"\n"), b"a" * 11)[2] is StreamBufferFullError


@pytest.mark.parametrize("nbytes, outcome, error", [
    (0, OK, None), (10, OK, None), (11, FAIL, StreamBufferFullError),
])
def test_read_bytes_up_to_max_buffer_size(nbytes, outcome, error):
    got = answer(ReadBytesOp(nbytes=nbytes), b"x" * 30)
    assert got[0] == outcome and got[2] is error


def test_streaming_read_bytes_is_not_bounded_by_the_buffer_and_streams_what_came_before_failing():
    assert answer(ReadBytesOp(nbytes=25, streaming=True), b"x" * 30) == (OK, (25, 25), None)
    assert answer(ReadBytesOp(nbytes=25, streaming=True), b"x" * 7, "reset") == (FAIL, (7, 7), ConnectionResetError)


def test_partial_reads_return_some_of_what_arrived():
    assert answer(ReadBytesOp(nbytes=6, partial=True), b"x" * 30) == (OK, (1, 6), None)
    assert answer(ReadBytesOp(nbytes=60, partial=True), b"x" * 30) == (OK, (1, 10), None)
    assert answer(ReadBytesOp(nbytes=6, partial=True), b"") == (FAIL, (0, 0), None)


def test_read_until_close_gets_everything_on_any_end_but_an_overflow():
    assert answer(ReadUntilCloseOp(), b"x" * 10, "reset") == (OK, (10, 10), None)
    assert answer(ReadUntilCloseOp(), b"x" * 11)[2] is StreamBufferFullError
    assert answer(ReadUntilCloseOp(streaming=True), b"x" * 50) == (OK, (50, 50), None)


def test_writes_past_the_write_buffer_limit_raise_and_empty_ones_complete():
    model = Model(LIMITS, b"", "eof")
    assert model.expect(WriteOp(nbytes=0)).outcome == OK
    assert model.expect(WriteOp(nbytes=8)).raises is None
    assert model.expect(WriteOp(nbytes=9)).raises is StreamBufferFullError


def test_after_an_end_later_reads_are_served_from_what_was_received_then_refused():
    model = Model(LIMITS, b"ab\ncd", "reset")
    ops = [ReadUntilOp(delimiter=b"\n"), ReadBytesOp(nbytes=4), ReadBytesOp(nbytes=2), ReadBytesOp(nbytes=1),
           WriteOp(nbytes=1)]
    assert model.check(ops[0], Observed(b"ab\n")) is None
    model.advance(ops[0], Observed(b"ab\n"))
    assert model.check(ops[1], Observed(b"", failed=True, real_error=ConnectionResetError())) is None
    model.advance(ops[1], Observed(b"", failed=True, real_error=ConnectionResetError()))
    assert model.expect(ops[2]).outcome == OK and model.expect(ops[2]).lengths == (2, 2)
    model.advance(ops[2], Observed(b"cd"))
    assert model.expect(ops[3]).error is ConnectionResetError and model.expect(ops[3]).outcome == FAIL
    model.advance(ops[3], Observed(b"", failed=True))
    assert model.expect(ops[4]).raises is StreamClosedError


def test_after_an_unsatisfiable_read_what_the_stream_read_ahead_is_either_served_or_not():
    model = Model(LIMITS, b"aaaaaa\n" + b"b" * 20, "eof")
    op = ReadUntilOp(delimiter=b"\n", max_bytes=4)
    assert model.expect(op).error is UnsatisfiableReadError
    model.advance(op, Observed(b"", failed=True, real_error=UnsatisfiableReadError()))
    assert model.expect(ReadBytesOp(nbytes=4)).outcome == OK          # it held at least max_bytes
    assert model.expect(ReadBytesOp(nbytes=7)).outcome == EITHER      # it may have read up to the buffer's size
    assert model.expect(ReadBytesOp(nbytes=11)).outcome == FAIL       # never more than max_buffer_size
    assert model.expect(ReadBytesOp(nbytes=11)).error is UnsatisfiableReadError


def test_the_model_names_what_the_stream_got_wrong():
    model = Model(LIMITS, b"hello\n", "eof")
    op = ReadUntilOp(delimiter=b"\n")
    assert "failed" in model.check(op, Observed(b"", failed=True))
    assert "next bytes received" in model.check(op, Observed(b"hellx\n"))
    assert "never completed" in model.check(op, Observed(b"", pending=True))
    assert model.check(IdleOp(), Observed(b"")) is None
    assert "completed" in Model(LIMITS, b"", "eof").check(WriteOp(nbytes=9), Observed(b""))


# --- sequences: the application's close, the peer's end before an op ---------------------------------


def test_after_the_application_closes_reads_are_served_from_what_it_read_ahead_or_fail_with_no_error():
    from faultio import CloseOp

    model = Model(LIMITS, b"abcdefghijklmnop", "reset")
    model.advance(ReadBytesOp(nbytes=2), Observed(b"ab"))
    model.advance(CloseOp(), Observed(b""))
    # It may have read ahead anything up to max_buffer_size=10 bytes past what it delivered.
    assert (model.closed, model.error, model.held) == (True, None, (2, 12))
    assert model.expect(ReadBytesOp(nbytes=3)).outcome == EITHER
    assert model.check(ReadBytesOp(nbytes=3), Observed(b"cde")) is None
    assert model.check(ReadBytesOp(nbytes=3), Observed(b"", failed=True, real_error=None)) is None
    assert "real_error=None" in model.check(ReadBytesOp(nbytes=3),
                                            Observed(b"", failed=True, real_error=ConnectionResetError()))
    assert model.expect(ReadBytesOp(nbytes=11)).outcome == FAIL
    assert model.expect(WriteOp(nbytes=1)).raises is StreamClosedError


def test_a_write_after_the_peer_ended_may_complete_or_fail_and_then_the_error_may_be_the_writes():
    model = Model(LIMITS, b"abcdef", "eof")
    model.advance(ReadBytesOp(nbytes=2), Observed(b"ab"))
    model.peer_ended()
    write = WriteOp(nbytes=4)
    assert model.expect(write).outcome == EITHER
    assert model.check(write, Observed(b"")) is None
    assert model.check(write, Observed(b"", raised=StreamClosedError())) is None
    assert "only StreamClosedError" in model.check(write, Observed(b"", raised=ValueError("no")))
    model.advance(write, Observed(b"", failed=True, real_error=BrokenPipeError()))
    assert model.closed and not model.written
    assert model.check(ReadBytesOp(nbytes=9), Observed(b"", failed=True, real_error=BrokenPipeError())) is None


def test_the_ops_that_neither_read_nor_write_expect_nothing():
    from faultio import PeerEndOp, SetCloseCallbackOp

    model = Model(LIMITS, b"abc", "eof")
    for op in (PeerEndOp(), SetCloseCallbackOp(), IdleOp(seconds=3600.0)):
        assert model.check(op, Observed(b"")) is None
        model.advance(op, Observed(b""))
    assert model.pos == 0 and not model.closed
