"""The operations of the fault matrix: what the harness, as the stream's user, does in each case.

Rules for this module:
- A scenario is ``async def scenario(run)``: it drives the stream through a ``Driver`` (which knows the
  callback and future styles and reports every result to the monitor) and drives the peer directly.
- Scenarios assert nothing themselves; every judgement is a monitor check with a slug. They only end:
  by the stream closing, or (bounded) by the harness closing it after an operation cap.
- Payloads derive from the case's seed, so a case is the same every time it runs.
"""

from __future__ import annotations

import inspect
import random
import re
from typing import Any, Awaitable, Callable

from faultio import Future

from ._compat import adopt, future_exception
from ._scenario_connect import scenario_connect
from ._scenario_echo import scenario_echo, within
from ._deadline import scenario_read_deadline
from ._write_deadline import scenario_write_deadline
from .engine import ReadOp
from .engine.verdict import is_closed_error

DELIMITER = b"\r\n"
LINE_REGEX = re.compile(rb"\r\n")
#: How many operations one scenario may issue after the payload is consumed (floods never end).
EXTRA_OPS = 24
#: How many bytes past the peer's payload a scenario keeps reading before it closes the stream itself.
EXTRA_BYTES = 8192
MAX_LINE = 48
#: Virtual seconds a read on a closed stream may take to be served or refused (it needs no I/O at all).
READ_AFTER_CLOSE_PATIENCE = 5.0
#: Read scenarios receive at least this many bytes: the matrix places seeded resets and floods anywhere in the
#: first 600 inbound bytes (``harness._matrix.plan_sizes``), and a fault placed past the last byte never fires.
MIN_INBOUND = 600


#: Loop iterations a completed streaming read waits for chunks its stream scheduled but has not yet delivered.
STREAMING_PATIENCE = 8


async def _next_iteration(loop: Any) -> None:
    """Resume on the loop's next iteration, after every callback already scheduled (``gen.moment``)."""
    later = Future(label="next-iteration")
    loop.add_callback(later.set_result, None)
    await later


class Driver:
    """Issues stream operations in one style and reports everything to the monitor."""

    def __init__(self, run: Any, style: str) -> None:
        self.run = run
        self.style = style
        self.stream = run.stream
        self.monitor = run.monitor
        self._outstanding: tuple[Future, ReadOp | None] | None = None
        self._after_close = False
        #: ``(step, virtual time)`` of the harness's first ``close()`` call, or None.
        self.close_requested: tuple[int, float] | None = None
        self.closed = Future(label="close-callback")
        self.stream.set_close_callback(self._on_close)
        self.monitor.close_cb_set = True

    def _on_close(self) -> None:
        self.monitor.close_callback_ran()
        if self._outstanding is not None:
            done, op = self._outstanding
            self._outstanding = None
            if not done.done():
                self.monitor.read_failed(op, None, "closed with the read outstanding")
                self.monitor.read_finished()
                done.set_result(("closed", None))
        if not self.closed.done():
            self.closed.set_result(None)

    async def read(self, op: ReadOp, method: str, *args: Any, streaming: bool = False, **kwargs: Any) -> tuple[str, Any]:
        """Run one read; returns ``("ok", data)``, ``("closed", exc)`` or ``("crashed", exc)``."""
        monitor = self.monitor
        op.streaming = streaming
        monitor.op_started(op)
        self._after_close = bool(self.stream.closed())
        # A read started after the close callback ran may still be served from the buffer: its callbacks
        # legitimately come after the close callback. One started on a closed stream whose close callback
        # has not run yet is not ended by the close callback (it may still be served, or refused: the
        # reads-after-close rule judges it), but its callback must still come first: the caller has not been
        # told of the close yet, and data after "closed" is the truncated-response bug.
        late = monitor.close_cb_runs > 0
        if streaming:
            def on_chunk(chunk: bytes) -> None:
                if not late:
                    monitor.data_callback_ran("streaming")
                monitor.deliver(chunk, f"{method} streaming_callback")
            kwargs["streaming_callback"] = on_chunk
        if self.style == "callback":
            done = Future(label=f"{method}-callback")
            calls = [0]

            def on_data(data: bytes = b"") -> None:
                calls[0] += 1
                if not late:
                    monitor.data_callback_ran(method)
                if calls[0] > 1:
                    monitor.violate("pending-exactly-once", f"the {method} callback ran {calls[0]} times")
                    return
                self._outstanding = None
                monitor.read_finished()
                self._check_result(op, method, data, streaming)
                if not done.done():  # already settled if the close callback came first (judged there)
                    done.set_result(("ok", data))

            self._outstanding = (done, op) if not self._after_close else None
            try:
                getattr(self.stream, method)(*args, callback=on_data, **kwargs)
            except Exception as exc:
                self._outstanding = None
                return self._raised(op, method, exc)
            return await done
        try:
            future = getattr(self.stream, method)(*args, **kwargs)
        except Exception as exc:
            return self._raised(op, method, exc)
        monitor.track_future(future, method)
        try:
            data = await adopt(future)  # a foreign (Tornado) future cannot be awaited on the faultio loop as is
        except Exception as exc:
            if is_closed_error(exc):  # any other exception type is judged where the future completed
                partial = getattr(exc, "partial", b"")
                if partial:  # an API that hands the bytes it took over in the refusal (asyncio's readexactly)
                    monitor.deliver(bytes(partial), f"{method} refusal's partial bytes")
                monitor.read_failed(op, exc, "future failed", after_close=self._after_close)
            monitor.read_finished()
            return ("closed", exc)
        monitor.read_finished()
        self._check_result(op, method, data, streaming)
        if streaming and op.nbytes is not None and not op.partial:
            # A stream may complete the future before the callbacks carrying its last chunks have run (the
            # checker has said so); a caller would wait a loop iteration for them, and so do we (bounded).
            for _ in range(STREAMING_PATIENCE):
                if len(monitor.delivered) - op.started_at >= op.nbytes:
                    break
                await self.run.loop.spawn(_next_iteration(self.run.loop))
        return ("ok", data)

    def _check_result(self, op: ReadOp, method: str, data: bytes, streaming: bool) -> None:
        self.monitor.read_result(op, method, data, streaming)

    def _raised(self, op: ReadOp | None, method: str, exc: Exception) -> tuple[str, Any]:
        # A StreamClosedError (of the target's own class) is a legal refusal; the checkers judge the rest.
        return (self.monitor.read_raised(op, method, exc, after_close=self._after_close), exc)

    async def reads_after_close(self, issue: Callable[[], Awaitable[tuple[str, Any]]]) -> None:
        """Two reads on the closed stream: each must be served from the buffer or refused with
        StreamClosedError, and the second must still be accepted (no "Already reading")."""
        for attempt in (1, 2):
            read = self.run.loop.spawn(issue())
            patience = self.run.loop.sleep(READ_AFTER_CLOSE_PATIENCE)
            first = Future(label="read-after-close-or-patience")
            for contender in (read, patience):
                contender.add_done_callback(lambda f: first.done() or first.set_result(f))
            if await first is patience:
                # Neither served nor refused: the caller of a read on a closed stream would wait for ever.
                self._outstanding = None
                self.monitor.read_finished()
                self.monitor.violate("reads-after-close", f"read #{attempt} on the closed stream was neither "
                                     "served from the buffer nor refused with StreamClosedError")
                return
            outcome, _ = read.result()
            if outcome == "crashed":
                return

    def close(self) -> None:
        """Close the stream (the step and virtual time are kept: a close that never completes is reported
        with them)."""
        if self.close_requested is None:
            self.close_requested = (self.run.loop.step, self.run.loop.time())
            # Said in the trace: what the connection does after its user closed it is not the user's concern
            # (a peer that then hangs up without close_notify truncates nothing the user still reads).
            self.run.loop.trace.record("harness", "close_requested")
        self.stream.close()


# --- payloads ------------------------------------------------------------------------------------------


def _bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def _lines(rng: random.Random, count: int, *, longest: int = MAX_LINE) -> list[bytes]:
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 .,:;-_"
    return [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, longest))) + DELIMITER for _ in range(count)]


def _rng(run: Any, what: str) -> random.Random:
    return random.Random(f"harness:{what}:{run.case.seed}:{run.case.id}")


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


async def _send_coalesced(peer: Any, data: bytes) -> None:
    """Plain: one send. TLS: several records in one fd write, so plaintext waits inside the target's SSL
    object while its fd shows nothing (the drain rule is exercised by every TLS read case)."""
    if hasattr(peer, "send_records") and len(data) > 3 and getattr(peer, "_flood_at", None) is None:
        third = len(data) // 3
        await peer.send_records([data[:third], data[third : 2 * third], data[2 * third :]], coalesce=True)
    else:
        await peer.send_all(data)


async def _peer_sends(run: Any, first: bytes, second: bytes, gate: Future) -> None:
    """The peer: first half, wait for the harness to go idle, second half, then close (FIN)."""
    peer = run.peer
    try:
        await run.peer_ready()
        await _send_coalesced(peer, first)
        await gate
        await _send_coalesced(peer, second)
        await _maybe_await(peer.close())
    except Exception:  # the peer's side failing is not judged: the stream's side is
        pass  # the connection went away under the peer: the stream's side is what is judged


def _sizes(rng: random.Random, total: int, largest: int) -> list[int]:
    out = []
    while total > 0:
        n = min(total, rng.randint(1, largest))
        out.append(n)
        total -= n
    return out


# --- read scenarios ------------------------------------------------------------------------------------


async def _read_phases(run: Any, driver: Driver, first: bytes, second: bytes,
                       phase_one: Callable[[], Awaitable[bool]], phase_two: Callable[[], Awaitable[bool]],
                       after_close: Callable[[], Awaitable[tuple[str, Any]]]) -> None:
    gate = Future(label="peer-gate")
    run.loop.spawn(_peer_sends(run, first, second, gate))
    alive = await phase_one()
    # Idle on purpose: nothing pending, empty buffer, a close callback set. The stream must listen.
    await run.loop.sleep(1.0)
    gate.set_result(None)
    if alive:
        await phase_two()
    if not run.stream.closed():
        driver.close()
    await driver.reads_after_close(after_close)
    await driver.closed


def _total_limit(first: bytes, second: bytes) -> int:
    return len(first) + len(second) + EXTRA_BYTES


async def scenario_read_bytes(run: Any, driver: Driver, *, partial: bool = False, streaming: bool = False) -> None:
    """``read_bytes`` of seeded sizes through two halves of seeded data with an idle gap between them, then
    reads after close; ``partial`` and ``streaming`` choose the variant."""
    rng = _rng(run, "read_bytes")
    first = _bytes(rng, rng.randint(64, 300))
    second = _bytes(rng, max(rng.randint(64, 300), MIN_INBOUND - len(first)))
    limit = _total_limit(first, second)
    name = "read_bytes" + ("(partial)" if partial else "") + ("(streaming)" if streaming else "")

    async def one(n: int) -> tuple[str, Any]:
        op = ReadOp(f"{name} {n}", nbytes=n, partial=partial)
        return await driver.read(op, "read_bytes", n, partial=partial, streaming=streaming)

    async def phase_one() -> bool:
        for n in _sizes(rng, len(first), 48):
            outcome, _ = await one(n)
            if outcome != "ok":
                return False
        # A partial read may return fewer bytes than asked: top up to the end of the first half.
        for _ in range(len(first) + EXTRA_OPS):
            if len(run.monitor.delivered) >= len(first):
                break
            outcome, _ = await one(len(first) - len(run.monitor.delivered))
            if outcome != "ok":
                return False
        return True

    async def phase_two() -> bool:
        for _ in range(len(second) + EXTRA_OPS):
            if len(run.monitor.delivered) >= limit:
                return True
            outcome, _ = await one(rng.randint(1, 64))
            if outcome != "ok":
                return False
        return True

    await _read_phases(run, driver, first, second, phase_one, phase_two, lambda: one(rng.randint(1, 8)))


async def scenario_read_bytes_partial(run: Any, driver: Driver) -> None:
    """``scenario_read_bytes`` with ``partial=True``."""
    await scenario_read_bytes(run, driver, partial=True)


async def scenario_read_bytes_streaming(run: Any, driver: Driver) -> None:
    """``scenario_read_bytes`` with a streaming callback."""
    await scenario_read_bytes(run, driver, streaming=True)


async def _scenario_lines(run: Any, driver: Driver, method: str, *, max_bytes: int | None = None) -> None:
    rng = _rng(run, method)
    first = b"".join(_lines(rng, rng.randint(3, 8)))
    lines = _lines(rng, rng.randint(3, 8))
    if max_bytes is not None:
        # One line longer than max_bytes: the read for it can never be satisfied.
        lines.insert(rng.randint(0, len(lines)), b"x" * (max_bytes + 16) + DELIMITER)
        run.monitor.expect_close_error = "UnsatisfiableReadError"
    while len(first) + sum(map(len, lines)) < MIN_INBOUND:
        lines += _lines(rng, 1)
    second = b"".join(lines)
    limit = _total_limit(first, second)

    async def one() -> tuple[str, Any]:
        if method == "read_until_regex":
            op = ReadOp("read_until_regex", regex=LINE_REGEX, max_bytes=max_bytes)
            return await driver.read(op, method, LINE_REGEX, max_bytes=max_bytes)
        op = ReadOp("read_until" + (f"(max_bytes={max_bytes})" if max_bytes else ""), delimiter=DELIMITER,
                    max_bytes=max_bytes)
        return await driver.read(op, method, DELIMITER, max_bytes=max_bytes)

    async def phase_one() -> bool:
        for _ in range(first.count(DELIMITER) + EXTRA_OPS):
            if len(run.monitor.delivered) >= len(first):
                break
            outcome, _ = await one()
            if outcome != "ok":
                return False
        return True

    async def phase_two() -> bool:
        for _ in range(second.count(DELIMITER) + EXTRA_OPS):
            if len(run.monitor.delivered) >= limit:
                return True
            outcome, _ = await one()
            if outcome != "ok":
                return False
        return True

    await _read_phases(run, driver, first, second, phase_one, phase_two, one)


async def scenario_read_until(run: Any, driver: Driver) -> None:
    """``read_until`` line by line over seeded CRLF-terminated lines."""
    await _scenario_lines(run, driver, "read_until")


async def scenario_read_until_max_bytes(run: Any, driver: Driver) -> None:
    """``read_until`` with ``max_bytes``, and one line too long for it: the stream must close with
    ``UnsatisfiableReadError``."""
    await _scenario_lines(run, driver, "read_until", max_bytes=MAX_LINE + 2)


async def scenario_read_until_regex(run: Any, driver: Driver) -> None:
    """``read_until_regex`` line by line over seeded CRLF-terminated lines."""
    await _scenario_lines(run, driver, "read_until_regex")


async def scenario_read_until_close(run: Any, driver: Driver) -> None:
    """``read_until_close`` across an idle period and the peer's EOF; at a clean EOF every received byte
    must be in the result."""
    rng = _rng(run, "read_until_close")
    first = _bytes(rng, rng.randint(64, 400))
    second = _bytes(rng, max(rng.randint(64, 400), MIN_INBOUND - len(first)))
    gate = Future(label="peer-gate")
    run.loop.spawn(_peer_sends(run, first, second, gate))
    run.loop.call_later(1.0, gate.set_result, None)
    op = ReadOp("read_until_close")
    outcome, _ = await driver.read(op, "read_until_close")
    if outcome == "ok" and run.stream.closed() and run.stream.error is None:
        # The peer closed cleanly: everything the stream received belongs in the result.
        left = run.monitor.held_len()
        if left:
            run.monitor.violate("data-integrity", f"read_until_close completed at a clean EOF with {left} "
                                "received byte(s) left out of its result")
    if not run.stream.closed():
        driver.close()
    await driver.reads_after_close(lambda: driver.read(ReadOp("read_until_close"), "read_until_close"))
    await driver.closed


# --- writes --------------------------------------------------------------------------------------------


async def scenario_write(run: Any, driver: Driver) -> None:
    """Several writes (one of them empty) the peer reads in full; they must complete in order."""
    rng = _rng(run, "write")
    chunks = [_bytes(rng, rng.randint(1, 700)) for _ in range(rng.randint(3, 7))]
    chunks.insert(rng.randint(0, len(chunks)), b"")
    expected = b"".join(chunks)
    stream, monitor, peer = run.stream, run.monitor, run.peer

    async def peer_reads() -> None:
        try:
            await run.peer_ready()
            # Nothing to send, but a TLS peer whose plan floods at offset 0 floods on its first send.
            await peer.send_all(b"")
            await peer.recv_exactly(len(expected))
            await _maybe_await(peer.close())
        except Exception:  # the peer's side failing is not judged: the stream's side is
            pass

    reader = run.loop.spawn(peer_reads())
    order: list[int] = []
    sent_before = run.fd.bytes_sent

    def written(index: int, upto: int) -> None:
        if order and index < order[-1]:
            monitor.violate("write-fifo", f"write #{index} completed after write #{order[-1]}")
        order.append(index)
        if (run.case.transport == "plain" and getattr(stream, "faultio_write_done_means_sent", True)
                and run.fd.bytes_sent - sent_before < upto):
            monitor.violate("write-fifo", f"write #{index} completed with {run.fd.bytes_sent - sent_before} of "
                            f"its {upto} cumulative bytes handed to the fd")

    def issue(index: int, chunk: bytes, upto: int, callback: Any = None) -> Any:
        state_before = getattr(stream, "_state", None)
        monitor.op_started(None)
        try:
            result = stream.write(chunk, callback=callback) if callback else stream.write(chunk)
        except Exception as exc:
            if not is_closed_error(exc):
                monitor.violate("target-crashed", f"write raised {exc!r}")
            return None
        state_after = getattr(stream, "_state", None)
        if not chunk and not (state_before or 0) & 0x004 and (state_after or 0) & 0x004 and not stream.writing():
            monitor.violate("write-fifo", "write(b'') registered WRITE with nothing to send")
        return result

    upto = 0
    if driver.style == "future":
        futures = []
        for index, chunk in enumerate(chunks):
            upto += len(chunk)
            future = issue(index, chunk, upto)
            if future is None:
                break
            monitor.track_future(future, f"write #{index}")
            future.add_done_callback(lambda f, i=index, u=upto: future_exception(f) is None and written(i, u))
            futures.append(future)
        for future in futures:
            try:
                await adopt(future)
            except Exception:  # StreamClosedError (the target's class) or anything else: stop writing
                break
    else:
        for index, chunk in enumerate(chunks):
            upto += len(chunk)
            done = Future(label=f"write-callback #{index}")

            def on_written(i: int = index, u: int = upto, d: Future = done) -> None:
                monitor.data_callback_ran("write")
                written(i, u)
                if d.done():
                    monitor.violate("pending-exactly-once", f"the write #{i} callback ran twice")
                else:
                    d.set_result(True)

            if issue(index, chunk, upto, on_written) is None and stream.closed():
                break
            closed_first = Future(label="write-or-close")
            done.add_done_callback(lambda f, c=closed_first: c.done() or c.set_result(True))
            driver.closed.add_done_callback(lambda f, c=closed_first: c.done() or c.set_result(False))
            if not await closed_first:
                break
    await run.loop.sleep(1.0)  # idle, with a close callback: the peer's close must be noticed
    if not stream.closed() and (run.fd.bytes_received or run.fd.pending()):
        # Unread inbound bytes (a flood) rightly keep the stream from looking for EOF: we close it.
        driver.close()
    elif not stream.closed() and not getattr(stream, "faultio_closes_at_eof", True):
        # A stream that keeps a half-closed connection open (asyncio's StreamReaderProtocol does, by design)
        # leaves the close to its application, which is us.
        driver.close()
    await driver.closed
    # The peer may still be reading what the stream flushed as it closed: wait for it (bounded) before judging.
    await within(run.loop, lambda: reader, READ_AFTER_CLOSE_PATIENCE)
    if not run.reset_injected() and not stream.error:
        got = bytes(peer.received)
        if got != expected:
            monitor.violate("data-integrity", f"the peer received {len(got)} byte(s) that differ from the "
                            f"{len(expected)} written (first difference at "
                            f"{next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))})")


#: operation name → (scenario, styles it runs in)
OPERATIONS: dict[str, tuple[Callable[..., Awaitable[None]], tuple[str, ...]]] = {
    "read_bytes": (scenario_read_bytes, ("callback", "future")),
    "read_bytes_partial": (scenario_read_bytes_partial, ("callback", "future")),
    "read_bytes_streaming": (scenario_read_bytes_streaming, ("callback", "future")),
    "read_until": (scenario_read_until, ("callback", "future")),
    "read_until_max_bytes": (scenario_read_until_max_bytes, ("callback", "future")),
    "read_until_regex": (scenario_read_until_regex, ("callback", "future")),
    "read_until_close": (scenario_read_until_close, ("callback", "future")),
    "write": (scenario_write, ("callback", "future")),
    "echo": (scenario_echo, ("scenario",)),
    "connect": (scenario_connect, ("callback", "future")),
    "read_deadline": (scenario_read_deadline, ("future",)),
    "write_deadline": (scenario_write_deadline, ("future",)),
}

OPERATION_HELP = {
    "read_bytes": "read_bytes(n) of seeded sizes until EOF, then reads after close",
    "read_bytes_partial": "read_bytes(n, partial=True)",
    "read_bytes_streaming": "read_bytes(n, streaming_callback=...): every byte via the callback",
    "read_until": "read_until(b'\\r\\n') line by line",
    "read_until_max_bytes": "read_until(b'\\r\\n', max_bytes=50) with one overlong line",
    "read_until_regex": "read_until_regex(rb'\\r\\n') line by line",
    "read_until_close": "read_until_close() across an idle period and EOF",
    "write": "several writes (one empty) the peer reads, then the peer closes",
    "echo": "the seed's length-prefixed exchange: 13 messages and 'break', each answered",
    "connect": "connect(address), with writes queued before it completes; the peer reads them",
    "read_deadline": "read_bytes, read_until, read_bytes(partial) in turn, each under a seeded deadline "
                     "(with_timeout on faultio's loop, asyncio.wait_for on asyncio's)",
    "write_deadline": "seeded writes (some above the fd's capacity) each under a seeded deadline; the peer reads late",
}
