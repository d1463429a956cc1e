"""The reference model of a stream's reads: what each call of a workload must return, or that it must fail.

Rules for this module:
- Sans-IO and small: the model never runs a stream, a loop or a fake fd. It is given the bytes the stream's
  fd delivered before the connection ended (``received``), how it ended (``"eof"`` or ``"reset"``) and the
  stream's ``StreamLimits``; it answers, op by op, with an ``Expect`` and learns what the stream really did
  (``advance``) only where the contract leaves a choice (how many bytes a partial read returns).
- Obviously correct before fast: a read's fate is decided by growing the stream's buffer one byte at a
  time, in the order a correct stream meets the facts: more than ``max_buffer_size`` held → overflow;
  a match (or enough bytes) → done; ``max_bytes`` settled without a match → unsatisfiable; the bytes run
  out → the connection's end.
- The contract is ../shared/INVARIANTS.md section D and faultio's own stream (``faultio._iostream_read``,
  ``close``): every failure of a read is a ``StreamClosedError`` whose ``real_error`` says why (``None``
  for a clean EOF, the ``ConnectionResetError``, an ``UnsatisfiableReadError`` or a
  ``StreamBufferFullError``); the first error is the stream's for good, and later reads on the closed
  stream are served from what it still holds, or fail with that same error. ``read_until_close``
  completes with everything received on any end but an overflow.
- Where a correct stream has a choice, the model says so (a range of lengths, or "either"): how much a
  partial read returns, and what is still buffered after the stream gave up on an unsatisfiable read
  (it may have read ahead anywhere up to ``max_buffer_size``).
- Sequences add the application's ``close()`` (the stream holds whatever it read ahead, up to
  ``max_buffer_size``; reads are then served from that or fail with ``real_error=None``) and the peer's
  end *before* an op (``peer_ended``): a write may then complete, be refused or fail, and once it fails
  the stream's error may be that of the write; nothing written after the end counts as received.
"""

from __future__ import annotations

import dataclasses
import re

from faultio._errors import StreamBufferFullError, StreamClosedError, UnsatisfiableReadError
from faultio._workload import (
    CloseOp,
    IdleOp,
    Op,
    StreamLimits,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    PeerEndOp,
    SetCloseCallbackOp,
    WriteOp,
    write_payload,
)

#: Ops that neither read nor write: the model has nothing to say about what they return.
QUIET_OPS = (IdleOp, PeerEndOp, SetCloseCallbackOp)
#: The ``real_error`` of a stream closed by a failed write after the peer's end: any of these, or None.
WRITE_END_ERRORS = (None, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)

#: The ``real_error`` of a read refused at each end of the connection.
ENDING_ERRORS: dict[str, type[BaseException] | None] = {"eof": None, "reset": ConnectionResetError}

OK, FAIL, EITHER = "ok", "fail", "either"


@dataclasses.dataclass(frozen=True)
class Expect:
    """What one op must do.

    ``outcome`` is ``"ok"`` (completes), ``"fail"`` (fails with ``StreamClosedError`` whose ``real_error``
    is an instance of ``error``, or ``None`` when ``error`` is ``None``; a tuple of them: any of those), or
    ``"either"``. ``lengths`` is
    the inclusive range of how many bytes the op delivers (its result, or what its streaming callback
    got): always the next bytes of ``received``. ``raises`` is the exception type a write must raise
    synchronously (``StreamBufferFullError`` past the write buffer limit, ``StreamClosedError`` on a
    closed stream).
    """

    outcome: str
    lengths: tuple[int, int] = (0, 0)
    error: type[BaseException] | None | tuple[type[BaseException] | None, ...] = None
    raises: type[BaseException] | None = None
    why: str = ""
    #: A write whose fate the model leaves open (after the peer's end): completing, refused or failed.
    any_write: bool = False


@dataclasses.dataclass(frozen=True)
class Observed:
    """What the stream did with one op: the bytes it delivered, and how it ended."""

    delivered: bytes
    failed: bool = False
    real_error: BaseException | None = None
    raised: BaseException | None = None
    pending: bool = False
    #: The exception a write's future failed with (a refusal, for a stream that refuses through its future).
    refusal: BaseException | None = None


def _first_end(op: Op, data: bytes) -> int | None:
    """Where the first match of a ``read_until``/``read_until_regex`` ends in ``data``, or ``None``."""
    if isinstance(op, ReadUntilOp):
        at = data.find(op.delimiter)
        return None if at < 0 else at + len(op.delimiter)
    match = re.compile(op.pattern).search(data)
    return None if match is None else match.end()


class Model:
    """Walk a workload's ops over ``received``; ``expect(op)`` then ``advance(op, observed)`` for each."""

    def __init__(self, limits: StreamLimits, received: bytes, ending: str, *, closes_at_eof: bool = True,
                 refuses_by_future: bool = False, hands_over_on_failure: bool = False) -> None:
        self.limits = limits
        #: Whether a refused call fails its future instead of raising (``faultio_refuses_by_future`` of the
        #: stream: asyncio streams, whose every call is a task).
        self.refuses_by_future = refuses_by_future
        #: Whether a failed read hands the bytes it took over with its failure (``faultio_failed_read_hands_over``:
        #: asyncio's ``IncompleteReadError.partial``); they count as delivered.
        self.hands_over_on_failure = hands_over_on_failure
        #: Whether the stream closes when a read meets the peer's clean EOF (``faultio_closes_at_eof`` of the
        #: target's stream; asyncio streams keep the half-closed connection open for writing).
        self.closes_at_eof = closes_at_eof
        #: Reads are over (EOF met), but the half-closed stream has not closed for writes yet.
        self.half_closed = False
        self.received = received
        self.ending_error = ENDING_ERRORS[ending]
        #: Bytes delivered so far (the next op's bytes start here).
        self.pos = 0
        #: Once closed: the stream's error type, and the range of offsets its buffer may end at.
        self.closed = False
        self.error: type[BaseException] | None = None
        self.held: tuple[int, int] = (0, 0)
        #: Bytes the peer must have received from the stream's writes.
        self.written = bytearray()
        self._index = 0
        #: Whether the peer had ended the connection before the op about to be judged started.
        self.ended = False

    def peer_ended(self) -> None:
        """The peer has ended the connection (before the next op started): tell the model, once."""
        self.ended = True

    # -- the open stream ---------------------------------------------------------------------------
    def _grow(self, op: Op) -> tuple[Expect, tuple[int, int] | None, type[BaseException] | None]:
        """Decide a read on the open stream by growing its buffer byte by byte.

        Returns the expectation, and for a failure the offsets the buffer may end at and the stream's
        error from then on.
        """
        rest = self.received[self.pos :]
        mbs = self.limits.max_buffer_size
        if isinstance(op, ReadBytesOp) and op.streaming:
            # Every byte goes to the callback as it comes: no buffer to overflow.
            got = min(op.nbytes, len(rest))
            if got == op.nbytes:
                return Expect(OK, (got, got), why="streamed all it asked for"), None, None
            end = len(self.received)
            return (Expect(FAIL, (got, got), self.ending_error, why="streamed what came, then the end"),
                    (end, end), self.ending_error)
        if isinstance(op, ReadBytesOp) and op.partial:
            if op.nbytes == 0:
                return Expect(OK, why="a partial read of 0 bytes"), None, None
            if rest:
                return Expect(OK, (1, min(op.nbytes, len(rest), mbs)), why="some of what arrived"), None, None
            end = len(self.received)
            return Expect(FAIL, error=self.ending_error, why="nothing came before the end"), (end, end), \
                self.ending_error
        if isinstance(op, ReadUntilCloseOp):
            if op.streaming:
                return Expect(OK, (len(rest), len(rest)), why="streamed everything"), \
                    (len(self.received),) * 2, self.ending_error
            if len(rest) > mbs:
                at = self.pos + mbs + 1
                return Expect(FAIL, error=StreamBufferFullError, why=f"more than max_buffer_size={mbs}"), \
                    (at, at), StreamBufferFullError
            return Expect(OK, (len(rest), len(rest)), why="everything until the end"), \
                (len(self.received),) * 2, self.ending_error
        match_end = None if isinstance(op, ReadBytesOp) else _first_end(op, rest)
        max_bytes = getattr(op, "max_bytes", None)
        for size in range(len(rest) + 1):
            if size > mbs:
                at = self.pos + size
                return Expect(FAIL, error=StreamBufferFullError, why=f"needs more than max_buffer_size={mbs}"), \
                    (at, at), StreamBufferFullError
            if isinstance(op, ReadBytesOp):
                if size >= op.nbytes:
                    return Expect(OK, (op.nbytes, op.nbytes), why="all it asked for"), None, None
                continue
            unsatisfiable = (f"no match ends within max_bytes={max_bytes}", (self.pos + size,
                             self.pos + max(size, min(len(rest), mbs))), UnsatisfiableReadError)
            if match_end is not None and match_end <= size:
                if max_bytes is not None and match_end > max_bytes:
                    break
                return Expect(OK, (match_end, match_end), why="up to the first match"), None, None
            # A delimiter ending within max_bytes lies inside the first max_bytes bytes: holding them
            # settles it. A regex match may depend on the byte after it, so a regex needs one more.
            settled = max_bytes + (0 if isinstance(op, ReadUntilOp) else 1) if max_bytes is not None else None
            if settled is not None and size >= settled:
                break
        else:
            end = len(self.received)
            return Expect(FAIL, error=self.ending_error, why="the connection ended first"), (end, end), \
                self.ending_error
        why, held, error = unsatisfiable
        return Expect(FAIL, error=UnsatisfiableReadError, why=why), held, error

    # -- the closed stream -------------------------------------------------------------------------
    def _served(self, op: Op) -> Expect:
        """A read on a closed stream: served from the buffer (which ends somewhere in ``held``), or fails."""
        low, high = self.held[0] - self.pos, self.held[1] - self.pos
        err = self.error

        def by_need(need: int | None) -> Expect:
            if need is not None and need <= low:
                return Expect(OK, (need, need), why="served from the buffer after close")
            if need is not None and need <= high:
                return Expect(EITHER, (need, need), err, why="served if the stream read that far ahead")
            return Expect(FAIL, error=err, why="the closed stream does not hold it")

        if isinstance(op, ReadUntilCloseOp):
            if err is StreamBufferFullError:
                return Expect(FAIL, error=err, why="the stream died of overflow")
            return Expect(OK, (low, high), why="what the closed stream holds")
        if isinstance(op, ReadBytesOp):
            if op.partial:
                if op.nbytes == 0:
                    return Expect(OK, why="a partial read of 0 bytes")
                lengths = (min(op.nbytes, low), min(op.nbytes, high))
                outcome = OK if low > 0 else (FAIL if high == 0 else EITHER)
                return Expect(outcome, lengths if outcome != FAIL else (0, 0), err, why="partial, after close")
            if op.streaming:
                lengths = (min(op.nbytes, low), min(op.nbytes, high))
                outcome = OK if op.nbytes <= low else (FAIL if op.nbytes > high else EITHER)
                return Expect(outcome, lengths, err, why="streamed from the buffer after close")
            return by_need(op.nbytes)
        end = _first_end(op, self.received[self.pos : self.held[1]])
        if end is not None and op.max_bytes is not None and end > op.max_bytes:
            end = None
        return by_need(end)

    # -- the public walk ---------------------------------------------------------------------------
    def expect(self, op: Op) -> Expect:
        """What ``op`` must do now (call ``advance`` with what it did before asking about the next)."""
        if isinstance(op, QUIET_OPS):
            return Expect(OK, why="nothing asked")
        if isinstance(op, CloseOp):
            return Expect(OK, why="the application closes")
        if isinstance(op, WriteOp):
            if self.closed and self.half_closed:
                return Expect(EITHER, any_write=True, why="a write on a stream half-closed by the peer's EOF")
            if self.closed:
                return Expect(FAIL, raises=StreamClosedError, why="write on a closed stream")
            if self.ended:
                return Expect(EITHER, any_write=True, why="a write after the peer's end")
            limit = self.limits.max_write_buffer_size
            if limit is not None and op.nbytes > limit:
                return Expect(FAIL, raises=StreamBufferFullError, why=f"more than max_write_buffer_size={limit}")
            return Expect(OK, why="written")
        if self.closed:
            return self._served(op)
        return self._grow(op)[0]

    def advance(self, op: Op, observed: Observed) -> None:
        """Move past ``op``, given what the stream did (already judged by ``check``)."""
        index, self._index = self._index, self._index + 1
        if isinstance(op, QUIET_OPS):
            return
        if isinstance(op, CloseOp):
            self.half_closed = False
            if not self.closed:
                # The stream holds what it read ahead: nothing, up to max_buffer_size. Closed by the peer's
                # end already (an idle stream notices it), its error is the end's.
                rest = len(self.received) - self.pos
                self.closed, self.error = True, ((None, self.ending_error) if self.ended else None)
                self.held = (self.pos, self.pos + min(rest, self.limits.max_buffer_size))
            return
        if isinstance(op, WriteOp):
            if self.half_closed:
                self.half_closed = not (observed.raised is not None or observed.failed)
                return
            if self.ended:
                if observed.raised is not None or observed.failed:
                    self._write_failed()
                return
            if observed.raised is None and not (observed.failed and self.closed):  # refused by its future
                self.written += write_payload(index, op.nbytes)
            return
        if self.closed:
            self.pos += len(observed.delivered)
            return
        _, held, error = self._grow(op)
        self.pos += len(observed.delivered)
        if held is not None:
            # The op ended the stream (its failure, or read_until_close's completion).
            self.closed, self.error = True, error
            self.held = (max(held[0], self.pos), max(held[1], self.pos))
            # At a clean EOF a stream that does not close there stays open for writes.
            self.half_closed = not self.closes_at_eof and error is None

    def _write_failed(self) -> None:
        """A write after the peer's end failed or was refused: the stream may have closed with its error, with
        what it read ahead still buffered."""
        if self.closed:
            return
        rest = len(self.received) - self.pos
        self.closed, self.error = True, WRITE_END_ERRORS + (self.ending_error,)
        self.held = (self.pos, self.pos + min(rest, self.limits.max_buffer_size))

    def check(self, op: Op, observed: Observed) -> str | None:
        """Why ``observed`` breaks ``expect(op)``, or ``None`` when it is what the model allows."""
        want = self.expect(op)
        if isinstance(op, QUIET_OPS):
            return None
        if isinstance(op, CloseOp):
            if observed.raised is not None:
                return f"close() raised {observed.raised!r}"
            return None
        if want.any_write:
            if observed.raised is not None and type(observed.raised).__name__ not in ("StreamClosedError",):
                return f"{_name(op)} raised {observed.raised!r} after the peer's end; only StreamClosedError may be"
            return None
        if isinstance(op, WriteOp):
            raised = type(observed.raised) if observed.raised is not None else None
            if (raised is None and want.raises is not None and observed.failed and self.refuses_by_future
                    and _error_matches(type(observed.refusal), want.raises)):
                return None  # refused through its future, as the target's API does every refusal
            if not _error_matches(raised, want.raises):
                did = f"raised {observed.raised!r}" if observed.raised is not None else "completed without raising"
                return (f"{_name(op)} {did}; the model says it must "
                        f"{'raise ' + want.raises.__name__ if want.raises else 'complete'} ({want.why})")
            if want.raises is None and (observed.failed or observed.pending):
                return f"{_name(op)} did not complete ({want.why})"
            return None
        if observed.raised is not None:
            return f"{_name(op)} raised {observed.raised!r}; a read never raises what the peer did"
        if observed.pending:
            return f"{_name(op)} never completed; the model says {want.outcome} ({want.why})"
        expected = self.received[self.pos : self.pos + len(observed.delivered)]
        if observed.delivered != expected:
            return (f"{_name(op)} delivered {_short(observed.delivered)}, but the next bytes received were "
                    f"{_short(expected)}")
        low, high = want.lengths
        if observed.failed:
            if want.outcome == OK:
                return (f"{_name(op)} failed with real_error={observed.real_error!r}; the model says it "
                        f"completes with {low}..{high} bytes ({want.why})")
            got = type(observed.real_error) if observed.real_error is not None else None
            if not _error_matches(got, want.error):
                return (f"{_name(op)} failed with real_error={observed.real_error!r}; the model says "
                        f"real_error={_error_name(want.error)} ({want.why})")
            # A failed streaming read delivers what it streamed; any other delivers nothing, unless the stream
            # hands what it held over with the failure (its own, checked above to be the next bytes received).
            if self.hands_over_on_failure:
                low, high = 0, len(observed.delivered)
            elif not (isinstance(op, (ReadBytesOp, ReadUntilCloseOp)) and getattr(op, "streaming", False)):
                low = high = 0
        elif want.outcome == FAIL:
            return (f"{_name(op)} completed with {len(observed.delivered)} bytes; the model says it fails "
                    f"with real_error={_error_name(want.error)} ({want.why})")
        if not low <= len(observed.delivered) <= high:
            return (f"{_name(op)} delivered {len(observed.delivered)} bytes; the model says {low}..{high} "
                    f"({want.why})")
        return None


def _error_matches(got: type[BaseException] | None, want: object) -> bool:
    """Whether a ``real_error`` of type ``got`` is ``want`` (a type, ``None``, or a tuple of alternatives).

    By name too: another stream (Tornado's) raises its own classes of the same names."""
    if isinstance(want, tuple):
        return any(_error_matches(got, one) for one in want)
    if got is None or want is None:
        return got is want
    return got is want or issubclass(got, want) or got.__name__ == want.__name__  # type: ignore[attr-defined]


def _error_name(want: object) -> str:
    if isinstance(want, tuple):
        return " or ".join(_error_name(one) for one in want)
    return want.__name__ if want is not None else "None"  # type: ignore[attr-defined]


def _name(op: Op) -> str:
    fields = ", ".join(f"{f.name}={getattr(op, f.name)!r}" for f in dataclasses.fields(op))
    return f"{op.name}({fields})"


def _short(data: bytes) -> str:
    return f"{len(data)} bytes {data[:24]!r}{'...' if len(data) > 24 else ''}"
