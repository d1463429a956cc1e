"""``fault_event_loop``: a project's own asyncio code on the simulated asyncio loop, over a faulty connection.

Rules for this module:
- The code under test is the project's, unwrapped: it takes a fake socket (``sock``) and runs on
  ``faultio.SimEventLoop``, where the stdlib's own transports and streams (and Tornado >= 5) work over
  faultio's fds in virtual time. Nothing here wraps, retries or reorders what asyncio does.
- There is no stream object to watch, so only what can be judged without one is judged: what the test says
  its code read (``check_received``: ``data-integrity``); no busy loop (the ``no-busy-loop`` checker on the
  fd's trace, the fd's spin guard, the loop's step budget); liveness (the loop going quiet while the test
  still waits); no I/O on the fd after it closed, and the fd closed once the peer hung up (both
  ``no-io-after-close``). The invariants that read a stream's state are not run; the verdict itself is
  ``harness._plugin_world``'s, shared with ``fault_streams``.
- An ``async def`` test runs as an asyncio task on the simulated loop (``run_test``, from the plugin's
  ``pytest_pyfunc_call``); every task made on the loop is remembered, so one that died unseen is reported.
- Imported only when a test uses ``fault_event_loop``; asyncio is the only thing it adds.
"""

from __future__ import annotations

import asyncio
import os
import re
import selectors
from typing import Any, Awaitable

import pytest

from faultio import AsyncioIOLoop, socketpair

from ._plugin_stream import ForgivingPeer
from ._plugin_exchange import Exchange
from .engine import Monitor, user_invariants
from .engine.verdict import is_closed_error

#: The built-in invariants the monitor runs on a raw asyncio connection (the others read a stream's state).
MONITORED = ("no-io-after-close", "no-busy-loop")
#: What a task may die of, unseen, when the plan cut the connection: the connection ended, nothing crashed.
ENDED = (asyncio.IncompleteReadError, ConnectionError)
#: How many of the other waiting tasks a stall names.
WAITING_SHOWN = 3
#: asyncio's default task names number every task of the process: not the same from one run to the next.
_DEFAULT_NAME = re.compile(r"Task-\d+")


class PluginEventLoop(AsyncioIOLoop):
    """The simulated kernel of a ``fault_event_loop`` test, remembering every asyncio task made on it."""

    def __init__(self, *, max_steps: int) -> None:
        super().__init__(max_steps=max_steps)
        self.tasks: list[asyncio.Task] = []
        #: The test function's own task: its outcome is the test's, not a crash to report.
        self.test_task: asyncio.Task | None = None
        self.asyncio_loop.set_task_factory(self._make_task)

    def _make_task(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        self.tasks.append(task)
        return task

    def unawaited_failures(self) -> list[str]:
        """What a task died of when nothing read its outcome (a connection that ended aside)."""
        found = []
        for task in self.tasks:
            if task is self.test_task or not task.done() or task.cancelled():
                continue
            if not getattr(task, "_log_traceback", False):  # someone awaited it or read its exception
                continue
            exc = task.exception()
            if isinstance(exc, ENDED) or is_closed_error(exc):
                continue
            found.append(f"the {self.label(task)} ({_coro_name(task)}) ended with {exc!r}, and nothing awaited it")
        return found

    def label(self, task: asyncio.Task) -> str:
        """``task NAME`` for a task its code named, else ``task #N`` (the Nth made on this loop): the same in
        every run, unlike asyncio's default names."""
        name = task.get_name()
        if not _DEFAULT_NAME.fullmatch(name):
            return f"task {name}"
        number = next((i for i, t in enumerate(self.tasks, 1) if t is task), 0)
        return f"task #{number}"

    def end(self) -> None:
        """Cancel what is left, abort every transport and close the loop, unobserved (the test is over);
        the tasks' outcomes were judged, so none is logged when it is collected."""
        observers, self._observers = self._observers, []
        try:
            self._quiet_tasks()
            self.shutdown()
        finally:
            self._observers = observers
            self._quiet_tasks()
            self.tasks.clear()

    def _quiet_tasks(self) -> None:
        for task in self.tasks:
            if task.done() and not task.cancelled():
                task.exception()  # read: no "Task exception was never retrieved" at collection


class EventLoopPeer(ForgivingPeer):
    """The fault-free client end, awaited from asyncio code: its waits are asyncio futures on the simulated
    loop (``faultio.Peer``'s are faultio futures, which an asyncio task cannot await). A wait whose waiter
    was cancelled (an ``asyncio.wait_for`` that timed out) leaves its handler until it fires or the next
    wait replaces it."""

    def __init__(self, loop: Any, sock: Any) -> None:
        super().__init__(loop, sock)
        self._pending: asyncio.Future | None = None

    def _wait(self, events: int) -> Any:
        loop, fd = self.loop, self.sock.fileno()
        if self._pending is not None:
            loop.remove_handler(fd)
        future = loop.asyncio_loop.create_future()
        self._pending = future

        def ready(fd: int, got: int) -> None:
            loop.remove_handler(fd)
            self._pending = None
            if not future.done():
                future.set_result(got)

        loop.add_handler(fd, ready, events)
        return future


class _Connection:
    """What the monitor sees of the code under test: whether the connection is closed, from its fd."""

    error = None

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def closed(self) -> bool:
        return bool(self._sock.closed())


class FaultEventLoop(Exchange):
    """``fault_event_loop``'s value: the simulated asyncio loop and a faulty connection on it.

    ``sock`` is the server end, a fake socket that obeys the plan (hand it to asyncio:
    ``asyncio.open_connection(sock=...)``, ``loop.connect_accepted_socket(...)``, ``loop.sock_recv(...)``,
    or Tornado's ``IOStream(sock)``); ``peer`` the fault-free client end the test drives; ``loop`` the
    ``faultio.SimEventLoop``; ``kernel`` the ``faultio.AsyncioIOLoop`` under it (virtual clock, trace)."""

    def __init__(self, state: Any) -> None:
        kernel = state.loop
        self.kernel = kernel
        #: The ``SimEventLoop``: the running loop while the test runs.
        self.loop = kernel.asyncio_loop
        self.plan = state.plan
        self.transport = state.cell.transport
        self.profile = state.cell.profile
        self.sock, self.peer_sock = socketpair(kernel, state.plan, profile=self.profile)
        #: The faulty fd (the same object as ``sock``), as ``fault_streams`` names it.
        self.fd = self.sock
        self.peer = EventLoopPeer(kernel, self.peer_sock)
        only = set(MONITORED) | {spec.slug for spec in user_invariants()}
        received = self.sock.received
        self.monitor = Monitor(loop=kernel, stream=_Connection(self.sock), fd=self.sock, truth=lambda: received,
                               held_len=lambda: 0, only=only)
        self._count_readiness()

    def _count_readiness(self) -> None:
        # The no-busy-loop bound allows one fd read per readiness event; faultio's loop traces them per fd,
        # asyncio's does not, so they are counted where its selector reports them.
        selector, fd, monitor = self.loop._selector, self.sock.fd, self.monitor
        select = selector.select

        def counted(timeout: float | None = None) -> list:
            ready = select(timeout)
            for key, events in ready:
                if key.fd == fd and events & selectors.EVENT_READ:
                    monitor.read_events += 1
            return ready

        selector.select = counted

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Run ``awaitable`` to completion on the simulated loop and return its result (for a test that is
        not ``async def``). A loop that goes quiet while it still waits raises ``faultio.StalledError``,
        reported as ``liveness``."""
        kernel = self.kernel
        if asyncio.events._get_running_loop() is self.loop:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # refused: not left to warn that it was never awaited
            raise RuntimeError("fault_event_loop.run() is for a test that is not async def; inside the loop, "
                               "await the coroutine instead")
        task = asyncio.ensure_future(awaitable, loop=self.loop)
        if not kernel.run_until(task.done):
            raise kernel.stalled(waiting(kernel, task))
        return task.result()

    def end(self, state: Any) -> None:
        """The test is over: the peer hangs up and, once the loop is quiet, the connection's fd must be
        closed (a test that failed or stalled is not judged on it)."""
        if state.raised is not None:
            return
        if not self.peer_sock.closed():
            self.peer.close()
        if state._run_quiet() and not self.sock.closed():
            self.monitor.violate("no-io-after-close", "the connection was never closed: its fd was still open "
                                 "when the loop went quiet after the test ended and the peer hung up (a leaked "
                                 "connection; close the transport, writer.close(), when the exchange ends)")

    def report_bytes(self) -> tuple[bytes, bytes]:
        """What the peer sent, and what the test said its code read (else what the fd handed to asyncio)."""
        got = self.checked
        if isinstance(got, (bytes, bytearray, memoryview)):
            received = bytes(got)
        elif got is not None:
            received = b"".join(bytes(item) for item in got if isinstance(item, (bytes, bytearray, memoryview)))
        else:
            received = bytes(self.sock.received[:4096])
        return bytes(self.peer.sent[:4096]), received[:4096]


def run_test(item: pytest.Function, func: Any, exchange: FaultEventLoop) -> None:
    """Run ``func``, the ``async def`` test function of ``item``, as a task on its simulated loop
    (``pytest_pyfunc_call``)."""
    kwargs = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
    kernel = exchange.kernel
    kernel.test_task = exchange.loop.create_task(func(**kwargs), name=item.name)
    exchange.run(kernel.test_task)


def waiting(kernel: PluginEventLoop, task: asyncio.Future) -> str:
    """What a stall leaves waiting: ``task`` (the test), and the first other tasks still pending."""
    what = f"the test still waits ({_where(task)})" if task is kernel.test_task else f"{_where(task)} still waits"
    others = [t for t in kernel.tasks if t is not task and not t.done()]
    if others:
        shown = "; ".join(f"{kernel.label(t)} ({_where(t)})" for t in others[:WAITING_SHOWN])
        more = f" and {len(others) - WAITING_SHOWN} more" if len(others) > WAITING_SHOWN else ""
        what += f"; tasks waiting too: {shown}{more}"
    return what


def _coro_name(task: Any) -> str:
    coro = task.get_coro() if hasattr(task, "get_coro") else None
    return getattr(coro, "__qualname__", None) or type(coro).__name__


def _where(task: Any) -> str:
    """Where ``task`` waits: its coroutine's own line, then the coroutines it awaits, innermost last."""
    frames = []
    coro = task.get_coro() if hasattr(task, "get_coro") else None
    while coro is not None and len(frames) < 16:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    if not frames:
        return _coro_name(task)
    first = frames[0]
    where = f"{first.f_code.co_name} at {os.path.basename(first.f_code.co_filename)}:{first.f_lineno}"
    inner = " > ".join(f.f_code.co_name for f in frames[1:])
    return f"{where}, in {inner}" if inner else where
