"""The socket side of IOStream: connect, construction, trace events, the seed's own exchange."""

import errno
import re

import pytest
from _streams import start

from faultio import (
    IOLoop,
    StreamClosedError,
    plan_for_kind,
    socketpair,
)
from faultio._iostream import IOStream
from faultio._peer import Peer
from faultio._seed import (
    REPLY,
    SEED_MESSAGE_COUNT,
    handle_connection,
    run_client,
    seed_inbound_size,
)

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
