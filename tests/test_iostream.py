import ast
import errno
import logging
import pathlib
import re
import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultio import (
    Chunk,
    Dribble,
    Eintr,
    FaultPlan,
    Flood,
    IOLoop,
    Pass,
    Reset,
    SendBrokenPipe,
    SendEintr,
    SendPartial,
    SendReset,
    SendWouldBlock,
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
    WouldBlock,
    plan_for_kind,
    socketpair,
)
from faultio._iostream import BaseIOStream, IOStream
from faultio._peer import Peer
from faultio._seed import REPLY, SEED_MESSAGE_COUNT, handle_connection, run_client, seed_inbound_size

READ, WRITE, ERROR = IOLoop.READ, IOLoop.WRITE, IOLoop.ERROR
ROOT = pathlib.Path(__file__).resolve().parents[1]

MODES = ["bytewise", "bulk"]
STYLES = ["future", "callback"]


# -- helpers ----------------------------------------------------------------------------------------


class World:
    """A loop, an ``IOStream`` over the target end of a fake socket pair, and the peer end.

    An observer checks the stream's bookkeeping after every loop step: the pending-callback counter is
    never negative (and 0 at quiescence), the registered mask is ``_state`` (with ERROR) or nothing,
    and an open stream's buffer never exceeds ``max_buffer_size``.
    """

    def __init__(self, plan=None, mode="bulk", **stream_kw):
        self.mode = mode
        if mode == "bytewise":
            dribble = FaultPlan(read=(Dribble(),))
            plan = dribble if plan is None else plan.then(dribble)
        self.loop = IOLoop()
        self.target, self.peer = socketpair(self.loop, plan)
        self.fd = self.target.fd
        self.stream = IOStream(self.target, io_loop=self.loop, **stream_kw)
        self.problems = []
        self.expect_uncaught = False
        self.loop.add_observer(self._observe)

    def _observe(self, loop, what):
        s = self.stream
        if s._pending_callbacks < 0:
            self.problems.append(f"step {loop.step}: _pending_callbacks = {s._pending_callbacks}")
        if what == "quiescent" and s._pending_callbacks != 0:
            self.problems.append(f"quiescent with _pending_callbacks = {s._pending_callbacks}")
        mask = loop.handler_mask(self.fd)
        expected = None if s._state is None else s._state | ERROR
        if mask != expected:
            self.problems.append(f"step {loop.step}: registered {mask!r} but _state is {s._state!r}")
        if s._state is not None and not s._state & ERROR:
            self.problems.append(f"step {loop.step}: _state {s._state!r} lacks ERROR")
        if not s.closed() and s._read_buffer_size > s.max_buffer_size:
            self.problems.append(f"step {loop.step}: buffer {s._read_buffer_size} > {s.max_buffer_size}")

    def run(self):
        self.loop.run_until_quiescent()

    def feed(self, data):
        """Deliver ``data`` from the peer: all at once, or one byte per loop iteration."""
        if self.mode == "bulk":
            self.peer.send(data)
            self.run()
        else:
            for i in range(len(data)):
                if self.stream.closed():
                    break  # the peer would now get EPIPE; the test is about what happened so far
                self.peer.send(data[i : i + 1])
                self.run()

    def verify(self):
        assert self.problems == []
        assert self.stream._pending_callbacks >= 0
        if self.loop.is_quiescent():
            assert self.stream._pending_callbacks == 0
        if not self.expect_uncaught:
            assert self.loop.uncaught == []


@pytest.fixture
def world():
    made = []

    def make(plan=None, mode="bulk", **stream_kw):
        w = World(plan, mode, **stream_kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.verify()
    IOLoop.clear_current()


class Outcome:
    """How one operation completed, whichever style started it."""

    def __init__(self, log=None, name="read"):
        self.results = []
        self.errors = []
        self.log = log
        self.name = name

    def on_result(self, value=None):
        self.results.append(value)
        if self.log is not None:
            self.log.append((self.name, value))

    def on_future(self, future):
        error = future.exception()
        if error is None:
            self.on_result(future.result())
        else:
            self.errors.append(error)
            if self.log is not None:
                self.log.append((self.name + "-failed", type(error).__name__))

    @property
    def result(self):
        assert len(self.results) == 1 and not self.errors, (self.results, self.errors)
        return self.results[0]

    @property
    def error(self):
        assert len(self.errors) == 1 and not self.results, (self.results, self.errors)
        return self.errors[0]

    @property
    def pending(self):
        return not self.results and not self.errors


def start(stream, style, method, *args, log=None, **kwargs):
    """Call ``stream.<method>(*args, **kwargs)`` in callback or future style; return an ``Outcome``."""
    out = Outcome(log, method)
    if style == "callback":
        returned = getattr(stream, method)(*args, callback=out.on_result, **kwargs)
        assert returned is None
    else:
        future = getattr(stream, method)(*args, **kwargs)
        future.add_done_callback(out.on_future)
    return out


def no_records(caplog, level=logging.DEBUG):
    return [r for r in caplog.records if r.name.startswith("faultio.") and r.levelno >= level]


# -- every read path, byte-at-a-time and all-at-once, callback and future ---------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_bytes_delivers_exactly_n_bytes_and_keeps_the_rest_buffered(world, mode, style):
    w = world(mode=mode)
    out = start(w.stream, style, "read_bytes", 10)
    w.feed(b"0123456789abcdef")
    assert out.result == b"0123456789"
    # Bulk: the rest arrived with the first ten. Bytewise: an idle stream reads one byte (to notice
    # EOF) and then stops listening until asked.
    assert w.stream._read_buffer_size == (6 if mode == "bulk" else 1)
    rest = start(w.stream, style, "read_bytes", 6)
    w.run()
    assert rest.result == b"abcdef"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_bytes_partial_delivers_what_has_arrived_but_never_more_than_asked(world, mode, style):
    w = world(mode=mode)
    out = start(w.stream, style, "read_bytes", 100, partial=True)
    w.feed(b"abcdef")
    # Bytewise, the read completes with the first byte that arrives; bulk, with all six.
    assert out.result == (b"a" if mode == "bytewise" else b"abcdef")
    capped = start(w.stream, style, "read_bytes", 2, partial=True)
    w.feed(b"xyz")
    assert capped.result == (b"b" if mode == "bytewise" else b"xy")


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_bytes_with_streaming_callback_streams_every_byte_and_ends_empty(world, mode, style):
    w = world(mode=mode)
    log = []
    chunks = []

    def stream_cb(data):
        chunks.append(data)
        log.append(("chunk", data))

    out = start(w.stream, style, "read_bytes", 8, streaming_callback=stream_cb, log=log)
    w.feed(b"01234567tail")
    assert b"".join(chunks) == b"01234567"
    assert out.result == b""
    assert log[-1] == ("read_bytes", b"")  # the final result comes after every chunk, in both styles
    if mode == "bytewise":
        assert len(chunks) == 8
    tail = start(w.stream, style, "read_bytes", 4)
    w.run()
    assert tail.result == b"tail"  # the streaming read took its 8 bytes and not one more


def test_a_coroutine_awaiting_a_streaming_read_resumes_after_every_chunk_was_delivered(world):
    w = world(FaultPlan(read=(Chunk(max_bytes=3), Chunk(max_bytes=3))))
    log = []

    async def reader():
        result = await w.stream.read_bytes(8, streaming_callback=lambda d: log.append(d))
        log.append(("done", result))

    w.loop.spawn(reader)
    w.feed(b"0123456789")
    assert log == [b"012", b"345", b"67", ("done", b"")]


def test_a_coroutine_continuing_past_an_inline_streaming_read_sees_its_chunks_first(world):
    w = world()
    start(w.stream, "future", "read_bytes", 1)
    w.feed(b"_abcdef")  # buffered, so the next reads complete inline
    log = []

    async def reader():
        await w.stream.read_bytes(3, streaming_callback=lambda d: log.append(("chunk", d)))
        log.append(("next", await w.stream.read_bytes(3)))

    w.loop.spawn(reader)
    w.run()
    assert log == [("chunk", b"abc"), ("next", b"def")]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_includes_the_delimiter_and_leaves_the_rest(world, mode, style):
    w = world(mode=mode)
    first = start(w.stream, style, "read_until", b"\r\n")
    w.feed(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    assert first.result == b"GET / HTTP/1.0\r\n"
    second = start(w.stream, style, "read_until", b"\r\n\r\n")
    w.run()
    assert second.result == b"Host: x\r\n\r\n"
    assert w.stream._read_buffer_size == 0


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_within_max_bytes_succeeds_at_the_limit(world, mode, style):
    w = world(mode=mode)
    out = start(w.stream, style, "read_until", b";", max_bytes=6)
    w.feed(b"hello;more")
    assert out.result == b"hello;"
    assert not w.stream.closed()


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_beyond_max_bytes_closes_with_unsatisfiable_read_error(world, mode, style):
    w = world(mode=mode)
    closed = []
    w.stream.set_close_callback(lambda: closed.append(True))
    out = start(w.stream, style, "read_until", b";", max_bytes=5)
    w.feed(b"toolong;")
    assert w.stream.closed() and closed == [True]
    assert isinstance(w.stream.error, UnsatisfiableReadError)
    if style == "future":
        assert isinstance(out.error, StreamClosedError)
        assert out.error.real_error is w.stream.error
    else:
        assert out.pending


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_regex_includes_the_match(world, mode, style):
    w = world(mode=mode)
    first = start(w.stream, style, "read_until_regex", rb"len=\d+;")
    w.feed(b"xx len=123;yy len=4;")
    assert first.result == b"xx len=123;"
    second = start(w.stream, style, "read_until_regex", re.compile(rb"len=\d+;"))
    w.run()
    assert second.result == b"yy len=4;"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_regex_beyond_max_bytes_closes_with_unsatisfiable_read_error(world, mode, style):
    w = world(mode=mode)
    out = start(w.stream, style, "read_until_regex", rb"\n\n", max_bytes=4)
    w.feed(b"abcdef\n\n")
    assert w.stream.closed()
    assert isinstance(w.stream.error, UnsatisfiableReadError)
    if style == "future":
        assert out.error.real_error is w.stream.error


@pytest.mark.parametrize("pattern", [rb"^HELLO", rb"(?<!y)HELLO"], ids=["caret", "lookbehind"])
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_regex_matches_after_earlier_reads_exactly_as_on_a_fresh_stream(
    world, mode, style, pattern
):
    fresh = world(mode=mode)
    control = start(fresh.stream, style, "read_until_regex", pattern)
    fresh.feed(b"HELLO")
    assert control.result == b"HELLO"
    w = world(mode=mode)
    first = start(w.stream, style, "read_bytes", 2)
    w.feed(b"xyHELLO")  # bulk: "xy" is consumed but still in front of the read position
    assert first.result == b"xy"
    out = start(w.stream, style, "read_until_regex", pattern)
    w.run()
    assert out.result == b"HELLO"
    assert not w.stream.closed()


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_close_returns_everything_once_the_peer_closes(world, mode, style):
    w = world(mode=mode)
    out = start(w.stream, style, "read_until_close")
    w.feed(b"all of it")
    assert out.pending
    w.peer.close()
    w.run()
    assert out.result == b"all of it"
    assert w.stream.closed() and w.stream.error is None


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", MODES)
def test_read_until_close_with_streaming_callback_streams_everything_and_ends_empty(world, mode, style):
    w = world(mode=mode)
    log = []
    out = start(
        w.stream, style, "read_until_close", streaming_callback=lambda d: log.append(("chunk", d)), log=log
    )
    w.feed(b"stream me")
    w.peer.close()
    w.run()
    assert b"".join(d for kind, d in log if kind == "chunk") == b"stream me"
    assert out.result == b""
    assert log[-1] == ("read_until_close", b"")


@pytest.mark.parametrize("style", STYLES)
def test_reads_already_satisfied_by_the_buffer_complete_without_touching_the_fd(world, style):
    w = world()
    start(w.stream, style, "read_bytes", 1)
    w.feed(b"abc\ndef")
    calls = w.target.recv_calls
    out = start(w.stream, style, "read_until", b"\n")
    w.run()
    assert out.result == b"bc\n"
    assert w.target.recv_calls == calls


PLANS = {
    "clean": None,
    "eintr": plan_for_kind("eintr", seed=7, inbound_size=200),
    "ewouldblock": plan_for_kind("ewouldblock", seed=7, inbound_size=200),
    "chunk3": FaultPlan(read=tuple(Chunk(max_bytes=3) for _ in range(80))),
}


@pytest.mark.parametrize("plan", list(PLANS.values()), ids=list(PLANS))
@pytest.mark.parametrize("mode", MODES)
def test_mixed_reads_deliver_the_peer_bytes_in_order_without_loss(world, mode, plan):
    w = world(plan, mode=mode)
    payload = struct.pack("!I", 5) + b"hello" + b"line one\n" + b"k=42;" + b"rest of the stream"
    got = []

    async def reader():
        header = await w.stream.read_bytes(4)
        got.append(header)
        got.append(await w.stream.read_bytes(struct.unpack("!I", header)[0]))
        got.append(await w.stream.read_until(b"\n", max_bytes=64))
        got.append(await w.stream.read_until_regex(rb"k=\d+;"))
        got.append(await w.stream.read_until_close())

    done = w.loop.spawn(reader)
    w.feed(payload)
    w.peer.close()
    w.run()
    assert done.result() is None
    assert b"".join(got) == payload
    assert got[1] == b"hello" and got[2] == b"line one\n" and got[3] == b"k=42;"


@settings(derandomize=True, max_examples=40, deadline=None, database=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=40))
def test_any_chunking_of_framed_messages_reads_back_the_same_messages(sizes):
    loop = IOLoop()
    try:
        target, peer = socketpair(loop, FaultPlan(read=tuple(Chunk(max_bytes=n) for n in sizes)))
        stream = IOStream(target, io_loop=loop)
        messages = [b"m%d" % i * (i % 5 + 1) for i in range(12)]
        got = []

        async def reader():
            for _ in messages:
                (length,) = struct.unpack("!I", await stream.read_bytes(4))
                got.append(await stream.read_bytes(length))

        done = loop.spawn(reader)
        peer.send(b"".join(struct.pack("!I", len(m)) + m for m in messages))
        loop.run_until_quiescent()
        assert done.done() and done.exception() is None
        assert got == messages
        assert stream._pending_callbacks == 0
    finally:
        IOLoop.clear_current()


def test_spurious_ewouldblock_ends_each_read_loop_and_the_read_still_completes(world):
    w = world(FaultPlan(read=(WouldBlock(count=3), Chunk(max_bytes=2), WouldBlock(count=2))))
    out = start(w.stream, "future", "read_bytes", 5)
    w.feed(b"hello")
    assert out.result == b"hello"
    # Every recv either carried bytes or met an injected fault: no busy loop.
    assert w.target.recv_calls <= w.target.faults_injected + 5
    calls = w.target.recv_calls
    assert w.loop.run_until_quiescent() == 0
    assert w.target.recv_calls == calls


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


# -- writing --------------------------------------------------------------------------------------


def test_write_futures_resolve_in_fifo_order_under_partial_sends(world):
    w = world(FaultPlan(write=(SendPartial(max_bytes=3, count=20),)))
    log = []
    datas = (b"first-", b"second-", b"", b"third")
    outs = [start(w.stream, "future", "write", data, log=log) for data in datas]
    w.run()
    assert [o.result for o in outs] == [None] * 4
    assert len(log) == 4 and all(entry == ("write", None) for entry in log)
    assert w.peer.recv(100) == b"first-second-third"
    order = []
    more = [w.stream.write(b"x" * n) for n in (5, 1, 3)]
    for i, f in enumerate(more):
        f.add_done_callback(lambda f, i=i: order.append(i))
    w.run()
    assert order == [0, 1, 2]


def test_write_waits_for_writability_after_ewouldblock(world):
    w = world(FaultPlan(write=(SendWouldBlock(count=2),)))
    out = start(w.stream, "future", "write", b"later")
    assert out.pending
    assert w.loop.handler_mask(w.fd) & WRITE
    w.run()
    assert out.result is None
    assert w.peer.recv(10) == b"later"
    assert not w.loop.handler_mask(w.fd) & WRITE


def test_write_callback_runs_on_a_later_iteration_once_the_buffer_is_flushed(world):
    w = world(FaultPlan(write=(SendPartial(max_bytes=2, count=3), SendWouldBlock())))
    done = []
    w.stream.write(b"abcdefgh", callback=lambda: done.append(True))
    assert done == []
    w.run()
    assert done == [True]
    assert w.peer.recv(10) == b"abcdefgh"


@pytest.mark.parametrize("step", [SendReset(), SendBrokenPipe()], ids=["econnreset", "epipe"])
def test_write_to_a_dead_connection_closes_quietly_and_fails_the_write(world, caplog, step):
    caplog.set_level(logging.DEBUG, logger="faultio")
    w = world(FaultPlan(write=(step,)))
    out = start(w.stream, "future", "write", b"data")
    assert w.stream.closed()
    assert isinstance(out.error, StreamClosedError)
    assert isinstance(out.error.real_error, (ConnectionResetError, BrokenPipeError))
    assert no_records(caplog, logging.WARNING) == []


def test_write_on_a_closed_stream_raises_stream_closed_error(world):
    w = world()
    w.stream.close()
    with pytest.raises(StreamClosedError):
        w.stream.write(b"x")


def test_write_beyond_max_write_buffer_size_raises_and_keeps_the_stream_open(world):
    w = world(FaultPlan(write=(SendWouldBlock(count=3),)), max_write_buffer_size=8)
    w.stream.write(b"12345")
    with pytest.raises(StreamBufferFullError):
        w.stream.write(b"6789")
    assert not w.stream.closed()
    w.run()
    assert w.peer.recv(10) == b"12345"


@pytest.mark.parametrize("data", ["text", 12], ids=["str", "int"])
def test_write_rejects_anything_but_bytes(world, data):
    w = world()
    with pytest.raises(TypeError):
        w.stream.write(data)


def test_write_accepts_bytearray_and_memoryview(world):
    w = world()
    w.stream.write(bytearray(b"ab"))
    w.stream.write(memoryview(b"cd"))
    w.run()
    assert w.peer.recv(10) == b"abcd"


# -- where 4.x is weak: regressions ---------------------------------------------------------------


def test_eintr_on_write_is_retried_not_a_close(world, caplog):
    caplog.set_level(logging.DEBUG, logger="faultio")
    w = world(FaultPlan(write=(SendEintr(), SendPartial(max_bytes=2), SendEintr(), SendEintr())))
    out = start(w.stream, "future", "write", b"abcdef")
    w.run()
    assert out.result is None
    assert not w.stream.closed() and w.stream.error is None
    assert w.peer.recv(10) == b"abcdef"
    assert no_records(caplog) == []


@pytest.mark.parametrize("mode", MODES)
def test_eintr_on_read_is_retried_without_a_log_line(world, caplog, mode):
    caplog.set_level(logging.DEBUG, logger="faultio")
    w = world(FaultPlan(read=(Eintr(), Chunk(max_bytes=2), Eintr(), Eintr())), mode=mode)
    out = start(w.stream, "future", "read_until", b"!")
    w.feed(b"hello!")
    assert out.result == b"hello!"
    assert not w.stream.closed()
    assert w.target.faults_injected >= 3
    assert no_records(caplog) == []


@pytest.mark.parametrize("style", STYLES)
def test_read_on_a_closed_stream_is_served_from_the_buffer_when_it_can_be(world, style):
    w = world()
    first = start(w.stream, style, "read_until", b"!")
    w.peer.send(b"abc\ndef")
    w.peer.close()
    w.run()
    assert w.stream.closed()  # EOF while looking for "!"
    if style == "future":
        assert isinstance(first.error, StreamClosedError)
    line = start(w.stream, style, "read_until", b"\n")
    some = start(w.stream, style, "read_bytes", 2)
    rest = start(w.stream, style, "read_until_close")
    w.run()
    assert (line.result, some.result, rest.result) == (b"abc\n", b"de", b"f")


def test_unservable_read_on_a_closed_stream_fails_and_the_next_read_is_accepted(world):
    w = world()
    w.peer.send(b"abc")
    w.peer.close()
    start(w.stream, "future", "read_bytes", 4)  # needs more than ever comes: EOF closes the stream
    w.run()
    assert w.stream.closed()
    assert start(w.stream, "future", "read_bytes", 1).result == b"a"
    too_much = start(w.stream, "future", "read_bytes", 5)
    assert isinstance(too_much.error, StreamClosedError)
    assert not w.stream.reading()
    assert start(w.stream, "future", "read_bytes", 2).result == b"bc"
    no_delim = start(w.stream, "future", "read_until", b"\n")
    assert isinstance(no_delim.error, StreamClosedError)
    assert isinstance(start(w.stream, "future", "read_bytes", 1).error, StreamClosedError)
    assert start(w.stream, "future", "read_until_close").result == b""


def test_unservable_callback_read_on_a_closed_stream_raises_and_the_next_read_is_accepted(world):
    w = world()
    w.peer.send(b"xy")
    w.peer.close()
    w.stream.read_bytes(1, callback=lambda d: None)
    w.stream.close()
    w.run()
    assert w.stream.closed()
    with pytest.raises(StreamClosedError):
        w.stream.read_bytes(3, callback=lambda d: None)
    got = []
    w.stream.read_bytes(1, callback=got.append)
    w.run()
    assert got == [b"y"]


def test_unservable_streaming_read_on_a_closed_stream_streams_what_is_left_then_fails(world):
    w = world()
    start(w.stream, "future", "read_bytes", 1)
    w.feed(b"_abc")
    w.stream.close()
    log = []

    async def reader():
        try:
            await w.stream.read_bytes(10, streaming_callback=lambda d: log.append(d))
        except StreamClosedError:
            log.append("closed")
        log.append(await w.stream.read_bytes(0))  # the stream still accepts reads

    w.loop.spawn(reader)
    w.run()
    assert log == [b"abc", "closed", b""]


def test_reset_closed_stream_fails_later_reads_with_the_reset_as_real_error(world):
    w = world(FaultPlan(read=(Reset(),)))
    w.stream.set_close_callback(lambda: None)
    w.run()
    assert isinstance(w.stream.error, ConnectionResetError)
    out = start(w.stream, "future", "read_bytes", 1)
    assert out.error.real_error is w.stream.error


@pytest.mark.parametrize("method", ["read_until", "read_until_close", "read_bytes"])
def test_overflow_closes_with_stream_buffer_full_error_as_error(world, caplog, method):
    w = world(FaultPlan(read=(Flood(nbytes=100_000),)), max_buffer_size=4096)
    args = {"read_until": (b"\r\n",), "read_until_close": (), "read_bytes": (10_000,)}[method]
    closed = []
    w.stream.set_close_callback(lambda: closed.append(True))
    out = start(w.stream, "future", method, *args)
    w.run()
    assert w.stream.closed() and closed == [True]
    assert isinstance(w.stream.error, StreamBufferFullError)
    assert isinstance(out.error, StreamClosedError)
    assert out.error.real_error is w.stream.error
    assert any(r.levelno == logging.ERROR and r.name == "faultio.iostream" for r in caplog.records)
    assert w.target.bytes_received <= 4096 + 1


@pytest.mark.parametrize(
    "args", [("read_bytes", 4096), ("read_until", b"\r\n", 4096)], ids=["read_bytes", "read_until"]
)
def test_a_read_that_fits_the_buffer_never_overflows_under_a_flood(world, args):
    w = world(FaultPlan(read=(Pass(nbytes=4000), Flood(nbytes=1 << 30))), max_buffer_size=4096)
    method, *rest = args
    if method == "read_until":
        out = start(w.stream, "future", method, rest[0], max_bytes=rest[1])
        w.peer.send(b"a" * 3000 + b"\r\n" + b"b" * 998)
    else:
        out = start(w.stream, "future", method, *rest)
        w.peer.send(b"a" * 4000)
    w.run()
    assert isinstance(out.result, bytes)
    assert not w.stream.closed()
    # The read took at most the buffer's worth; afterwards the idle stream reads one more chunk (to
    # notice EOF) and then stops. The observer checked the buffer bound after every step.
    assert w.target.bytes_received <= 4096 + w.stream.read_chunk_size


def test_unbounded_read_until_fed_one_byte_per_event_does_linear_search_work(world):
    w = world(mode="bytewise")
    n = 3000
    out = start(w.stream, "future", "read_until", b"\r\n")
    w.feed(b"x" * n + b"\r\n")
    assert out.result == b"x" * n + b"\r\n"
    # Each arrival is scanned about once; a rescan per event would be ~n*n/2 = 4.5 million bytes.
    assert w.stream._rbuf.examined < 5 * n


def test_read_until_holding_max_bytes_without_the_delimiter_closes_without_waiting(world):
    w = world()
    out = start(w.stream, "future", "read_until", b"\n", max_bytes=4)
    w.feed(b"abcd")  # exactly max_bytes, and then the peer goes quiet
    assert w.stream.closed()
    assert isinstance(out.error.real_error, UnsatisfiableReadError)


@pytest.mark.parametrize("style", STYLES)
def test_max_bytes_failure_is_never_raised_synchronously_even_from_buffered_data(world, style):
    w = world()
    start(w.stream, style, "read_bytes", 1)
    w.feed(b"xlong line without newline")
    out = start(w.stream, style, "read_until", b"\n", max_bytes=5)  # must not raise
    assert w.stream.closed()
    assert isinstance(w.stream.error, UnsatisfiableReadError)
    w.run()
    if style == "future":
        assert out.error.real_error is w.stream.error


@pytest.mark.parametrize("style", STYLES)
def test_already_reading_raises_a_real_exception_and_leaves_the_first_read_intact(world, style):
    w = world()
    first = start(w.stream, style, "read_bytes", 3)
    with pytest.raises(RuntimeError, match="Already reading"):
        w.stream.read_until(b"\n")
    w.feed(b"abc")
    assert first.result == b"abc"


BAD_READ_ARGS = {
    "regex-str": ("read_until_regex", ("\n",), {}, TypeError,
                  r"regex must be a bytes pattern or a compiled bytes regex, got str '\\n'; .* rb'\.\.\.'"),
    "regex-compiled-str": ("read_until_regex", (re.compile("\n"),), {}, TypeError,
                           r"regex must be a bytes pattern or .*, got a compiled str regex"),
    "regex-int": ("read_until_regex", (7,), {}, TypeError, r"compiled bytes regex, got int 7$"),
    "regex-max-bytes-zero": ("read_until_regex", (rb"\n",), {"max_bytes": 0}, ValueError,
                             r"max_bytes must be None or a positive integer \(1 or more\), got 0"),
    "delimiter-str": ("read_until", ("\n",), {}, TypeError, r"delimiter must be bytes-like .*, got str '\\n'"),
    "delimiter-empty": ("read_until", (b"",), {}, ValueError,
                        r"delimiter must be at least one byte long, got b''"),
    "delimiter-max-bytes-negative": ("read_until", (b"\n",), {"max_bytes": -1}, ValueError,
                                     r"max_bytes must be None or a positive integer \(1 or more\), got -1"),
    "delimiter-max-bytes-float": ("read_until", (b"\n",), {"max_bytes": 2.5}, TypeError,
                                  r"max_bytes must be None or a positive integer .*, got float 2.5"),
    "num-bytes-negative": ("read_bytes", (-1,), {}, ValueError,
                           r"num_bytes must be a non-negative integer \(0 or more\), got -1"),
    "num-bytes-str": ("read_bytes", ("5",), {}, TypeError,
                      r"num_bytes must be a non-negative integer .*, got str '5'"),
    "num-bytes-bool": ("read_bytes", (True,), {}, TypeError, r"num_bytes must be .*, got bool True"),
}
#: A valid call of each method, for the read that follows a rejected one.
GOOD_READ_ARGS = {"read_until_regex": (rb"\n",), "read_until": (b"\n",), "read_bytes": (5,)}


@pytest.mark.parametrize("case", list(BAD_READ_ARGS.values()), ids=list(BAD_READ_ARGS))
@pytest.mark.parametrize("style", STYLES)
def test_a_read_with_bad_arguments_raises_at_once_and_leaves_the_stream_usable(world, style, case):
    method, args, kwargs, error, message = case
    w = world()
    if style == "callback":
        kwargs = {**kwargs, "callback": lambda data: None}
    with pytest.raises(error, match=message):
        getattr(w.stream, method)(*args, **kwargs)
    assert not w.stream.reading() and not w.stream.closed()
    assert w.loop.trace.events(source="stream", kind="read") == []  # never registered
    out = start(w.stream, style, method, *GOOD_READ_ARGS[method])
    w.feed(b"line\n")
    assert out.result == b"line\n"


@pytest.mark.parametrize(
    "method,arg",
    [("read_until", bytearray(b"\n")), ("read_until", memoryview(b"\n")),
     ("read_until_regex", bytearray(b"\n")), ("read_until_regex", re.compile(rb"\n"))],
    ids=["delimiter-bytearray", "delimiter-memoryview", "regex-bytearray", "regex-compiled-bytes"],
)
def test_reads_accept_any_bytes_like_delimiter_and_a_compiled_bytes_regex(world, method, arg):
    w = world()
    out = start(w.stream, "future", method, arg, max_bytes=1)
    w.feed(b"\n")
    assert out.result == b"\n"


def test_a_raising_done_callback_on_a_read_future_neither_closes_the_stream_nor_starves_later_ones(
    world, caplog
):
    w = world()
    future = w.stream.read_bytes(3)

    def broken_monitor(f):
        raise RuntimeError("broken monitor")

    later = []
    future.add_done_callback(broken_monitor)
    future.add_done_callback(lambda f: later.append(f.result()))
    w.feed(b"abcdef")
    assert later == [b"abc"]
    assert not w.stream.closed() and w.stream.error is None
    [record] = [r for r in caplog.records if r.name == "faultio.future"]
    assert record.exc_info[0] is RuntimeError
    rest = start(w.stream, "future", "read_bytes", 3)
    w.run()
    assert rest.result == b"def"


def test_already_reading_survives_python_dash_O():
    code = textwrap.dedent(
        """
        assert False, "this line only passes when -O strips assert statements"
        from faultio import IOLoop, socketpair
        from faultio._iostream import IOStream
        loop = IOLoop()
        target, peer = socketpair(loop)
        stream = IOStream(target, io_loop=loop)
        stream.read_bytes(1)
        try:
            stream.read_bytes(1)
        except RuntimeError as exc:
            print("raised:", exc)
        else:
            print("not raised")
        """
    )
    done = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("raised: Already reading")


def test_stream_modules_check_with_real_exceptions_not_assert_statements():
    paths = [ROOT / "faultio" / "_buffer.py", *sorted((ROOT / "faultio").glob("_iostream*.py"))]
    assert len(paths) >= 2
    for path in paths:
        tree = ast.parse(path.read_text())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert asserts == [], f"{path.name} uses assert at lines {asserts}"


@pytest.mark.parametrize("style", STYLES)
def test_write_of_empty_bytes_completes_without_registering_write(world, style):
    w = world()
    out = start(w.stream, style, "write", b"")
    assert w.stream._state is None or not w.stream._state & WRITE
    assert not w.stream.writing()
    if style == "future":
        assert out.result is None  # resolved at once
    else:
        w.loop.run_once()  # scheduled for the next iteration, like every callback
        assert out.results == [None]
    assert w.loop.handler_mask(w.fd) is None or not w.loop.handler_mask(w.fd) & WRITE


def test_write_of_empty_bytes_after_a_blocked_write_completes_with_it(world):
    w = world(FaultPlan(write=(SendWouldBlock(count=3),)))
    log = []
    start(w.stream, "future", "write", b"abc", log=log)
    start(w.stream, "future", "write", b"", log=log)
    assert log == []
    w.run()
    assert log == [("write", None), ("write", None)]


def test_frozen_write_buffer_presents_the_same_bytes_again_and_queues_later_writes():
    sent = []

    class Freezing(IOStream):
        # What an SSL stream needs after WANT_WRITE: the retry must offer exactly the same bytes.
        def _got_empty_write(self, size):
            self._freeze_write_buffer(size)

        def write_to_fd(self, data):
            sent.append(bytes(data))
            return super().write_to_fd(data)

    loop = IOLoop()
    try:
        plan = FaultPlan(write=(SendWouldBlock(count=2), SendPartial(max_bytes=2)))
        target, peer = socketpair(loop, plan)
        stream = Freezing(target, io_loop=loop)
        first = stream.write(b"abcdef")
        second = stream.write(b"XY")
        assert stream._pending_writes_while_frozen == [b"XY"]
        loop.run_until_quiescent()
        assert sent == [b"abcdef", b"abcdef", b"abcdef", b"cdefXY"]
        assert first.result() is None and second.result() is None
        assert peer.recv(100) == b"abcdefXY"
        assert not stream._write_buffer_frozen
    finally:
        IOLoop.clear_current()


def test_subclass_hooks_drive_the_event_dispatch():
    calls = []

    class Hooked(IOStream):
        def read_from_fd(self):
            chunk = super().read_from_fd()
            calls.append(("read_from_fd", chunk))
            return chunk.upper() if chunk else chunk

        def write_to_fd(self, data):
            calls.append(("write_to_fd", bytes(data)))
            return super().write_to_fd(data)

        def _handle_read(self):
            calls.append(("_handle_read", None))
            super()._handle_read()

        def _handle_write(self):
            calls.append(("_handle_write", None))
            super()._handle_write()

    loop = IOLoop()
    try:
        target, peer = socketpair(loop, FaultPlan(write=(SendWouldBlock(),)))
        stream = Hooked(target, io_loop=loop)
        assert isinstance(stream, BaseIOStream)
        got = stream.read_bytes(3)
        stream.write(b"out")
        peer.send(b"abc")
        loop.run_until_quiescent()
        assert got.result() == b"ABC"
        assert peer.recv(10) == b"out"
        names = [name for name, _ in calls]
        assert "_handle_read" in names and names.count("_handle_write") >= 2
        assert ("write_to_fd", b"out") in calls
    finally:
        IOLoop.clear_current()


# -- connect, construction ------------------------------------------------------------------------


def test_connect_resolves_to_the_stream_and_flushes_writes_queued_before_it(world):
    w = world()
    connected = w.stream.connect(("example", 80))
    queued = w.stream.write(b"hello")
    assert not connected.done() and not queued.done()
    w.run()
    assert connected.result() is w.stream
    assert queued.result() is None
    assert w.peer.recv(10) == b"hello"


def test_connect_callback_runs_on_success(world):
    w = world()
    done = []
    assert w.stream.connect(("example", 80), callback=lambda: done.append(True)) is None
    w.run()
    assert done == [True]


def test_connect_failure_reported_by_so_error_fails_the_connect_future(world):
    w = world()
    connected = w.stream.connect(("example", 80))
    w.target._so_error = errno.ECONNREFUSED  # the kernel's verdict, read through getsockopt
    w.run()
    assert isinstance(connected.exception(), StreamClosedError)
    assert isinstance(connected.exception().real_error, ConnectionRefusedError)
    assert w.stream.closed()


def test_connect_error_raised_at_once_closes_the_stream(world, monkeypatch):
    w = world()

    def refuse(address):
        raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")

    monkeypatch.setattr(w.target, "connect", refuse)
    connected = w.stream.connect(("example", 80))
    assert w.stream.closed()
    assert isinstance(connected.exception().real_error, ConnectionRefusedError)


def test_connect_interrupted_by_a_signal_carries_on_like_einprogress(world, monkeypatch):
    w = world()

    def interrupted(address):
        raise InterruptedError(errno.EINTR, "interrupted")

    monkeypatch.setattr(w.target, "connect", interrupted)
    connected = w.stream.connect(("example", 80))
    assert not w.stream.closed()
    w.run()
    assert connected.result() is w.stream


def test_constructor_defaults_follow_the_seed():
    loop = IOLoop()
    try:
        target, _ = socketpair(loop)
        stream = IOStream(target)
        assert stream.io_loop is IOLoop.current()
        assert stream.max_buffer_size == 104857600
        assert stream.read_chunk_size == 65536
        small = IOStream(socketpair(loop)[0], io_loop=loop, max_buffer_size=1000, read_chunk_size=4096)
        assert small.read_chunk_size == 500
        assert (stream._read_buffer_size, stream._read_buffer_pos, stream._read_buffer) == (0, 0, bytearray())
        assert stream._state is None and stream._pending_callbacks == 0 and stream.error is None
        assert not stream.reading() and not stream.writing() and not stream.closed()
        stream.set_nodelay(True)  # a fake fd has no Nagle: nothing happens
    finally:
        IOLoop.clear_current()


@pytest.mark.parametrize("value", [0, -5, True, 1.5, "100"], ids=["zero", "negative", "bool", "float", "str"])
@pytest.mark.parametrize("name", ["max_buffer_size", "read_chunk_size", "max_write_buffer_size"])
def test_constructor_rejects_a_size_that_is_not_none_or_a_positive_integer(name, value):
    loop = IOLoop(make_current=False)
    target, _ = socketpair(loop)
    pattern = rf"^{name} must be None or a positive integer \(1 or more\), got .*{re.escape(repr(value))}$"
    with pytest.raises(ValueError, match=pattern):
        IOStream(target, io_loop=loop, **{name: value})


def test_constructor_accepts_the_smallest_sizes():
    loop = IOLoop(make_current=False)
    stream = IOStream(socketpair(loop)[0], io_loop=loop, max_buffer_size=1, read_chunk_size=1,
                      max_write_buffer_size=1)
    assert (stream.max_buffer_size, stream.read_chunk_size, stream.max_write_buffer_size) == (1, 1, 1)
    capped = IOStream(socketpair(loop)[0], io_loop=loop, max_buffer_size=1000, read_chunk_size=100)
    assert capped.read_chunk_size == 100


def test_stream_trace_events_name_the_fd_also_after_the_fd_closed(world):
    w = world()
    pending = start(w.stream, "future", "read_bytes", 5)
    w.peer.close()
    w.run()
    assert isinstance(pending.error, StreamClosedError)
    late = start(w.stream, "future", "read_bytes", 1)  # noted after close_fd dropped the socket
    w.run()
    assert isinstance(late.error, StreamClosedError)
    assert w.stream.socket is None
    events = w.loop.trace.events(source="stream")
    assert {"close", "fail_futures", "read"} <= {e.kind for e in events}
    assert [e for e in events if e.get("fd") != w.fd] == []


# -- the seed's own exchange ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clean", "eintr", "ewouldblock", "dribble"])
def test_seed_protocol_exchange_completes_under_benign_faults(world, kind):
    plan = None if kind == "clean" else plan_for_kind(kind, seed=42, inbound_size=seed_inbound_size())
    w = world(plan)
    received = []
    server = w.loop.spawn(handle_connection(w.stream, received))
    client = w.loop.spawn(run_client(Peer(w.loop, w.peer)))
    w.run()
    assert client.result() == [REPLY] * (SEED_MESSAGE_COUNT + 1)
    assert server.result()[-1] == b"break"
    assert len(received) == SEED_MESSAGE_COUNT + 1
    assert w.stream.closed() and w.stream.error is None


def test_seed_protocol_server_fails_cleanly_on_reset(world):
    plan = plan_for_kind("econnreset", seed=42, inbound_size=seed_inbound_size())
    w = world(plan)
    server = w.loop.spawn(handle_connection(w.stream))
    w.loop.spawn(run_client(Peer(w.loop, w.peer)))
    w.run()
    assert isinstance(server.exception(), StreamClosedError)
    assert isinstance(server.exception().real_error, ConnectionResetError)
