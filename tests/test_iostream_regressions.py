"""Where the Tornado 4 design is weak and ours does better: one regression test per difference."""

import ast
import logging
import re
import subprocess
import sys
import textwrap

import pytest
from _streams import (
    MODES,
    ROOT,
    STYLES,
    WRITE,
    no_records,
    start,
)

from faultio import (
    Chunk,
    Eintr,
    FaultPlan,
    Flood,
    IOLoop,
    Pass,
    Reset,
    SendEintr,
    SendPartial,
    SendWouldBlock,
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
    socketpair,
)
from faultio._iostream import BaseIOStream, IOStream

# -- where 4.x is weak: regressions ---------------------------------------------------------------


def test_eintr_on_write_is_retried_not_a_close(world, caplog):
    caplog.set_level(logging.DEBUG, logger="faultio")
    w = world(FaultPlan(write=(SendEintr(), SendPartial(max_bytes=2), SendEintr(), SendEintr())))
    out = start(w.stream, "future", "write", b"abcdef")
    w.run()
    assert out.result is None
    assert not w.stream.closed() and w.stream.error is None
    assert w.peer.recv(10) == b"abcdef"
    assert no_records(caplog) == []


@pytest.mark.parametrize("mode", MODES)
def test_eintr_on_read_is_retried_without_a_log_line(world, caplog, mode):
    caplog.set_level(logging.DEBUG, logger="faultio")
    w = world(FaultPlan(read=(Eintr(), Chunk(max_bytes=2), Eintr(), Eintr())), mode=mode)
    out = start(w.stream, "future", "read_until", b"!")
    w.feed(b"hello!")
    assert out.result == b"hello!"
    assert not w.stream.closed()
    assert w.target.faults_injected >= 3
    assert no_records(caplog) == []


@pytest.mark.parametrize("style", STYLES)
def test_read_on_a_closed_stream_is_served_from_the_buffer_when_it_can_be(world, style):
    w = world()
    first = start(w.stream, style, "read_until", b"!")
    w.peer.send(b"abc\ndef")
    w.peer.close()
    w.run()
    assert w.stream.closed()  # EOF while looking for "!"
    if style == "future":
        assert isinstance(first.error, StreamClosedError)
    line = start(w.stream, style, "read_until", b"\n")
    some = start(w.stream, style, "read_bytes", 2)
    rest = start(w.stream, style, "read_until_close")
    w.run()
    assert (line.result, some.result, rest.result) == (b"abc\n", b"de", b"f")


def test_unservable_read_on_a_closed_stream_fails_and_the_next_read_is_accepted(world):
    w = world()
    w.peer.send(b"abc")
    w.peer.close()
    start(w.stream, "future", "read_bytes", 4)  # needs more than ever comes: EOF closes the stream
    w.run()
    assert w.stream.closed()
    assert start(w.stream, "future", "read_bytes", 1).result == b"a"
    too_much = start(w.stream, "future", "read_bytes", 5)
    assert isinstance(too_much.error, StreamClosedError)
    assert not w.stream.reading()
    assert start(w.stream, "future", "read_bytes", 2).result == b"bc"
    no_delim = start(w.stream, "future", "read_until", b"\n")
    assert isinstance(no_delim.error, StreamClosedError)
    assert isinstance(start(w.stream, "future", "read_bytes", 1).error, StreamClosedError)
    assert start(w.stream, "future", "read_until_close").result == b""


def test_unservable_callback_read_on_a_closed_stream_raises_and_the_next_read_is_accepted(world):
    w = world()
    w.peer.send(b"xy")
    w.peer.close()
    w.stream.read_bytes(1, callback=lambda d: None)
    w.stream.close()
    w.run()
    assert w.stream.closed()
    with pytest.raises(StreamClosedError):
        w.stream.read_bytes(3, callback=lambda d: None)
    got = []
    w.stream.read_bytes(1, callback=got.append)
    w.run()
    assert got == [b"y"]


def test_unservable_streaming_read_on_a_closed_stream_streams_what_is_left_then_fails(world):
    w = world()
    start(w.stream, "future", "read_bytes", 1)
    w.feed(b"_abc")
    w.stream.close()
    log = []

    async def reader():
        try:
            await w.stream.read_bytes(10, streaming_callback=lambda d: log.append(d))
        except StreamClosedError:
            log.append("closed")
        log.append(await w.stream.read_bytes(0))  # the stream still accepts reads

    w.loop.spawn(reader)
    w.run()
    assert log == [b"abc", "closed", b""]


def test_reset_closed_stream_fails_later_reads_with_the_reset_as_real_error(world):
    w = world(FaultPlan(read=(Reset(),)))
    w.stream.set_close_callback(lambda: None)
    w.run()
    assert isinstance(w.stream.error, ConnectionResetError)
    out = start(w.stream, "future", "read_bytes", 1)
    assert out.error.real_error is w.stream.error


@pytest.mark.parametrize("method", ["read_until", "read_until_close", "read_bytes"])
def test_overflow_closes_with_stream_buffer_full_error_as_error(world, caplog, method):
    w = world(FaultPlan(read=(Flood(nbytes=100_000),)), max_buffer_size=4096)
    args = {"read_until": (b"\r\n",), "read_until_close": (), "read_bytes": (10_000,)}[method]
    closed = []
    w.stream.set_close_callback(lambda: closed.append(True))
    out = start(w.stream, "future", method, *args)
    w.run()
    assert w.stream.closed() and closed == [True]
    assert isinstance(w.stream.error, StreamBufferFullError)
    assert isinstance(out.error, StreamClosedError)
    assert out.error.real_error is w.stream.error
    assert any(r.levelno == logging.ERROR and r.name == "faultio.iostream" for r in caplog.records)
    assert w.target.bytes_received <= 4096 + 1


@pytest.mark.parametrize(
    "args", [("read_bytes", 4096), ("read_until", b"\r\n", 4096)], ids=["read_bytes", "read_until"]
)
def test_a_read_that_fits_the_buffer_never_overflows_under_a_flood(world, args):
    w = world(FaultPlan(read=(Pass(nbytes=4000), Flood(nbytes=1 << 30))), max_buffer_size=4096)
    method, *rest = args
    if method == "read_until":
        out = start(w.stream, "future", method, rest[0], max_bytes=rest[1])
        w.peer.send(b"a" * 3000 + b"\r\n" + b"b" * 998)
    else:
        out = start(w.stream, "future", method, *rest)
        w.peer.send(b"a" * 4000)
    w.run()
    assert isinstance(out.result, bytes)
    assert not w.stream.closed()
    # The read took at most the buffer's worth; afterwards the idle stream reads one more chunk (to
    # notice EOF) and then stops. The observer checked the buffer bound after every step.
    assert w.target.bytes_received <= 4096 + w.stream.read_chunk_size


def test_unbounded_read_until_fed_one_byte_per_event_does_linear_search_work(world):
    w = world(mode="bytewise")
    n = 3000
    out = start(w.stream, "future", "read_until", b"\r\n")
    w.feed(b"x" * n + b"\r\n")
    assert out.result == b"x" * n + b"\r\n"
    # Each arrival is scanned about once; a rescan per event would be ~n*n/2 = 4.5 million bytes.
    assert w.stream._rbuf.examined < 5 * n


def test_read_until_holding_max_bytes_without_the_delimiter_closes_without_waiting(world):
    w = world()
    out = start(w.stream, "future", "read_until", b"\n", max_bytes=4)
    w.feed(b"abcd")  # exactly max_bytes, and then the peer goes quiet
    assert w.stream.closed()
    assert isinstance(out.error.real_error, UnsatisfiableReadError)


@pytest.mark.parametrize("style", STYLES)
def test_max_bytes_failure_is_never_raised_synchronously_even_from_buffered_data(world, style):
    w = world()
    start(w.stream, style, "read_bytes", 1)
    w.feed(b"xlong line without newline")
    out = start(w.stream, style, "read_until", b"\n", max_bytes=5)  # must not raise
    assert w.stream.closed()
    assert isinstance(w.stream.error, UnsatisfiableReadError)
    w.run()
    if style == "future":
        assert out.error.real_error is w.stream.error


@pytest.mark.parametrize("style", STYLES)
def test_already_reading_raises_a_real_exception_and_leaves_the_first_read_intact(world, style):
    w = world()
    first = start(w.stream, style, "read_bytes", 3)
    with pytest.raises(RuntimeError, match="Already reading"):
        w.stream.read_until(b"\n")
    w.feed(b"abc")
    assert first.result == b"abc"


BAD_READ_ARGS = {
    "regex-str": ("read_until_regex", ("\n",), {}, TypeError,
                  r"regex must be a bytes pattern or a compiled bytes regex, got str '\\n'; .* rb'\.\.\.'"),
    "regex-compiled-str": ("read_until_regex", (re.compile("\n"),), {}, TypeError,
                           r"regex must be a bytes pattern or .*, got a compiled str regex"),
    "regex-int": ("read_until_regex", (7,), {}, TypeError, r"compiled bytes regex, got int 7$"),
    "regex-max-bytes-zero": ("read_until_regex", (rb"\n",), {"max_bytes": 0}, ValueError,
                             r"max_bytes must be None or a positive integer \(1 or more\), got 0"),
    "delimiter-str": ("read_until", ("\n",), {}, TypeError, r"delimiter must be bytes-like .*, got str '\\n'"),
    "delimiter-empty": ("read_until", (b"",), {}, ValueError,
                        r"delimiter must be at least one byte long, got b''"),
    "delimiter-max-bytes-negative": ("read_until", (b"\n",), {"max_bytes": -1}, ValueError,
                                     r"max_bytes must be None or a positive integer \(1 or more\), got -1"),
    "delimiter-max-bytes-float": ("read_until", (b"\n",), {"max_bytes": 2.5}, TypeError,
                                  r"max_bytes must be None or a positive integer .*, got float 2.5"),
    "num-bytes-negative": ("read_bytes", (-1,), {}, ValueError,
                           r"num_bytes must be a non-negative integer \(0 or more\), got -1"),
    "num-bytes-str": ("read_bytes", ("5",), {}, TypeError,
                      r"num_bytes must be a non-negative integer .*, got str '5'"),
    "num-bytes-bool": ("read_bytes", (True,), {}, TypeError, r"num_bytes must be .*, got bool True"),
}
#: A valid call of each method, for the read that follows a rejected one.
GOOD_READ_ARGS = {"read_until_regex": (rb"\n",), "read_until": (b"\n",), "read_bytes": (5,)}


@pytest.mark.parametrize("case", list(BAD_READ_ARGS.values()), ids=list(BAD_READ_ARGS))
@pytest.mark.parametrize("style", STYLES)
def test_a_read_with_bad_arguments_raises_at_once_and_leaves_the_stream_usable(world, style, case):
    method, args, kwargs, error, message = case
    w = world()
    if style == "callback":
        kwargs = {**kwargs, "callback": lambda data: None}
    with pytest.raises(error, match=message):
        getattr(w.stream, method)(*args, **kwargs)
    assert not w.stream.reading() and not w.stream.closed()
    assert w.loop.trace.events(source="stream", kind="read") == []  # never registered
    out = start(w.stream, style, method, *GOOD_READ_ARGS[method])
    w.feed(b"line\n")
    assert out.result == b"line\n"


@pytest.mark.parametrize(
    "method,arg",
    [("read_until", bytearray(b"\n")), ("read_until", memoryview(b"\n")),
     ("read_until_regex", bytearray(b"\n")), ("read_until_regex", re.compile(rb"\n"))],
    ids=["delimiter-bytearray", "delimiter-memoryview", "regex-bytearray", "regex-compiled-bytes"],
)
def test_reads_accept_any_bytes_like_delimiter_and_a_compiled_bytes_regex(world, method, arg):
    w = world()
    out = start(w.stream, "future", method, arg, max_bytes=1)
    w.feed(b"\n")
    assert out.result == b"\n"


def test_a_raising_done_callback_on_a_read_future_neither_closes_the_stream_nor_starves_later_ones(
    world, caplog
):
    w = world()
    future = w.stream.read_bytes(3)

    def broken_monitor(f):
        raise RuntimeError("broken monitor")

    later = []
    future.add_done_callback(broken_monitor)
    future.add_done_callback(lambda f: later.append(f.result()))
    w.feed(b"abcdef")
    assert later == [b"abc"]
    assert not w.stream.closed() and w.stream.error is None
    [record] = [r for r in caplog.records if r.name == "faultio.future"]
    assert record.exc_info[0] is RuntimeError
    rest = start(w.stream, "future", "read_bytes", 3)
    w.run()
    assert rest.result == b"def"


def test_already_reading_survives_python_dash_O():
    code = textwrap.dedent(
        """
        assert False, "this line only passes when -O strips assert statements"
        from faultio import IOLoop, socketpair
        from faultio._iostream import IOStream
        loop = IOLoop()
        target, peer = socketpair(loop)
        stream = IOStream(target, io_loop=loop)
        stream.read_bytes(1)
        try:
            stream.read_bytes(1)
        except RuntimeError as exc:
            print("raised:", exc)
        else:
            print("not raised")
        """
    )
    done = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("raised: Already reading")


def test_stream_modules_check_with_real_exceptions_not_assert_statements():
    paths = [ROOT / "faultio" / "_buffer.py", *sorted((ROOT / "faultio").glob("_iostream*.py"))]
    assert len(paths) >= 2
    for path in paths:
        tree = ast.parse(path.read_text())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert asserts == [], f"{path.name} uses assert at lines {asserts}"


@pytest.mark.parametrize("style", STYLES)
def test_write_of_empty_bytes_completes_without_registering_write(world, style):
    w = world()
    out = start(w.stream, style, "write", b"")
    assert w.stream._state is None or not w.stream._state & WRITE
    assert not w.stream.writing()
    if style == "future":
        assert out.result is None  # resolved at once
    else:
        w.loop.run_once()  # scheduled for the next iteration, like every callback
        assert out.results == [None]
    assert w.loop.handler_mask(w.fd) is None or not w.loop.handler_mask(w.fd) & WRITE


def test_write_of_empty_bytes_after_a_blocked_write_completes_with_it(world):
    w = world(FaultPlan(write=(SendWouldBlock(count=3),)))
    log = []
    start(w.stream, "future", "write", b"abc", log=log)
    start(w.stream, "future", "write", b"", log=log)
    assert log == []
    w.run()
    assert log == [("write", None), ("write", None)]


def test_frozen_write_buffer_presents_the_same_bytes_again_and_queues_later_writes():
    sent = []

    class Freezing(IOStream):
        # What an SSL stream needs after WANT_WRITE: the retry must offer exactly the same bytes.
        def _got_empty_write(self, size):
            self._freeze_write_buffer(size)

        def write_to_fd(self, data):
            sent.append(bytes(data))
            return super().write_to_fd(data)

    loop = IOLoop()
    try:
        plan = FaultPlan(write=(SendWouldBlock(count=2), SendPartial(max_bytes=2)))
        target, peer = socketpair(loop, plan)
        stream = Freezing(target, io_loop=loop)
        first = stream.write(b"abcdef")
        second = stream.write(b"XY")
        assert stream._pending_writes_while_frozen == [b"XY"]
        loop.run_until_quiescent()
        assert sent == [b"abcdef", b"abcdef", b"abcdef", b"cdefXY"]
        assert first.result() is None and second.result() is None
        assert peer.recv(100) == b"abcdefXY"
        assert not stream._write_buffer_frozen
    finally:
        IOLoop.clear_current()


def test_subclass_hooks_drive_the_event_dispatch():
    calls = []

    class Hooked(IOStream):
        def read_from_fd(self):
            chunk = super().read_from_fd()
            calls.append(("read_from_fd", chunk))
            return chunk.upper() if chunk else chunk

        def write_to_fd(self, data):
            calls.append(("write_to_fd", bytes(data)))
            return super().write_to_fd(data)

        def _handle_read(self):
            calls.append(("_handle_read", None))
            super()._handle_read()

        def _handle_write(self):
            calls.append(("_handle_write", None))
            super()._handle_write()

    loop = IOLoop()
    try:
        target, peer = socketpair(loop, FaultPlan(write=(SendWouldBlock(),)))
        stream = Hooked(target, io_loop=loop)
        assert isinstance(stream, BaseIOStream)
        got = stream.read_bytes(3)
        stream.write(b"out")
        peer.send(b"abc")
        loop.run_until_quiescent()
        assert got.result() == b"ABC"
        assert peer.recv(10) == b"out"
        names = [name for name, _ in calls]
        assert "_handle_read" in names and names.count("_handle_write") >= 2
        assert ("write_to_fd", b"out") in calls
    finally:
        IOLoop.clear_current()
