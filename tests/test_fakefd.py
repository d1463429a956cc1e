import errno
import socket

import pytest

from faultio import (
    Chunk,
    Dribble,
    Eintr,
    Eof,
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
    Trace,
    WouldBlock,
    socketpair,
)

READ, WRITE, ERROR = IOLoop.READ, IOLoop.WRITE, IOLoop.ERROR


def drain(sock, bufsize=1024, limit=100_000):
    """Read until EAGAIN or EOF, retrying EINTR; returns (bytes, how it ended)."""
    out = bytearray()
    for _ in range(limit):
        try:
            data = sock.recv(bufsize)
        except InterruptedError:
            continue
        except BlockingIOError:
            return bytes(out), "eagain"
        if not data:
            return bytes(out), "eof"
        out += data
    raise AssertionError("drain did not finish")


def pair(plan=None, **kw):
    loop = IOLoop()
    target, peer = socketpair(loop, plan, **kw)
    return loop, target, peer


def test_without_a_plan_the_fd_is_an_ordinary_nonblocking_socket():
    loop, target, peer = pair()
    with pytest.raises(BlockingIOError) as info:
        target.recv(10)
    assert info.value.errno == errno.EAGAIN
    assert target.poll_events() == WRITE
    peer.send(b"abc")
    assert target.poll_events() == READ | WRITE
    assert target.recv(2) == b"ab"
    buf = bytearray(8)
    assert target.recv_into(buf) == 1 and buf[:1] == b"c"
    assert target.send(b"xyz") == 3
    assert peer.recv(10) == b"xyz"
    peer.close()
    assert target.recv(10) == b""
    # As on a kernel: the first send after the peer closed is accepted (the bytes are lost and provoke an RST),
    # every later one fails with EPIPE.
    assert target.send(b"late") == 4
    with pytest.raises(BrokenPipeError):
        target.send(b"later")


def test_eintr_step_raises_interrupted_error_once_and_loses_nothing():
    loop, target, peer = pair(FaultPlan(read=(Eintr(), Eintr())))
    peer.send(b"data")
    for _ in range(2):
        with pytest.raises(InterruptedError) as info:
            target.recv(10)
        assert info.value.errno == errno.EINTR
    assert target.recv(10) == b"data"
    assert target.faults_injected == 2
    injected = [e for e in loop.trace if e.get("injected")]
    assert [e.get("result") for e in injected] == ["EINTR", "EINTR"]


def test_wouldblock_burst_is_spurious_even_when_data_waits_and_shows_readable():
    loop, target, peer = pair(FaultPlan(read=(WouldBlock(count=3),)))
    assert target.poll_events() & READ  # a spurious wakeup is reported
    peer.send(b"x")
    for _ in range(3):
        with pytest.raises(BlockingIOError):
            target.recv(10)
    assert target.recv(10) == b"x"


def test_chunk_and_dribble_shape_delivery_without_changing_bytes():
    loop, target, peer = pair(FaultPlan(read=(Chunk(max_bytes=3), Dribble(nbytes=4))))
    peer.send(b"0123456789")
    got = [target.recv(100) for _ in range(6)]
    assert got == [b"012", b"3", b"4", b"5", b"6", b"789"]


def test_dribble_forever_delivers_one_byte_per_call():
    loop, target, peer = pair(FaultPlan(read=(Dribble(),)))
    peer.send(b"abcdef")
    peer.close()
    data, end = drain(target)
    assert (data, end) == (b"abcdef", "eof")
    assert target.recv_calls == 7


def test_reset_after_offset_delivers_the_prefix_then_econnreset_then_eof():
    loop, target, peer = pair(FaultPlan(read=(Pass(nbytes=5), Reset())))
    peer.send(b"0123456789")
    assert target.recv(100) == b"01234"
    assert target.poll_events() & ERROR
    with pytest.raises(ConnectionResetError) as info:
        target.recv(100)
    assert info.value.errno == errno.ECONNRESET
    assert target.recv(100) == b""  # the rest was lost with the reset
    with pytest.raises(BrokenPipeError):
        target.send(b"x")


def test_reset_reported_through_so_error_is_consumed_once():
    loop, target, peer = pair(FaultPlan(read=(Reset(),)))
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNRESET
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def test_eof_step_cuts_the_stream_and_discards_later_bytes():
    loop, target, peer = pair(FaultPlan(read=(Pass(nbytes=2), Eof())))
    peer.send(b"abcd")
    assert drain(target) == (b"ab", "eof")
    with pytest.raises(BrokenPipeError):  # the plan shut the peer's sending side
        peer.send(b"more")
    assert target.recv(10) == b""


def test_a_gigabyte_flood_is_generated_lazily_in_order():
    loop, target, peer = pair(FaultPlan(read=(Pass(nbytes=2), Flood(nbytes=1 << 30, pattern_seed=3))))
    peer.send(b"hi")
    assert target.recv(100) == b"hi"
    first = target.recv(300)
    assert len(first) == 300
    assert first[0] == 3 and first[1] == 4  # the pattern is a rotation of all byte values
    assert first[:256] == bytes(range(3, 256)) + bytes(range(3))
    total = 302
    for _ in range(16):
        total += len(target.recv(65536))
    assert total == 302 + 16 * 65536
    assert target.pending() == (1 << 30) - 300 - 16 * 65536


def test_flood_arrives_ahead_of_undelivered_peer_bytes():
    loop, target, peer = pair(FaultPlan(read=(Pass(nbytes=1), Flood(nbytes=4))))
    peer.send(b"ab")
    assert target.recv(10) == b"a"
    assert target.recv(10) == bytes(range(4)) + b"b"


def test_write_side_steps_raise_real_exceptions_and_shape_sends():
    plan = FaultPlan(
        write=(SendEintr(), SendWouldBlock(count=2), SendPartial(max_bytes=2, count=2), SendBrokenPipe())
    )
    loop, target, peer = pair(plan)
    with pytest.raises(InterruptedError):
        target.send(b"hello")
    for _ in range(2):
        with pytest.raises(BlockingIOError):
            target.send(b"hello")
    assert target.send(b"hello") == 2
    assert target.send(b"llo") == 2
    with pytest.raises(BrokenPipeError) as info:
        target.send(b"o")
    assert info.value.errno == errno.EPIPE
    assert peer.recv(10) == b"hell"


def test_send_reset_breaks_both_directions():
    loop, target, peer = pair(FaultPlan(write=(SendReset(),)))
    peer.send(b"unread")
    with pytest.raises(ConnectionResetError):
        target.send(b"x")
    assert target.recv(10) == b""
    assert target.poll_events() & ERROR


def test_full_send_buffer_reports_eagain_and_not_writable():
    loop, target, peer = pair(capacity=4)
    assert target.send(b"abcdef") == 4
    with pytest.raises(BlockingIOError):
        target.send(b"x")
    assert not target.poll_events() & WRITE
    peer.recv(2)
    assert target.poll_events() & WRITE


def test_closed_fd_raises_ebadf_and_unregisters():
    loop, target, peer = pair()
    target.close()
    target.close()
    assert target.close_calls == 2
    assert target.fileno() == -1
    with pytest.raises(OSError) as info:
        target.recv(1)
    assert info.value.errno == errno.EBADF
    assert peer.recv(10) == b""
    assert target.poll_events() == 0


def test_connect_is_in_progress_then_writable():
    loop, target, peer = pair()
    with pytest.raises(BlockingIOError) as info:
        target.connect(("example", 1))
    assert info.value.errno == errno.EINPROGRESS
    assert target.poll_events() & WRITE
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def test_peer_reset_reaches_the_target():
    loop, target, peer = pair()
    peer.reset()
    with pytest.raises(ConnectionResetError):
        target.recv(1)


def test_every_call_is_traced_with_its_fd_and_role():
    loop, target, peer = pair(FaultPlan(read=(Eintr(),)))
    peer.send(b"a")
    with pytest.raises(InterruptedError):
        target.recv(1)
    target.recv(1)
    kinds = [(e.get("role"), e.kind, e.get("result")) for e in loop.trace.events(source="fd")]
    assert kinds == [("peer", "send", "data"), ("target", "recv", "EINTR"), ("target", "recv", "data")]
    assert loop.trace[-1].get("data_hex") == "61"


def test_same_plan_twice_gives_identical_traces():
    def run():
        loop, target, peer = pair(FaultPlan(read=(Eintr(), Chunk(max_bytes=2), WouldBlock(count=2))))
        peer.send(b"abcdef")
        peer.close()
        drain(target)
        return loop.trace.fingerprint()

    assert run() == run()


def test_socketpair_refuses_a_non_plan():
    with pytest.raises(TypeError, match="FaultPlan"):
        socketpair(IOLoop(), plan="eintr")


def test_retrying_eagain_within_one_step_is_called_a_busy_loop():
    from faultio import BusyLoopError

    loop, target, peer = pair()
    with pytest.raises(BusyLoopError, match="busy loop"):
        for _ in range(10_000):
            try:
                target.recv(1)
            except BlockingIOError:
                pass


def _exchange(monkeypatch, *, short: bool, plan, record_payload: bool = True, traced: bool = True):
    """A dribble of a few bytes each way (one send, then two queued before a read), a few EAGAINs and the EOF;
    the trace (kept, or with ``traced`` false only counted) and the counters it leaves. Without ``short`` every call takes the general path: no read step
    counts as quiet, recv's shortest way is off, and sends pass a bytearray."""
    import faultio._fakefd as fakefd

    if not short:
        monkeypatch.setattr(fakefd, "_QUIET_READ_STEPS", frozenset())
        monkeypatch.setattr(fakefd, "_SHORT_RECV", False)
    loop = IOLoop(make_current=False, trace=Trace(enabled=traced))
    target, peer = socketpair(loop, plan, record_payload=record_payload)
    wrap = bytes if short else bytearray
    ends = []
    for sent in ((b"a",), (b"bc",), (b"d", b"ef")):
        for chunk in sent:
            peer.send(wrap(chunk))
            target.send(wrap(chunk * 2))
        ends.append(drain(target, 16))
        ends.append(drain(peer, 3))
    peer.close()
    ends.append(drain(target, 16))
    counters = [(s.recv_calls, s.send_calls, s.bytes_received, s.bytes_sent, s.faults_injected)
                for s in (target, peer)]
    return loop.trace.fingerprint(), counters, bytes(target.received), ends, loop.trace.count


@pytest.mark.parametrize("record_payload,traced", [(True, True), (False, True), (True, False)],
                         ids=["payload", "no-payload", "trace-off"])
@pytest.mark.parametrize("plan", [None, FaultPlan(read=(Dribble(nbytes=None),)), FaultPlan(read=(Chunk(max_bytes=2),)),
                                  FaultPlan(read=(Flood(nbytes=5, pattern_seed=3),))],
                         ids=["no-plan", "dribble", "chunk", "flood"])
def test_the_short_recv_and_send_paths_give_what_the_general_paths_give(monkeypatch, plan, record_payload, traced):
    short = _exchange(monkeypatch, short=True, plan=plan, record_payload=record_payload, traced=traced)
    monkeypatch.undo()
    general = _exchange(monkeypatch, short=False, plan=plan, record_payload=record_payload, traced=traced)
    assert short == general
    assert short[2].endswith(b"abcdef")
    assert short[3][-1][1] == "eof"
