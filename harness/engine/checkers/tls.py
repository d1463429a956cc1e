"""TLS invariants: a truncated connection is an error, a cut record is never delivered, a failed handshake
closes with an error and delivers nothing.

Rules for this module:
- What the peer did is read from the trace, never from the peer: the harness's TLS peer records how it
  ended (source ``harness``: ``peer_close`` with ``notify``, ``peer_cut`` with ``complete``, the plaintext
  bytes of the records it sent whole before the cut record, ``peer_handshake_failed``), and the harness
  records the case's expectation once (``tls_fault``: ``handshake_must_fail``, ``variant``). A case with
  none of these (the plain transport, a peer that ends with ``close_notify``) gives these checkers nothing
  to judge.
- "Clean EOF" and "error" are read from the stream as the user sees them: its ``error`` (for asyncio's
  streams the adapter's ``error`` is ``StreamReader.exception()``) and the ``real_error`` of the
  ``StreamClosedError`` a read is refused with. A clean end of stream is an ``error`` of ``None`` and a
  refusal without ``real_error``, or a ``read_until_close`` that completes with ``error`` still ``None``.
- The drain rule (plaintext stranded inside the TLS object) stays with ``liveness``; the
  ``records-coalesced`` kind is what makes every read case exercise it.
"""

from __future__ import annotations

from typing import Any

from ..registry import Checker, invariant
from ..verdict import ReadOp, is_buffer_full, is_closed_error, is_unsatisfiable

GROUP = "TLS"
_RECV = ("recv", "recv_into")
#: fd reads answered EWOULDBLOCK (not injected) a failed handshake may cost beyond one per readiness event
#: and operation started.
HANDSHAKE_EAGAIN_SLACK = 8


def _hears_harness(source: str, kind: str) -> bool:
    return source == "harness"


class _TLSWatch(Checker):
    """Shared by the TLS rules: what the peer did and what the case expects, from the trace."""

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        #: The case's ``tls_fault`` event detail (empty for a core kind or the plain transport).
        self.expect: dict[str, Any] = {}
        #: How the peer ended: None while it has not, else ``"notify"``, ``"ragged"`` or ``"cut"``.
        self.peer_end: str | None = None
        #: Plaintext bytes in records that arrived whole before a cut record (None: no record was cut).
        self.complete: int | None = None
        #: Plaintext bytes the peer had sent when it closed (None: it has not closed).
        self.sent_at_close: int | None = None
        #: Trace index of the fd read that returned the ragged EOF while the stream was open.
        self.eof_at: int | None = None
        self.peer_handshake_failed = False
        #: The stream's user asked it to close (an EOF read after that ends nothing the user still reads).
        self.user_closed = False
        if monitor.ssl_pending is None:
            # Not a TLS stream (the monitor of the ssl transport knows the TLS object): nothing to see, and
            # with no peer events nothing any hook could judge.
            self.watching = False
            return
        trace = monitor.loop.trace
        for event in trace.events("harness"):
            self._on_trace(event.source, event.kind, dict(event.detail))
        trace.add_listener(self._on_trace, raw=True, hears=_hears_harness)

    def _on_trace(self, source: str, kind: str, detail: dict[str, Any]) -> None:
        if source != "harness":
            return
        if kind == "tls_fault":
            self.expect = dict(detail)
        elif kind == "peer_close" and self.peer_end is None:
            self.peer_end = "notify" if detail.get("notify") else "ragged"
            self.sent_at_close = detail.get("sent")
        elif kind == "peer_cut":
            self.peer_end = "cut"
            self.complete = int(detail.get("complete", 0))
        elif kind == "peer_handshake_failed":
            self.peer_handshake_failed = True
        elif kind == "close_requested":
            self.user_closed = True

    @property
    def ragged(self) -> bool:
        """The peer ended without ``close_notify``: closed its socket, or cut a record."""
        return self.peer_end in ("ragged", "cut")

    FD_RESULTS = frozenset({"EOF"})

    def on_fd_record(self, record: tuple[Any, ...]) -> None:
        if (self.eof_at is None and record[4] in _RECV and record[5].get("result") == "EOF" and self.ragged
                and not self.user_closed and not self.monitor.closed()):
            self.eof_at = record[0]

    def whole(self) -> int | None:
        """Plaintext bytes the stream received in whole records before a ragged EOF it read (None: it read
        none). The fd delivers in order, so reading the EOF means every byte before it arrived."""
        if self.eof_at is None:
            return None
        return self.complete if self.complete is not None else self.sent_at_close

    def error(self) -> Any:
        return self.monitor.attr("error", None)


@invariant("tls-ragged-eof", klass="contract", group=GROUP, builtin=True,
           observes=("trace", "stream-state", "futures"),
           explanation="A connection that ends without close_notify (a ragged EOF, or an EOF inside a record) ends "
           "the stream with an error, never as a clean end of stream (the truncation TLS exists to expose).")
class TLSRaggedEof(_TLSWatch):
    def _what(self) -> str:
        if self.peer_end == "cut":
            return "the peer cut the connection in the middle of a record, without close_notify"
        return "the peer closed the connection without close_notify"

    def on_close(self) -> None:
        if self.eof_at is not None and self.error() is None:
            self.violate(f"{self._what()} (fd EOF at event #{self.eof_at}) and the stream closed with error None: "
                         "a truncated connection taken for a clean end of stream")

    def on_read_failed(self, op: ReadOp, exc: BaseException | None, how: str, after_close: bool) -> None:
        if self.eof_at is None or not is_closed_error(exc) or self.error() is not None:
            return
        if getattr(exc, "real_error", None) is None:
            self.violate(f"{op.name} was refused with {type(exc).__name__}(real_error=None) and the stream's error "
                         f"is None after {self._what()}: the caller is told the stream ended cleanly")

    def on_result(self, op: ReadOp, method: str, data: bytes, streaming: bool) -> None:
        if self.eof_at is not None and op.name == "read_until_close" and self.error() is None:
            self.violate(f"read_until_close completed with {len(data)} byte(s) and the stream's error None after "
                         f"{self._what()}: a truncated stream presented as complete")

    def on_finish(self) -> None:
        if self.eof_at is not None and self.monitor.closed() and self.error() is None:
            self.on_close()


@invariant("tls-no-partial-record", klass="contract", group=GROUP, builtin=True, observes=("trace", "delivered"),
           explanation="No byte of a record cut by the end of the connection reaches the caller: what is delivered "
           "lies within the records that arrived whole (TLS authenticates a record only once it is complete).")
class TLSNoPartialRecord(_TLSWatch):
    def on_deliver(self, data: bytes, via: str, offset: int, expected: bytes) -> None:
        if self.complete is None:
            return
        end = offset + len(data)
        if end > self.complete:
            self.violate(f"{via} delivered plaintext up to byte {end}, but only the first {self.complete} byte(s) "
                         "were in records that arrived whole: the rest belongs to the record the connection's end "
                         "cut, which was never authenticated")


@invariant("tls-data-before-cut", klass="contract", group=GROUP, builtin=True,
           observes=("trace", "delivered", "stream-state"),
           explanation="After a ragged EOF, the plaintext of the records that arrived whole still serves the reads "
           "it satisfies (the error ends the stream after them, it does not take back data already received).")
class TLSDataBeforeCut(_TLSWatch):
    """What was received is judged from the peer's side (the plaintext of the records before the EOF the
    stream read), not from the stream's own buffer: a stream that drops decrypted plaintext at the ragged EOF
    also drops it from what it says it holds."""

    def on_read_failed(self, op: ReadOp, exc: BaseException | None, how: str, after_close: bool) -> None:
        whole = self.whole()
        if whole is None:
            return
        error = self.error()
        if is_buffer_full(error) or is_unsatisfiable(error) or is_buffer_full(exc) or is_unsatisfiable(exc):
            return
        m = self.monitor
        start = len(m.delivered)
        held = bytes(m.truth()[start : max(start, whole)][: op.decisive])
        if op.satisfiable(held):
            when = "on the closed stream " if after_close else ""
            self.violate(f"{op.name} {when}failed ({how}) after the peer's ragged end although the {len(held)} "
                         "byte(s) of whole records already received would satisfy it")


@invariant("tls-handshake-fail", klass="contract", group=GROUP, builtin=True,
           observes=("trace", "delivered", "stream-state"),
           explanation="A TLS handshake that must fail (an untrusted certificate, a wrong host name, a peer that "
           "rejects ours) closes the stream with an error, delivers no application byte and does not spin.")
class TLSHandshakeFail(_TLSWatch):
    def _must_fail(self) -> bool:
        return bool(self.expect.get("handshake_must_fail"))

    def _variant(self) -> str:
        return {"peer-rejects": "the peer rejects the stream's certificate",
                "untrusted-cert": "the peer's certificate is not from a CA the stream trusts",
                "wrong-hostname": "the peer's certificate is not valid for the host name asked for",
                }.get(self.expect.get("variant", ""), "the handshake must fail")

    def on_deliver(self, data: bytes, via: str, offset: int, expected: bytes) -> None:
        if self._must_fail():
            self.violate(f"{via} delivered {offset + len(data)} application byte(s) although {self._variant()}: "
                         "the handshake should have failed before any application data")

    def on_close(self) -> None:
        if self._must_fail() and self.error() is None:
            self.violate(f"the stream closed with error None although {self._variant()}: the failed handshake was "
                         "not reported")

    def on_finish(self) -> None:
        if not self._must_fail():
            return
        m = self.monitor
        if self.error() is None:
            self.violate(f"the case ended with the stream's error None although {self._variant()}: the failed "
                         "handshake was never reported")
        eagain = sum(1 for e in m.loop.trace.events("fd") if e.kind in _RECV and e.get("role") == "target"
                     and e.get("result") == "EAGAIN" and not e.get("injected"))
        bound = m.read_events + m.ops_started + HANDSHAKE_EAGAIN_SLACK
        if eagain > bound:
            self.violate(f"{eagain} fd reads answered EWOULDBLOCK around a failed handshake (bound {bound}): the "
                         "stream retries instead of giving up")
