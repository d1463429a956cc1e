"""Writes under a deadline: the matrix's ``write_deadline`` operation.

Rules for this module:
- The deadlines are those of ``harness._deadline`` (the stream's own ``faultio_deadline``, else
  ``faultio.with_timeout`` on faultio's loop, ``asyncio.wait_for`` on the asyncio loop), waited once per
  write: after a timeout the user goes on with the next write, as a user with a send timeout and more to
  say does. A stream may say which awaitable a timed write waits for (``faultio_timed_write(data)``: the
  asyncio adapter queues with ``StreamWriter.write``, which never blocks, and returns ``drain()``, which
  does); else ``write(data)``'s future.
- The fd of a ``write_deadline`` case holds ``SEND_CAPACITY`` bytes in flight (``fd_capacity``, asked by
  the runner), and the peer reads nothing for ``PEER_ASLEEP`` virtual seconds: the larger writes (one at
  least is above asyncio's 64 KiB high-water mark) must wait in the stream's buffer, so deadlines fire
  under every fault kind, not only under ``send-stall``.
- This module asserts nothing: what the peer finally received is handed to the monitor (``WriteLog``), and
  ``harness.engine.checkers.timed_writes`` judges it; deadlines are judged by ``deadline-on-time``.
- Bounded: the user waits ``FLUSH_PATIENCE`` virtual seconds for the peer to have everything, then closes.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from faultio import Future
from faultio._fakefd import DEFAULT_CAPACITY

from ._deadline import DEADLINES, deadline_for
from .engine import ReadOp
from .engine.verdict import is_closed_error

#: Bytes one direction of a ``write_deadline`` case's fd holds before ``send`` says EWOULDBLOCK.
SEND_CAPACITY = 4096
#: operation → the fd's capacity for it (``fd_capacity``: faultio's default elsewhere).
OPERATION_CAPACITY = {"write_deadline": SEND_CAPACITY}
#: Virtual seconds the peer reads nothing (after its TLS handshake): longer than two of the three deadlines.
PEER_ASLEEP = 2.0
#: Virtual seconds the user waits for the peer to have every byte (above the longest send-stall, 120 s).
FLUSH_PATIENCE = 300.0
#: Virtual seconds the peer goes on reading after the stream closed.
AFTER_CLOSE_PATIENCE = 5.0
#: Writes per case, and the sizes they take: small ones, and large ones above the fd's capacity.
WRITES = (4, 6)
SMALL = (1, 2048)
LARGE = (SEND_CAPACITY + 1, 96 * 1024)
#: At least one write is larger than asyncio's default write high-water mark (64 KiB): drain() then waits.
ABOVE_HIGH_WATER = (64 * 1024 + 1, 96 * 1024)


@dataclasses.dataclass(frozen=True)
class WriteLog:
    """What a ``write_deadline`` case wrote and what its peer finally received, for the checkers."""

    #: The bytes of each write, in the order issued (only the writes the stream accepted).
    writes: tuple[bytes, ...]
    #: Every byte the peer read, up to its EOF (or the end of its patience).
    received: bytes
    #: The indexes of the writes whose deadline fired.
    timed_out: tuple[int, ...]
    #: Whether the stream closed before the user closed it (by an error, or by the peer's hang-up).
    closed_itself: bool
    #: Whether the plan cut the connection (a reset or an early EOF was injected).
    cut: bool
    #: Whether the peer got to reading and could go on: not a flooding peer (a TLS peer stuck in sending its
    #: flood to a stream that reads nothing cannot take the stream's bytes: the scenario's deadlock).
    peer_read: bool


def fd_capacity(operation: str) -> int:
    """Bytes each direction of the fd of a case of ``operation`` holds (the runner makes its socketpair so)."""
    return OPERATION_CAPACITY.get(operation, DEFAULT_CAPACITY)


def write_sizes(rng: random.Random) -> list[int]:
    """Seeded write sizes: small and large, one above the high-water mark."""
    count = rng.randint(*WRITES)
    sizes = [rng.randint(*(SMALL if rng.random() < 0.5 else LARGE)) for _ in range(count)]
    sizes[rng.randrange(count)] = rng.randint(*ABOVE_HIGH_WATER)
    return sizes


async def _first_of(loop: Any, futures: list[Any], seconds: float) -> None:
    """Wait until one of ``futures`` is done, or ``seconds`` of virtual time passed."""
    first = Future(label="first-of")
    patience = loop.sleep(seconds)
    for contender in (*futures, patience):
        contender.add_done_callback(lambda f: first.done() or first.set_result(None))
    await first


async def _peer(run: Any, total: int, reading: list[bool]) -> None:
    """Asleep for ``PEER_ASLEEP``, then reads up to ``total`` bytes (fewer if the connection ends), closes;
    ``reading`` becomes ``[True]`` once it reads."""
    peer = run.peer
    try:
        await run.peer_ready()
        await peer.send_all(b"")  # a TLS peer whose plan floods at offset 0 floods on its first send
        await run.loop.sleep(PEER_ASLEEP)
        reading[0] = True
        await peer.recv_exactly(total)
        closing = peer.close()
        if hasattr(closing, "__await__"):
            await closing
    except Exception:  # the peer's side failing is not judged: the stream's side is
        pass


async def scenario_write_deadline(run: Any, driver: Any) -> None:
    """Seeded writes, each awaited under a seeded deadline, to a peer that reads only after a while; then the
    user waits (bounded) for the peer to have every byte, closes, and records what the peer received."""
    rng = random.Random(f"harness:write_deadline:{run.case.seed}:{run.case.id}")
    seconds = rng.choice(DEADLINES)
    writes = [rng.randbytes(n) for n in write_sizes(rng)]  # seeded noise: a misplaced piece is found again
    loop, monitor, stream = run.loop, run.monitor, run.stream
    loop.trace.record("harness", "deadline_seconds", seconds=seconds)
    reading = [False]
    reader = loop.spawn(_peer(run, sum(map(len, writes)), reading))
    waiter = deadline_for(run)
    write = getattr(stream, "faultio_timed_write", None) or stream.write
    accepted: list[bytes] = []
    timed_out: list[int] = []
    for index, data in enumerate(writes):
        op = ReadOp(f"write #{index} ({len(data)} bytes)")
        monitor.op_started(None)
        try:
            future = write(data)
        except Exception as exc:
            if not is_closed_error(exc):
                monitor.violate("target-crashed", f"write #{index} raised {exc!r}")
            break
        accepted.append(data)
        monitor.track_future(future, f"write #{index}")
        deadline = loop.time() + seconds
        monitor.deadline_set(op, "write", deadline)
        outcome, _ = await waiter.wait(loop, future, deadline)
        if outcome == "timeout":
            monitor.timed_out(op, "write", deadline)
            timed_out.append(index)
            continue
        monitor.deadline_cleared(op)
        if outcome != "ok":
            break  # the write failed (judged where its future completed): the user stops writing
    await _first_of(loop, [reader, driver.closed], FLUSH_PATIENCE)
    closed_itself = bool(stream.closed())
    if not closed_itself:
        driver.close()
    await driver.closed
    await _first_of(loop, [reader], AFTER_CLOSE_PATIENCE)
    monitor.write_log = WriteLog(writes=tuple(accepted), received=bytes(run.peer.received),
                                 timed_out=tuple(timed_out), closed_itself=closed_itself, cut=run.reset_injected(),
                                 peer_read=reading[0] and not run.flood_injected())
