"""Writing: FIFO completion, partial sends, EWOULDBLOCK, dead connections, empty writes."""

import logging

import pytest
from _streams import (
    WRITE,
    no_records,
    start,
)

from faultio import (
    FaultPlan,
    SendBrokenPipe,
    SendPartial,
    SendReset,
    SendWouldBlock,
    StreamBufferFullError,
    StreamClosedError,
)

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
