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
- A sequence (``styles``: one read style per op) may also close the stream (``CloseOp``), end the connection
  from the peer's side (``PeerEndOp``) and set close callbacks of its own (``SetCloseCallbackOp``, chained to
  the driver's so the monitor still hears the close): the last one set while the stream was open must run
  exactly once, after the close; one replaced must never run.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from faultio import FaultPlan, Peer, socketpair
from faultio._workload import (
    CloseOp,
    IdleOp,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    ReadUntilRegexOp,
    PeerEndOp,
    SetCloseCallbackOp,
    StreamLimits,
    Workload,
    WriteOp,
    write_payload,
)

from faultio import BusyLoopError, LoopBudgetExceeded, StalledError

from ._compat import adopt
from ._model import Model, Observed
from ._runner import Run, _event_json, _shut_down, attach_monitor, watch_progress
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
    #: Loop steps taken, the whole trace as JSON events (only with ``keep_trace``), the user's story.
    steps: int = 0
    trace: tuple[dict[str, Any], ...] = ()
    story: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.violations or self.error)

    def explain(self) -> str:
        lines = list(self.mismatches)
        lines += [f"[{v.slug}] {v.message}" for v in self.violations]
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines) or "clean"


#: The read buffer bound a stream without one (``Target.lacks["max_buffer_size"]``) is built with and modelled at:
#: far above any workload's bytes, so no read of a sequence meets it.
UNBOUNDED_BUFFER = 1 << 24


def target_limits(limits: StreamLimits, target: Target) -> StreamLimits:
    """The limits a workload runs ``target``'s stream with, and the model judges it by: the workload's, but for
    a limit the target declares it lacks (``max_buffer_size``: no overflow, only back-pressure, as asyncio's
    reader; ``max_write_buffer_size``: writes are never refused) none is set or modelled."""
    changes: dict[str, Any] = {}
    if target.lacking("max_buffer_size", "future"):
        changes["max_buffer_size"] = UNBOUNDED_BUFFER
    if target.lacking("max_write_buffer_size", "future"):
        changes["max_write_buffer_size"] = None
    return dataclasses.replace(limits, **changes) if changes else limits


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
                 transport: str = "plain", style: str = "future", styles: tuple[str, ...] | None = None,
                 keep_trace: bool = False, profile: str = "raw") -> WorkloadResult:
    """Run ``workload`` on a stream made by ``target`` over a fake fd obeying ``plan``; judge it.

    ``style`` is how reads are issued: ``"future"`` or ``"callback"`` (a callback-style read that fails is
    told only by the close callback, so its ``real_error`` is the stream's ``error``); ``styles``, one per
    op, overrides it op by op (a sequence's). ``keep_trace`` keeps the whole trace in the result. Only the
    plain transport is supported so far (the model's truth is what the fd delivered).
    """
    per_op = tuple(styles) if styles is not None else (style,) * len(workload.ops)
    if len(per_op) != len(workload.ops) or any(s not in ("future", "callback") for s in per_op):
        raise ValueError(f"style must be 'future' or 'callback' (one per op in styles), not {style!r}/{styles!r}")
    if transport != "plain":
        raise ValueError(f"run_workload supports transport='plain' only, not {transport!r}")
    limits = target_limits(workload.limits, target)
    loop = target.make_loop(max_steps=WORKLOAD_STEP_BUDGET)
    fd, peer_sock = socketpair(loop, plan, profile=profile)
    stream = target.make(fd, io_loop=loop, transport=transport, max_buffer_size=limits.max_buffer_size,
                         ssl_context=None)
    # The factories take max_buffer_size only; the other limits are attributes of the Tornado 4 design.
    stream.read_chunk_size = limits.read_chunk_size
    stream.max_write_buffer_size = limits.max_write_buffer_size
    # A write's completion may not mean its bytes reached the fd (asyncio's drain() is flow control only).
    sent_when_done = getattr(stream, "faultio_write_done_means_sent", True)
    peer = Peer(loop, peer_sock)
    run = Run(None, loop, fd, peer_sock, stream, peer)  # type: ignore[arg-type]
    monitor = run.monitor = attach_monitor(loop, stream, fd, peer, transport)
    watch_progress(loop, monitor)
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
    #: The ops that started after the peer had ended the connection.
    after_end: set[int] = set()
    #: The application's own close callbacks: (op index, stream closed when set, times run, closed when run).
    app_callbacks: list[dict[str, Any]] = []
    late_streams: list[str] = []
    pieces = list(workload.pieces())

    def end_connection() -> None:
        if state["ended"]:
            return
        state["ended"] = True
        pieces.clear()
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
        while not peer_sock.closed() and peer_sock.pending():
            peer.received += peer_sock.recv(1 << 16)

    async def flushed() -> None:
        """On a stream whose completed write may still sit in its buffer (``sent_when_done`` false), the peer
        reads for a bounded while before it ends the connection, as a peer waiting for its reply would."""
        if sent_when_done or state["ended"]:
            return
        for _ in range(PATIENCE):
            await loop.sleep(IDLE)
            drain()

    async def scenario() -> None:
        driver = Driver(run, per_op[0] if per_op else style)
        for index, op in enumerate(workload.ops):
            driver.style = per_op[index]
            if state["ended"]:
                after_end.add(index)
            if isinstance(op, PeerEndOp):
                await flushed()
                end_connection()
                await loop.sleep(IDLE)
                observed.append(Observed(b""))
                continue
            if isinstance(op, CloseOp):
                try:
                    driver.close()
                except Exception as exc:
                    observed.append(Observed(b"", raised=exc))
                    continue
                await loop.sleep(IDLE)
                observed.append(Observed(b""))
                continue
            if isinstance(op, SetCloseCallbackOp):
                record: dict[str, Any] = {"index": index, "open": not stream.closed(), "runs": 0,
                                          "runs_open": 0, "replaced_at": None}

                def on_close(record: dict[str, Any] = record) -> None:
                    record["runs"] += 1
                    record["runs_open"] += not stream.closed()
                    if not driver.closed.done():  # the monitor hears of the close once (it judges the driver's)
                        driver._on_close()

                if app_callbacks:
                    app_callbacks[-1]["replaced_at"] = app_callbacks[-1]["runs"]
                app_callbacks.append(record)
                stream.set_close_callback(on_close)
                await loop.sleep(IDLE)
                observed.append(Observed(b""))
                continue
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
                    observed.append(Observed(b"", failed=True, real_error=getattr(exc, "real_error", exc),
                                             refusal=exc))
                    continue
                observed.append(Observed(b""))
                drain()
                # A write is done once its bytes are handed to the fd: the peer can read them all now.
                peer_at_done[index] = len(peer.received)
                continue
            read_op, method, args, kwargs, streaming = _read_call(op)
            streamed_chunks.clear()
            # What the stream holds that no read has delivered yet (on plain, the fd's count is the truth).
            held = len(fd.received) - len(monitor.delivered)
            task = loop.spawn(driver.read(read_op, method, *args, streaming=streaming, **kwargs))
            idle = 0
            # The op first gets what is already there; only then does the peer send more, or end.
            await loop.sleep(IDLE)
            owed = min(held, getattr(op, "nbytes", held)) if streaming and not stream.closed() else 0
            if sum(map(len, streamed_chunks)) < owed:
                # Bytes already buffered go to a streaming callback at once, not when more arrive.
                late_streams.append(f"op {index}: {op.name} started with {held} bytes buffered but its streaming "
                                    f"callback got {sum(map(len, streamed_chunks))} of them before the peer sent more")
            while not task.done() and idle < PATIENCE:
                if pieces:
                    send(pieces.pop(0))
                elif not state["ended"]:
                    await flushed()
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
                # A stream may hand over, with the failure, the bytes it took (asyncio's IncompleteReadError.partial).
                handed = bytes(getattr(value, "partial", b"") or b"") if not streaming else b""
                observed.append(Observed(streamed or handed, failed=True,
                                         real_error=getattr(value, "real_error", None)))
            else:
                observed.append(Observed(streamed, raised=value))
                return
        while pieces:
            send(pieces.pop(0))
            await loop.sleep(IDLE)
        await flushed()
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
    except (LoopBudgetExceeded, BusyLoopError) as exc:
        monitor.violate("no-busy-loop", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except StalledError as exc:
        if not monitor.violations:
            monitor.violate("liveness", "the sequence stalled: the loop went quiet with the application still "
                            f"waiting ({str(exc).splitlines()[0][:160] if str(exc) else ''})")
    except Exception as exc:  # a crash: reported as is
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        try:
            # An asyncio target's loop: end its tasks and transports and close it, unobserved, as a case's is.
            _shut_down(loop)
            monitor.finish()
        finally:
            monitor.detach()
    if not peer_sock.closed():
        drain()
    sent = bytes(peer.sent)
    received = sent[: len(sent) - state["discarded"]] if workload.ending == "reset" else sent
    peer_received = bytes(peer.received)
    # The target's own promises (declared on its stream, as the matrix reads them): a stream that stays open at
    # the peer's EOF (asyncio streams), a write whose completion does not mean its bytes reached the fd.
    model = Model(limits, received, workload.ending, closes_at_eof=getattr(stream, "faultio_closes_at_eof", True),
                  refuses_by_future=getattr(stream, "faultio_refuses_by_future", False),
                  hands_over_on_failure=getattr(stream, "faultio_failed_read_hands_over", False))
    mismatches = _close_callback_problems(app_callbacks, stream.closed()) + late_streams
    for index, (op, seen) in enumerate(zip(workload.ops, observed)):
        if index in after_end:
            model.peer_ended()
        problem = model.check(op, seen)
        if problem is not None:
            mismatches.append(f"op {index}: {problem}")
            break
        model.advance(op, seen)
        if (sent_when_done and index in peer_at_done and index not in after_end
                and peer_at_done[index] < len(model.written)):
            mismatches.append(f"op {index}: {op.name}(nbytes={op.nbytes}) completed when the peer could read "
                              f"{peer_at_done[index]} bytes of the {len(model.written)} written so far")
            break
    else:
        if not after_end and peer_received != bytes(model.written):
            mismatches.append(f"the peer received {len(peer_received)} bytes of writes, the model says "
                              f"{len(model.written)} ({peer_received[:24]!r} vs {bytes(model.written)[:24]!r})")
    trace = tuple(_event_json(e) for e in loop.trace) if keep_trace else ()
    return WorkloadResult(observed=tuple(observed), mismatches=tuple(mismatches),
                          violations=tuple(monitor.violations.values()), received=received,
                          peer_received=peer_received, error=error, steps=loop.step, trace=trace,
                          story=tuple(monitor.story()))


def _close_callback_problems(callbacks: list[dict[str, Any]], closed: bool) -> list[str]:
    """What the application's own close callbacks say is wrong (see the module's rules)."""
    problems = []
    for record in callbacks:
        where, runs, replaced_at = f"op {record['index']}", record["runs"], record["replaced_at"]
        if runs > 1:
            problems.append(f"{where}: the close callback set here ran {runs} times")
        if record["runs_open"]:
            problems.append(f"{where}: the close callback set here ran while the stream was still open")
        if replaced_at is not None and runs > replaced_at:
            problems.append(f"{where}: the close callback set here ran after set_close_callback replaced it")
        if replaced_at is None and closed and record["open"] and runs == 0:
            problems.append(f"{where}: the close callback set here (the stream open) never ran; the stream closed")
    return problems
