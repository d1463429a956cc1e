"""Invariants about injected kernel faults: EINTR is invisible, a reset closes quietly with its error."""

from __future__ import annotations

import logging
from typing import Any

from ..registry import Checker, invariant
from ..verdict import RESET_FAMILY, is_buffer_full, is_unsatisfiable

GROUP = "reader contract"
_RECV = ("recv", "recv_into")
_RESET_FAULTS = ("reset", "send_reset", "peer_reset")


def _is_eintr(error: object) -> bool:
    return isinstance(error, InterruptedError) or (isinstance(error, OSError) and getattr(error, "errno", None) == 4)


def _mentions_eintr(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    text = record.getMessage()
    return _is_eintr(exc) or "Interrupted system call" in text or "EINTR" in text


class _EintrWatch(Checker):
    """Shared by the two EINTR rules: which fd call (read or write) the last injected EINTR hit."""

    DIRECTION = ""
    FD_RESULTS = frozenset({"EINTR"})

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self.last: str | None = None

    def on_fd_record(self, record: tuple[Any, ...]) -> None:
        if record[5].get("result") == "EINTR":
            self.last = "read" if record[4] in _RECV else "write"

    def mine(self) -> bool:
        return self.last == self.DIRECTION

    def on_log(self, record: logging.LogRecord) -> None:
        if self.mine() and _mentions_eintr(record):
            self.violate(f"EINTR on a {self.DIRECTION} produced a log line: {record.levelname} "
                         f"{record.getMessage()[:120]!r}")

    def on_close(self) -> None:
        error = self.monitor.attr("error", None)
        if self.mine() and _is_eintr(error):
            self.violate(f"the stream closed with error {error!r} after an EINTR on a {self.DIRECTION}")


@invariant("eintr-invisible", klass="contract", group=GROUP, builtin=True, observes=("trace", "logs", "stream-state"),
           explanation="EINTR on a read is retried: no close, no log line, no lost byte.")
class EintrInvisible(_EintrWatch):
    DIRECTION = "read"


@invariant("eintr-write-retried", klass="design", group=GROUP, builtin=True,
           observes=("trace", "logs", "stream-state"),
           explanation="EINTR on a write is retried: no close, no log line (Tornado 4.x closes the stream; "
           "CPython 3.5+ sockets retry EINTR inside send() themselves, PEP 475).")
class EintrWriteRetried(_EintrWatch):
    DIRECTION = "write"


@invariant("reset-quiet-close", klass="contract", group=GROUP, builtin=True,
           observes=("trace", "logs", "stream-state"),
           explanation="ECONNRESET (or a ragged TLS EOF) closes the stream quietly with error set to that "
           "exception; futures fail with StreamClosedError(real_error=it).")
class ResetQuietClose(Checker):
    FD_RESULTS = frozenset({"ECONNRESET", "EPIPE"})

    def __init__(self, monitor: Any) -> None:
        super().__init__(monitor)
        self._seen = False

    def on_fd_record(self, record: tuple[Any, ...]) -> None:
        if record[5].get("result") in ("ECONNRESET", "EPIPE"):
            self._seen = True

    def on_log(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        text = record.getMessage()
        if record.levelno >= logging.WARNING and (isinstance(exc, RESET_FAMILY) or "reset by peer" in text
                                                  or "Broken pipe" in text):
            self.violate(f"a connection reset was logged: {record.levelname} {text[:120]!r}")

    def on_close(self) -> None:
        if not self._seen:
            return
        m = self.monitor
        error = m.attr("error", None)
        if error is not None and not isinstance(error, RESET_FAMILY) and not (is_buffer_full(error)
                                                                              or is_unsatisfiable(error)
                                                                              or _eof_error(m, error)):
            self.violate(f"after a connection reset the stream's error is {error!r}, not the reset")
        if error is None and m.fd.faults_injected and any(
            e.get("fault") in _RESET_FAULTS for e in m.loop.trace.events("fd", "inject")
        ):
            self.violate("the stream closed after a connection reset with error None")


def _eof_error(monitor: Any, error: BaseException) -> bool:
    """Whether ``error`` is an EOF (a TLS stream's ``SSLEOFError``: the FIN came without ``close_notify``) and
    the plan injected the peer's FIN: a peer that hung up both ways (``limit-data``) makes a send fail with EPIPE
    and a read see the FIN, and the stream may close with either."""
    return "EOF" in type(error).__name__ and any(e.get("fault") == "eof"
                                                 for e in monitor.loop.trace.events("fd", "inject"))
