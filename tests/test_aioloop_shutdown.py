"""faultio._aioloop's shutdown: pending tasks cancelled, transports aborted, the loop closed and nothing left to
collect, also after the step budget ran out (split from ``test_aioloop.py``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest

from faultio import (
    AsyncioIOLoop,
    LoopBudgetExceeded,
    socketpair,
)

from _aioloop_support import open_streams


# --- 9. shutdown -------------------------------------------------------------------------------------

def build_and_leave_running(*, shut_down):
    """A kernel with a connected transport and three pending tasks (on an fd, a timer and a future); shut
    down or simply dropped. Returns what was learnt, holding no reference to any of it."""
    kernel = AsyncioIOLoop()
    fd, peer_sock = socketpair(kernel)
    aloop = kernel.asyncio_loop
    opened = {}

    async def reading():
        opened["reader"], opened["writer"] = await open_streams(aloop, fd)
        await opened["reader"].read()  # the peer never sends nor closes

    async def sleeping():
        await asyncio.sleep(3600)

    async def waiting():
        await aloop.create_future()

    with aloop.running():
        tasks = [aloop.create_task(coro()) for coro in (reading, sleeping, waiting)]
    kernel.run_until(lambda: "writer" in opened and not aloop._ready)  # connected, and every task waits
    assert "writer" in opened and not any(t.done() for t in tasks)
    if not shut_down:
        return {}
    kernel.shutdown()
    return {
        "cancelled": [t.cancelled() for t in tasks],
        "loop closed": aloop.is_closed(),
        "transport closing": opened["writer"].transport.is_closing(),
        "fd closed": fd.closed(),
        "peer closed": peer_sock.closed(),
        "mask": kernel.handler_mask(fd.fd),
        "clock": aloop.time(),
    }


def leftovers(caplog):
    """Collect garbage; return the ResourceWarnings it raised and the asyncio complaints it logged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    resource = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    complaints = [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.WARNING]
    return resource, complaints


def test_shutdown_cancels_pending_tasks_aborts_transports_and_closes_the_loop_leaving_nothing_to_collect(caplog):
    caplog.set_level(logging.DEBUG, logger="asyncio")
    gc.collect()
    caplog.clear()
    state = build_and_leave_running(shut_down=True)
    assert state == {
        "cancelled": [True, True, True],
        "loop closed": True,
        "transport closing": True,
        "fd closed": True,
        "peer closed": False,
        "mask": None,
        "clock": 0.0,  # shutting down never moves the clock (the sleeping task's timer is cancelled, not run)
    }
    resource, complaints = leftovers(caplog)
    assert resource == []
    assert not [c for c in complaints if "Task was destroyed but it is pending" in c]
    assert complaints == []


def test_a_kernel_dropped_without_shutdown_is_what_the_shutdown_check_catches(caplog):
    # The check above must be able to fail: without shutdown() the same program leaves pending tasks and an
    # unclosed loop for the garbage collector, which complains.
    caplog.set_level(logging.DEBUG, logger="asyncio")
    gc.collect()
    caplog.clear()
    build_and_leave_running(shut_down=False)
    resource, complaints = leftovers(caplog)
    assert any("unclosed event loop" in r for r in resource)
    assert any("Task was destroyed but it is pending" in c for c in complaints)


def test_shutdown_twice_is_harmless(make_kernel):
    kernel = make_kernel()
    kernel.shutdown()
    kernel.shutdown()
    assert kernel.asyncio_loop.is_closed()




def test_shutdown_after_the_budget_ran_out_still_ends_every_task(caplog):
    # Was: the handle the budget refused had been popped and was dropped; a task whose step it was could never
    # run again, so shutdown() could not cancel it and the collector found it pending.
    caplog.set_level(logging.DEBUG, logger="asyncio")

    def run():
        kernel = AsyncioIOLoop(max_steps=100)
        aloop = kernel.asyncio_loop

        async def spin():
            while True:
                await asyncio.sleep(0)

        with aloop.running():
            task = aloop.create_task(spin())
        with pytest.raises(LoopBudgetExceeded):
            kernel.run_until_quiescent()
        kernel.shutdown()
        return task.done(), aloop.is_closed()

    gc.collect()
    caplog.clear()
    task_done, closed = run()
    resource, complaints = leftovers(caplog)
    assert closed
    assert (task_done, resource, complaints) == (True, [], [])


def test_shutdown_after_the_budget_ran_out_still_closes_the_loop(caplog):
    # Was: shutdown() ran the leftover handles under the spent budget, raised LoopBudgetExceeded again and
    # never closed the loop.
    caplog.set_level(logging.DEBUG, logger="asyncio")

    def run():
        kernel = AsyncioIOLoop(max_steps=100)
        aloop = kernel.asyncio_loop

        def again():
            aloop.call_soon(again)

        aloop.call_soon(again)
        aloop.call_soon(again)  # two livelocked callbacks: one is still ready when the budget runs out
        with pytest.raises(LoopBudgetExceeded):
            kernel.run_until_quiescent()
        try:
            kernel.shutdown()
        except LoopBudgetExceeded as exc:
            raised = exc
        else:
            raised = None
        closed = aloop.is_closed()
        if not closed:
            aloop._ready.clear()  # so that the test leaves nothing behind either way
            aloop.close()
        return raised, closed

    raised, closed = run()
    resource, _ = leftovers(caplog)
    assert (raised, closed, resource) == (None, True, [])
