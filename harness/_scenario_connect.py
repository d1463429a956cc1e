"""The ``connect`` operation: the stream connects (callback or future), with writes made before the connection
exists, and the peer reads what arrives.

Rules for this module:
- The scenario asserts nothing: it records what it saw as ``harness`` trace events, and the connect checkers
  (``harness/engine/checkers/connect.py``) judge them. The events: ``connect_started`` (the style),
  ``connect_done`` (``ok``, ``how``: ``callback``, ``future``, ``raised`` or ``close-callback``, the ``error``'s
  errno name, ``late``: after the harness gave up), ``connect_write`` (one per queued write: ``index``, ``ok``,
  ``error``), ``connect_deadline`` (the harness, as the stream's user, gave up waiting and closed the stream)
  and ``connect_peer`` (what the peer read: ``nbytes``, whether it is ``expected`` in full, or a prefix of it).
- Every wait is bounded in virtual time: a connect that never resolves costs ``CONNECT_DEADLINE`` virtual
  seconds, then the user's close, never a hung run.
- Payloads derive from the case's seed. Nothing here imports the other scenarios (``harness._scenarios``
  imports this module to list the operation).
"""

from __future__ import annotations

import errno
import random
from typing import Any

from faultio import Future

from ._compat import adopt
from .engine.verdict import is_closed_error

#: Where the stream connects to (the fake fd ignores it; a real one would need a listener).
ADDRESS = ("127.0.0.1", 8888)
#: The TLS host name a client asks for (the certificate the harness's TLS peer serves names it).
HOSTNAME = "localhost"
#: Virtual seconds the user waits for a connect before giving up and closing the stream (Linux gives up on an
#: unanswered SYN after about 127 s with its default retries; a user's deadline is usually shorter).
CONNECT_DEADLINE = 75.0
#: Virtual seconds a write, the peer or a close may take once the connect is decided: above the longest hold of
#: a time kind (a ``send-stall`` holds sends for up to 120 s), as the echo's reply patience is; virtual time
#: costs nothing, and a harness that closed the stream sooner would fail writes the stream had not failed.
PATIENCE = 300.0


def _errno_name(exc: Any) -> str:
    """The errno name the error carries (looking through ``real_error``), its class name, or ``""``."""
    seen = 0
    while exc is not None and seen < 4:
        code = getattr(exc, "errno", None)
        if isinstance(code, int) and code in errno.errorcode:
            return errno.errorcode[code]
        inner = getattr(exc, "real_error", None)
        if inner is None:
            inner = exc.__cause__
        if inner is None:
            return type(exc).__name__
        exc, seen = inner, seen + 1
    return ""


class NoConnectMethod(TypeError):
    """The target's stream cannot connect: the case cannot be judged (an ``error`` outcome, not a finding)."""


async def _first(loop: Any, future: Any, seconds: float) -> bool:
    """Wait until ``future`` is done or ``seconds`` of virtual time passed; True when it is done."""
    if future.done():
        return True
    first = Future(label="done-or-patience")
    future.add_done_callback(lambda f: first.done() or first.set_result(True))
    timer = loop.call_later(seconds, lambda: first.done() or first.set_result(False))
    done = await first
    # The patience left over is taken back: a case lasts the virtual time it needed, not its longest patience.
    loop.remove_timeout(timer)
    return done


async def scenario_connect(run: Any, driver: Any) -> None:
    """``connect`` in the case's style with two to five writes queued before it completes; the peer reads."""
    rng = random.Random(f"harness:connect:{run.case.seed}:{run.case.id}")
    chunks = [bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) for _ in range(rng.randint(2, 5))]
    expected = b"".join(chunks)
    stream, loop, monitor = run.stream, run.loop, run.monitor
    trace = loop.trace
    decided = Future(label="connect-decided")
    deadline_passed = [False]

    def done(ok: bool, how: str, error: Any = None) -> None:
        trace.record("harness", "connect_done", ok=ok, how=how, error=_errno_name(error) if error else "",
                     late=deadline_passed[0], again=decided.done())
        if not decided.done():
            decided.set_result(ok)

    if not callable(getattr(stream, "connect", None)):
        raise NoConnectMethod(f"the stream under test ({type(stream).__qualname__}) has no connect() method: the "
                              "target cannot run the connect operation; declare it in Target.lacks "
                              "({'connect': 'why'}) or leave it out with --operations")
    kwargs = {"server_hostname": HOSTNAME} if run.case.transport == "ssl" else {}
    trace.record("harness", "connect_started", style=driver.style, writes=len(chunks), nbytes=len(expected))
    if driver.style == "callback":
        # Called with a callback, a connect that fails is reported by the close callback (with ``error`` set).
        driver.closed.add_done_callback(
            lambda f: decided.done() or done(False, "close-callback", getattr(stream, "error", None)))
    try:
        if driver.style == "callback":
            stream.connect(ADDRESS, callback=lambda *args: done(True, "callback"), **kwargs)
        else:
            connecting = stream.connect(ADDRESS, **kwargs)
            monitor.track_future(connecting, "connect")
            loop.spawn(_settle(adopt(connecting), done))
    except Exception as exc:
        done(False, "raised", exc)
    writes = _queue_writes(run, chunks)
    peer_read = loop.spawn(_peer_reads(run, expected))
    if not await _first(loop, decided, CONNECT_DEADLINE):
        deadline_passed[0] = True
        trace.record("harness", "connect_deadline", after=CONNECT_DEADLINE)
        driver.close()
        await _first(loop, decided, PATIENCE)
    for write in writes:
        if write is not None:
            await _first(loop, write, PATIENCE)
    if decided.done() and decided.result() and not deadline_passed[0]:
        await _first(loop, peer_read, PATIENCE)
    if not stream.closed() and not getattr(stream, "faultio_closes_at_eof", True):
        # A stream that keeps a half-closed connection open (asyncio's) leaves the close to its user: us.
        driver.close()
    if not stream.closed() and not await _first(loop, driver.closed, PATIENCE):
        driver.close()
    await _first(loop, driver.closed, PATIENCE)


async def _settle(connecting: Any, done: Any) -> None:
    try:
        await connecting
    except Exception as exc:
        done(False, "future", getattr(exc, "real_error", None) or exc)
    else:
        done(True, "future")


def _queue_writes(run: Any, chunks: list[bytes]) -> list[Any]:
    """Write each chunk at once (the connection does not exist yet); each outcome is recorded when known."""
    stream, trace, monitor = run.stream, run.loop.trace, run.monitor
    out: list[Any] = []
    for index, chunk in enumerate(chunks):
        try:
            future = stream.write(chunk)
        except Exception as exc:
            trace.record("harness", "connect_write", index=index, ok=False, raised=True,
                         error=_errno_name(getattr(exc, "real_error", None) or exc), closed=is_closed_error(exc))
            out.append(None)
            continue
        monitor.track_future(future, f"write #{index}")
        settled = Future(label=f"connect-write #{index}")

        async def watch(f: Any = future, i: int = index, s: Future = settled) -> None:
            try:
                await adopt(f)
            except Exception as exc:
                trace.record("harness", "connect_write", index=i, ok=False, raised=False,
                             error=_errno_name(getattr(exc, "real_error", None) or exc), closed=is_closed_error(exc))
            else:
                trace.record("harness", "connect_write", index=i, ok=True)
            s.set_result(None)

        run.loop.spawn(watch())
        out.append(settled)
    return out


async def _peer_reads(run: Any, expected: bytes) -> None:
    """The peer reads what the queued writes carry (fewer if the connection ends first), then closes; what it
    read is recorded as ``all`` of ``expected``, a ``prefix`` of it, or ``differs``."""
    peer = run.peer
    got = b""
    try:
        await run.peer_ready()
        got = await peer.recv_exactly(len(expected))
    except Exception:  # the peer's side failing is not judged: the stream's side is
        pass
    match = "all" if got == expected else "prefix" if expected.startswith(got) else "differs"
    first_difference = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    run.loop.trace.record("harness", "connect_peer", nbytes=len(got), expected=len(expected), match=match,
                          first_difference=first_difference)
    try:
        result = peer.close()
        if hasattr(result, "__await__"):
            await result
    except Exception:
        pass
