"""faultio/_time_faults.py: the time steps, the six kinds, the fake fd honouring them, with_timeout."""

import socket

import pytest

import faultio
from faultio import (
    TIME_KINDS,
    Chunk,
    DeadlineError,
    Delay,
    FaultPlan,
    Future,
    IOLoop,
    IOStream,
    LateFin,
    Pass,
    PlanError,
    SendPass,
    SendStall,
    parse_kinds,
    plan_for_kind,
    socketpair,
    with_timeout,
)
from faultio._realfd import FaultySocket
from faultio._time_faults import (
    bandwidth_plan,
    latency_plan,
    limit_data_plan,
    send_stall_plan,
    slow_close_plan,
    stall_plan,
)

READ, WRITE = IOLoop.READ, IOLoop.WRITE


# --- steps and kinds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TIME_KINDS)
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_time_kind_plans_are_seeded_and_round_trip_through_json(kind, seed):
    plan = plan_for_kind(kind, seed=seed, inbound_size=600, outbound_size=600)
    assert plan == plan_for_kind(kind, seed=seed, inbound_size=600, outbound_size=600)
    assert FaultPlan.from_json(plan.dumps()) == plan
    assert plan.name == kind


def test_time_kinds_are_valid_on_both_transports_and_in_all():
    assert set(TIME_KINDS) <= set(parse_kinds("all", transports=("plain",)))
    assert set(TIME_KINDS) <= set(parse_kinds("all", transports=("ssl",)))
    assert parse_kinds("stall,send-stall", transports=("plain",)) == ("stall", "send-stall")


def test_every_stall_the_kind_builds_lasts_at_least_a_minute():
    for seed in range(40):
        (delay,) = [s for s in plan_for_kind("stall", seed=seed, inbound_size=600).read if isinstance(s, Delay)]
        assert delay.seconds >= 60


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "1", 86_401])
def test_a_time_step_refuses_a_duration_that_is_not_a_finite_positive_number_of_seconds(bad):
    for cls in (Delay, LateFin, SendStall):
        with pytest.raises(PlanError, match="virtual seconds"):
            cls(seconds=bad)


def test_unknown_endings_are_refused_naming_the_valid_ones():
    with pytest.raises(PlanError, match="resume, eof, reset"):
        stall_plan(at=1, seconds=60.0, ending="later")
    with pytest.raises(PlanError, match="eof, reset"):
        limit_data_plan(inbound=1, outbound=1, ending="resume")


def test_bandwidth_pieces_are_a_tenth_of_the_rate_and_never_larger_than_a_segment():
    plan = bandwidth_plan(rate=1000, total=250)
    assert plan.read[:2] == (Delay(seconds=0.1), Chunk(max_bytes=100))
    assert len(plan.read) == 6
    assert bandwidth_plan(rate=1_000_000, total=10).read[1] == Chunk(max_bytes=1448)


def test_a_real_socket_refuses_time_steps_naming_them():
    a, b = socket.socketpair()
    try:
        with pytest.raises(PlanError, match="delay"):
            FaultySocket(a, stall_plan(at=1, seconds=60.0))
        FaultySocket(a, limit_data_plan(inbound=1, outbound=4))  # a byte budget needs no clock
    finally:
        a.close()
        b.close()


# --- the fake fd ---------------------------------------------------------------------------------------


def _pair(plan):
    loop = IOLoop(make_current=False)
    target, peer = socketpair(loop, plan)
    return loop, target, peer


def test_a_delay_hides_readiness_and_data_until_its_virtual_time_comes():
    loop, target, peer = _pair(FaultPlan(read=(Delay(seconds=60.0),)))
    peer.send(b"hello")
    assert not target.poll_events() & READ
    with pytest.raises(BlockingIOError):
        target.recv(10)
    assert loop.run_once()  # nothing else to do: the clock jumps to the end of the hold
    assert loop.time() == 60.0
    assert target.poll_events() & READ
    assert target.recv(10) == b"hello"


def test_a_sixty_second_stall_is_one_clock_jump():
    loop, target, peer = _pair(stall_plan(at=3, seconds=60.0))
    stream = IOStream(target, io_loop=loop)

    async def main():
        peer.send(b"abcdefgh")
        first = await stream.read_bytes(3)
        rest = await stream.read_bytes(5)
        return first, rest, loop.time()

    assert loop.run_sync(main) == (b"abc", b"defgh", 60.0)
    assert loop.clock_jumps == 1


@pytest.mark.parametrize("ending, outcome", [("eof", "closed"), ("reset", "closed"), ("resume", "data")])
def test_a_stall_ends_as_its_plan_says(ending, outcome):
    loop, target, peer = _pair(stall_plan(at=2, seconds=61.0, ending=ending))
    stream = IOStream(target, io_loop=loop)

    async def main():
        peer.send(b"abcd")
        await stream.read_bytes(2)
        try:
            return "data", await stream.read_bytes(2)
        except faultio.StreamClosedError:
            return "closed", loop.time()

    got = loop.run_sync(main)
    assert got[0] == outcome
    assert got[1] == (b"cd" if outcome == "data" else 61.0)


def _read_all(plan, chunks):
    """A stream reading to EOF while the peer sends ``chunks`` one per loop iteration: (bytes, end time)."""
    loop, target, peer = _pair(plan)
    stream = IOStream(target, io_loop=loop)

    async def feed():
        for chunk in chunks:
            peer.send(chunk)
            await loop.sleep(0)
        peer.close()

    async def main():
        loop.spawn(feed())
        return await stream.read_until_close(), loop.time()

    return loop.run_sync(main)


PAYLOAD = bytes(range(256)) * 2


@pytest.mark.parametrize("feed", ["byte-at-a-time", "all-at-once"])
@pytest.mark.parametrize("plan", [latency_plan(delays=(0.02, 0.05, 0.031), sizes=(7, 64, 300)),
                                  bandwidth_plan(rate=1000, total=len(PAYLOAD) + 1),
                                  slow_close_plan(seconds=9.0, sizes=(13, 200))],
                         ids=["latency", "bandwidth", "slow-close"])
def test_time_shaping_changes_when_bytes_arrive_never_which(plan, feed):
    chunks = [PAYLOAD[i:i + 1] for i in range(len(PAYLOAD))] if feed == "byte-at-a-time" else [PAYLOAD]
    data, end = _read_all(plan, chunks)
    assert data == PAYLOAD
    clean, clean_end = _read_all(FaultPlan(), chunks)
    assert clean == PAYLOAD and end > clean_end


def test_bandwidth_delivers_at_most_its_rate():
    data, end = _read_all(bandwidth_plan(rate=1000, total=len(PAYLOAD) + 1), [PAYLOAD])
    assert len(data) == 512 and end >= 0.5


def test_a_late_fin_comes_after_every_byte_and_late():
    data, end = _read_all(slow_close_plan(seconds=9.0), [PAYLOAD])
    assert data == PAYLOAD and end == 9.0


def test_a_send_stall_refuses_sends_and_hides_writability_until_its_time():
    loop, target, peer = _pair(send_stall_plan(after=4, seconds=70.0))
    assert target.send(b"abcdefgh") == 4
    with pytest.raises(BlockingIOError):
        target.send(b"efgh")
    assert not target.poll_events() & WRITE
    loop.run_once()
    assert loop.time() == 70.0 and target.poll_events() & WRITE
    assert target.send(b"efgh") == 4
    assert peer.recv(100) == b"abcdefgh"


@pytest.mark.parametrize("ending, error", [("eof", BrokenPipeError), ("reset", ConnectionResetError)])
def test_limit_data_cuts_sends_after_the_byte_budget(ending, error):
    loop, target, peer = _pair(limit_data_plan(inbound=10, outbound=5, ending=ending))
    assert target.send(b"abc") == 3
    assert target.send(b"defgh") == 2  # the send that crosses the line is cut short exactly there
    with pytest.raises(error):
        target.send(b"x")


def test_limit_data_ends_reads_after_the_byte_budget():
    loop, target, peer = _pair(limit_data_plan(inbound=3, outbound=5, ending="eof"))
    peer.send(b"abcdef")
    assert target.recv(10) == b"abc"
    assert target.recv(10) == b""


# --- with_timeout --------------------------------------------------------------------------------------


def test_with_timeout_fails_at_the_deadline_and_leaves_the_future_running():
    loop = IOLoop(make_current=False)
    inner = Future(label="read")
    seen = {}

    async def main():
        try:
            await with_timeout(loop, 2.5, inner)
        except DeadlineError:
            seen["at"] = loop.time()
        loop.call_later(1.0, inner.set_result, b"late")
        seen["then"] = await with_timeout(loop, 10.0, inner)

    loop.run_sync(main)
    assert seen == {"at": 2.5, "then": b"late"}


def test_with_timeout_passes_the_result_and_the_error_through_before_the_deadline():
    loop = IOLoop(make_current=False)
    ok, bad = Future(), Future()
    loop.call_later(1.0, ok.set_result, 5)
    loop.call_later(1.0, bad.set_exception, ValueError("no"))

    async def main():
        got = await with_timeout(loop, 3.0, ok)
        with pytest.raises(ValueError):
            await with_timeout(loop, 3.0, bad)
        return got, loop.time()

    assert loop.run_sync(main) == (5, 1.0)


def test_with_timeout_refuses_a_deadline_that_is_not_a_finite_time():
    with pytest.raises(ValueError, match="finite virtual time"):
        with_timeout(IOLoop(make_current=False), float("nan"), Future())


def test_send_pass_steps_round_trip_and_validate():
    assert FaultPlan.from_json(FaultPlan(write=(SendPass(nbytes=3), SendStall(seconds=1.5))).dumps()).write == (
        SendPass(nbytes=3), SendStall(seconds=1.5))
    with pytest.raises(PlanError):
        SendPass(nbytes=0)
    assert FaultPlan(read=(Pass(nbytes=1), LateFin(seconds=2.0))).read[1].kind == "late_fin"
