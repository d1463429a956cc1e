"""The invariant catalogue: every property the harness checks, with its stable slug and explanation.

Rules for this module:
- Slugs are a public contract (reports, JSON, plugin failures point at them); never rename one.
- Only data lives here. How an invariant is checked lives in the monitors.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, kw_only=True)
class Invariant:
    """One checked property: ``slug`` (stable), ``number`` (from INVARIANTS.md), ``group`` and a one-line
    ``explanation`` of what must hold and what breaking it looks like."""

    slug: str
    number: int
    group: str
    explanation: str


_GROUPS = {
    "A": "close callback",
    "B": "pending-callback counter",
    "C": "error listener",
    "D": "reader contract",
}

_TABLE = [
    ("close-cb-once", "A", "The close callback runs at most once per registration."),
    ("close-cb-eventually", "A", "A closed stream with a close callback runs it before the loop goes quiet "
     "(a pending read on an already-closed stream must not hang)."),
    ("close-cb-after-pending", "A", "The close callback never starts while callbacks are pending: every "
     "data callback scheduled before it runs before it."),
    ("close-cb-after-futures", "A", "Every future outstanding at close completes, exactly once, with "
     "StreamClosedError(real_error=stream.error) before the close callback runs."),
    ("pending-nonnegative", "B", "_pending_callbacks is never negative."),
    ("pending-zero-at-rest", "B", "When the loop is quiescent _pending_callbacks is 0 (a stuck counter "
     "blocks the close callback for ever)."),
    ("pending-scoped", "B", "The pretend pending callback around the read loop is balanced, and while it is "
     "held no future fails and no close callback is scheduled, even on EOF or reset inside the loop."),
    ("pending-exactly-once", "B", "Every callback the stream schedules runs exactly once, and none runs after "
     "the close callback."),
    ("listen-when-idle", "C", "An idle open stream with a close callback and an empty buffer listens for READ "
     "(with ERROR), so a peer's close is noticed."),
    ("no-read-when-buffered", "C", "With data buffered and no read pending the stream does not read the fd "
     "(flow control)."),
    ("error-always-registered", "C", "Every registered mask includes ERROR; _state is None exactly when the fd "
     "is unregistered; no update of an unregistered fd; no events after close."),
    ("error-event-deferred-close", "C", "An ERROR event sets error and closes on a later loop iteration, not "
     "inside the event handler."),
    ("data-integrity", "D", "Bytes delivered to the caller are exactly a prefix of what the peer sent: none "
     "lost, duplicated, reordered or invented."),
    ("data-before-eof", "D", "A read whose bytes arrived before (or with) EOF or a reset completes with them "
     "instead of failing with StreamClosedError."),
    ("read-completes-once", "D", "Every read and write completes exactly once, with a result or an exception."),
    ("liveness", "D", "At quiescence no read waits that received data could satisfy, and no plaintext sits "
     "inside an SSL object while a read waits (the SSL drain rule)."),
    ("eintr-invisible", "D", "EINTR on read or write is retried: no close, no log line, no lost byte."),
    ("reset-quiet-close", "D", "ECONNRESET (or a ragged TLS EOF) closes the stream quietly with error set to "
     "that exception; futures fail with StreamClosedError(real_error=it)."),
    ("no-busy-loop", "D", "EWOULDBLOCK ends the read loop: no fd calls without new readiness, fd calls bounded "
     "by bytes delivered plus faults injected, and the loop settles."),
    ("bounded-read", "D", "A pending read_bytes(n) or read_until(max_bytes=m) stops pulling from the fd once "
     "enough is buffered; a flood never pushes it past max_buffer_size."),
    ("buffer-bound", "D", "The read buffer never exceeds max_buffer_size while open; overflow closes the "
     "stream with error set to StreamBufferFullError."),
    ("max-bytes", "D", "An unsatisfiable read_until*(max_bytes=m) closes the stream with "
     "UnsatisfiableReadError as error, never raises synchronously, never matches beyond m bytes."),
    ("no-io-after-close", "D", "After close there is no fd read or write, close_fd runs once and the handler is "
     "removed exactly once."),
    ("reads-after-close", "D", "A read on a closed stream is served from the buffer if it can be, otherwise "
     "fails with StreamClosedError, and the next read is still accepted (no 'Already reading')."),
    ("streaming-delivery", "D", "With a streaming callback every byte goes to the callback and the final "
     "result is empty."),
    ("write-fifo", "D", "Write futures resolve in order once their bytes are sent; none is orphaned; "
     "write(b'') completes without registering WRITE."),
    ("target-crashed", "D", "The stream under test raised an unexpected exception to its caller or out of the "
     "loop (a crash is a violation, never a harness failure)."),
]

INVARIANTS: dict[str, Invariant] = {
    slug: Invariant(slug=slug, number=i + 1, group=_GROUPS[group], explanation=text)
    for i, (slug, group, text) in enumerate(_TABLE)
}


def explain(slug: str) -> str:
    """The one-line explanation of ``slug`` (a KeyError names the valid slugs)."""
    try:
        return INVARIANTS[slug].explanation
    except KeyError:
        raise KeyError(f"unknown invariant {slug!r}; valid: {', '.join(INVARIANTS)}") from None
