"""Hypothesis strategies for workloads and sequences: what the peer sends and what the application asks of the
stream, with sizes drawn around every limit the stream has (docs/workloads.md). Public through
``faultio.strategies``.

Rules for this module:
- Every public function returns a Hypothesis strategy; the only randomness is the Hypothesis draw.
- Sizes are drawn exactly at a limit, one below, one above, and far from it; everything shrinks towards the
  smallest workload that still shows a failure.
- Imports faultio's workload and sequence values and the plan strategies (for a sequence's plan), never the
  harness.
"""

from __future__ import annotations

import re
from typing import Iterable

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._plan import FaultPlan
from ._sequence import READ_STYLES, Sequence
from ._strategies_plans import _check_int, fault_plans
from ._workload import (
    READ_OP_TYPES,
    CloseOp,
    IdleOp,
    Op,
    PeerEndOp,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    ReadUntilRegexOp,
    SetCloseCallbackOp,
    SplitDelimiter,
    StreamLimits,
    Workload,
    WriteOp,
)


# --- workloads ---------------------------------------------------------------------------------------

#: Bytes the filler of drawn data is made of: a few letters and the bytes of the usual delimiters, so a
#: delimiter's prefix (a lone ``\r``) turns up in front of it now and then.
FILLER_ALPHABET = b"ab\r\n|"
#: Delimiters tried first (they shrink to ``b"\n"``), before arbitrary ones of up to ``MAX_DELIMITER`` bytes.
COMMON_DELIMITERS = (b"\n", b"\r\n", b"\r\n\r\n", b"||")
MAX_DELIMITER = 4


def sizes_around(limit: int, *, minimum: int = 0, far: int | None = None) -> st.SearchStrategy[int]:
    """Sizes at ``limit``, one below, one above, and far from it (``minimum`` up to ``far``, default 3×limit+2).

    Shrinks to ``limit`` itself; sizes below ``minimum`` are never drawn.
    """
    _check_int("limit", limit, 0)
    _check_int("minimum", minimum, 0)
    top = 3 * limit + 2 if far is None else _check_int("far", far, minimum)
    near = [n for n in (limit, limit - 1, limit + 1) if n >= minimum]
    wide = st.integers(minimum, max(minimum, top))
    # The edges are where the bugs are: two chances in three of landing on one.
    return st.one_of(st.sampled_from(near), st.sampled_from(near), wide) if near else wide


def stream_limits(
    *,
    max_buffer_size: st.SearchStrategy[int] | None = None,
    read_chunk_size: st.SearchStrategy[int] | None = None,
    max_write_buffer_size: st.SearchStrategy[int | None] | None = None,
) -> st.SearchStrategy[StreamLimits]:
    """``StreamLimits`` small enough for a workload to reach: a buffer of 8..256 bytes, a read chunk around a
    few sizes relative to it (1, half of it, all of it, one above), a write buffer limit or none.

    Pass strategies to fix or widen any of them.
    """
    buffers = max_buffer_size if max_buffer_size is not None else st.integers(8, 256)
    writes = (max_write_buffer_size if max_write_buffer_size is not None
              else st.one_of(st.none(), st.integers(1, 128)))

    @st.composite
    def limits(draw: st.DrawFn) -> StreamLimits:
        size = draw(buffers)
        if read_chunk_size is not None:
            chunk = draw(read_chunk_size)
        else:
            chunk = draw(st.one_of(st.sampled_from([max(1, size // 2), 1, size, size + 1]),
                                   st.integers(1, 2 * size)))
        return StreamLimits(max_buffer_size=size, read_chunk_size=chunk, max_write_buffer_size=draw(writes))

    return limits()


def chunkings(nbytes: int, *, max_chunks: int = 8, cuts: Iterable[int] = ()) -> st.SearchStrategy[tuple[int, ...]]:
    """The sizes of the sends that cut ``nbytes`` bytes: positive, adding up to ``nbytes``.

    Every offset in ``cuts`` is a boundary; up to ``max_chunks`` more are drawn. Shrinks to the fewest
    sends (one, or none for 0 bytes).
    """
    _check_int("nbytes", nbytes, 0)
    _check_int("max_chunks", max_chunks, 1)
    fixed = {c for c in cuts if 0 < c < nbytes}
    if nbytes < 2:
        return st.just((nbytes,) if nbytes else ())
    return st.sets(st.integers(1, nbytes - 1), max_size=max_chunks - 1).map(
        lambda drawn: _sizes(nbytes, sorted(fixed | drawn)))


def _sizes(nbytes: int, cuts: list[int]) -> tuple[int, ...]:
    edges = [0, *cuts, nbytes]
    return tuple(b - a for a, b in zip(edges, edges[1:]) if b > a)


def delimiters(*, max_size: int = MAX_DELIMITER) -> st.SearchStrategy[bytes]:
    """Delimiters of 1..``max_size`` bytes: the common ones first (shrinking to ``b"\\n"``), then any."""
    _check_int("max_size", max_size, 1)
    common = [d for d in COMMON_DELIMITERS if len(d) <= max_size]
    return st.one_of(st.sampled_from(common), st.binary(min_size=1, max_size=max_size))


def split_delimiters(
    *, delimiter: st.SearchStrategy[bytes] | None = None, max_prefix: int = 32, max_chunks: int = 6,
) -> st.SearchStrategy[SplitDelimiter]:
    """Bytes holding a delimiter, and a chunking with a boundary at every possible offset inside it.

    ``split`` ranges over ``0 .. len(delimiter) - 1`` (0: the boundary falls just before the delimiter);
    filler bytes before and after it come from ``FILLER_ALPHABET``, so they may hold part of the
    delimiter (a ``\\r`` before ``\\r\\n``), but the first occurrence is the one split.
    """
    delims = delimiter if delimiter is not None else delimiters()
    _check_int("max_prefix", max_prefix, 0)
    _check_int("max_chunks", max_chunks, 1)

    @st.composite
    def split(draw: st.DrawFn) -> SplitDelimiter:
        delim = draw(delims)
        before = draw(st.binary(max_size=max_prefix).map(lambda b: bytes(FILLER_ALPHABET[x % 5] for x in b)))
        after = draw(st.binary(max_size=8).map(lambda b: bytes(FILLER_ALPHABET[x % 5] for x in b)))
        data = before + delim + after
        at = data.find(delim)  # the filler may complete the delimiter earlier
        offset = draw(st.integers(0, len(delim) - 1))
        chunks = draw(chunkings(len(data), max_chunks=max_chunks, cuts=[at + offset]))
        return SplitDelimiter(data=data, chunks=chunks, delimiter=delim, split=offset)

    return split()


def delimiter_regexes(delimiter: bytes) -> st.SearchStrategy[bytes]:
    """Bytes regex patterns that match ``delimiter``: the escaped delimiter, or one byte of it widened
    to a class that also takes a letter.

    Every pattern is fixed-length and unanchored, so its first match in a prefix of some bytes is its
    first match in all of them: what ``read_until_regex`` returns cannot depend on how the bytes arrived.
    """
    if not isinstance(delimiter, bytes) or not delimiter:
        raise InvalidArgument(f"delimiter={delimiter!r} is not valid; it must be non-empty bytes")

    def widen(i: int) -> bytes:
        parts = [re.escape(delimiter[j : j + 1]) for j in range(len(delimiter))]
        parts[i] = b"[" + re.escape(delimiter[i : i + 1]) + b"z]"
        return b"".join(parts)

    return st.one_of(st.just(re.escape(delimiter)), st.integers(0, len(delimiter) - 1).map(widen))


def write_sizes(max_write_buffer_size: int | None) -> st.SearchStrategy[int]:
    """Write sizes: empty, and around ``max_write_buffer_size`` (at, one below, one above, far above)."""
    if max_write_buffer_size is None:
        return st.one_of(st.just(0), st.integers(1, 256))
    limit = _check_int("max_write_buffer_size", max_write_buffer_size, 1)
    # Exactly at the limit first (it shrinks there): a write that fills the buffer is the edge case.
    return st.one_of(st.just(limit), st.just(0), st.sampled_from([n for n in (limit - 1, limit + 1) if n > 0]),
                     st.integers(1, 2 * limit + 2))


def partial_read_sizes(available: int) -> st.SearchStrategy[int]:
    """``read_bytes(n, partial=True)`` sizes from 1 to one above ``available`` (shrinking to 1)."""
    _check_int("available", available, 0)
    return st.integers(1, available + 1)


#: The calls a sequence can make, as the matrix names them (``--target`` adapters declare which they lack).
SEQUENCE_CALLS = ("read_bytes", "read_bytes_partial", "read_bytes_streaming", "read_until", "read_until_max_bytes",
                  "read_until_regex", "read_until_close", "write")

def _filler(draw: st.DrawFn, nbytes: int, avoid: bytes | None = None) -> bytes:
    """``nbytes`` filler bytes: a drawn pattern of up to 8 bytes of ``FILLER_ALPHABET``, repeated.

    Drawing every byte of a long line would make a workload slow to draw and to shrink; where a
    delimiter's prefix falls (the interesting part) is still drawn.
    """
    if not nbytes:
        return b""
    raw = draw(st.binary(min_size=1, max_size=8))
    unit = bytes(FILLER_ALPHABET[x % 5] for x in raw)
    out = (unit * (nbytes // len(unit) + 1))[:nbytes]
    if avoid and avoid in out:
        # A line's body must not hold its own delimiter, or the line would end early: replace its bytes
        # with one it does not contain (the alphabet has more bytes than a delimiter).
        spare = next(b for b in FILLER_ALPHABET if b not in avoid)
        out = bytes(spare if b in avoid else b for b in out)
    return out


@st.composite
def _step(draw: st.DrawFn, lim: StreamLimits, kind: str, calls: frozenset[str] = frozenset(SEQUENCE_CALLS)
          ) -> tuple[list[Op], bytes, int | None]:
    """One op of a workload (an ``IdleOp`` may come first), the bytes it will meet, and a cut inside its
    delimiter; only the ``calls`` a stream has (``SEQUENCE_CALLS``) are drawn."""
    if kind in ("read_until", "regex"):
        delim = draw(delimiters())
        # Room for a line one byte shorter than max_bytes (a smaller max_bytes only ever refuses).
        some = st.integers(len(delim) + 1, lim.max_buffer_size + len(delim) + 2)
        if "read_until_max_bytes" not in calls:
            max_bytes = None
        elif kind == "read_until" and "read_until" not in calls:
            max_bytes = draw(some)
        else:
            max_bytes = draw(st.one_of(st.none(), some))
        limit = max_bytes if max_bytes is not None else lim.max_buffer_size
        length = max(len(delim), draw(sizes_around(limit, minimum=len(delim))))
        line = _filler(draw, length - len(delim), avoid=delim) + delim
        cut = length - len(delim) + draw(st.integers(0, len(delim) - 1))
        if kind == "read_until":
            return [ReadUntilOp(delimiter=delim, max_bytes=max_bytes)], line, cut
        return [ReadUntilRegexOp(pattern=draw(delimiter_regexes(delim)), max_bytes=max_bytes)], line, cut
    if kind in ("read_bytes", "streaming"):
        # Idle first, now and then: the stream reads ahead, so a streaming read starts with bytes buffered.
        idle: list[Op] = [IdleOp()] if kind == "streaming" and draw(st.booleans()) else []
        nbytes = draw(sizes_around(draw(st.sampled_from([lim.read_chunk_size, lim.max_buffer_size]))))
        return idle + [ReadBytesOp(nbytes=nbytes, streaming=kind == "streaming")], _filler(draw, nbytes), None
    if kind == "partial":
        nbytes = draw(partial_read_sizes(lim.read_chunk_size))
        return [ReadBytesOp(nbytes=nbytes, partial=True)], _filler(draw, draw(st.integers(0, nbytes + 1))), None
    if kind == "idle":
        return [IdleOp()], b"", None
    if kind == "write":
        return [WriteOp(nbytes=draw(write_sizes(lim.max_write_buffer_size)))], b"", None
    tail = _filler(draw, draw(st.integers(0, 2 * lim.max_buffer_size)))
    streaming = draw(st.booleans()) if "read_bytes_streaming" in calls else False
    return [ReadUntilCloseOp(streaming=streaming)], tail, None


def _endings(endings: Iterable[str]) -> tuple[str, ...]:
    ends = tuple(endings)
    if not ends or any(e not in ("eof", "reset") for e in ends):
        raise InvalidArgument(f"endings={endings!r} is not valid; choose from 'eof', 'reset'")
    return ends


def _assemble(draw: st.DrawFn, lim: StreamLimits, steps: list[tuple[list[Op], bytes, int | None]], max_chunks: int,
              ends: tuple[str, ...]) -> Workload:
    """The workload of ``steps``: their ops in order, their bytes cut into sends, how the connection ends."""
    ops: list[Op] = []
    data = bytearray()
    cuts: list[int] = []
    for step_ops, segment, cut in steps:
        if cut is not None:
            cuts.append(len(data) + cut)
        ops += step_ops
        data += segment
    # The connection may end before the ops' bytes are all sent (an EOF or a reset mid-read).
    keep = draw(st.one_of(st.just(len(data)), st.integers(0, len(data))))
    data = data[:keep]
    chunks = draw(chunkings(len(data), max_chunks=max_chunks, cuts=cuts))
    return Workload(limits=lim, data=bytes(data), chunks=chunks, ops=tuple(ops), ending=draw(st.sampled_from(ends)))


def workloads(
    *,
    limits: st.SearchStrategy[StreamLimits] | None = None,
    max_ops: int = 6,
    max_chunks: int = 12,
    endings: Iterable[str] = ("eof", "reset"),
) -> st.SearchStrategy[Workload]:
    """Workloads for one stream: limits, the peer's bytes cut into sends, how it ends, and 1..``max_ops`` ops.

    Each read op draws the bytes it will meet: a line for ``read_until``/``read_until_regex`` of a length
    around its ``max_bytes`` (or around ``max_buffer_size`` without one), ending in a delimiter from
    ``delimiters``; a message for ``read_bytes`` around ``read_chunk_size`` or ``max_buffer_size``;
    partial reads of every size; idle periods (the stream, with no read pending, may read ahead), also
    just before a streaming read (not counted in ``max_ops``), which then starts with bytes buffered.
    Writes are empty, around ``max_write_buffer_size`` or beyond it. The peer's sends are cut with a boundary inside every delimiter at a drawn offset, and the data may stop
    short (the connection ends mid-read). ``read_until_close`` comes only last. Shrinks towards one op,
    one send, a clean EOF.
    """
    _check_int("max_ops", max_ops, 1)
    _check_int("max_chunks", max_chunks, 1)
    ends = _endings(endings)
    lims = limits if limits is not None else stream_limits()

    kinds = st.sampled_from(["read_until", "read_bytes", "regex", "partial", "write", "streaming", "idle"])

    @st.composite
    def workload(draw: st.DrawFn) -> Workload:
        lim = draw(lims)
        # A list of whole steps: shrinking deletes a step with its bytes, leaving the others as they were.
        closing = draw(st.booleans())
        steps = draw(st.lists(kinds.flatmap(lambda kind: _step(lim, kind)), min_size=0 if closing else 1,
                              max_size=max_ops - 1 if closing else max_ops))
        if closing:
            steps.append(draw(_step(lim, "until_close")))
        return _assemble(draw, lim, steps, max_chunks, ends)

    return workload()


#: Idle periods of a sequence, in virtual seconds: a loop iteration or two, a second, an hour (a clock jump).
IDLE_SECONDS = (0.01, 1.0, 3600.0)
#: A sequence's step kinds: reads twice as likely as the rest, writes and streaming reads three times.
_SEQUENCE_KINDS = ("read_until", "read_bytes", "regex", "partial", "write", "streaming") * 2 + (
    "write", "streaming", "idle", "until_close", "close", "peer_end", "set_close_callback")


#: The step kinds each call makes possible (``idle``, ``close``, ``peer_end``, ``set_close_callback``: always).
_KIND_CALLS = {"read_until": ("read_until", "read_until_max_bytes"), "read_bytes": ("read_bytes",),
               "regex": ("read_until_regex",), "partial": ("read_bytes_partial",), "write": ("write",),
               "streaming": ("read_bytes_streaming",), "until_close": ("read_until_close",)}


def _sequence_kinds(calls: frozenset[str]) -> tuple[str, ...]:
    """``_SEQUENCE_KINDS`` without the kinds none of whose calls is in ``calls`` (the same tuple for all)."""
    return tuple(k for k in _SEQUENCE_KINDS if any(c in calls for c in _KIND_CALLS.get(k, SEQUENCE_CALLS)))


def _check_choice(where: str, given: Iterable[str], valid: tuple[str, ...]) -> frozenset[str]:
    if isinstance(given, str):
        raise InvalidArgument(f"{where} must be an iterable of names, not the string {given!r}; valid: "
                              f"{', '.join(valid)}")
    chosen = tuple(given)
    bad = [c for c in chosen if c not in valid]
    if bad or not chosen:
        raise InvalidArgument(f"{where}={chosen!r} is not valid: " + (f"{bad[0]!r} is unknown" if bad else
                              "it names none") + f"; choose from {', '.join(valid)}")
    return frozenset(chosen)


@st.composite
def _sequence_step(draw: st.DrawFn, lim: StreamLimits, kind: str, calls: frozenset[str] = frozenset(SEQUENCE_CALLS),
                   styles: tuple[str, ...] = READ_STYLES) -> tuple[list[Op], bytes, int | None, list[str]]:
    """One step of a sequence: its ops, the bytes they meet, a cut inside a delimiter, one style per op."""
    quiet = {"close": CloseOp, "peer_end": PeerEndOp, "set_close_callback": SetCloseCallbackOp}
    if kind in quiet:
        ops, segment, cut = [quiet[kind]()], b"", None
    elif kind == "idle":
        ops, segment, cut = [IdleOp(seconds=draw(st.sampled_from(IDLE_SECONDS)))], b"", None
    else:
        ops, segment, cut = draw(_step(lim, kind, calls))
    return ops, segment, cut, [draw(st.sampled_from(styles)) if isinstance(op, READ_OP_TYPES) else "future"
                               for op in ops]


def sequences(
    *,
    limits: st.SearchStrategy[StreamLimits] | None = None,
    plans: st.SearchStrategy[FaultPlan] | None = None,
    max_ops: int = 8,
    max_chunks: int = 12,
    endings: Iterable[str] = ("eof", "reset"),
    calls: Iterable[str] = SEQUENCE_CALLS,
    styles: Iterable[str] = READ_STYLES,
) -> st.SearchStrategy[Sequence]:
    """Stateful runs of one stream: 1..``max_ops`` steps of every kind, each read in a drawn style, under a plan.

    The steps of ``workloads``, plus ``read_until_close`` anywhere, ``close()``, the peer ending early
    (``PeerEndOp``), ``set_close_callback`` and idle periods of up to an hour. ``plans`` defaults to
    ``fault_plans`` of the kinds that leave the connection's end to the sequence (``eintr``, ``ewouldblock``,
    ``dribble``). One value holds it all, so Hypothesis shrinks ops, bytes and plan together.

    ``calls`` (of ``SEQUENCE_CALLS``) and ``styles`` (of ``"future"``, ``"callback"``) are what the stream's API
    has: a stream with futures only, no streaming reads, no regex or no per-read ``max_bytes`` gets sequences
    drawing only what it has (a ``read_until_close`` then never streams). With every call and style, the draws
    are those of the default.
    """
    allowed = _check_choice("calls", calls, SEQUENCE_CALLS)
    read_styles = tuple(s for s in READ_STYLES if s in _check_choice("styles", styles, READ_STYLES))
    _check_int("max_ops", max_ops, 1)
    _check_int("max_chunks", max_chunks, 1)
    ends = _endings(endings)
    # A write buffer limit three times in four: writes at it, below it and past it are where the bugs are.
    wbuf = st.integers(1, 128)
    lims = limits or stream_limits(max_write_buffer_size=st.one_of(wbuf, wbuf, wbuf, st.none()))
    fault = plans if plans is not None else fault_plans(kinds="eintr,ewouldblock,dribble")
    kinds = st.sampled_from(_sequence_kinds(allowed))

    @st.composite
    def sequence(draw: st.DrawFn) -> Sequence:
        lim = draw(lims)
        steps = draw(st.lists(kinds.flatmap(lambda kind: _sequence_step(lim, kind, allowed, read_styles)),
                              min_size=1, max_size=max_ops))
        workload = _assemble(draw, lim, [(ops, segment, cut) for ops, segment, cut, _ in steps], max_chunks, ends)
        styles = tuple(style for *_, step_styles in steps for style in step_styles)
        return Sequence(workload=workload, styles=styles, plan=draw(fault))

    return sequence()
