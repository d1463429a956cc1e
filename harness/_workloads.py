"""Generated workloads run against one stream, judged by the invariants and by the reference model.

Rules for this module:
- One workload, one fresh loop, socket pair, stream, ``Monitor`` and ``Driver``: the same machinery as the
  matrix's cases (``harness._runner``, ``harness._scenarios``), so every invariant applies to a workload
  too. On top of them, each op's outcome is compared with ``harness._model`` (``model-contract``).
- The timeline is fixed by the workload, never by the stream: ops run one after the other; while an op
  is pending (and during an ``IdleOp``) the peer sends its next chunk and the loop runs until it is idle
  (a clock jump); once the chunks are spent, and an op still waits, the peer ends the connection (``eof``: it closes; ``reset``: it resets). An op that is
  still pending after that, and a little patience, is reported and ends the workload.
- The model is told what the stream's fd really delivered (for a reset, the bytes before it); nothing
  the stream itself reports is trusted as the truth.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from faultio import FaultPlan, Peer, socketpair
from faultio._workload import (
    IdleOp,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    ReadUntilRegexOp,
    Workload,
    WriteOp,
    write_payload,
)

from ._compat import adopt
from ._model import Model, Observed
from ._runner import Run, attach_monitor
from ._scenarios import Driver
from ._targets import DEFAULT_TARGET, Target
from .engine import ReadOp
from .engine.verdict import is_closed_error

#: Loop steps one workload may take (a livelock ends there, as in the matrix).
WORKLOAD_STEP_BUDGET = 200_000
#: Virtual seconds the loop idles after each chunk, and how many idle periods an op gets after the end.
IDLE = 0.01
PATIENCE = 3


@dataclasses.dataclass(frozen=True)
class WorkloadResult:
    """What one workload did: each op's observation, the model's disagreements, the invariants broken."""

    observed: tuple[Observed, ...]
    mismatches: tuple[str, ...]
    violations: tuple[Any, ...]
    received: bytes
    peer_received: bytes
    error: str = ""

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.violations or self.error)

    def explain(self) -> str:
        lines = list(self.mismatches)
        lines += [f"[{v.slug}] {v.message}" for v in self.violations]
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines) or "clean"


def _read_call(op: Any) -> tuple[ReadOp, str, tuple[Any, ...], dict[str, Any], bool]:
    """The monitor's ``ReadOp``, the method, its arguments, and whether it streams."""
    if isinstance(op, ReadBytesOp):
        return (ReadOp("read_bytes", nbytes=op.nbytes, partial=op.partial), "read_bytes", (op.nbytes,),
                {"partial": op.partial} if op.partial else {}, op.streaming)
    if isinstance(op, ReadUntilOp):
        return (ReadOp("read_until", delimiter=op.delimiter, max_bytes=op.max_bytes), "read_until",
                (op.delimiter,), {"max_bytes": op.max_bytes}, False)
    if isinstance(op, ReadUntilRegexOp):
        regex = re.compile(op.pattern)
        return (ReadOp("read_until_regex", regex=regex, max_bytes=op.max_bytes), "read_until_regex", (regex,),
                {"max_bytes": op.max_bytes}, False)
    assert isinstance(op, ReadUntilCloseOp)
    return ReadOp("read_until_close"), "read_until_close", (), {}, op.streaming


def run_workload(workload: Workload, plan: FaultPlan | None = None, *, target: Target = DEFAULT_TARGET,
                 transport: str = "plain", style: str = "future") -> WorkloadResult:
    """Run ``workload`` on a stream made by ``target`` over a fake fd obeying ``plan``; judge it.

    ``style`` is how reads are issued: ``"future"`` or ``"callback"`` (a callback-style read that fails is
    told only by the close callback, so its ``real_error`` is the stream's ``error``). Only the plain
    transport is supported so far (the model's truth is what the fd delivered).
    """
    if style not in ("future", "callback"):
        raise ValueError(f"style must be 'future' or 'callback', not {style!r}")
    if transport != "plain":
        raise ValueError(f"run_workload supports transport='plain' only, not {transport!r}")
    limits = workload.limits
    loop = target.make_loop(max_steps=WORKLOAD_STEP_BUDGET)
    fd, peer_sock = socketpair(loop, plan)
    stream = target.make(fd, io_loop=loop, transport=transport, max_buffer_size=limits.max_buffer_size,
                         ssl_context=None)
    # The factories take max_buffer_size only; the other limits are attributes of the Tornado 4 design.
    stream.read_chunk_size = limits.read_chunk_size
    stream.max_write_buffer_size = limits.max_write_buffer_size
    peer = Peer(loop, peer_sock)
    run = Run(None, loop, fd, peer_sock, stream, peer)  # type: ignore[arg-type]
    monitor = run.monitor = attach_monitor(loop, stream, fd, peer, transport)
    observed: list[Observed] = []
    # What the streaming callbacks got, in full (the monitor keeps only the first bytes delivered).
    streamed_chunks: list[bytes] = []
    deliver = monitor.deliver

    def deliver_and_keep(data: bytes, via: str) -> None:
        if via.endswith("streaming_callback"):
            streamed_chunks.append(bytes(data))
        deliver(data, via)

    monitor.deliver = deliver_and_keep  # type: ignore[method-assign]
    state = {"ended": False, "discarded": 0}
    peer_at_done: dict[int, int] = {}
    pieces = list(workload.pieces())

    def end_connection() -> None:
        state["ended"] = True
        if workload.ending == "reset":
            state["discarded"] = fd.pending()  # unread bytes the reset throws away
            peer_sock.reset()
        else:
            peer.close()

    def send(piece: bytes) -> None:
        """The peer sends its next chunk; once the stream has gone (EPIPE, reset) it sends nothing more."""
        try:
            peer.send_now(piece)
        except (BrokenPipeError, ConnectionResetError):
            pieces.clear()

    def drain() -> None:
        """The peer reads what the stream wrote (its pipe never fills up between two ops)."""
        while peer_sock.pending():
            peer.received += peer_sock.recv(1 << 16)

    async def scenario() -> None:
        driver = Driver(run, style)
        for index, op in enumerate(workload.ops):
            if isinstance(op, IdleOp):
                # The peer does not wait for the application: its next chunk arrives while no read is pending.
                if pieces:
                    send(pieces.pop(0))
                await loop.sleep(op.seconds)
                observed.append(Observed(b""))
                continue
            if isinstance(op, WriteOp):
                monitor.op_started(None)
                try:
                    future = stream.write(write_payload(index, op.nbytes))
                except Exception as exc:
                    observed.append(Observed(b"", raised=exc))
                    continue
                monitor.track_future(future, "write")
                try:
                    await adopt(future)
                except Exception as exc:
                    observed.append(Observed(b"", failed=True, real_error=getattr(exc, "real_error", exc)))
                    continue
                observed.append(Observed(b""))
                drain()
                # A write is done once its bytes are handed to the fd: the peer can read them all now.
                peer_at_done[index] = len(peer.received)
                continue
            read_op, method, args, kwargs, streaming = _read_call(op)
            streamed_chunks.clear()
            task = loop.spawn(driver.read(read_op, method, *args, streaming=streaming, **kwargs))
            idle = 0
            # The op first gets what is already there; only then does the peer send more, or end.
            await loop.sleep(IDLE)
            while not task.done() and idle < PATIENCE:
                if pieces:
                    send(pieces.pop(0))
                elif not state["ended"]:
                    end_connection()
                else:
                    idle += 1
                await loop.sleep(IDLE)
            if not task.done():
                observed.append(Observed(b"", pending=True))
                return
            outcome, value = task.result()
            streamed = b"".join(streamed_chunks) if streaming else b""
            if outcome == "ok":
                observed.append(Observed(streamed or bytes(value)))
            elif outcome == "closed" and value is None:
                # Callback style: the close callback ended the read; the stream's error says why.
                observed.append(Observed(streamed, failed=True, real_error=getattr(stream, "error", None)))
            elif outcome == "closed" and is_closed_error(value):
                observed.append(Observed(streamed, failed=True, real_error=getattr(value, "real_error", None)))
            else:
                observed.append(Observed(streamed, raised=value))
                return
        while pieces:
            send(pieces.pop(0))
            await loop.sleep(IDLE)
        if not state["ended"]:
            end_connection()
        await loop.sleep(IDLE)
        if not stream.closed():
            driver.close()
        await driver.closed

    error = ""
    try:
        loop.run_sync(scenario)
        loop.run_until_quiescent()
    except Exception as exc:  # a stall, a busy loop, a crash: the invariants' business, reported as is
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        try:
            monitor.finish()
        finally:
            monitor.detach()
    if not peer_sock.closed():
        drain()
    sent = bytes(peer.sent)
    received = sent[: len(sent) - state["discarded"]] if workload.ending == "reset" else sent
    peer_received = bytes(peer.received)
    model = Model(limits, received, workload.ending)
    mismatches = []
    for index, (op, seen) in enumerate(zip(workload.ops, observed)):
        problem = model.check(op, seen)
        if problem is not None:
            mismatches.append(f"op {index}: {problem}")
            break
        model.advance(op, seen)
        if index in peer_at_done and peer_at_done[index] < len(model.written):
            mismatches.append(f"op {index}: {op.name}(nbytes={op.nbytes}) completed when the peer could read "
                              f"{peer_at_done[index]} bytes of the {len(model.written)} written so far")
            break
    else:
        if peer_received != bytes(model.written):
            mismatches.append(f"the peer received {len(peer_received)} bytes of writes, the model says "
                              f"{len(model.written)} ({peer_received[:24]!r} vs {bytes(model.written)[:24]!r})")
    return WorkloadResult(observed=tuple(observed), mismatches=tuple(mismatches),
                          violations=tuple(monitor.violations.values()), received=received,
                          peer_received=peer_received, error=error)
