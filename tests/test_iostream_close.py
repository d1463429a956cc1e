"""Closing: callback ordering, errors carried by StreamClosedError, the error listener."""

import errno
import logging

import pytest
from _streams import (
    ERROR,
    MODES,
    READ,
    STYLES,
    no_records,
    start,
)

from faultio import (
    FaultPlan,
    Pass,
    Reset,
    SendWouldBlock,
    StreamClosedError,
)

# -- closing: ordering, errors, the error listener ---------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_data_callbacks_run_before_the_close_callback(world, mode):
    w = world(mode=mode)
    log = []
    w.stream.set_close_callback(lambda: log.append(("close", None)))
    w.stream.read_bytes(3, callback=lambda d: log.append(("read", d)))
    w.feed(b"abc")
    w.stream.read_until_close(
        callback=lambda d: log.append(("until_close", d)),
        streaming_callback=lambda d: log.append(("chunk", d)),
    )
    w.feed(b"defg")
    w.peer.close()
    w.run()
    assert log[0] == ("read", b"abc")
    assert log[-1] == ("close", None)
    assert log[-2] == ("until_close", b"")
    assert b"".join(d for kind, d in log if kind == "chunk") == b"defg"


def test_data_arriving_together_with_eof_completes_the_read_before_the_close_callback(world):
    w = world()
    log = []
    w.stream.set_close_callback(lambda: log.append("close"))
    w.stream.read_bytes(5, callback=lambda d: log.append(d))
    w.peer.send(b"12345")
    w.peer.close()
    w.run()
    assert log == [b"12345", "close"]


@pytest.mark.parametrize("style", STYLES)
def test_bytes_that_arrived_before_a_reset_still_complete_the_read(world, style):
    w = world(FaultPlan(read=(Pass(nbytes=3), Reset())))
    out = start(w.stream, style, "read_bytes", 3)
    w.peer.send(b"abcdef")
    w.run()
    assert out.result == b"abc"
    assert w.stream.closed()
    assert isinstance(w.stream.error, ConnectionResetError)


def test_read_pending_at_reset_fails_quietly_with_stream_closed_error_carrying_the_reset(world, caplog):
    caplog.set_level(logging.DEBUG, logger="faultio")
    w = world(FaultPlan(read=(Pass(nbytes=3), Reset())))
    closed = []
    w.stream.set_close_callback(lambda: closed.append(w.stream.error))
    out = start(w.stream, "future", "read_bytes", 10)
    w.peer.send(b"abcdef")
    w.run()
    assert isinstance(out.error, StreamClosedError)
    assert isinstance(out.error.real_error, ConnectionResetError)
    assert out.error.real_error is w.stream.error
    assert closed == [w.stream.error]
    assert no_records(caplog, logging.WARNING) == []


def test_close_callback_runs_exactly_once_after_eof(world):
    w = world()
    calls = []
    w.stream.set_close_callback(lambda: calls.append(True))
    w.run()
    w.peer.close()
    w.run()
    w.stream.close()
    w.run()
    assert calls == [True]
    assert w.target.close_calls == 1


@pytest.mark.parametrize("inline", [True, False], ids=["inline-read", "event-read"])
def test_unexpected_exception_from_the_fd_closes_the_stream_and_balances_the_pending_counter(
    world, caplog, inline
):
    w = world()
    boom = ValueError("not an OSError")

    def broken():
        raise boom

    if not inline:
        out = start(w.stream, "future", "read_bytes", 2)
        w.stream.read_from_fd = broken
        w.feed(b"ab")
    else:
        w.stream.read_from_fd = broken
        with pytest.raises(ValueError):
            w.stream.read_bytes(2)
    assert w.stream.closed() and w.stream.error is boom
    assert w.stream._pending_callbacks == 0
    if not inline:
        assert out.error.real_error is boom
    assert w.stream.read_bytes(0).result() == b""  # not stuck "Already reading"


def test_close_with_an_exc_info_tuple_records_its_exception(world):
    w = world()
    error = OSError(errno.EIO, "io")
    out = start(w.stream, "future", "read_bytes", 1)
    w.stream.close(exc_info=(OSError, error, None))
    assert w.stream.error is error
    assert out.error.real_error is error


def test_user_close_fails_pending_read_and_write_futures_with_real_error_none(world):
    w = world(FaultPlan(write=(SendWouldBlock(count=5),)))
    read = start(w.stream, "future", "read_bytes", 4)
    write = start(w.stream, "future", "write", b"stuck")
    w.stream.close()
    assert isinstance(read.error, StreamClosedError) and read.error.real_error is None
    assert isinstance(write.error, StreamClosedError) and write.error.real_error is None
    assert w.stream.error is None


def test_error_event_sets_error_and_closes_on_a_later_iteration(world):
    w = world()
    first = start(w.stream, "future", "read_bytes", 2)
    w.feed(b"abcd")
    assert first.result == b"ab"
    assert w.loop.handler_mask(w.fd) == ERROR  # two bytes buffered, no read: only ERROR
    w.peer.reset()
    w.loop.run_once()  # the handler sees ERROR
    assert isinstance(w.stream.error, ConnectionResetError)
    assert not w.stream.closed()
    w.loop.run_once()  # the queued close runs
    assert w.stream.closed()
    w.run()
    rest = start(w.stream, "future", "read_bytes", 2)
    assert rest.result == b"cd"  # data that arrived before the reset is still there


def test_exception_in_a_read_callback_is_logged_and_closes_the_stream(world, caplog):
    w = world()
    w.expect_uncaught = True
    boom = ValueError("boom")

    def bad(data):
        raise boom

    w.stream.read_bytes(1, callback=bad)
    w.feed(b"x")
    assert w.stream.closed()
    assert w.stream.error is boom
    assert w.loop.uncaught == [boom]
    assert any(r.name == "faultio.application" and r.levelno == logging.ERROR for r in caplog.records)


def test_idle_stream_with_close_callback_listens_for_read_and_notices_eof(world):
    w = world()
    closed = []
    w.stream.set_close_callback(lambda: closed.append(True))
    assert w.loop.handler_mask(w.fd) == READ | ERROR
    w.peer.close()
    w.run()
    assert closed == [True]
    assert w.loop.handler_mask(w.fd) is None


def test_stream_with_buffered_data_and_no_read_stops_listening_for_read(world):
    w = world()
    w.stream.set_close_callback(lambda: None)
    out = start(w.stream, "future", "read_bytes", 1)
    w.feed(b"abc")
    assert out.result == b"a"
    assert w.loop.handler_mask(w.fd) == ERROR
    calls = w.target.recv_calls
    w.feed(b"more")
    assert w.target.recv_calls == calls  # flow control: nobody asked, nothing read
