"""faultio._aioloop: asyncio's own streams, transports and tasks on the simulated kernel, in virtual time.

Everything asyncio runs here is the stdlib's (``StreamReader``/``StreamWriter``, the selector and SSL
transports) or Tornado's; only the loop's selector and scheduling core are faultio's. Every stream path is
read byte at a time and all at once. Each test ends with ``AsyncioIOLoop.shutdown()`` (the ``make_kernel``
fixture does it), so no task or transport outlives its test.

The tests in the last section are regressions: bugs found while writing this file (fixed in 59b9d9d).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket

import pytest

from faultio import (
    AsyncioIOLoop,
    BusyLoopError,
    FaultPlan,
    IOStream,
    LoopBudgetExceeded,
    Peer,
    SendWouldBlock,
    StalledError,
    plan_for_kind,
    socketpair,
)

from _aioloop_support import DRIBBLE, ERROR, READ, WRITE, open_streams, random_bytes, target_reads


# --- 1. asyncio streams over a fake socket pair ------------------------------------------------------

HEAD = b"HEAD"
LINES = (b"first line\r\n", b"a second, longer line\r\n")
BODY = random_bytes(600)
PAYLOAD = HEAD + b"".join(LINES) + BODY

# (plan, profile, shape): ``shape`` says what the target's receives must look like.
READ_CASES = {
    "all-at-once": (None, "raw", "bulk"),
    "byte-at-a-time": (DRIBBLE, "raw", "dribble"),
    "dribble-kind": (plan_for_kind("dribble", seed=1), "raw", "dribble"),
    "eintr-raw": (plan_for_kind("eintr", seed=3), "raw", "faulted"),
    "eintr-cpython": (plan_for_kind("eintr", seed=3), "cpython", "faulted"),
    "ewouldblock": (plan_for_kind("ewouldblock", seed=5), "raw", "faulted"),
}


@pytest.mark.parametrize("plan, profile, shape", READ_CASES.values(), ids=READ_CASES.keys())
def test_readexactly_readuntil_and_read_to_eof_deliver_exactly_the_peers_bytes(make_kernel, plan, profile, shape):
    kernel = make_kernel()
    fd, peer_sock = socketpair(kernel, plan, profile=profile)
    peer = Peer(kernel, peer_sock)
    aloop = kernel.asyncio_loop

    def send_and_close():
        peer.send_now(PAYLOAD)
        peer.close()

    async def main():
        reader, writer = await open_streams(aloop, fd)
        kernel.call_later(1, send_and_close)  # the bytes arrive while the reads wait for them
        head = await reader.readexactly(len(HEAD))
        lines = [await reader.readuntil(b"\r\n") for _ in LINES]
        rest = await reader.read()
        writer.close()
        await writer.wait_closed()
        return head, lines, rest

    head, lines, rest = kernel.run_sync(main)
    assert (head, tuple(lines), rest) == (HEAD, LINES, BODY)
    assert fd.received[0:len(fd.received)] == PAYLOAD
    reads = target_reads(kernel)
    assert sum(reads) == len(PAYLOAD)
    if shape == "bulk":
        assert reads == [len(PAYLOAD)]
    elif shape == "dribble":
        assert reads == [1] * len(PAYLOAD)
    else:
        assert fd.faults_injected > 0 and len(reads) > 1
    assert aloop.time() == 1.0


WRITE_CASES = {
    "all-at-once": (None, "clean"),
    "dribble-kind": (plan_for_kind("dribble", seed=1, outbound_size=512), "faulted"),
    "eintr-raw": (plan_for_kind("eintr", seed=3, outbound_size=512), "faulted"),
    "ewouldblock": (plan_for_kind("ewouldblock", seed=5, outbound_size=512), "faulted"),
}


@pytest.mark.parametrize("plan, shape", WRITE_CASES.values(), ids=WRITE_CASES.keys())
def test_stream_writer_write_and_drain_reach_the_peer_intact(make_kernel, plan, shape):
    kernel = make_kernel()
    fd, peer_sock = socketpair(kernel, plan)
    peer = Peer(kernel, peer_sock)
    aloop = kernel.asyncio_loop
    data = random_bytes(3000, seed=7)
    pieces = [data[:1], data[1:700], data[700:2048], data[2048:]]

    async def main():
        reader, writer = await open_streams(aloop, fd)
        received = kernel.spawn(peer.recv_until_eof())
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        return await received

    assert kernel.run_sync(main) == data
    assert bytes(peer.received) == data
    if shape == "clean":
        assert fd.send_calls == len(pieces)
    else:
        assert fd.send_calls > len(pieces)


# --- 2. virtual time ---------------------------------------------------------------------------------

def test_asyncio_sleep_advances_only_the_virtual_clock_by_exactly_its_delay(make_kernel):
    kernel = make_kernel()
    aloop = kernel.asyncio_loop

    async def main():
        before = aloop.time()
        await asyncio.sleep(60)
        return aloop.time() - before

    assert kernel.run_sync(main) == 60
    assert aloop.time() == kernel.time() == 60
    assert kernel.clock_jumps == 1
    assert [e.get("time") for e in kernel.trace.events(source="loop", kind="clock")] == [60.0]


def test_asyncio_sleep_moves_the_virtual_clock_under_run_until_complete_too(make_kernel):
    kernel = make_kernel()
    aloop = kernel.asyncio_loop
    assert aloop.run_until_complete(asyncio.sleep(60, result="slept")) == "slept"
    assert aloop.time() == 60
    assert kernel.clock_jumps == 1


def test_wait_for_a_read_that_never_comes_times_out_after_exactly_its_virtual_timeout(make_kernel):
    kernel = make_kernel()
    fd, peer_sock = socketpair(kernel, DRIBBLE)
    peer = Peer(kernel, peer_sock)
    aloop = kernel.asyncio_loop

    async def main():
        reader, writer = await open_streams(aloop, fd)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 60)
        timed_out_at = aloop.time()
        peer.send_now(b"late")  # the cancelled read lost nothing: the next read gets the bytes
        later = await reader.readexactly(4)
        writer.close()
        await writer.wait_closed()
        return timed_out_at, later

    assert kernel.run_sync(main) == (60.0, b"late")
    assert aloop.time() == 60
    assert kernel.clock_jumps == 1


# --- 3. determinism ----------------------------------------------------------------------------------

ECHO_LINES = (b"one\n", b"two two\n", b"three three three\n")


def run_echo_program(seed):
    """An asyncio echo server and an asyncio ticker (tasks) against a faultio-style client (``spawn``), on one
    fresh kernel with the ``eintr`` plan of ``seed``; returns the trace, what each party saw, and when."""
    kernel = AsyncioIOLoop()
    try:
        fd, peer_sock = socketpair(kernel, plan_for_kind("eintr", seed=seed))
        peer = Peer(kernel, peer_sock)
        aloop = kernel.asyncio_loop
        seen = []

        async def server():
            reader, writer = await open_streams(aloop, fd)
            async for line in reader:
                seen.append(("server", aloop.time(), line))
                writer.write(line.upper())
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        async def ticker():
            for i in range(4):
                await asyncio.sleep(0.25)
                seen.append(("tick", aloop.time(), i))

        async def client():
            for line in ECHO_LINES:
                await peer.send_all(line)
                await kernel.sleep(0.3)
            echoed = await peer.recv_exactly(sum(map(len, ECHO_LINES)))
            seen.append(("client", kernel.time(), echoed))
            peer.close()

        with aloop.running():
            tasks = [aloop.create_task(server()), aloop.create_task(ticker())]
        done = kernel.spawn(client)
        assert kernel.run_until(lambda: done.done() and all(t.done() for t in tasks))
        done.result()
        for task in tasks:
            task.result()
        return [e.describe() for e in kernel.trace], seen
    finally:
        kernel.shutdown()


def test_the_same_program_and_plan_give_the_same_trace_with_tasks_and_spawned_coroutines_interleaved():
    trace, seen = run_echo_program(seed=7)
    again_trace, again_seen = run_echo_program(seed=7)
    assert again_trace == trace
    assert again_seen == seen
    who = [party for party, _, _ in seen]
    assert who.index("tick") < len(who) - 1 - who[::-1].index("server")  # the tasks really interleaved
    assert [echoed for party, _, echoed in seen if party == "client"] == [b"".join(ECHO_LINES).upper()]


def test_a_different_seed_gives_a_different_trace():
    # The determinism check above is only worth something if the trace is sensitive to the plan.
    assert run_echo_program(seed=7)[0] != run_echo_program(seed=8)[0]


# --- 4. the step budget and stalls -------------------------------------------------------------------

def test_a_callback_that_reschedules_itself_for_ever_hits_the_step_budget(make_kernel):
    kernel = make_kernel(max_steps=100)
    aloop = kernel.asyncio_loop

    def again():
        aloop.call_soon(again)

    aloop.call_soon(again)
    with pytest.raises(LoopBudgetExceeded, match="100 steps") as info:
        kernel.run_until_quiescent()
    assert info.value.steps == 100
    assert kernel.step == 101  # the 101st handle was counted, then refused


def test_the_step_budget_stops_run_until_complete_too(make_kernel):
    kernel = make_kernel(max_steps=100)
    aloop = kernel.asyncio_loop

    async def spin():
        while True:
            await asyncio.sleep(0)

    with pytest.raises(LoopBudgetExceeded):
        aloop.run_until_complete(spin())
    assert not aloop.is_running()
    assert asyncio.events._get_running_loop() is None


def test_a_timer_that_reschedules_itself_for_ever_hits_the_budget_with_clock_jumps(make_kernel):
    kernel = make_kernel(max_steps=100)
    aloop = kernel.asyncio_loop

    def again():
        aloop.call_later(1, again)

    aloop.call_later(1, again)
    with pytest.raises(LoopBudgetExceeded, match=r"\(50 of them clock jumps"):
        kernel.run_until_quiescent()
    assert (kernel.step, kernel.clock_jumps) == (50, 51)
    assert aloop.time() == 50


def test_run_sync_of_a_coroutine_waiting_on_a_future_nobody_completes_raises_stalled_error(make_kernel):
    kernel = make_kernel()
    aloop = kernel.asyncio_loop
    never = aloop.create_future()

    async def main():
        return await never

    with pytest.raises(StalledError, match="quiescent"):
        kernel.run_sync(main)
    assert asyncio.events._get_running_loop() is None


def test_run_until_complete_of_a_future_nobody_completes_raises_stalled_error_and_the_loop_recovers(make_kernel):
    kernel = make_kernel()
    aloop = kernel.asyncio_loop
    never = aloop.create_future()
    with pytest.raises(StalledError, match="the asyncio loop has nothing scheduled"):
        aloop.run_until_complete(never)
    assert not aloop.is_running()
    assert asyncio.events._get_running_loop() is None
    aloop.call_later(5, never.set_result, "late")
    assert aloop.run_until_complete(never) == "late"
    assert aloop.time() == 5


def test_a_busy_loop_in_a_callback_stops_the_run_with_busy_loop_error(make_kernel):
    kernel = make_kernel()
    fd, _ = socketpair(kernel)

    def spin():
        while True:
            try:
                fd.recv(10)
            except BlockingIOError:
                pass

    kernel.asyncio_loop.call_soon(spin)
    with pytest.raises(BusyLoopError, match="EWOULDBLOCK"):
        kernel.run_until_quiescent()


# --- 5. observers and the step counter ---------------------------------------------------------------

def test_observers_see_every_step_then_the_idle_world_before_a_clock_jump_then_quiescence(make_kernel):
    kernel = make_kernel()
    aloop = kernel.asyncio_loop
    seen = []
    kernel.add_observer(lambda loop, what: seen.append((what, loop.step, loop.time())))
    for _ in range(3):
        aloop.call_soon(lambda: None)
    aloop.call_later(5, lambda: None)
    kernel.run_until_quiescent()
    assert seen == [("step", 1, 0.0), ("step", 2, 0.0), ("step", 3, 0.0), ("idle", 3, 0.0),
                    ("step", 4, 5.0), ("quiescent", 4, 5.0)]
    assert kernel.step == 4


def test_the_step_counter_counts_every_asyncio_handle_a_task_needs(make_kernel):
    kernel = make_kernel()
    aloop = kernel.asyncio_loop
    steps = []
    kernel.add_observer(lambda loop, what: steps.append(loop.step) if what == "step" else None)

    async def main():
        await asyncio.sleep(0)
        await asyncio.sleep(1)
        return "done"

    with aloop.running():
        task = aloop.create_task(main())
    kernel.run_until_quiescent()
    assert task.result() == "done"
    # The task's first step, its step after sleep(0), the sleep(1) timer, and the wake-up that finishes it.
    assert kernel.step == 4
    assert steps == [1, 2, 3, 4]
    ran = [e.kind for e in kernel.trace.events(source="loop") if e.kind in ("callback", "handler", "timeout")]
    assert ran == ["callback", "callback", "timeout", "callback"]


def test_an_observer_that_raises_stops_the_run_after_that_step(make_kernel):
    kernel = make_kernel()
    aloop = kernel.asyncio_loop
    ran = []
    for i in range(5):
        aloop.call_soon(ran.append, i)

    def stop_at_two(loop, what):
        if what == "step" and loop.step == 2:
            raise RuntimeError("seen enough")

    kernel.add_observer(stop_at_two)
    with pytest.raises(RuntimeError, match="seen enough"):
        kernel.run_until_quiescent()
    assert ran == [0, 1]
    assert kernel.step == 2


# --- 6. what a transport registered ------------------------------------------------------------------

def test_handler_mask_shows_what_the_transport_registered_as_it_reads_writes_pauses_and_closes(make_kernel):
    kernel = make_kernel()
    fd, peer_sock = socketpair(kernel, FaultPlan(write=(SendWouldBlock(count=1),)))
    peer = Peer(kernel, peer_sock)
    aloop = kernel.asyncio_loop
    masks = {}

    async def main():
        masks["before"] = kernel.handler_mask(fd.fd)
        reader, writer = await open_streams(aloop, fd)
        masks["reading"] = kernel.handler_mask(fd.fd)
        writer.transport.pause_reading()
        masks["paused"] = kernel.handler_mask(fd.fd)
        writer.transport.resume_reading()
        masks["resumed"] = kernel.handler_mask(fd.fd)
        writer.write(b"0123456789")  # the send says EWOULDBLOCK: the transport waits for writability
        masks["writing"] = kernel.handler_mask(fd.fd)
        assert await peer.recv_exactly(10) == b"0123456789"
        masks["written"] = kernel.handler_mask(fd.fd)
        writer.close()
        masks["closing"] = kernel.handler_mask(fd.fd)
        await writer.wait_closed()
        masks["closed"] = kernel.handler_mask(fd.fd)

    kernel.run_sync(main)
    assert masks == {
        "before": None,
        "reading": READ | ERROR,
        "paused": None,
        "resumed": READ | ERROR,
        "writing": READ | WRITE | ERROR,
        "written": READ | ERROR,
        "closing": None,
        "closed": None,
    }
    assert fd.closed()


# --- 10. only fake fds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["add_reader", "add_writer", "add_handler"])
def test_registering_a_real_fd_is_refused_naming_what_is_valid(make_kernel, how):
    kernel = make_kernel()
    fake, _ = socketpair(kernel)
    aloop = kernel.asyncio_loop
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as real:
        if real.fileno() in kernel._fds:  # pragma: no cover - the fd numbers of the two kinds met
            pytest.skip(f"real fd {real.fileno()} has the number of a fake fd of this loop")
        register = {
            "add_reader": lambda fd: aloop.add_reader(fd, lambda: None),
            "add_writer": lambda fd: aloop.add_writer(fd, lambda: None),
            "add_handler": lambda fd: kernel.add_handler(fd, lambda fd, events: None, READ),
        }[how]
        for what in (real.fileno(), real):
            with pytest.raises(ValueError, match=r"not a faultio fake fd of this loop.*faultio\.socketpair\(loop"):
                register(what)
        assert kernel.handler_mask(real.fileno()) is None
        register(fake.fileno())  # a fake fd of this loop is accepted
        assert kernel.handler_mask(fake.fileno()) is not None


# --- regressions ---------------------------------------------------------------------------------------

def test_an_error_only_handler_leaves_the_loop_quiescent_while_bytes_wait_unread(make_kernel):
    # Was: _subscribe gave an ERROR-only handler an asyncio reader, which the level-triggered selector woke
    # while bytes waited unread; the dispatch did nothing and ran again, for ever (LoopBudgetExceeded).
    kernel = make_kernel(max_steps=1000)
    fd, peer_sock = socketpair(kernel)
    calls = []
    kernel.add_handler(fd, lambda fd, events: calls.append(events), ERROR)
    peer_sock.send(b"unread")
    assert kernel.run_until_quiescent() == 0  # what faultio's IOLoop does
    assert calls == []


def test_faultio_iostream_with_bytes_buffered_waits_quietly_for_its_next_read(make_kernel):
    # The same bug as met in practice: faultio's IOStream listens for ERROR only while it holds buffered bytes.
    kernel = make_kernel(max_steps=10_000)
    fd, peer_sock = socketpair(kernel)
    stream = IOStream(fd, io_loop=kernel)

    async def main():
        pending = stream.read_bytes(2)  # nothing there yet: the stream registers for READ
        kernel.call_later(1, peer_sock.send, b"abcde")
        first = await pending  # three bytes stay buffered: the stream drops READ (ERROR only)
        peer_sock.send(b"fgh")  # more arrives while nobody reads
        await kernel.sleep(1)
        return first + await stream.read_bytes(6)

    try:
        assert kernel.run_sync(main) == b"abcdefgh"
    finally:
        stream.close()


def test_timeouts_with_equal_deadlines_run_in_creation_order(make_kernel):
    # Was: asyncio's TimerHandle compares deadlines only; on the virtual clock deadlines are often exactly
    # equal, and the heap ran them in no particular order (acgfhebd), where IOLoop promises creation order.
    kernel = make_kernel()
    seen = []
    for name in "abcdefgh":
        kernel.call_later(5, seen.append, name)
    kernel.run_until_quiescent()
    assert "".join(seen) == "abcdefgh"


def test_remove_reader_of_a_fake_socket_object_unregisters_it(make_kernel):
    # Was: SimSelector.get_map() was a dict keyed by fd number, so BaseSelector.get_key(fileobj) never found a
    # file object: remove_reader(sock) answered False and left the reader registered.
    kernel = make_kernel()
    fd, _ = socketpair(kernel)
    aloop = kernel.asyncio_loop
    aloop.add_reader(fd, lambda: None)
    assert aloop.remove_reader(fd) is True
    assert kernel.handler_mask(fd.fd) is None


def test_a_fake_socket_object_can_have_a_reader_and_a_writer(make_kernel):
    # Was (same cause): the second registration of one file object was taken for a new one (KeyError).
    kernel = make_kernel()
    fd, _ = socketpair(kernel)
    aloop = kernel.asyncio_loop
    aloop.add_reader(fd, lambda: None)
    aloop.add_writer(fd, lambda: None)
    assert kernel.handler_mask(fd.fd) == READ | WRITE | ERROR


def test_a_busy_loop_inside_an_asyncio_task_stops_the_run(make_kernel):
    kernel = make_kernel()
    fd, _ = socketpair(kernel)
    aloop = kernel.asyncio_loop

    async def spin():
        while True:
            try:
                fd.recv(10)
            except BlockingIOError:
                pass

    # Was: Task.__step keeps a BaseException that is not SystemExit or KeyboardInterrupt as the task's
    # result, so the BusyLoopError never reached the exception handler and the run went on.
    with aloop.running():
        task = aloop.create_task(spin())
    with pytest.raises(BusyLoopError, match="EWOULDBLOCK"):
        kernel.run_until_quiescent()
    assert isinstance(task.exception(), BusyLoopError)  # read, so that nobody logs it as never retrieved


def test_a_coroutine_run_by_run_sync_survives_a_garbage_collection_while_it_waits_on_a_stream(make_kernel):
    # Was (faultio._loop): nothing held the coroutine spawn() drives but the callbacks of what it awaits. A
    # StreamReader is held weakly by its protocol, so a coroutine waiting on a read was an unreachable cycle,
    # and a collection closed its StreamWriter (StreamWriter.__del__) under it: the run stalled.
    kernel = make_kernel()
    fd, peer_sock = socketpair(kernel)
    peer = Peer(kernel, peer_sock)
    aloop = kernel.asyncio_loop

    async def main():
        reader, writer = await open_streams(aloop, fd)
        kernel.call_later(1, gc.collect)  # a collection while the read waits
        kernel.call_later(2, peer.send_now, b"hello")
        data = await reader.readexactly(5)
        writer.close()
        await writer.wait_closed()
        return data

    assert kernel.run_sync(main) == b"hello"


def test_a_spawned_coroutine_hears_that_the_asyncio_task_it_awaits_was_cancelled(make_kernel):
    # Was (faultio._loop): spawn's resume() read the outcome under `except Exception`; asyncio's CancelledError
    # is a BaseException, so it escaped to the loop's exception handler and the coroutine never resumed.
    kernel = make_kernel()
    aloop = kernel.asyncio_loop

    async def main():
        task = aloop.create_task(asyncio.sleep(10))
        aloop.call_soon(task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            return "heard it"
        return "never cancelled"

    assert kernel.run_sync(main) == "heard it"


def test_a_done_callback_raising_cancelled_error_is_logged_and_the_loop_goes_on(make_kernel, caplog):
    # Was: the simulated loop took any non-Exception a callback raised for an abort and ended the run; asyncio's
    # Handle._run logs a callback's CancelledError ("Exception in callback") and goes on. Tornado's write future
    # has such a callback (lambda f: f.exception()), which raises once asyncio.wait_for cancelled the future.
    kernel = make_kernel()
    aloop = kernel.asyncio_loop

    async def main():
        future = aloop.create_future()
        future.add_done_callback(lambda f: f.exception())
        future.cancel()
        await asyncio.sleep(1)
        return "went on"

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        assert kernel.run_sync(main) == "went on"
    assert [type(e) for e in kernel.uncaught] == [asyncio.CancelledError]
    assert any("Exception in callback" in r.getMessage() for r in caplog.records)
