import pytest

from faultio import FaultPlan, Flood, IOLoop, Pass, socketpair
from faultio._bytelog import ByteLog
from faultio._cursor import GeneratedBytes


def test_slices_cross_real_and_generated_runs():
    log = ByteLog()
    log.append(b"ab")
    log.append(b"cd")
    gen = GeneratedBytes(1000, 7)
    log.append_generated(gen.pattern, 0, 300)
    log.append_generated(gen.pattern, 300, 700)  # contiguous: merged into one run
    log.append(b"zz")
    whole = b"abcd" + GeneratedBytes(1000, 7).take(1000) + b"zz"
    assert len(log) == len(whole) and log == whole
    for a, b in [(0, 3), (3, 10), (250, 900), (1000, 1006), (5, 5), (0, 9999)]:
        assert log[a:b] == whole[a:b]
    assert repr(log) == "<ByteLog 1006 bytes in 3 runs>"


def test_only_slices_are_offered():
    with pytest.raises(TypeError):
        ByteLog()[3]
    with pytest.raises(ValueError):
        ByteLog()[::2]


def test_a_consumed_gigabyte_flood_is_logged_without_materialising_it():
    loop = IOLoop()
    target, peer = socketpair(loop, FaultPlan(read=(Pass(nbytes=2), Flood(nbytes=1 << 30, pattern_seed=9))))
    peer.send(b"hi")
    total = 0
    for _ in range(64):
        total += len(target.recv(1 << 20))
    assert len(target.received) == total > 60 * (1 << 20)
    assert target.received[:2] == b"hi"
    assert target.received[2:5] == bytes([9, 10, 11])
    assert len(target.received._parts) == 2  # one run of real bytes, one generated run
