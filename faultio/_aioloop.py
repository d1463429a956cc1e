"""An asyncio event loop over the simulated kernel: the stdlib's own transports on fake fds, in virtual time.

Rules for this module:
- The transports, streams and protocols that run here are the stdlib's own (``asyncio.selector_events``,
  ``asyncio.sslproto``, ``asyncio.streams``): ``SimEventLoop`` is a ``SelectorEventLoop`` whose selector
  polls faultio's fake fds (``SimSelector``) and whose scheduling core (``_run_once``) is ours, so that
  it is deterministic, counts steps and never sleeps. Nothing else of asyncio is replaced.
- One kernel, one clock, one trace, one step counter: the kernel is an ``AsyncioIOLoop``, which is a
  faultio ``IOLoop`` (fd table, trace, budget, observers) whose scheduling is this asyncio loop's. Code
  written for faultio's loop (the harness's scenarios and peers) and asyncio code (streams, Tornado >= 5,
  tasks) share it, in one order.
- Order: asyncio's own (callbacks ready before the poll, then fd callbacks by ascending fd, then timers
  due, by deadline). When nothing is ready the clock jumps to the next timer (observers see the idle
  world first); when nothing is scheduled at all the loop is quiescent. Every handle run is one step of
  the kernel's budget.
- Exceptions: a ``BusyLoopError``, a ``LoopBudgetExceeded`` or any other ``BaseException`` that is not an
  ``Exception`` raised anywhere, even inside a transport that hands it to the exception handler, stops
  the run; an exception in a callback is recorded in the
  kernel's ``uncaught``; asyncio's other complaints (a future whose exception nobody read, ...) go to the
  ``asyncio`` logger as usual.
- The loop is single-threaded: there is no self-pipe, and ``call_soon_threadsafe`` from another thread
  does not wake it (nothing sleeps, so nothing needs waking).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import selectors
import threading
import itertools
from collections.abc import Mapping
from typing import Any, Callable, Iterator

from ._errors import BusyLoopError, LoopBudgetExceeded
from ._loop import IOLoop, _check_delay, _name

READ = IOLoop.READ
WRITE = IOLoop.WRITE
ERROR = IOLoop.ERROR

#: How many iterations ``AsyncioIOLoop.shutdown`` runs to let cancelled tasks and aborted transports end.
SHUTDOWN_ITERATIONS = 64

#: The aborts that end a run wherever they are raised (asyncio's transports catch ``BaseException``).
_ABORTS = (BusyLoopError, LoopBudgetExceeded)


class SimSelector(selectors.BaseSelector):
    """A selector over the fake fds of ``kernel``: ``select`` reports the readiness each fd would show an
    ``epoll`` now (level-triggered, an error both readable and writable), in ascending fd order, and
    never blocks (the loop moves the clock itself)."""

    def __init__(self, kernel: IOLoop) -> None:
        self._kernel = kernel
        self._keys: dict[int, selectors.SelectorKey] = {}

    @staticmethod
    def _fd(fileobj: Any) -> int:
        if isinstance(fileobj, int):
            return fileobj
        try:
            return int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"invalid file object: {fileobj!r}") from None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        fd = self._fd(fileobj)
        if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
            raise ValueError(f"invalid events: {events!r}")
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (fd {fd}) is already registered")
        if fd not in self._kernel._fds:
            raise ValueError(f"fd {fd} is not a faultio fake fd of this loop; the simulated asyncio loop can only "
                             "poll sockets made by faultio.socketpair(loop, ...)")
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        self._kernel.trace.record("loop", "register", fd=fd, events=_mask(events))
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        fd = self._fd(fileobj)
        try:
            key = self._keys.pop(fd)
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        self._kernel.trace.record("loop", "unregister", fd=fd)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        fd = self._fd(fileobj)
        try:
            old = self._keys[fd]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
            raise ValueError(f"invalid events: {events!r}")
        key = selectors.SelectorKey(old.fileobj, fd, events, data)
        self._keys[fd] = key
        if events != old.events:
            self._kernel.trace.record("loop", "modify", fd=fd, events=_mask(events))
        return key

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = []
        for fd in sorted(self._keys):
            key = self._keys[fd]
            got = self._events(fd)
            if got & key.events:
                ready.append((key, got & key.events))
        return ready

    def _events(self, fd: int) -> int:
        sock = self._kernel._fds.get(fd)
        if sock is None:
            return 0
        polled = sock.poll_events()
        events = 0
        if polled & (READ | ERROR):
            events |= selectors.EVENT_READ
        if polled & (WRITE | ERROR):
            events |= selectors.EVENT_WRITE
        return events

    def mask(self, fd: int) -> int | None:
        """The Tornado-style event mask registered for ``fd`` (ERROR included), or ``None``."""
        key = self._keys.get(fd)
        return None if key is None else _mask(key.events)

    def close(self) -> None:
        self._keys.clear()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return _KeyMap(self)


class _KeyMap(Mapping):
    """The registered keys by file object or fd number, as ``BaseSelector.get_key`` looks them up."""

    def __init__(self, selector: SimSelector) -> None:
        self._selector = selector

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        try:
            return self._selector._keys[self._selector._fd(fileobj)]
        except ValueError:
            raise KeyError(fileobj) from None

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._selector._keys))

    def __len__(self) -> int:
        return len(self._selector._keys)


def _mask(events: int) -> int:
    """A selector's events as faultio's loop writes them (READ, WRITE, with ERROR always)."""
    return ((READ if events & selectors.EVENT_READ else 0) | (WRITE if events & selectors.EVENT_WRITE else 0)
            | ERROR)


class _Timer(asyncio.TimerHandle):
    """A ``TimerHandle`` ordered by deadline, then creation: on the virtual clock deadlines are often exactly
    equal, and asyncio's own handle compares the deadline only."""

    __slots__ = ("_seq",)

    def __init__(self, when: float, callback: Any, args: Any, loop: Any, context: Any, seq: int) -> None:
        super().__init__(when, callback, args, loop, context)
        self._seq = seq

    def __lt__(self, other: Any) -> bool:
        if isinstance(other, _Timer):
            return (self._when, self._seq) < (other._when, other._seq)
        return super().__lt__(other)


class SimEventLoop(asyncio.SelectorEventLoop):
    """A ``SelectorEventLoop`` over the fake fds and the virtual clock of ``kernel`` (an ``AsyncioIOLoop``).

    Use it through the kernel (``kernel.run_until``, ``kernel.run_sync``), or as asyncio code would:
    ``run_until_complete`` works too, and stops with ``StalledError`` where a real loop would wait for
    ever."""

    def __init__(self, kernel: AsyncioIOLoop) -> None:
        self.kernel = kernel
        self._abort: BaseException | None = None
        self._timer_seq = itertools.count()
        super().__init__(selector=SimSelector(kernel))
        self.set_exception_handler(self._handle_exception)

    # -- no self-pipe: nothing sleeps, so nothing needs waking ---------------------------------------
    def _make_self_pipe(self) -> None:
        pass

    def _close_self_pipe(self) -> None:
        pass

    def _write_to_self(self) -> None:
        pass

    def time(self) -> float:
        """The kernel's virtual clock."""
        return self.kernel._time

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> asyncio.TimerHandle:
        """``BaseEventLoop.call_at`` with timers of one deadline run in the order they were made."""
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        timer = _Timer(when, callback, args, self, context, next(self._timer_seq))
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return timer

    def selector_mask(self, fd: int) -> int | None:
        """What is registered for ``fd`` in this loop's selector, as a Tornado-style mask, or ``None``."""
        selector = self._selector
        return None if selector is None else selector.mask(fd)  # type: ignore[attr-defined]

    # -- running ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Be the running loop of this thread for the block (``asyncio.get_running_loop()``, Tornado's
        ``IOLoop.current()``); nested use is allowed."""
        previous = asyncio.events._get_running_loop()
        if previous is self:
            yield
            return
        if previous is not None:
            raise RuntimeError("another asyncio event loop is running in this thread; the simulated loop runs "
                               "only where no other loop does")
        self._thread_id = threading.get_ident()
        asyncio.events._set_running_loop(self)
        try:
            yield
        finally:
            asyncio.events._set_running_loop(None)
            self._thread_id = None

    def _run_once(self) -> None:
        if not self.sim_run_once():
            raise self.kernel.stalled("the asyncio loop has nothing scheduled")

    def sim_run_once(self) -> bool:
        """One iteration; False when the loop is quiescent (nothing ready, nothing scheduled, no fd ready)."""
        kernel = self.kernel
        while self._scheduled and self._scheduled[0]._cancelled:
            self._timer_cancelled_count -= 1
            heapq.heappop(self._scheduled)._scheduled = False
        events = self._selector.select(0)  # type: ignore[union-attr]
        errors = kernel.errors_ready()
        if not events and not errors and not self._ready and not self._stopping:
            if not self._scheduled:
                return False
            when = self._scheduled[0]._when
            if when > kernel._time:
                kernel._notify("idle")
                kernel.clock_jumps += 1
                kernel._check_budget(f"clock jump to {when}", jumping=True)
                kernel._time = kernel.trace.time = when
                kernel.trace.record("loop", "clock", time=when)
        before = len(self._ready)
        self._process_events(events)
        for dispatch in errors:
            self._ready.append(asyncio.Handle(dispatch, (), self, None))
        io = len(self._ready) - before
        now = kernel._time
        while self._scheduled and self._scheduled[0]._when <= now:
            handle = heapq.heappop(self._scheduled)
            handle._scheduled = False
            self._ready.append(handle)
        for i in range(len(self._ready)):
            handle = self._ready.popleft()
            if handle._cancelled:
                continue
            kind = "callback" if i < before else "handler" if i < before + io else "timeout"
            self._run_handle(handle, kind)
        return True

    def _run_handle(self, handle: asyncio.Handle, kind: str) -> None:
        kernel = self.kernel
        step = kernel.step = kernel.step + 1
        trace = kernel.trace
        trace.step = step
        if step + kernel.clock_jumps > kernel.max_steps:
            try:
                kernel._check_budget(f"{kind} {_name(handle._callback)}")
            except LoopBudgetExceeded:
                self._ready.appendleft(handle)  # refused, not lost: shutdown() can still end what it belongs to
                raise
        if kind != "callback" or kernel._trace_callbacks:
            # The name is worked out only for a trace that keeps or hears events.
            if trace.active:
                trace.record("loop", kind, name=_name(handle._callback))
            else:
                trace.skip()
        handle._run()
        if self._abort is None and kernel.pending_abort is not None:
            self._abort = kernel.pending_abort  # raised where a task or transport kept it
        if self._abort is not None:
            abort, self._abort = self._abort, None
            kernel.pending_abort = None
            raise abort
        if kernel._observers:
            kernel._notify("step")

    def _handle_exception(self, loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        # asyncio's handles and transports catch BaseException: an abort (a busy loop, the budget, or a
        # BaseException that is not asyncio's business, such as a harness's wall-clock guard) must still
        # end the run.
        # A CancelledError a callback raised (a done callback reading a cancelled future's exception) is what
        # asyncio's ``Handle._run`` logs as "Exception in callback" and goes on from: not an abort.
        if isinstance(exc, _ABORTS) or (exc is not None and not isinstance(exc, (Exception, asyncio.CancelledError))):
            if self._abort is None:
                self._abort = exc
            return
        if exc is not None and "handle" in context and isinstance(exc, (Exception, asyncio.CancelledError)):
            self.kernel.uncaught.append(exc)
            self.kernel.trace.record("loop", "uncaught", where="asyncio", error=repr(exc)[:200])
        self.default_exception_handler(context)

    def is_quiescent(self) -> bool:
        """Nothing ready, no live timer, no registered fd ready."""
        if self._ready or any(not h._cancelled for h in self._scheduled):
            return False
        return not self._selector.select(0) and not self.kernel.errors_ready()  # type: ignore[union-attr]


class AsyncioIOLoop(IOLoop):
    """The simulated kernel for asyncio code: a faultio ``IOLoop`` whose scheduling is an asyncio loop's.

    ``asyncio_loop`` is the ``SimEventLoop`` (hand it to asyncio code, or let that code find it as the
    running loop); the faultio interface (``add_callback``, ``call_later``, ``add_handler``, ``spawn``,
    ``run_until``, ``run_sync``, observers, ``step``, ``trace``) schedules on it, so faultio-style and
    asyncio-style code interleave in one deterministic order on one virtual clock."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("make_current", False)
        super().__init__(**kwargs)
        self.asyncio_loop = SimEventLoop(self)
        #: Functions ``fd -> mask or None`` asked first by ``handler_mask``: a library that keeps its own
        #: handler table over asyncio's (Tornado's ``IOLoop`` registers an ERROR-only interest that asyncio
        #: cannot express) says there what it has registered.
        self.mask_sources: list[Callable[[int], int | None]] = []
        #: ERROR-only handlers, by fd: dispatched when their fd shows an error.
        self._error_watch: dict[int, Callable[[], None]] = {}

    def stalled(self, what: str) -> Exception:
        from ._errors import StalledError

        return StalledError(self._stall_message(what))

    # -- callbacks and timeouts ---------------------------------------------------------------------
    def add_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``callback(*args, **kwargs)`` soon (``call_soon`` on the asyncio loop)."""
        if kwargs:
            callback = functools.partial(callback, **kwargs)
        self.asyncio_loop.call_soon(callback, *args)
        if self._trace_callbacks:
            self.trace.record("loop", "add_callback", name=_name(callback))

    add_callback_from_signal = add_callback

    def add_timeout(self, deadline: Any, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run the callback at virtual time ``deadline`` (``call_at``); returns the asyncio ``TimerHandle``."""
        import datetime
        import math

        if isinstance(deadline, datetime.timedelta):
            deadline = self._time + deadline.total_seconds()
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
            raise TypeError(f"deadline must be a number or a timedelta, got {deadline!r}")
        if not math.isfinite(deadline):
            raise ValueError(f"deadline must be a finite number of virtual seconds, got {deadline!r}")
        fn = functools.partial(callback, *args, **kwargs) if (args or kwargs) else callback
        self.trace.record("loop", "add_timeout", deadline=float(deadline), name=_name(fn))
        return self.asyncio_loop.call_at(float(deadline), fn)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        _check_delay("call_later() delay", delay)
        return self.add_timeout(self._time + delay, callback, *args, **kwargs)

    def remove_timeout(self, timeout: Any) -> None:
        timeout.cancel()

    # -- handlers (the harness's peers use them; asyncio code uses add_reader/add_writer itself) -----
    def add_handler(self, fd: Any, handler: Callable[[int, int], Any], events: int) -> None:
        num = self._fd_of(fd)
        if num not in self._fds:
            raise ValueError(f"fd {num} is not a faultio fake fd of this loop; this loop can only poll sockets made "
                             "by faultio.socketpair(loop, ...)")
        if num in self._handlers:
            raise FileExistsError(f"fd {num} already has a handler; use update_handler to change its events")
        self._handlers[num] = [handler, events | self.ERROR]
        self.trace.record("loop", "add_handler", fd=num, events=events)
        self._subscribe(num)

    def update_handler(self, fd: Any, events: int) -> None:
        num = self._fd_of(fd)
        if num not in self._handlers:
            raise FileNotFoundError(f"fd {num} has no handler to update; add_handler it first")
        self._handlers[num][1] = events | self.ERROR
        self.trace.record("loop", "update_handler", fd=num, events=events)
        self._subscribe(num)

    def remove_handler(self, fd: Any) -> None:
        num = fd.fd if hasattr(fd, "fd") and not isinstance(fd, int) else self._fd_of(fd)
        registered = self._handlers.pop(num, None) is not None
        self.trace.record("loop", "remove_handler", fd=num, registered=registered)
        self._error_watch.pop(num, None)
        if registered:
            self.asyncio_loop.remove_reader(num)
            self.asyncio_loop.remove_writer(num)

    def _subscribe(self, num: int) -> None:
        """Mirror ``_handlers[num]`` in the asyncio loop's reader/writer registrations."""
        mask = self._handlers[num][1]

        def dispatch() -> None:
            entry = self._handlers.get(num)
            sock = self._fds.get(num)
            if entry is None or sock is None:
                return
            got = sock.poll_events() & entry[1]
            if got:
                entry[0](num, got)

        aloop = self.asyncio_loop
        # An ERROR-only interest has no asyncio form (a reader would be woken by readable bytes, level-
        # triggered, for ever): the loop asks the fd for errors itself (``errors_ready``).
        if mask & ~self.ERROR:
            self._error_watch.pop(num, None)
        else:
            self._error_watch[num] = dispatch
        if mask & self.READ:
            aloop.add_reader(num, dispatch)
        else:
            aloop.remove_reader(num)
        if mask & self.WRITE:
            aloop.add_writer(num, dispatch)
        else:
            aloop.remove_writer(num)

    def errors_ready(self) -> list[Callable[[], None]]:
        """The dispatchers of the ERROR-only handlers whose fd shows an error now, by ascending fd."""
        ready = []
        for num in sorted(self._error_watch):
            sock = self._fds.get(num)
            if sock is not None and sock.poll_events() & self.ERROR:
                ready.append(self._error_watch[num])
        return ready

    def handler_mask(self, fd: int) -> int | None:
        """What is registered for ``fd``: a faultio handler's mask, or what asyncio code registered."""
        entry = self._handlers.get(fd)
        if entry is not None:
            return entry[1]
        for source in self.mask_sources:
            mask = source(fd)
            if mask is not None:
                return mask
        return self.asyncio_loop.selector_mask(fd)

    # -- running ------------------------------------------------------------------------------------
    def run_once(self) -> bool:
        with self.asyncio_loop.running():
            return self.asyncio_loop.sim_run_once()

    def is_quiescent(self) -> bool:
        return self.asyncio_loop.is_quiescent()

    def spawn(self, func: Any) -> Any:
        """``IOLoop.spawn`` with this loop running: the coroutine's first steps run now, and asyncio code in
        them (``asyncio.get_running_loop()``, a Tornado future) must find this loop."""
        with self.asyncio_loop.running():
            return super().spawn(func)

    def run_until(self, predicate: Callable[[], bool]) -> bool:
        with self.asyncio_loop.running():
            return super().run_until(predicate)

    def shutdown(self, *, max_iterations: int = SHUTDOWN_ITERATIONS) -> None:
        """End what is left: cancel every pending task, abort every transport, run what that schedules
        (at most ``max_iterations`` iterations, never moving the clock), then close the loop. Nothing of
        it is left to be collected later, and logs its end elsewhere."""
        aloop = self.asyncio_loop
        if aloop.is_closed():
            return
        # Ending what is left is not the run's work: it gets a budget of its own, even when the run spent its.
        self.watch_spin(None)
        self.max_steps = max(self.max_steps, self.step + self.clock_jumps + 4 * max_iterations * (len(aloop._ready) + 8))
        self.pending_abort = None
        with aloop.running():
            for task in sorted(asyncio.all_tasks(aloop), key=lambda t: t.get_name()):
                task.cancel()
            self._settle(max_iterations)
            for transport in list(aloop._transports.values()):
                if not transport.is_closing():
                    transport.abort()
            self._settle(max_iterations)
        self.close()

    def _settle(self, max_iterations: int) -> None:
        aloop = self.asyncio_loop
        for _ in range(max_iterations):
            if not aloop._ready:
                return
            aloop.sim_run_once()

    def close(self, all_fds: bool = False) -> None:
        """Close the faultio side, then the asyncio loop (its pending callbacks are dropped)."""
        super().close(all_fds=all_fds)
        aloop = self.asyncio_loop
        if not aloop.is_closed() and asyncio.events._get_running_loop() is not aloop:
            aloop._ready.clear()
            aloop.close()
