"""What a faulted test touches: the monitored stream, the peers, the pair of them.

Rules for this module:
- The monitors judge; this module only *reports* to them. ``MonitoredStream`` tells the ``Monitor``
  (``harness.engine``) every read it starts, every byte it delivers and every future it returns, the
  way the harness's own ``Driver`` does, so the same invariants hold the user's code to the same account.
- The user's code sees the stream's own results and exceptions, unchanged: nothing is retried, swallowed or
  reordered on its way through. Options are forwarded only as given (a stream need not take ``callback=``).
- The peers are the yardstick, not the thing under test: a connection the plan cut reads as EOF to them
  instead of raising into the test. The ssl transport's peer is the matrix's own
  (``harness._tls_peer.MatrixTLSPeer``), so a TLS fault kind behaves the same in a test and in the matrix.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable

from faultio import Peer

from .engine import Monitor, ReadOp
from .engine.verdict import is_closed_error


#: Tornado 4's read signatures: where positional arguments land when a stream's own cannot be inspected.
_TORNADO4_POSITIONAL = {
    "read_bytes": ("num_bytes", "callback", "streaming_callback", "partial"),
    "read_until": ("delimiter", "callback", "max_bytes"),
    "read_until_regex": ("regex", "callback", "max_bytes"),
    "read_until_close": ("callback", "streaming_callback"),
}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Call:
    """One read call's arguments exactly as given; a named argument is found (and can be replaced) wherever
    it was passed, by keyword or by position in the stream's own signature."""

    def __init__(self, stream: Any, method: str, args: tuple, kwargs: dict) -> None:
        self.method = method
        self.args = list(args)
        self.kwargs = dict(kwargs)
        try:
            params = inspect.signature(getattr(stream, method)).parameters.values()
            self.positional = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        except (TypeError, ValueError):  # no signature to read: Tornado 4's
            self.positional = _TORNADO4_POSITIONAL[method]

    def _where(self, name: str) -> str | int | None:
        if name in self.kwargs:
            return name
        if name in self.positional and self.positional.index(name) < len(self.args):
            return self.positional.index(name)
        return None

    def get(self, name: str, default: Any = None) -> Any:
        where = self._where(name)
        if where is None:
            return default
        return self.kwargs[where] if isinstance(where, str) else self.args[where]

    def set(self, name: str, value: Any) -> None:
        """Replace an argument that was passed (``get`` found it)."""
        where = self._where(name)
        if isinstance(where, str):
            self.kwargs[where] = value
        elif where is not None:
            self.args[where] = value


class MonitoredStream:
    """The stream under test as a faulted test sees it: the real stream, with every read and write
    reported to the monitor. Anything not listed here is the real stream's own attribute."""

    def __init__(self, stream: Any, monitor: Monitor) -> None:
        self._faultio_stream = stream
        self._faultio_monitor = monitor
        self._faultio_close_cb: Callable[[], Any] | None = None
        self._faultio_outstanding: ReadOp | None = None
        self._faultio_writes = 0
        stream.set_close_callback(self._faultio_on_close)
        monitor.close_cb_set = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_faultio_"):
            raise AttributeError(name)
        return getattr(self._faultio_stream, name)

    def __repr__(self) -> str:
        return f"<monitored {self._faultio_stream!r}>"

    # -- reads ----------------------------------------------------------------------------------------
    # Each read is passed to the stream exactly as the test made it (positional stays positional), so
    # the stream's own signature decides what a positional argument means (Tornado 4's read_bytes takes
    # ``partial`` fourth, Tornado 6's second) and the stream's own checks answer a bad argument. The
    # monitor's model of the read is built from what the arguments turn out to be; an argument it cannot
    # model (a ``str`` delimiter, a bad regex) only makes the model weaker, never the call different.
    def read_bytes(self, *args: Any, **kwargs: Any) -> Any:
        """The stream's ``read_bytes``, reported to the monitor."""
        call = _Call(self._faultio_stream, "read_bytes", args, kwargs)
        num_bytes, partial = call.get("num_bytes"), bool(call.get("partial", False))
        op = ReadOp(f"read_bytes({num_bytes!r}{', partial=True' if partial else ''})",
                    nbytes=num_bytes if _is_count(num_bytes) else None, partial=partial)
        return self._faultio_read(op, call)

    def read_until(self, *args: Any, **kwargs: Any) -> Any:
        """The stream's ``read_until``, reported to the monitor."""
        call = _Call(self._faultio_stream, "read_until", args, kwargs)
        delimiter, max_bytes = call.get("delimiter"), call.get("max_bytes")
        known = bytes(delimiter) if isinstance(delimiter, (bytes, bytearray, memoryview)) and delimiter else None
        op = ReadOp(f"read_until({delimiter!r})", delimiter=known,
                    max_bytes=max_bytes if _is_count(max_bytes) else None)
        return self._faultio_read(op, call)

    def read_until_regex(self, *args: Any, **kwargs: Any) -> Any:
        """The stream's ``read_until_regex``, reported to the monitor."""
        call = _Call(self._faultio_stream, "read_until_regex", args, kwargs)
        regex, max_bytes = call.get("regex"), call.get("max_bytes")
        try:
            compiled = re.compile(regex)
        except (TypeError, re.error):
            compiled = None
        if compiled is not None and not isinstance(compiled.pattern, bytes):
            compiled = None  # a str pattern cannot match bytes: the stream will say so
        op = ReadOp(f"read_until_regex({getattr(regex, 'pattern', regex)!r})", regex=compiled,
                    max_bytes=max_bytes if _is_count(max_bytes) else None)
        return self._faultio_read(op, call)

    def read_until_close(self, *args: Any, **kwargs: Any) -> Any:
        """The stream's ``read_until_close``, reported to the monitor."""
        return self._faultio_read(ReadOp("read_until_close"), _Call(self._faultio_stream, "read_until_close",
                                                                     args, kwargs))

    def _faultio_read(self, op: ReadOp, call: _Call) -> Any:
        stream, monitor, method = self._faultio_stream, self._faultio_monitor, call.method
        monitor.op_started(op)
        after_close = bool(stream.closed())
        # A read started after the close callback may still be served from the buffer; its callbacks then
        # legitimately come after the close callback.
        late = monitor.close_cb_runs > 0
        user_chunk = call.get("streaming_callback")
        streaming = user_chunk is not None
        if streaming:
            def on_chunk(chunk: bytes) -> Any:
                if not late:
                    monitor.data_callback_ran("streaming")
                monitor.deliver(chunk, f"{method} streaming_callback")
                return user_chunk(chunk)

            call.set("streaming_callback", on_chunk)
        user_cb = call.get("callback")
        if user_cb is not None:
            calls = [0]

            def on_data(data: bytes = b"") -> Any:
                calls[0] += 1
                if calls[0] > 1:
                    monitor.violate("pending-exactly-once", f"the {method} callback ran {calls[0]} times")
                if not late:
                    monitor.data_callback_ran(method)
                if calls[0] == 1:
                    self._faultio_outstanding = None
                    monitor.read_finished()
                    self._faultio_result(op, method, data, streaming)
                return user_cb(data)

            call.set("callback", on_data)
            self._faultio_outstanding = op if not after_close else None
        try:
            result = getattr(stream, method)(*call.args, **call.kwargs)
        except Exception as exc:
            self._faultio_outstanding = None
            # Recorded and judged like the matrix's reads; your test still gets the exception.
            monitor.read_raised(op, method, exc, after_close=after_close, crash=False)
            raise
        if user_cb is None and hasattr(result, "add_done_callback"):
            monitor.track_future(result, method)
            result.add_done_callback(lambda f: self._faultio_done(op, method, f, streaming, after_close))
        return result

    def _faultio_done(self, op: ReadOp, method: str, future: Any, streaming: bool, after_close: bool) -> None:
        monitor = self._faultio_monitor
        exc = future.exception()
        if exc is None:
            monitor.read_finished()
            self._faultio_result(op, method, future.result(), streaming)
        else:
            if is_closed_error(exc):
                monitor.read_failed(op, exc, "future failed", after_close=after_close)
            monitor.read_finished()

    def _faultio_result(self, op: ReadOp, method: str, data: bytes, streaming: bool) -> None:
        self._faultio_monitor.read_result(op, method, data, streaming)

    # -- writes and closing ---------------------------------------------------------------------------
    def write(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        """The stream's ``write``; its callback or future is watched by the monitor."""
        stream, monitor = self._faultio_stream, self._faultio_monitor
        monitor.op_started(None)
        self._faultio_writes += 1
        label = f"write #{self._faultio_writes}"
        user_cb = kwargs.get("callback")
        if user_cb is not None:
            def on_written() -> Any:
                monitor.data_callback_ran("write")
                return user_cb()

            kwargs["callback"] = on_written
        result = stream.write(data, *args, **kwargs)
        if user_cb is None and hasattr(result, "add_done_callback"):
            monitor.track_future(result, label)
        return result

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Your close callback runs when the stream's does (the monitor watches the stream's own)."""
        self._faultio_close_cb = callback

    def _faultio_on_close(self) -> Any:
        monitor = self._faultio_monitor
        monitor.close_callback_ran()
        op, self._faultio_outstanding = self._faultio_outstanding, None
        if op is not None:
            monitor.read_failed(op, None, "closed with the read outstanding")
            monitor.read_finished()
        callback = self._faultio_close_cb
        if callback is not None:
            return callback()
        return None


# --- peers ---------------------------------------------------------------------------------------------


class ForgivingPeer(Peer):
    """``faultio.Peer`` that reads a connection the plan cut as EOF: sends into it are dropped."""

    def send_now(self, data: bytes) -> None:
        """``Peer.send_now``; a connection the plan cut sets ``eof`` instead of raising."""
        try:
            super().send_now(data)
        except (BrokenPipeError, ConnectionResetError):
            self.eof = True

    async def send_all(self, data: bytes) -> None:
        """``Peer.send_all``; a connection the plan cut sets ``eof`` instead of raising."""
        try:
            await super().send_all(data)
        except (BrokenPipeError, ConnectionResetError):
            self.eof = True
