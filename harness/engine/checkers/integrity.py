"""Reader-contract invariants about what the caller gets: the bytes, each completion, reads after close."""

from __future__ import annotations

from typing import Any

from ..registry import Checker, declare, invariant
from ..verdict import RESET_FAMILY, ReadOp, already_reading, is_buffer_full, is_unsatisfiable

GROUP = "reader contract"


@invariant("data-integrity", klass="contract", group=GROUP, builtin=True, observes=("delivered",),
           explanation="Bytes delivered to the caller are exactly a prefix of what the peer sent: none lost, "
           "duplicated, reordered or invented.")
class DataIntegrity(Checker):
    def on_deliver(self, data: bytes, via: str, offset: int, expected: bytes) -> None:
        if expected == data:
            return
        if len(expected) < len(data):
            what = f"{len(data) - len(expected)} byte(s) more than the peer sent"
        else:
            at = next(i for i, (a, b) in enumerate(zip(expected, data)) if a != b)
            what = f"byte {offset + at} is {data[at]:#04x}, the peer sent {expected[at]:#04x}"
        self.violate(f"{via} delivered {len(data)} byte(s) at offset {offset}: {what}")


def _closed_for_its_own_reason(monitor: Any) -> bool:
    """The stream closed for a reason of its own (overflow, an unsatisfiable read, a non-reset error): the
    rule that received data must still be served does not apply."""
    error = monitor.attr("error", None)
    return is_buffer_full(error) or is_unsatisfiable(error) or (error is not None
                                                                and not isinstance(error, RESET_FAMILY))


@invariant("data-before-eof", klass="contract", group=GROUP, builtin=True, observes=("delivered", "stream-state"),
           explanation="A read whose bytes arrived before (or with) EOF or a reset completes with them instead "
           "of failing with StreamClosedError.")
class DataBeforeEof(Checker):
    def on_read_failed(self, op: ReadOp, exc: BaseException | None, how: str, after_close: bool) -> None:
        m = self.monitor
        if after_close or _closed_for_its_own_reason(m):
            return
        if op.satisfiable(m.held(op.decisive)):
            self.violate(f"{op.name} failed ({how}) although the {len(m.held())} byte(s) already received would "
                         "satisfy it")


@invariant("reads-after-close", klass="contract", group=GROUP, builtin=True,
           observes=("delivered", "stream-state", "futures"),
           explanation="A read on a closed stream is served from the buffer if it can be, otherwise fails with "
           "StreamClosedError; it is never left waiting.")
class ReadsAfterClose(Checker):
    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        # Reads on the closed stream judged at the end: (op, delivered before, held, in flight, how, event).
        self._late: list[tuple[ReadOp, int, bytes, int, str, int]] = []
        self._failed_after_close = False

    def on_read_raised(self, op: Any, method: str, exc: BaseException, after_close: bool) -> None:
        # Refused the wrong way (not StreamClosedError): still wrong if the buffer could serve it. The one
        # exception is "Already reading" after an earlier read on the closed stream failed: that is the
        # leftover read state no-already-reading reports (a design rule), not a second finding.
        if op is None or (already_reading(exc) and self._failed_after_close):
            return
        self.on_read_failed(op, exc, f"raised {type(exc).__name__}", after_close)

    def on_read_failed(self, op: ReadOp, exc: BaseException | None, how: str, after_close: bool) -> None:
        m = self.monitor
        if not after_close or _closed_for_its_own_reason(m):
            return
        self._failed_after_close = True
        held = m.held()  # all of it: the bytes still in flight to an earlier read are cut off its front
        buffered = m.attr("_read_buffer_size", None)
        in_flight = len(held) - buffered if isinstance(buffered, int) and 0 <= buffered < len(held) else 0
        if in_flight:
            # Some received bytes have left the buffer undelivered: a chunk still queued for an earlier read's
            # streaming callback (not this read's to have), or bytes lost. Judge once they have had their
            # chance to arrive.
            self._late.append((op, len(m.delivered), held, in_flight, how, m.loop.trace.count - 1))
            return
        if op.satisfiable(held):
            self.violate(f"{op.name} on the closed stream failed ({how}) although the {len(held)} byte(s) it "
                         "still holds would serve it")

    def on_finish(self) -> None:
        delivered = len(self.monitor.delivered)
        for op, start, held, in_flight, how, event in self._late:
            # Bytes in flight then were delivered since (to the earlier read): only the rest was servable.
            servable = held[in_flight:] if delivered >= start + in_flight else held
            if op.satisfiable(servable):
                self.violate(f"{op.name} on the closed stream failed ({how}) although the {len(servable)} "
                             "byte(s) it still held would serve it", event)


@invariant("no-already-reading", klass="design", group=GROUP, builtin=True, observes=("callbacks",),
           explanation="A read that failed on a closed stream leaves it able to accept the next read (Tornado "
           "4.x raised 'Already reading'; the seed design clears the read state).")
class NoAlreadyReading(Checker):
    def on_read_raised(self, op: Any, method: str, exc: BaseException, after_close: bool) -> None:
        if already_reading(exc):
            self.violate(f"{method} raised {exc!r} with no read of the caller's outstanding: the stream kept "
                         "the state of an earlier read that had already ended")


@invariant("read-completes-once", klass="contract", group=GROUP, builtin=True, observes=("futures",),
           explanation="Every read and write completes exactly once, with a result or an exception.")
class ReadCompletesOnce(Checker):
    def on_finish(self) -> None:
        for future, label in self.monitor.futures:
            if getattr(future, "completions", 1) > 1:  # faultio's futures count; others cannot complete twice
                self.violate(f"the {label} future completed {future.completions} times")
            elif not future.done() and not label.startswith("write"):
                self.violate(f"the {label} future never completed")


@invariant("streaming-delivery", klass="contract", group=GROUP, builtin=True, observes=("delivered",),
           explanation="With a streaming callback every byte goes to the callback before the read completes, "
           "and the final result is empty.")
class StreamingDelivery(Checker):
    def on_result(self, op: Any, method: str, data: bytes, streaming: bool) -> None:
        if not streaming:
            return
        if data:
            self.violate(f"{method} with a streaming callback returned {len(data)} byte(s) instead of an empty "
                         "result")
        if op.nbytes is not None and not op.partial:
            got = len(self.monitor.delivered) - op.started_at
            if got < op.nbytes:
                self.violate(f"{op.name} completed when its streaming callback had been given {got} of its "
                             f"{op.nbytes} bytes: the caller is told the read is done before it has the data")


@invariant("write-fifo", klass="contract", group=GROUP, builtin=True, observes=("futures", "trace"),
           explanation="Write futures resolve in order once their bytes are sent; none is orphaned; write(b'') "
           "completes without registering WRITE.")
class WriteFifo(Checker):
    """Order and byte counts are judged by the write driver (it alone knows what each write carried);
    here: no write future is left pending at the end."""

    def on_finish(self) -> None:
        for future, label in self.monitor.futures:
            if label.startswith("write") and getattr(future, "completions", 1) <= 1 and not future.done():
                self.violate(f"the {label} future never completed")


declare("target-crashed", klass="contract", group=GROUP, observes=("callbacks", "trace"),
        explanation="The stream under test raised an unexpected exception to its caller or out of the loop "
        "(a failure of harness code is an error outcome instead, never this).")

declare("model-contract", klass="contract", group=GROUP, observes=("delivered", "callbacks"),
        explanation="A generated workload or sequence got from each read, write and close what the reference model "
        "(harness._model) says a correct stream returns for the bytes the peer sent, the stream's limits and how "
        "the connection ended; a close callback set while the stream was open runs once, after the close.")
