"""The plan cursors give one meaning to a plan on fake fds and on real sockets alike."""

import pytest

from faultio import Chunk, Dribble, Eintr, FaultPlan, IOLoop, Pass, SendEintr, SendPartial, WouldBlock, socketpair
from faultio._cursor import GeneratedBytes, ReadCursor, WriteCursor
from faultio._realfd import real_socketpair

PLAN = FaultPlan(
    read=(Eintr(), Chunk(max_bytes=3), WouldBlock(count=2), Dribble(nbytes=2), Pass(nbytes=4), Chunk(max_bytes=1)),
    write=(SendEintr(), SendPartial(max_bytes=2, count=2)),
)


def shapes(sock, rounds=12):
    out = []
    for _ in range(rounds):
        try:
            out.append(sock.recv(100))
        except InterruptedError:
            out.append("EINTR")
        except BlockingIOError:
            out.append("EAGAIN")
    return out


def test_fake_and_real_sockets_shape_the_same_bytes_the_same_way():
    payload = b"0123456789abcdef"
    loop = IOLoop()
    fake, fake_peer = socketpair(loop, PLAN)
    fake_peer.send(payload)
    real, real_peer = real_socketpair(PLAN)
    try:
        real_peer.sendall(payload)
        assert shapes(fake) == shapes(real) == [
            "EINTR", b"012", "EAGAIN", "EAGAIN", b"3", b"4", b"5678", b"9", b"abcdef", "EAGAIN", "EAGAIN", "EAGAIN"]
    finally:
        real.close()
        real_peer.close()


def test_write_cursor_counts_short_sends_and_consumes_faults():
    cursor = WriteCursor(PLAN.write)
    assert isinstance(cursor.call_fault(), SendEintr)
    assert cursor.call_fault() is None
    assert cursor.limit(10) == 2
    cursor.sent()
    assert cursor.limit(10) == 2
    cursor.sent()
    assert cursor.limit(10) == 10 and cursor.step is None


def test_read_cursor_skips_an_exhausted_pass_when_looking_for_arrivals():
    cursor = ReadCursor((Pass(nbytes=0),))
    assert list(cursor.arrivals()) == [] and cursor.step is None


@pytest.mark.parametrize("seed", [0, 3, 255, 256])
def test_generated_bytes_repeat_a_rotated_pattern_however_they_are_taken(seed):
    whole = GeneratedBytes(1000, seed).take(1000)
    pieces = GeneratedBytes(1000, seed)
    assert b"".join(pieces.take(n) for n in (1, 255, 3, 300, 441)) == whole
    assert whole[:256] == bytes((seed + i) % 256 for i in range(256))


@pytest.mark.parametrize("steps, fixed", [((), True), ((Dribble(nbytes=None),), True), ((Dribble(nbytes=3),), False),
                                          ((Chunk(max_bytes=2),), False), ((Pass(nbytes=2),), False),
                                          ((Eintr(),), False)],
                         ids=["none", "dribble", "dribble-3", "chunk", "pass", "eintr"])
def test_a_fixed_limit_is_what_limit_says_and_delivered_changes_nothing(steps, fixed):
    cursor = ReadCursor(steps)
    assert (cursor.fixed_limit >= 0) == fixed
    if not fixed:
        return
    for wanted in (1, 2, 5, 1 << 20):
        assert cursor.limit(wanted) == min(wanted, cursor.fixed_limit)
        before = (cursor.index, cursor._left, cursor.step)
        cursor.delivered(cursor.limit(wanted))
        assert (cursor.index, cursor._left, cursor.step) == before
        assert not cursor.arrivals_pending() and cursor.call_fault() is None
