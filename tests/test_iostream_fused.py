"""The written-out READ event (``faultio._iostream_fused``) does what the general path does, call for call.

Every scenario runs twice on the same class, ``IOStream``: once as it is (a READ event takes
``_fused_read_event``) and once with ``_fuses_read`` turned off (the general steps of ``_handle_events``). Both
runs must leave the same trace (every event, with the trace kept; the count, with it off), the same results
and errors, in the same order, the same stream state and the same fd counters. The scenarios cover every read
operation, byte-at-a-time and all-at-once, in both styles, under every plain fault kind and the time kinds,
with a second read started from the first one's completion, at EOF or reset, with max_bytes, a small buffer
(overflow) and a small read chunk.
"""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultio import FAULT_KINDS, TIME_KINDS, Dribble, FaultPlan, IOLoop, Trace, plan_for_kind, socketpair
from faultio._iostream import IOStream
from faultio._iostream_base import BaseIOStream
from faultio._iostream_fused import FUSED_READ_METHODS, fuses_read

PAYLOAD = b"first line 1\r\nsecond 22\r\n" + bytes(range(32, 80)) + b"9\r\ntail"

OPS = ("read_until", "read_until_max", "regex", "read_bytes", "partial", "streaming", "until_close",
       "until_close_streaming")


def _start(stream, op, style, record):
    """Start ``op`` on ``stream``; its outcome (and streamed chunks) go to ``record``."""
    def done(value):
        record((op, "result", bytes(value)))

    def streamed(chunk):
        record((op, "chunk", bytes(chunk)))

    kwargs = {}
    if op == "read_until":
        call, args = stream.read_until, (b"\r\n",)
    elif op == "read_until_max":
        call, args, kwargs = stream.read_until, (b"\r\n",), {"max_bytes": 20}
    elif op == "regex":
        call, args = stream.read_until_regex, (rb"\d\r\n",)
    elif op == "read_bytes":
        call, args = stream.read_bytes, (30,)
    elif op == "partial":
        call, args, kwargs = stream.read_bytes, (30,), {"partial": True}
    elif op == "streaming":
        call, args, kwargs = stream.read_bytes, (30,), {"streaming_callback": streamed}
    elif op == "until_close":
        call, args = stream.read_until_close, ()
    else:
        call, args, kwargs = stream.read_until_close, (), {"streaming_callback": streamed}
    if style == "callback":
        call(*args, callback=done, **kwargs)
        return
    future = call(*args, **kwargs)

    def finished(f):
        error = f.exception()
        if error is None:
            done(f.result())
        else:
            record((op, "error", repr(error)))

    future.add_done_callback(finished)


def _scenario(*, fused, plan, ops, style, mode, end, traced=True, payload=PAYLOAD, **stream_kw):
    """Run ``ops`` one after the other (the next started when the previous completes) while the peer sends
    ``payload`` (``bulk``: all at once; ``bytewise``: a byte per loop iteration; a tuple: pieces of those sizes
    in turn, one per iteration) and then ends as ``end`` says; what it left
    (trace, outcomes, counters, stream state, log records)."""
    records = []
    handler = _Collect(records)
    logger = logging.getLogger("faultio")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)  # the stream's info lines too ("Unsatisfiable read, closing connection")
    try:
        return _run(records, fused=fused, plan=plan, ops=ops, style=style, mode=mode, end=end, traced=traced,
                    payload=payload, **stream_kw)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _Collect(logging.Handler):
    """Keeps (logger, level, message) of every record the stream's loggers emit."""

    def __init__(self, records):
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record):
        self.records.append((record.name, record.levelno, record.getMessage()))


def _run(records, *, fused, plan, ops, style, mode, end, traced, payload, **stream_kw):
    loop = IOLoop(make_current=False, trace=Trace(enabled=traced), max_steps=200_000)
    target, peer = socketpair(loop, plan)
    stream = IOStream(target, io_loop=loop, **stream_kw)
    if not fused:
        stream._fuses_read = False  # this stream takes the general path
    log = []
    queue = list(ops)

    def record(entry):
        log.append(entry)
        if entry[1] in ("result", "error"):
            loop.add_callback(next_op)  # the next read starts from this one's completion

    def next_op():
        if queue and not stream.closed():
            _start(stream, queue.pop(0), style, record)

    stream.set_close_callback(lambda: log.append(("close_callback", repr(stream.error))))
    next_op()
    if mode == "bulk":
        pieces = [payload]
    elif mode == "bytewise":
        pieces = [payload[i:i + 1] for i in range(len(payload))]
    else:  # the sizes of the pieces, in turn
        pieces, at, sizes = [], 0, itertools.cycle(mode)
        while at < len(payload):
            size = next(sizes)
            pieces.append(payload[at:at + size])
            at += size
    for piece in pieces:
        if target.closed() or peer.closed():
            break
        try:
            peer.send(piece)
        except OSError:
            break
        if end == "eof-with-data" and piece is pieces[-1]:
            peer.close()  # the EOF comes with the last bytes: the same readiness event reads both
        loop.run_until_quiescent()
    if end == "eof" and not peer.closed():
        peer.close()
    elif end == "reset" and not peer.closed():
        peer.reset()
    loop.run_until_quiescent()
    counters = (target.recv_calls, target.bytes_received, loop.step, loop.trace.count, len(loop.uncaught))
    state = (stream.closed(), repr(stream.error), stream._rbuf.size, stream._state, stream._pending_callbacks)
    return loop.trace.fingerprint(), log, counters, state, records


PLANS = {"none": None, "dribble": FaultPlan(read=(Dribble(),)),
         **{kind: plan_for_kind(kind, seed=3, inbound_size=len(PAYLOAD), flood_bytes=4096)
            for kind in FAULT_KINDS + TIME_KINDS}}


def _same(**kwargs):
    fused = _scenario(fused=True, **kwargs)
    general = _scenario(fused=False, **kwargs)
    assert fused[1] == general[1]  # results, errors and callbacks, in order
    assert fused[2] == general[2]  # fd counters, steps, trace count
    assert fused[3] == general[3]  # stream state
    assert fused[4] == general[4]  # what the stream logged
    assert fused[0] == general[0]  # every trace event
    return fused


@pytest.mark.parametrize("end", ["eof", "eof-with-data", "reset", "open"])
@pytest.mark.parametrize("mode", ["bytewise", "bulk"])
@pytest.mark.parametrize("plan", list(PLANS), ids=list(PLANS))
def test_every_read_op_gives_the_same_trace_and_results_on_both_paths(plan, mode, end):
    for op, style in itertools.product(OPS, ["future", "callback"]):
        _same(plan=PLANS[plan], ops=(op, "read_until", op), style=style, mode=mode, end=end)


@pytest.mark.parametrize("stream_kw", [{"max_buffer_size": 24}, {"read_chunk_size": 3}, {"max_buffer_size": 40,
                                       "read_chunk_size": 7}], ids=["overflow", "small-chunks", "both"])
@pytest.mark.parametrize("mode", ["bytewise", "bulk"])
def test_the_buffer_limits_give_the_same_trace_and_results_on_both_paths(stream_kw, mode):
    for op, end in itertools.product(OPS, ["eof", "eof-with-data", "open"]):
        _same(plan=None, ops=(op, op), style="future", mode=mode, end=end, **stream_kw)


@pytest.mark.parametrize("size", range(18, 26))
def test_bytes_around_max_bytes_with_the_eof_behind_them_are_judged_the_same_on_both_paths(size):
    # Read three bytes at a time, the loop searches at 3, 6 and 12 bytes (the doubling rule) and stops at
    # max_bytes (20), where the search after the loop judges; below that, the EOF closes the stream first.
    fused = _same(plan=None, ops=("read_until_max",), style="future", mode="bulk", end="eof-with-data",
                  payload=b"x" * size, read_chunk_size=3)
    if size > 20:
        assert any("Unsatisfiable" in message for _, _, message in fused[4])


@settings(derandomize=True, max_examples=60, deadline=None, database=None)
@given(ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=4), sizes=st.lists(st.integers(1, 9), min_size=1,
       max_size=5), end=st.sampled_from(["eof", "eof-with-data", "reset", "open"]),
       chunk=st.integers(1, 40), room=st.integers(8, 120), style=st.sampled_from(["future", "callback"]),
       plan=st.sampled_from(sorted(PLANS)))
def test_generated_reads_give_the_same_trace_and_results_on_both_paths(ops, sizes, end, chunk, room, style, plan):
    _same(plan=PLANS[plan], ops=tuple(ops), style=style, mode=tuple(sizes), end=end, read_chunk_size=chunk,
          max_buffer_size=room)


@pytest.mark.parametrize("mode", ["bytewise", "bulk"])
def test_with_the_trace_off_both_paths_count_the_same_events(mode):
    for op in OPS:
        fused = _same(plan=PLANS["eintr"], ops=(op, "read_bytes"), style="future", mode=mode, end="eof",
                      traced=False)
        assert fused[0] == [] and fused[2][3] > 0


def test_an_idle_stream_notices_eof_the_same_way_on_both_paths():
    # No read pending: the error listener's READ event reads once to notice the EOF, and closes.
    _same(plan=None, ops=(), style="future", mode="bulk", end="eof")
    _same(plan=None, ops=("read_bytes",), style="future", mode="bytewise", end="reset")


def _stream(cls=IOStream):
    loop = IOLoop(make_current=False)
    target, peer = socketpair(loop, FaultPlan(read=(Dribble(),)))
    return loop, peer, cls(target, io_loop=loop)


def test_a_class_that_overrides_a_written_out_method_takes_the_general_path():
    assert fuses_read(IOStream, BaseIOStream) and _stream()[2]._fuses_read
    for name in FUSED_READ_METHODS:
        same = type(f"Keeps_{name}", (IOStream,), {name: getattr(IOStream, name)})
        # The same code, but the class's own function: the fused path cannot know it does the same.
        wraps = type(f"Wraps_{name}", (IOStream,), {name: lambda self, *a, _n=name: getattr(IOStream, _n)(self, *a)})
        assert fuses_read(same, BaseIOStream) and _stream(same)[2]._fuses_read, name
        assert not fuses_read(wraps, BaseIOStream) and not _stream(wraps)[2]._fuses_read, name


def test_a_method_patched_onto_the_class_before_the_stream_is_made_is_honoured(monkeypatch):
    searches = []

    def counting(self):
        searches.append(self._rbuf.size)
        return BaseIOStream._find_read_pos(self)

    monkeypatch.setattr(IOStream, "_find_read_pos", counting)
    counts = []
    for forced in (False, True):
        loop, peer, stream = _stream()
        assert not stream._fuses_read
        if forced:
            stream._fuses_read = True  # as if the patch were missed: the events search without the method
        future = stream.read_until(b"\n")
        peer.send(b"ab\n")
        loop.run_until(future.done)
        assert future.result() == b"ab\n"
        counts.append(len(searches))
        searches.clear()
    honoured, missed = counts
    assert honoured > missed  # the general path asked the patched method at every search of every event


def test_a_class_that_only_counts_its_reads_keeps_the_fused_path():
    class Counting(IOStream):
        reads = 0

        def read_from_fd(self):
            Counting.reads += 1
            return IOStream.read_from_fd(self)

    loop, peer, stream = _stream(Counting)
    assert stream._fuses_read
    future = stream.read_until(b"\n")
    peer.send(b"ab\n")
    loop.run_until(future.done)
    assert future.result() == b"ab\n"
    assert Counting.reads >= 3  # every read went through the override
