"""Shared helpers of the IOStream tests: a world (loop, fake socket pair, stream) and an outcome recorder.

The ``world`` fixture lives in ``conftest.py``; everything else the stream tests share is here.
"""

import logging
import pathlib

from faultio import (
    Dribble,
    FaultPlan,
    IOLoop,
    socketpair,
)
from faultio._iostream import IOStream

READ, WRITE, ERROR = IOLoop.READ, IOLoop.WRITE, IOLoop.ERROR

ROOT = pathlib.Path(__file__).resolve().parents[1]

MODES = ["bytewise", "bulk"]
STYLES = ["future", "callback"]


class World:
    """A loop, an ``IOStream`` over the target end of a fake socket pair, and the peer end.

    An observer checks the stream's bookkeeping after every loop step: the pending-callback counter is
    never negative (and 0 at quiescence), the registered mask is ``_state`` (with ERROR) or nothing,
    and an open stream's buffer never exceeds ``max_buffer_size``.
    """

    def __init__(self, plan=None, mode="bulk", **stream_kw):
        self.mode = mode
        if mode == "bytewise":
            dribble = FaultPlan(read=(Dribble(),))
            plan = dribble if plan is None else plan.then(dribble)
        self.loop = IOLoop()
        self.target, self.peer = socketpair(self.loop, plan)
        self.fd = self.target.fd
        self.stream = IOStream(self.target, io_loop=self.loop, **stream_kw)
        self.problems = []
        self.expect_uncaught = False
        self.loop.add_observer(self._observe)

    def _observe(self, loop, what):
        s = self.stream
        if s._pending_callbacks < 0:
            self.problems.append(f"step {loop.step}: _pending_callbacks = {s._pending_callbacks}")
        if what == "quiescent" and s._pending_callbacks != 0:
            self.problems.append(f"quiescent with _pending_callbacks = {s._pending_callbacks}")
        mask = loop.handler_mask(self.fd)
        expected = None if s._state is None else s._state | ERROR
        if mask != expected:
            self.problems.append(f"step {loop.step}: registered {mask!r} but _state is {s._state!r}")
        if s._state is not None and not s._state & ERROR:
            self.problems.append(f"step {loop.step}: _state {s._state!r} lacks ERROR")
        if not s.closed() and s._read_buffer_size > s.max_buffer_size:
            self.problems.append(f"step {loop.step}: buffer {s._read_buffer_size} > {s.max_buffer_size}")

    def run(self):
        self.loop.run_until_quiescent()

    def feed(self, data):
        """Deliver ``data`` from the peer: all at once, or one byte per loop iteration."""
        if self.mode == "bulk":
            self.peer.send(data)
            self.run()
        else:
            for i in range(len(data)):
                if self.stream.closed():
                    break  # the peer would now get EPIPE; the test is about what happened so far
                self.peer.send(data[i : i + 1])
                self.run()

    def verify(self):
        assert self.problems == []
        assert self.stream._pending_callbacks >= 0
        if self.loop.is_quiescent():
            assert self.stream._pending_callbacks == 0
        if not self.expect_uncaught:
            assert self.loop.uncaught == []


class Outcome:
    """How one operation completed, whichever style started it."""

    def __init__(self, log=None, name="read"):
        self.results = []
        self.errors = []
        self.log = log
        self.name = name

    def on_result(self, value=None):
        self.results.append(value)
        if self.log is not None:
            self.log.append((self.name, value))

    def on_future(self, future):
        error = future.exception()
        if error is None:
            self.on_result(future.result())
        else:
            self.errors.append(error)
            if self.log is not None:
                self.log.append((self.name + "-failed", type(error).__name__))

    @property
    def result(self):
        assert len(self.results) == 1 and not self.errors, (self.results, self.errors)
        return self.results[0]

    @property
    def error(self):
        assert len(self.errors) == 1 and not self.results, (self.results, self.errors)
        return self.errors[0]

    @property
    def pending(self):
        return not self.results and not self.errors


def start(stream, style, method, *args, log=None, **kwargs):
    """Call ``stream.<method>(*args, **kwargs)`` in callback or future style; return an ``Outcome``."""
    out = Outcome(log, method)
    if style == "callback":
        returned = getattr(stream, method)(*args, callback=out.on_result, **kwargs)
        assert returned is None
    else:
        future = getattr(stream, method)(*args, **kwargs)
        future.add_done_callback(out.on_future)
    return out


def no_records(caplog, level=logging.DEBUG):
    return [r for r in caplog.records if r.name.startswith("faultio.") and r.levelno >= level]
