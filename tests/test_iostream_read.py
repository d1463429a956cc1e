"""Every read path of the stream, byte-at-a-time and all-at-once, in callback and future style."""

import re
import struct

import pytest
from _streams import MODES, STYLES, start
from hypothesis import given, settings
from hypothesis import strategies as st

from faultio import (
    Chunk,
    FaultPlan,
    IOLoop,
    StreamClosedError,
    UnsatisfiableReadError,
    WouldBlock,
    plan_for_kind,
    socketpair,
)
from faultio._iostream import IOStream

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
