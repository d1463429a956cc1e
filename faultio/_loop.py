"""A deterministic IOLoop with Tornado 4's interface, a virtual clock and a step budget.

Rules for this module:
- The loop owns the only clock. It never sleeps: when nothing is ready it jumps to the next timeout.
- Everything happens in a fixed order (callbacks FIFO, then due timeouts by deadline and creation order,
  then fd events by ascending fd), so the same program and plan give the same trace, always.
- Every callback, timeout and handler call is one *step*. Observers run after every step and at
  quiescence; they may raise to stop the run. A budget turns a livelock into an error, never a hang:
  steps and clock jumps (counted apart, in ``step`` and ``clock_jumps``) both spend it, so a loop that
  only moves its clock stops too. Deadlines are finite: a NaN or infinite one is refused.
- The loop only polls fake fds (``faultio._fakefd``); it knows nothing about streams.
"""

from __future__ import annotations

import collections
import datetime
import functools
import heapq
import inspect
import itertools
import logging
import math
from typing import Any, Callable

from ._budget import StepBudget
from ._errors import StalledError
from ._future import Future
from ._events import HANDLER_KEYS, NAME_KEYS
from ._trace import Trace

log = logging.getLogger("faultio.loop")

#: Default step budget: generous for real exchanges, small enough that a livelock ends in seconds.
DEFAULT_MAX_STEPS = 2_000_000


def _name(fn: Any) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _check_delay(what: str, delay: Any) -> None:
    """Refuse a delay that is not a finite number of virtual seconds (NaN never comes due)."""
    if not isinstance(delay, (int, float)):
        raise TypeError(f"{what} must be a number of virtual seconds, got {delay!r}")
    if not math.isfinite(delay):
        raise ValueError(f"{what} must be a finite number of virtual seconds, got {delay!r}")


#: What a yielded object needs to be awaited on the loop.
_FUTURE_METHODS = ("add_done_callback", "done", "result")


def _is_future_like(obj: Any) -> bool:
    """Duck-typed: ``add_done_callback``, ``done`` and ``result`` are callable (faultio's, Tornado 4's,
    ``concurrent.futures``' futures)."""
    return all(callable(getattr(obj, name, None)) for name in _FUTURE_METHODS)


def _not_future_like(obj: Any) -> TypeError:
    """The error thrown into a coroutine that yielded ``obj``, naming its type and what is missing."""
    kind = type(obj)
    missing = [name for name in _FUTURE_METHODS if not callable(getattr(obj, name, None))]
    return TypeError(
        f"a coroutine on the faultio loop awaited {obj!r} of type {kind.__module__}.{kind.__qualname__}, "
        f"which is not future-like (it has no {', '.join(f'{m}()' for m in missing)}); the faultio loop can "
        "await only futures: faultio Futures (stream methods, loop.sleep, loop.spawn) or objects with "
        "add_done_callback(), done() and result(), such as Tornado 4's Future"
    )


def _future_error(future: Any) -> BaseException | None:
    """The exception a done future holds: ``exception()`` when it has one, else Tornado 4's ``exc_info()``
    (``(type, value, tb)`` or ``None``), else ``None`` (``result()`` then raises it, if any)."""
    exception = getattr(future, "exception", None)
    if callable(exception):
        return exception()
    exc_info = getattr(future, "exc_info", None)
    if callable(exc_info):
        info = exc_info()
        return info[1] if info else None
    return None


class _Timeout:
    __slots__ = ("deadline", "seq", "callback", "cancelled")

    def __init__(self, deadline: float, seq: int, callback: Callable[[], Any]) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: _Timeout) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class IOLoop(StepBudget):
    """A single-threaded event loop over fake fds. See ``docs/design.md`` for the iteration order."""

    NONE = 0
    READ = 0x001
    WRITE = 0x004
    ERROR = 0x018

    _current: IOLoop | None = None

    def __init__(
        self,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        trace: Trace | None = None,
        make_current: bool = True,
        trace_callbacks: bool = True,
    ) -> None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        self.trace = trace if trace is not None else Trace()
        self.max_steps = max_steps
        self.step = 0
        #: Clock jumps to the next timeout: apart from ``step`` (which counts work done), on the same budget.
        self.clock_jumps = 0
        self.uncaught: list[BaseException] = []
        self._trace_callbacks = trace_callbacks
        self._time = 0.0
        self._fds: dict[int, Any] = {}
        self._next_fd = 3
        self._handlers: dict[int, list[Any]] = {}
        self._callbacks: collections.deque[Callable[[], Any]] = collections.deque()
        self._timeouts: list[_Timeout] = []
        self._seq = itertools.count()
        self._stopped = False
        self._running = False
        self._closed = False
        self._observers: list[Callable[[IOLoop, str], Any]] = []
        #: The coroutines ``spawn`` drives, by their futures, until they end.
        self._live: dict[Future, Any] = {}
        #: A run-ending error raised where the code under test may catch it (a ``BusyLoopError`` inside an
        #: asyncio task, which keeps it as the task's result): an asyncio loop over this kernel re-raises it.
        self.pending_abort: BaseException | None = None
        self._spin: list[Any] | None = None  # ``watch_spin``'s state (``StepBudget``)
        if make_current:
            self.make_current()

    # -- current loop -------------------------------------------------------------------------------
    @classmethod
    def current(cls, instance: bool = True) -> IOLoop | None:
        """The current loop. When there is none, a new one becomes current, or ``None`` is returned if
        ``instance`` is false."""
        if cls._current is None and instance:
            cls._current = IOLoop(make_current=False)
        return cls._current

    def make_current(self) -> None:
        """Make this loop the one ``IOLoop.current()`` returns."""
        IOLoop._current = self

    @classmethod
    def clear_current(cls) -> None:
        """Forget the current loop."""
        cls._current = None

    # -- the simulated kernel's fd table ------------------------------------------------------------
    def _register_fd(self, sock: Any) -> int:
        fd = self._next_fd
        self._next_fd += 1
        self._fds[fd] = sock
        return fd

    def _unregister_fd(self, sock: Any) -> None:
        self._fds.pop(sock.fd, None)

    @staticmethod
    def _fd_of(fd: Any) -> int:
        return fd.fileno() if hasattr(fd, "fileno") else int(fd)

    # -- handlers -----------------------------------------------------------------------------------
    def add_handler(self, fd: Any, handler: Callable[[int, int], Any], events: int) -> None:
        """Call ``handler(fd, events)`` whenever the fd is ready for any of ``events`` (ERROR always)."""
        num = self._fd_of(fd)
        if num not in self._fds:
            raise ValueError(
                f"fd {num} is not a faultio fake fd of this loop; this loop can only poll sockets made by "
                "faultio.socketpair(loop, ...)"
            )
        if num in self._handlers:
            self.trace.record("loop", "add_handler", fd=num, events=events, error="EEXIST")
            raise FileExistsError(f"fd {num} already has a handler; use update_handler to change its events")
        self._handlers[num] = [handler, events | self.ERROR]
        self.trace.record("loop", "add_handler", fd=num, events=events)

    def update_handler(self, fd: Any, events: int) -> None:
        """Change the events ``fd``'s handler waits for (ERROR is always included).

        Raises ``FileNotFoundError`` if ``fd`` has no handler.
        """
        num = self._fd_of(fd)
        if num not in self._handlers:
            self.trace.record("loop", "update_handler", fd=num, events=events, error="ENOENT")
            raise FileNotFoundError(f"fd {num} has no handler to update; add_handler it first")
        self._handlers[num][1] = events | self.ERROR
        self.trace.record("loop", "update_handler", fd=num, events=events)

    def remove_handler(self, fd: Any) -> None:
        """Stop polling ``fd`` (a socket, also after it closed, or an fd number); an unknown fd is ignored."""
        num = fd.fd if hasattr(fd, "fd") and not isinstance(fd, int) else self._fd_of(fd)
        registered = self._handlers.pop(num, None) is not None
        # Like Tornado, removing an unknown fd is not an error here; the trace says it happened.
        self.trace.record("loop", "remove_handler", fd=num, registered=registered)

    def handler_mask(self, fd: int) -> int | None:
        """The event mask registered for ``fd`` (always including ERROR), or ``None``."""
        entry = self._handlers.get(fd)
        return None if entry is None else entry[1]

    # -- callbacks and timeouts ---------------------------------------------------------------------
    def add_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``callback(*args, **kwargs)`` on the next iteration."""
        if args or kwargs:
            callback = functools.partial(callback, *args, **kwargs)
        self._callbacks.append(callback)
        if self._trace_callbacks:
            trace = self.trace
            if trace.packing:  # nobody listens: kept packed (``Trace.emit``)
                trace.emit("loop", "add_callback", NAME_KEYS, (_name(callback),))
            elif trace.active:
                trace.record("loop", "add_callback", name=_name(callback))
            else:
                trace._count += 1  # ``trace.skip()``, without the call (a hot path)

    add_callback_from_signal = add_callback

    def spawn_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Same as ``add_callback``: run ``callback(*args, **kwargs)`` on the next iteration."""
        self.add_callback(callback, *args, **kwargs)

    def add_future(self, future: Future, callback: Callable[[Future], Any]) -> None:
        """Run ``callback(future)`` on the iteration after ``future`` completes."""
        future.add_done_callback(lambda f: self.add_callback(callback, f))

    def time(self) -> float:
        """The virtual clock in seconds: 0 at the start, moved only when the loop jumps to a timeout."""
        return self._time

    def add_timeout(self, deadline: float | datetime.timedelta, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> _Timeout:
        """Run ``callback(*args, **kwargs)`` at virtual time ``deadline`` (seconds, or a ``timedelta`` from now).

        Returns a handle for ``remove_timeout``. Raises ``TypeError`` for a deadline that is not a number and
        ``ValueError`` for a NaN or infinite one.
        """
        if isinstance(deadline, datetime.timedelta):
            deadline = self._time + deadline.total_seconds()
        if not isinstance(deadline, (int, float)):
            raise TypeError(f"deadline must be a number or a timedelta, got {deadline!r}")
        if not math.isfinite(deadline):
            # A NaN deadline is never due and an infinite one never comes: the clock would jump for ever.
            raise ValueError(f"deadline must be a finite number of virtual seconds, got {deadline!r}")
        fn = functools.partial(callback, *args, **kwargs) if (args or kwargs) else callback
        timeout = _Timeout(float(deadline), next(self._seq), fn)
        heapq.heappush(self._timeouts, timeout)
        self.trace.record("loop", "add_timeout", deadline=float(deadline), name=_name(fn))
        return timeout

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> _Timeout:
        """``add_timeout`` ``delay`` virtual seconds from now; a delay that is not a finite number is refused."""
        _check_delay("call_later() delay", delay)
        return self.add_timeout(self._time + delay, callback, *args, **kwargs)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> _Timeout:
        """``add_timeout`` at virtual time ``when``."""
        return self.add_timeout(when, callback, *args, **kwargs)

    def remove_timeout(self, timeout: _Timeout) -> None:
        """Cancel a timeout returned by ``add_timeout``, ``call_later`` or ``call_at``."""
        timeout.cancelled = True

    def sleep(self, seconds: float) -> Future:
        """A future that completes after ``seconds`` of virtual time."""
        future = Future(label=f"sleep({seconds})")
        self.call_later(seconds, lambda: future.set_result(None))
        return future

    # -- coroutines ---------------------------------------------------------------------------------
    def spawn(self, func: Any) -> Future:
        """Start a coroutine (or call a function returning one) and return a future of its result.

        The coroutine runs synchronously until its first ``await`` (Tornado coroutine semantics). It may
        await any future-like object: faultio's ``Future`` or a foreign one (Tornado 4's
        ``tornado.concurrent.Future``, whose ``__await__`` yields itself), duck-typed by
        ``add_done_callback``, ``done`` and ``result``; its exception is read with ``exception()`` or,
        failing that, Tornado 4's ``exc_info()``. The coroutine resumes on the loop iteration after the
        future completes. Yielding anything else is thrown back into the coroutine as a ``TypeError``
        naming the type.
        """
        if inspect.iscoroutine(func):
            coro = func
        elif callable(func):
            result = func()
            if isinstance(result, Future):
                return result
            if not inspect.iscoroutine(result):
                done = Future(label=_name(func))
                done.set_result(result)
                return done
            coro = result
        else:
            raise TypeError(f"spawn() takes a coroutine or a callable, got {func!r}")
        future = Future(label=getattr(coro, "__qualname__", "coroutine"))
        # Held until it ends: otherwise only the callbacks of what it awaits hold the coroutine, and a
        # collection could end it half-way (asyncio's protocols hold their readers weakly, say).
        self._live[future] = coro
        future.add_done_callback(lambda f: self._live.pop(f, None))

        def step(value: Any = None, error: BaseException | None = None) -> None:
            try:
                awaited = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as stop:
                future.set_result(stop.value)
                return
            except Exception as exc:
                future.set_exception(exc)
                return
            if not isinstance(awaited, Future) and not _is_future_like(awaited):
                self.add_callback(step, None, _not_future_like(awaited))
                return
            try:
                awaited.add_done_callback(lambda f: self.add_callback(resume, f))
            except Exception as exc:  # a foreign future that refuses the callback: the coroutine hears of it
                self.add_callback(step, None, exc)

        def resume(done: Any) -> None:
            try:
                error = _future_error(done)
                value = None if error is not None else done.result()
            except Exception as exc:  # reading the outcome failed (a cancelled foreign future, say)
                error = exc
            except BaseException as exc:  # asyncio's CancelledError: the coroutine hears of the cancellation
                if type(exc).__name__ != "CancelledError":
                    raise
                error = exc
            if error is not None:
                step(None, error)
            else:
                step(value)

        step()
        return future

    # -- running ------------------------------------------------------------------------------------
    def add_observer(self, fn: Callable[[IOLoop, str], Any]) -> None:
        """Call ``fn(loop, what)`` after every step (``what`` is ``"step"``), whenever the loop is idle
        before a clock jump (``"idle"``) and at quiescence (``"quiescent"``)."""
        self._observers.append(fn)

    def remove_observer(self, fn: Callable[[IOLoop, str], Any]) -> None:
        """Stop calling ``fn`` after steps (``ValueError`` if it was never added)."""
        self._observers.remove(fn)

    def _notify(self, what: str) -> None:
        for fn in list(self._observers):
            fn(self, what)

    def _run(self, kind: str, fn: Callable[..., Any], args: tuple[Any, ...] = (), **detail: Any) -> None:
        """Run ``fn(*args)`` as one step: counted, budgeted, traced (its name), observed."""
        step = self.step = self.step + 1
        trace = self.trace
        trace.step = step
        if step + self.clock_jumps > self.max_steps:
            self._check_budget(f"{kind} {_name(fn)}")
        if kind != "callback" or self._trace_callbacks:
            # The name is worked out only for a trace that keeps or hears events (the hot path of a benchmark).
            if trace.active:
                trace.record("loop", kind, name=_name(fn), **detail)
            else:
                trace.skip()
        try:
            fn(*args)
        except Exception as exc:
            self._uncaught(kind, fn, exc)
        if self._observers:
            self._notify("step")

    def _run_handler(self, fd: int, events: int) -> bool:
        """Run ``fd``'s handler for the ready ``events`` (those it still waits for) as one step; False when it
        no longer waits for any (its handler was removed, or changed, by an earlier step of this iteration).

        ``entry[0](fd, events)`` as one step, as ``_run("handler", entry[0], (fd, events), fd=fd, events=events)``
        makes it (written out: the step of every readiness event); traced by the handler's own name, as a
        partial of it would be."""
        entry = self._handlers.get(fd)
        if entry is None:
            return False  # removed by an earlier handler in this iteration
        events &= entry[1]
        if not events:
            return False
        fn = entry[0]
        trace = self.trace
        step = self.step = self.step + 1
        trace.step = step
        if step + self.clock_jumps > self.max_steps:
            self._check_budget(f"handler {_name(fn)}")
        if trace.packing:  # nobody listens: kept packed (``Trace.emit``)
            trace.emit("loop", "handler", HANDLER_KEYS, (_name(fn), fd, events))
        elif trace.active:
            trace.record("loop", "handler", name=_name(fn), fd=fd, events=events)
        else:
            trace._count += 1  # ``trace.skip()``, without the call (a hot path)
        try:
            fn(fd, events)
        except Exception as exc:
            self._uncaught("handler", fn, exc)
        if self._observers:
            self._notify("step")
        return True

    def _uncaught(self, kind: str, fn: Callable[..., Any], exc: Exception) -> None:
        """A step's function raised ``exc``: kept in ``uncaught``, traced and logged; the loop goes on."""
        self.uncaught.append(exc)
        self.trace.record("loop", "uncaught", where=kind, name=_name(fn), error=repr(exc))
        log.error("Exception in %s %s", kind, _name(fn), exc_info=True)

    def run_once(self) -> bool:
        """Run one iteration. Returns False when the loop is quiescent (nothing ran, nothing scheduled)."""
        ran = False
        callbacks = self._callbacks
        if callbacks:
            # Each callback is one step, exactly as ``_run("callback", fn)`` makes it (counted, budgeted,
            # traced, observed, in that order), written out here: this is the hottest path of every run.
            ran = True
            trace = self.trace
            traced = self._trace_callbacks
            popleft = callbacks.popleft
            for _ in range(len(callbacks)):
                fn = popleft()
                step = self.step = self.step + 1
                trace.step = step
                if step + self.clock_jumps > self.max_steps:
                    self._check_budget(f"callback {_name(fn)}")
                if traced:
                    if trace.packing:
                        trace.emit("loop", "callback", NAME_KEYS, (_name(fn),))
                    elif trace.active:
                        trace.record("loop", "callback", name=_name(fn))
                    else:
                        trace._count += 1  # ``trace.skip()``, without the call (a hot path)
                try:
                    fn()
                except Exception as exc:
                    self._uncaught("callback", fn, exc)
                if self._observers:
                    self._notify("step")
        timeouts = self._timeouts
        while timeouts and timeouts[0].deadline <= self._time:
            timeout = heapq.heappop(timeouts)
            if not timeout.cancelled:
                self._run("timeout", timeout.callback)
                ran = True
        handlers = self._handlers
        if handlers:
            fds = self._fds
            if len(handlers) == 1:
                # One registered fd (a stream under test alone): no sort, no list of ready fds.
                for fd in handlers:
                    break
                sock = fds.get(fd)
                if sock is not None:
                    events = sock.poll_events() & handlers[fd][1]
                    if events and self._run_handler(fd, events):
                        ran = True
            else:
                ready = []
                for fd in sorted(handlers):
                    sock = fds.get(fd)
                    if sock is None:
                        continue
                    events = sock.poll_events() & handlers[fd][1]
                    if events:
                        ready.append((fd, events))
                for fd, events in ready:
                    if self._run_handler(fd, events):
                        ran = True
        if ran or self._callbacks:
            return True
        while self._timeouts and self._timeouts[0].cancelled:
            heapq.heappop(self._timeouts)
        if self._timeouts:
            # Nothing is ready, where a real loop would sleep: observers look at the idle world before the jump.
            self._notify("idle")
            # A jump is work too: a loop that only ever moves its clock must hit the budget.
            self.clock_jumps += 1
            self._check_budget(f"clock jump to {self._timeouts[0].deadline}", jumping=True)
            self._time = self._timeouts[0].deadline
            self.trace.time = self._time
            self.trace.record("loop", "clock", time=self._time)
            return True
        return False

    def is_quiescent(self) -> bool:
        """True when nothing is queued, no timeout is pending and no registered fd is ready."""
        if self._callbacks or any(not t.cancelled for t in self._timeouts):
            return False
        for fd, (handler, mask) in self._handlers.items():
            sock = self._fds.get(fd)
            if sock is not None and sock.poll_events() & mask:
                return False
        return True

    def run_until(self, predicate: Callable[[], bool]) -> bool:
        """Iterate until ``predicate()`` holds (checked between iterations) or the loop is quiescent.

        Returns the final value of ``predicate()``.
        """
        self._running = True
        self._stopped = False
        try:
            while not predicate():
                if self._stopped:
                    break
                if not self.run_once():
                    self.trace.record("loop", "quiescent")
                    self._notify("quiescent")
                    break
        finally:
            self._running = False
        return predicate()

    def run_until_quiescent(self) -> int:
        """Run until nothing is left to do; return how many steps ran."""
        start = self.step
        self.run_until(lambda: False)
        return self.step - start

    def start(self) -> None:
        """Run until ``stop()``. Quiescence before ``stop()`` would block for ever: ``StalledError``."""
        self.run_until(lambda: self._stopped)
        if not self._stopped:
            raise StalledError(self._stall_message("start() was never stopped"))

    def stop(self) -> None:
        """Make the running ``start()`` (or ``run_until``) return before its next iteration."""
        self._stopped = True

    def run_sync(self, func: Any, timeout: float | None = None) -> Any:
        """Run ``func`` (a coroutine function, coroutine, or callable) to completion and return its result.

        ``timeout`` is in virtual seconds. Quiescence with the result still pending raises ``StalledError``.
        """
        if timeout is not None:
            _check_delay("run_sync() timeout", timeout)
        future = self.spawn(func)
        expiry = None
        if timeout is not None:
            def expire() -> None:
                if not future.done():
                    future.set_exception(TimeoutError(f"operation timed out after {timeout} virtual seconds"))
            expiry = self.call_later(timeout, expire)
        try:
            if not self.run_until(future.done):
                raise StalledError(self._stall_message(f"{future!r} is still pending"))
        finally:
            # Left behind, the expiry would keep the loop busy: run_until_quiescent() would jump to it for nothing.
            if expiry is not None:
                self.remove_timeout(expiry)
        return future.result()

    def _stall_message(self, what: str) -> str:
        tail = "\n".join("  " + e.describe() for e in list(self.trace)[-12:])
        return (
            f"the loop is quiescent (no callbacks, no timeouts, no ready fds) at step {self.step} but {what}; "
            f"on a real machine this hangs for ever.\nlast trace events:\n{tail}"
        )

    def close(self, all_fds: bool = False) -> None:
        """Drop every handler and stop being the current loop; ``all_fds`` also closes the fds that had handlers."""
        if all_fds:
            for fd in sorted(self._handlers):
                sock = self._fds.get(fd)
                if sock is not None:
                    sock.close()
        self._handlers.clear()
        self._closed = True
        if IOLoop._current is self:
            IOLoop._current = None
