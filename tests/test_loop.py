import datetime

import pytest

from faultio import (
    Future,
    InvalidStateError,
    IOLoop,
    LoopBudgetExceeded,
    StalledError,
    socketpair,
)


def test_callbacks_run_fifo_on_the_next_iteration_not_inline():
    loop = IOLoop()
    seen = []
    loop.add_callback(seen.append, 1)
    loop.add_callback(lambda: loop.add_callback(seen.append, 3))
    loop.add_callback(seen.append, 2)
    assert seen == []
    loop.run_once()
    assert seen == [1, 2]
    loop.run_once()
    assert seen == [1, 2, 3]


def test_virtual_clock_jumps_to_timeouts_in_deadline_then_creation_order():
    loop = IOLoop()
    seen = []
    loop.call_later(5, seen.append, "b")
    loop.add_timeout(datetime.timedelta(seconds=1), seen.append, "a")
    loop.call_at(5, seen.append, "c")
    cancelled = loop.call_later(2, seen.append, "never")
    loop.remove_timeout(cancelled)
    loop.run_until_quiescent()
    assert seen == ["a", "b", "c"]
    assert loop.time() == 5.0


def test_handlers_get_ready_events_masked_by_registration_plus_error():
    loop = IOLoop()
    target, peer = socketpair(loop)
    events = []
    loop.add_handler(target.fileno(), lambda fd, ev: events.append(ev), IOLoop.READ)
    loop.run_once()
    assert events == []  # writable, but WRITE was not asked for
    peer.send(b"x")
    loop.run_once()
    assert events == [IOLoop.READ]
    loop.update_handler(target, IOLoop.WRITE)
    loop.run_once()
    assert events[-1] == IOLoop.WRITE
    loop.remove_handler(target.fileno())
    loop.run_once()
    assert len(events) == 2


def test_update_of_an_unregistered_fd_fails_and_is_traced():
    loop = IOLoop()
    target, peer = socketpair(loop)
    with pytest.raises(FileNotFoundError, match="add_handler it first"):
        loop.update_handler(target.fileno(), IOLoop.READ)
    loop.remove_handler(target.fileno())
    assert [e.get("registered") for e in loop.trace.events(kind="remove_handler")] == [False]


def test_adding_a_handler_twice_fails_like_epoll():
    loop = IOLoop()
    target, _ = socketpair(loop)
    loop.add_handler(target, lambda fd, ev: None, IOLoop.READ)
    with pytest.raises(FileExistsError):
        loop.add_handler(target, lambda fd, ev: None, IOLoop.READ)


def test_only_fake_fds_can_be_registered():
    with pytest.raises(ValueError, match="not a faultio fake fd"):
        IOLoop().add_handler(999, lambda fd, ev: None, IOLoop.READ)


def test_a_livelock_hits_the_step_budget_instead_of_hanging():
    loop = IOLoop(max_steps=500)

    def again():
        loop.add_callback(again)

    loop.add_callback(again)
    with pytest.raises(LoopBudgetExceeded, match="500 steps") as info:
        loop.run_until_quiescent()
    assert info.value.steps == 500


def test_a_busy_write_registration_is_a_livelock_too():
    loop = IOLoop(max_steps=200)
    target, _ = socketpair(loop)
    loop.add_handler(target, lambda fd, ev: None, IOLoop.WRITE)
    with pytest.raises(LoopBudgetExceeded):
        loop.run_until_quiescent()


NON_FINITE = [float("nan"), float("inf"), float("-inf")]
NON_FINITE_IDS = ["nan", "inf", "-inf"]


@pytest.mark.parametrize("value", NON_FINITE, ids=NON_FINITE_IDS)
@pytest.mark.parametrize("method", ["add_timeout", "call_at", "call_later", "sleep"])
def test_a_non_finite_deadline_is_refused_naming_the_value(method, value):
    loop = IOLoop()
    args = (value,) if method == "sleep" else (value, lambda: None)
    with pytest.raises(ValueError, match=rf"finite number of virtual seconds, got {value!r}"):
        getattr(loop, method)(*args)
    assert loop.is_quiescent()  # nothing was scheduled


def test_a_delay_that_overflows_the_clock_is_refused_too():
    loop = IOLoop()
    loop.call_later(1e308, lambda: None)
    loop.run_until_quiescent()
    with pytest.raises(ValueError, match="got inf"):
        loop.call_later(1e308, lambda: None)


def test_a_loop_that_only_jumps_its_clock_hits_the_budget_instead_of_hanging():
    loop = IOLoop(max_steps=50)
    timeout = loop.call_later(1, lambda: None)
    timeout.deadline = float("nan")  # never due: what a NaN deadline did before it was refused
    with pytest.raises(LoopBudgetExceeded, match=r"\(50 of them clock jumps") as info:
        loop.run_until_quiescent()
    assert info.value.steps == 50
    assert (loop.step, loop.clock_jumps) == (0, 51)


def test_clock_jumps_spend_the_step_budget_without_renumbering_steps():
    loop = IOLoop(max_steps=100)

    def again():
        loop.call_later(1, again)

    loop.call_later(1, again)
    with pytest.raises(LoopBudgetExceeded, match=r"100 steps without settling \(50 of them clock jumps"):
        loop.run_until_quiescent()
    # One jump and one step per timeout: the budget is shared, the step numbers count only steps.
    assert (loop.step, loop.clock_jumps) == (50, 51)
    assert [e.step for e in loop.trace.events(kind="timeout")] == list(range(1, 51))


def test_clock_jumps_are_counted_apart_from_steps():
    loop = IOLoop()
    seen = []
    loop.call_later(1, seen.append, 1)
    loop.call_later(2, seen.append, 2)
    loop.run_until_quiescent()
    assert seen == [1, 2]
    assert (loop.step, loop.clock_jumps) == (2, 2)


def test_run_sync_drives_async_def_code_over_fake_fds():
    loop = IOLoop()
    target, peer = socketpair(loop)

    async def wait_readable():
        future = Future()

        def on_ready(fd, events):
            loop.remove_handler(fd)
            future.set_result(target.recv(100))

        loop.add_handler(target, on_ready, IOLoop.READ)
        loop.call_later(3, peer.send, b"late hello")
        data = await future
        await loop.sleep(1)
        return data, loop.time()

    assert loop.run_sync(wait_readable) == (b"late hello", 4.0)


def test_run_sync_reports_a_stall_instead_of_hanging():
    loop = IOLoop()

    async def forever():
        await Future(label="never")

    with pytest.raises(StalledError, match="quiescent") as info:
        loop.run_sync(forever)
    assert "hangs for ever" in str(info.value)


def test_run_sync_timeout_is_virtual():
    loop = IOLoop()

    async def slow():
        await loop.sleep(100)

    with pytest.raises(TimeoutError, match="2 virtual seconds"):
        loop.run_sync(slow, timeout=2)
    assert loop.time() == 2.0


@pytest.mark.parametrize("outcome", ["result", "exception", "synchronous"])
def test_run_sync_removes_its_timeout_once_the_result_is_in(outcome):
    loop = IOLoop()

    async def quick():
        await loop.sleep(1)
        if outcome == "exception":
            raise KeyError("boom")
        return "done"

    func = (lambda: "done") if outcome == "synchronous" else quick
    if outcome == "exception":
        with pytest.raises(KeyError):
            loop.run_sync(func, timeout=60)
    else:
        assert loop.run_sync(func, timeout=60) == "done"
    seen = []
    loop.add_observer(lambda lp, what: seen.append(what))
    assert loop.is_quiescent()
    assert loop.run_until_quiescent() == 0
    assert seen == ["quiescent"]  # no "idle": the clock never jumped to the stale expiry
    assert loop.time() == (0.0 if outcome == "synchronous" else 1.0)


@pytest.mark.parametrize("value", NON_FINITE, ids=NON_FINITE_IDS)
def test_run_sync_refuses_a_non_finite_timeout_before_starting_anything(value):
    loop = IOLoop()
    started = []

    async def main():
        started.append(True)

    with pytest.raises(ValueError, match=rf"run_sync\(\) timeout must be a finite number .* got {value!r}"):
        loop.run_sync(main, timeout=value)
    assert started == []


def test_exceptions_in_coroutines_propagate_through_run_sync():
    loop = IOLoop()

    async def inner():
        await loop.sleep(1)
        raise KeyError("boom")

    async def outer():
        try:
            await loop.spawn(inner())
        except KeyError as exc:
            return f"caught {exc}"

    assert loop.run_sync(outer) == "caught 'boom'"


def test_awaiting_something_not_future_like_is_a_clear_error():
    import asyncio

    loop = IOLoop()

    async def wrong():
        await asyncio.sleep(0)  # a bare yield: None reaches the loop

    with pytest.raises(TypeError, match=r"awaited None of type builtins\.NoneType, which is not future-like"):
        loop.run_sync(wrong)


class ForeignFuture:
    """A minimal future that is not faultio's, shaped like Tornado 4's ``tornado.concurrent.Future``:
    ``__await__`` yields the future itself, a done-callback added to a done future runs at once, and the
    exception is read through ``exc_info()`` (``with_exception_method`` adds ``exception()`` as well)."""

    def __init__(self, *, with_exception_method: bool = False):
        self._done = False
        self._result = None
        self._exc_info = None
        self._callbacks = []
        if with_exception_method:
            self.exception = lambda: None if self._exc_info is None else self._exc_info[1]

    def done(self):
        return self._done

    def result(self):
        if self._exc_info is not None:
            raise self._exc_info[1]
        return self._result

    def exc_info(self):
        return self._exc_info

    def add_done_callback(self, fn):
        if self._done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def _finish(self):
        self._done = True
        for fn in self._callbacks:
            fn(self)
        self._callbacks = None

    def set_result(self, result):
        self._result = result
        self._finish()

    def set_exception(self, exc):
        self._exc_info = (type(exc), exc, exc.__traceback__)
        self._finish()

    def __await__(self):
        return (yield self)


def test_a_coroutine_awaits_a_foreign_future_and_resumes_on_the_next_iteration():
    loop = IOLoop()
    foreign = ForeignFuture()
    seen = []

    async def main():
        seen.append("before")
        value = await foreign
        seen.append(("after", value, loop.time()))
        return value

    def complete():
        foreign.set_result("payload")
        seen.append("completed")  # the coroutine has not resumed inside set_result

    loop.call_later(3, complete)
    assert loop.run_sync(main) == "payload"
    assert seen == ["before", "completed", ("after", "payload", 3.0)]


def test_a_foreign_future_already_done_is_awaited_too():
    loop = IOLoop()
    foreign = ForeignFuture()
    foreign.set_result(7)

    async def main():
        return await foreign + await foreign

    assert loop.run_sync(main) == 14


@pytest.mark.parametrize("with_exception_method", [False, True], ids=["exc_info", "exception"])
def test_a_foreign_futures_exception_is_raised_in_the_coroutine(with_exception_method):
    loop = IOLoop()
    foreign = ForeignFuture(with_exception_method=with_exception_method)

    async def main():
        try:
            await foreign
        except KeyError as exc:
            return f"caught {exc}"

    loop.call_later(1, foreign.set_exception, KeyError("boom"))
    assert loop.run_sync(main) == "caught 'boom'"


def test_a_stdlib_concurrent_future_works_and_its_cancellation_is_raised():
    import concurrent.futures
    import types

    loop = IOLoop()

    @types.coroutine
    def wait(future):
        return (yield future)

    done, cancelled = concurrent.futures.Future(), concurrent.futures.Future()
    done.set_result("ok")
    cancelled.cancel()

    async def main():
        value = await wait(done)
        try:
            await wait(cancelled)
        except concurrent.futures.CancelledError:
            return value, "cancelled"

    assert loop.run_sync(main) == ("ok", "cancelled")


def test_yielding_a_non_future_names_its_type_and_the_coroutine_can_go_on():
    import types

    loop = IOLoop()

    class HalfAFuture:  # add_done_callback and done, but no result
        def add_done_callback(self, fn):
            fn(self)

        def done(self):
            return True

    @types.coroutine
    def yield_(obj):
        return (yield obj)

    async def main():
        errors = []
        for obj in (42, HalfAFuture()):
            try:
                await yield_(obj)
            except TypeError as exc:
                errors.append(str(exc))
        await loop.sleep(1)  # the coroutine still runs on the loop afterwards
        return errors

    int_error, half_error = loop.run_sync(main)
    assert "awaited 42 of type builtins.int, which is not future-like" in int_error
    assert "add_done_callback(), done(), result()" in int_error
    assert "HalfAFuture" in half_error and "(it has no result())" in half_error


def test_uncaught_callback_errors_are_recorded_and_the_loop_goes_on(caplog):
    loop = IOLoop()
    seen = []
    loop.add_callback(lambda: 1 / 0)
    loop.add_callback(seen.append, "after")
    loop.run_until_quiescent()
    assert seen == ["after"]
    assert isinstance(loop.uncaught[0], ZeroDivisionError)
    assert loop.trace.events(kind="uncaught")
    assert "Exception in callback" in caplog.text


def test_observers_see_every_step_and_quiescence():
    loop = IOLoop()
    seen = []
    loop.add_observer(lambda lp, what: seen.append((what, lp.step)))
    loop.add_callback(lambda: None)
    loop.add_callback(lambda: None)
    loop.run_until_quiescent()
    assert seen == [("step", 1), ("step", 2), ("quiescent", 2)]


def test_stop_ends_start():
    loop = IOLoop()
    loop.call_later(1, loop.stop)
    loop.start()
    assert loop.time() == 1.0
    with pytest.raises(StalledError):
        IOLoop().start()


def test_current_loop_follows_make_current():
    a = IOLoop()
    assert IOLoop.current() is a
    b = IOLoop(make_current=False)
    assert IOLoop.current() is a
    b.make_current()
    assert IOLoop.current() is b


def test_future_completes_once_and_counts_extra_completions():
    f = Future(label="x")
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.result()))
    with pytest.raises(InvalidStateError):
        f.result()
    f.set_result(1)
    f.add_done_callback(lambda fut: seen.append("late"))
    assert seen == [1, "late"]
    with pytest.raises(InvalidStateError, match="second time"):
        f.set_exception(ValueError())
    assert f.completions == 2 and f.result() == 1


def test_same_program_gives_identical_traces():
    def run():
        loop = IOLoop()
        target, peer = socketpair(loop)

        async def main():
            loop.call_later(1, peer.send, b"abc")
            fut = Future()
            loop.add_handler(target, lambda fd, ev: fut.done() or fut.set_result(target.recv(9)), IOLoop.READ)
            return await fut

        loop.run_sync(main)
        return loop.trace.fingerprint()

    assert run() == run()


def _spinner(loop):
    """A callback that schedules itself for ever and does nothing a kernel could see."""
    def spin():
        loop.add_callback(spin)
    return spin


def test_watch_spin_ends_a_busy_loop_after_two_windows_not_at_the_budget():
    loop = IOLoop(make_current=False, max_steps=100_000)
    loop.watch_spin(200)
    loop.add_callback(_spinner(loop))
    with pytest.raises(LoopBudgetExceeded, match="200 steps in a row that moved no byte") as info:
        loop.run_until_quiescent()
    # The first look finds the progress of the start (nothing yet) unchanged at step 200.
    assert loop.step <= 201 and info.value.steps <= 200


def test_watch_spin_lets_a_run_that_moves_bytes_or_the_clock_go_on_to_the_budget():
    loop = IOLoop(make_current=False, max_steps=3_000)
    loop.watch_spin(100)
    target, peer = socketpair(loop)
    sent = [0]

    def send():  # a byte every step: progress at every look
        peer.send(b"x")
        target.recv(1)
        sent[0] += 1
        loop.add_callback(send)

    loop.add_callback(send)
    with pytest.raises(LoopBudgetExceeded, match="3000 steps without settling"):
        loop.run_until_quiescent()
    assert sent[0] >= 2_900

    ticking = IOLoop(make_current=False, max_steps=2_000)
    ticking.watch_spin(50)

    def tick():  # only the clock moves: progress too
        ticking.call_later(1.0, tick)

    tick()
    with pytest.raises(LoopBudgetExceeded, match="clock jumps"):
        ticking.run_until_quiescent()
    assert ticking.time() > 900


def test_watch_spin_none_gives_the_whole_budget_back_and_bad_windows_are_refused():
    loop = IOLoop(make_current=False, max_steps=1_000)
    loop.watch_spin(10)
    assert loop.max_steps == 10
    loop.watch_spin(None)
    assert loop.max_steps == 1_000
    loop.add_callback(_spinner(loop))
    with pytest.raises(LoopBudgetExceeded, match="1000 steps without settling"):
        loop.run_until_quiescent()
    for bad in (0, -1, True, 2.5, "10"):
        with pytest.raises(ValueError, match="positive number of steps"):
            loop.watch_spin(bad)


def test_watch_spin_counts_its_callers_progress_too():
    loop = IOLoop(make_current=False, max_steps=2_000)
    delivered = [0]
    loop.watch_spin(100, lambda: delivered[0])

    def hand_over():  # no fd, no clock: only what the caller counts moves
        delivered[0] += 1
        loop.add_callback(hand_over)

    loop.add_callback(hand_over)
    with pytest.raises(LoopBudgetExceeded, match="2000 steps without settling"):
        loop.run_until_quiescent()
    with pytest.raises(TypeError, match="progress must be a function"):
        loop.watch_spin(10, progress=3)
