"""The seed's server/client exchange on the deterministic loop, under every fault kind."""

import pytest

from faultio import (
    FAULT_KINDS,
    FaultPlan,
    Flood,
    IOLoop,
    IOStream,
    Pass,
    Peer,
    StreamBufferFullError,
    StreamClosedError,
    plan_for_kind,
    socketpair,
)
from faultio._seed import REPLY, frame, handle_connection, run_client, seed_inbound_size, seed_messages

MESSAGES = seed_messages()
INBOUND = seed_inbound_size()
OUTBOUND = len(REPLY) * len(MESSAGES)


async def client_all_at_once(peer):
    """The client variant that sends every frame in one write, then reads every reply."""
    await peer.send_all(b"".join(frame(m) for m in MESSAGES))
    replies = []
    for _ in MESSAGES:
        reply = await peer.recv_exactly(len(REPLY))
        if not reply:
            break
        replies.append(reply)
    return replies


def exchange(plan, delivery, max_buffer_size=64 * 1024):
    loop = IOLoop(max_steps=200_000)
    target, peer_sock = socketpair(loop, plan)
    stream = IOStream(target, io_loop=loop, max_buffer_size=max_buffer_size)
    received = []
    server = loop.spawn(handle_connection(stream, received))
    peer = Peer(loop, peer_sock)
    client = loop.spawn(run_client(peer) if delivery == "per-message" else client_all_at_once(peer))
    loop.run_until_quiescent()
    assert server.done() and client.done(), "the exchange stalled"
    assert not loop.uncaught
    stream.fd = target
    return stream, server, client, received


DELIVERIES = ["per-message", "all-at-once"]


def complete_frames_before(offset):
    """How many whole frames lie in the first ``offset`` inbound bytes."""
    used = count = 0
    for m in MESSAGES:
        used += len(frame(m))
        if used > offset:
            break
        count += 1
    return count


@pytest.mark.parametrize("delivery", DELIVERIES)
@pytest.mark.parametrize("kind", ["clean", "eintr", "ewouldblock", "dribble"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_message_arrives_intact_and_is_answered(kind, delivery, seed):
    plan = None if kind == "clean" else plan_for_kind(kind, seed=seed, inbound_size=INBOUND, outbound_size=OUTBOUND)
    stream, server, client, received = exchange(plan, delivery)
    assert received == MESSAGES
    assert client.result() == [REPLY] * len(MESSAGES)
    assert server.result() == MESSAGES
    assert stream.closed() and stream.error is None


@pytest.mark.parametrize("delivery", DELIVERIES)
@pytest.mark.parametrize("seed", range(6))
def test_a_reset_keeps_every_message_before_it_and_closes_quietly(delivery, seed):
    plan = plan_for_kind("econnreset", seed=seed, inbound_size=INBOUND, outbound_size=OUTBOUND)
    stream, server, client, received = exchange(plan, delivery)
    assert received == MESSAGES[: len(received)]
    assert len(received) < len(MESSAGES)
    # Every frame wholly delivered before the read-side reset offset was read (unless a send hit the
    # reset first and ended the exchange earlier).
    assert len(received) <= complete_frames_before(plan.read[0].nbytes)
    assert isinstance(stream.error, (ConnectionResetError, BrokenPipeError))
    error = server.exception()
    assert isinstance(error, StreamClosedError) and error.real_error is stream.error


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_a_flood_after_the_exchange_leaves_every_message_intact_and_is_never_buffered(delivery):
    plan = FaultPlan(read=(Pass(nbytes=INBOUND), Flood(nbytes=1 << 30)), name="flood")
    stream, server, client, received = exchange(plan, delivery)
    assert received == MESSAGES
    assert client.result() == [REPLY] * len(MESSAGES)
    assert stream._read_buffer_size <= stream.read_chunk_size
    assert stream.fd.bytes_received <= INBOUND + stream.read_chunk_size


@pytest.mark.parametrize("seed", range(4))
def test_a_flood_inside_the_exchange_never_overruns_the_buffer(seed):
    plan = plan_for_kind("flood", seed=seed, inbound_size=INBOUND)
    stream, server, client, received = exchange(plan, "per-message", max_buffer_size=16 * 1024)
    complete = complete_frames_before(plan.read[0].nbytes)
    assert len(received) >= complete and received[:complete] == MESSAGES[:complete]
    assert stream.closed()
    assert stream.fd.bytes_received <= INBOUND + 16 * 1024 + stream.read_chunk_size
    if stream.error is not None:
        assert isinstance(stream.error, StreamBufferFullError)


def test_all_fault_kinds_are_covered_here():
    covered = {"eintr", "ewouldblock", "dribble", "econnreset", "flood"}
    assert covered == set(FAULT_KINDS)


def test_the_same_plan_twice_gives_the_same_trace():
    def run():
        loop = IOLoop()
        target, peer_sock = socketpair(loop, plan_for_kind("ewouldblock", seed=5, inbound_size=INBOUND))
        stream = IOStream(target, io_loop=loop)
        loop.spawn(handle_connection(stream))
        loop.spawn(run_client(Peer(loop, peer_sock)))
        loop.run_until_quiescent()
        return loop.trace.fingerprint()

    assert run() == run()
