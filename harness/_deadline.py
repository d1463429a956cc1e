"""Reads under a deadline: the matrix's ``read_deadline`` operation and the deadlines it waits with.

Rules for this module:
- A deadline is the stream user's, made with the tools of the loop the stream runs on, unchanged: on
  faultio's loop ``faultio.with_timeout`` (Tornado's ``gen.with_timeout``: the read goes on, the caller may
  wait for it again), on the simulated asyncio loop ``asyncio.wait_for`` (the read is cancelled, the caller
  issues a new one). A stream may bring its own (``faultio_deadline``: an object with ``cancels`` and
  ``wait(loop, future, deadline)``), as a library with its own timeout API would.
- A wait ends in exactly one of three ways, told apart without guessing from exception types alone: the
  read's result, the read's own failure, or the deadline (``Outcome``). The monitor hears of each deadline
  set and each one that fired (``deadline_set``, ``timed_out``); the checkers in
  ``harness.engine.checkers.time`` judge them. This module asserts nothing.
- Bounded: one read waits through at most ``MAX_WAITS`` deadlines, then its user gives up and closes.
"""

from __future__ import annotations

import random
from typing import Any

from faultio import Future
from faultio._time_faults import DeadlineError, with_timeout

from ._compat import adopt
from .engine import ReadOp
from .engine.verdict import is_closed_error

#: The deadlines a case picks from (virtual seconds): shorter than a latency piece's delay, than a bandwidth
#: piece's, and far shorter than a stall.
DEADLINES = (0.025, 0.25, 5.0)
#: How many deadlines one read waits through before its user gives up (a 120 s stall at 5 s is 24).
MAX_WAITS = 64
#: The methods the operation cycles through, each a matrix method with its arguments' shape.
METHODS = ("read_bytes", "read_until", "read_bytes_partial")
DELIMITER = b"\r\n"
#: Bytes the peer sends at least (the matrix places seeded faults in the first 600).
MIN_INBOUND = 600
#: Reads past the payload a case may issue (a partial read may take a few bytes at a time).
EXTRA_OPS = 24


class LoopDeadline:
    """``faultio.with_timeout`` on faultio's loop: the read is not cancelled (Tornado's ``gen.with_timeout``)."""

    cancels = False

    def wait(self, loop: Any, future: Any, deadline: float) -> Future:
        out = Future(label="deadline-outcome")
        inner = with_timeout(loop, deadline, adopt(future), label="read")

        def done(f: Future) -> None:
            exc = f.exception()
            out.set_result(("timeout", None) if isinstance(exc, DeadlineError) else
                           ("error", exc) if exc is not None else ("ok", f.result()))

        inner.add_done_callback(done)
        return out


class AsyncioDeadline:
    """``asyncio.wait_for`` on the simulated asyncio loop: at the deadline the read is cancelled."""

    cancels = True

    def wait(self, loop: Any, future: Any, deadline: float) -> Future:
        import asyncio

        aloop = loop.asyncio_loop

        async def waited() -> tuple[str, Any]:
            try:
                return ("ok", await asyncio.wait_for(future, deadline - aloop.time()))
            except asyncio.TimeoutError as exc:
                # wait_for's own timeout: it cancelled the read (the TimeoutError's cause is the cancellation).
                if isinstance(exc.__cause__, asyncio.CancelledError):
                    return ("timeout", None)
                return ("error", exc)
            except Exception as exc:
                return ("error", exc)

        return adopt(aloop.create_task(waited()))


def deadline_for(run: Any) -> Any:
    """The deadline the stream's user waits with: the stream's own, else its loop's."""
    own = getattr(run.stream, "faultio_deadline", None)
    if own is not None:
        return own
    return AsyncioDeadline() if hasattr(run.loop, "asyncio_loop") else LoopDeadline()


async def read_within(run: Any, driver: Any, op: ReadOp, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                      seconds: float) -> tuple[str, Any]:
    """One read under a deadline of ``seconds``, waited through deadline after deadline (up to ``MAX_WAITS``):
    ``("ok", data)``, ``("closed", exc)``, ``("crashed", exc)`` or ``("gave-up", None)``."""
    loop, monitor, stream = run.loop, run.monitor, run.stream
    waiter = deadline_for(run)
    future = None
    refused: tuple[str, Any] | None = None
    for _ in range(MAX_WAITS):
        if future is None:
            monitor.op_started(op)
            try:
                future = getattr(stream, method)(*args, **kwargs)
            except Exception as exc:
                refused = driver._raised(op, method, exc)
                if refused[0] == "closed" or stream.closed() or not monitor.timeouts:
                    return refused
                # Refused after a cancelled read (Tornado's "Already reading"): a user would try again a while
                # later, once the cancelled read's bytes may have come and gone.
                await loop.sleep(seconds)
                continue
            monitor.track_future(future, method)
        deadline = loop.time() + seconds
        monitor.deadline_set(op, method, deadline)
        outcome, value = await waiter.wait(loop, future, deadline)
        if outcome == "timeout":
            monitor.timed_out(op, method, deadline)
            if waiter.cancels:  # the read is over; the next wait is for a new one
                monitor.read_finished()
                future = None
            continue
        monitor.deadline_cleared(op)
        monitor.read_finished()
        if outcome == "ok":
            monitor.read_result(op, method, value, False)
            return ("ok", value)
        if is_closed_error(value):
            partial = getattr(value, "partial", b"")
            if partial:  # asyncio's readexactly hands the bytes it took over in its refusal
                monitor.deliver(bytes(partial), f"{method} refusal's partial bytes")
            monitor.read_failed(op, value, "future failed")
            return ("closed", value)
        return ("failed", value)  # judged where the future completed (``track_future``), as for other reads
    monitor.deadline_cleared(op)
    monitor.read_finished()
    return refused or ("gave-up", None)


def _lines(rng: random.Random, total: int) -> bytes:
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 .,:;-_"
    out = bytearray()
    while len(out) < total:
        out += bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) + DELIMITER
    return bytes(out)


async def _peer(run: Any, first: bytes, second: bytes, gate: Future) -> None:
    """First half, the gate (one virtual second), second half, then the peer closes."""
    try:
        await run.peer_ready()
        await run.peer.send_all(first)
        await gate
        await run.peer.send_all(second)
        closing = run.peer.close()
        if hasattr(closing, "__await__"):
            await closing
    except Exception:  # the peer's side failing is not judged: the stream's side is
        pass


async def scenario_read_deadline(run: Any, driver: Any) -> None:
    """Reads under a seeded deadline (``read_bytes``, ``read_until``, a partial ``read_bytes`` in turn, from a
    seeded first one) over seeded lines: each read waits deadline after deadline until it completes; then the
    stream is closed."""
    rng = random.Random(f"harness:read_deadline:{run.case.seed}:{run.case.id}")
    seconds = rng.choice(DEADLINES)
    payload = _lines(rng, MIN_INBOUND)
    cut = rng.randint(1, len(payload) - 1)
    gate = Future(label="peer-gate")
    run.loop.spawn(_peer(run, payload[:cut], payload[cut:], gate))
    run.loop.call_later(1.0, gate.set_result, None)
    run.loop.trace.record("harness", "deadline_seconds", seconds=seconds)
    first = rng.randrange(len(METHODS))  # which method meets the first fault varies from case to case
    for i in range(payload.count(DELIMITER) + EXTRA_OPS):
        if len(run.monitor.delivered) >= len(payload):
            break
        method = METHODS[(first + i) % len(METHODS)]
        if method == "read_until":
            op, args, kwargs = ReadOp("read_until", delimiter=DELIMITER), (DELIMITER,), {}
        else:
            n = rng.randint(1, 64)
            partial = method == "read_bytes_partial"
            op = ReadOp(f"read_bytes {n}" + (" (partial)" if partial else ""), nbytes=n, partial=partial)
            method, args, kwargs = "read_bytes", (n,), ({"partial": True} if partial else {})
        outcome, _ = await read_within(run, driver, op, method, args, kwargs, seconds)
        if outcome != "ok":
            break
    if not run.stream.closed():
        driver.close()
    await driver.closed
