"""The connect side of a fake socket: a non-blocking ``connect`` decided by the plan's connect step.

Rules for this module:
- ``ConnectingSocket`` is the part of ``faultio._fakefd.FakeSocket`` that exists before (and instead of) a
  connection: ``connect``/``connect_ex``, and what ``recv``, ``send`` and a poll answer while the connect is
  pending, refused or failed. The fake fd calls into it; it holds no state of its own (the attempt is
  ``self._connect``, a ``faultio._connect_faults.ConnectAttempt``).
- Every answer is what Linux gives a non-blocking socket on loopback in the same state (EINPROGRESS, then the
  first poll; ENOTCONN, EINVAL, EAGAIN, EOF; ``SO_ERROR`` reported once); the steps and their meaning are in
  ``faultio._connect_faults``.
"""

from __future__ import annotations

import errno
from typing import Any

from ._connect_faults import POLLHUP
from ._cursor import oserror
from ._events import ERROR, READ, WRITE


class ConnectingSocket:
    """The connect half of ``FakeSocket`` (a base class: it uses the fake fd's pipes, trace and counters)."""

    _connect: Any
    _connecting: bool
    _so_error: int
    _in: Any
    _out: Any
    faults_injected: int

    def connect(self, address: Any) -> None:
        """Non-blocking connect: raises EINPROGRESS, and the first poll says how it ended (writable: connected;
        in error, with ``SO_ERROR`` set: failed; nothing, ever: timed out). The plan's connect step decides
        (``faultio._connect_faults``); an ``at-once`` refusal raises ``ConnectionRefusedError`` here."""
        self._check_open("connect")
        code = self._connect.start()
        if code == errno.ECONNREFUSED:
            self.faults_injected += 1
            self._trace("connect", address=repr(address), result="ECONNREFUSED", injected=True,
                        step=self._connect.step.kind)
            self._connect_failed("connect_refused")
            raise oserror(ConnectionRefusedError, code)
        self._connecting = True
        injected = self._connect.step is not None
        if injected:
            self.faults_injected += 1
        self._trace("connect", address=repr(address), result="EINPROGRESS", injected=injected,
                    **({"step": self._connect.step.kind} if injected else {}))
        raise oserror(BlockingIOError, errno.EINPROGRESS)

    def _connect_failed(self, why: str, code: int = 0) -> None:
        """The connection never came up: the peer reads EOF and its sends go nowhere; ``code`` is left in
        ``SO_ERROR`` (reported once, by ``getsockopt`` or the next ``recv``/``send``)."""
        self._out.fin = True
        self._in.dead = True
        self._in.discard()
        self._so_error = code
        self._trace("inject", fault=why, error=errno.errorcode.get(code, ""))

    def connect_ex(self, address: Any) -> int:
        """``connect``, returning its errno (EINPROGRESS, or ECONNREFUSED for an ``at-once`` refusal) instead of
        raising (EBADF on a closed fd is raised, as by the socket module)."""
        try:
            self.connect(address)
        except OSError as exc:
            if exc.errno == errno.EBADF:
                raise
            return exc.errno
        return 0  # pragma: no cover

    def _deliver_unconnected(self, bufsize: int, call: str) -> bytes:
        """A recv on a socket whose connect is pending (EAGAIN), refused at once (EINVAL: never connected) or
        failed (EOF, once the pending error was reported)."""
        state = self._connect.state
        if state == "connecting":
            self._trace(call, asked=bufsize, result="EAGAIN", injected=False, connecting=True)
            self._count_eagain(call)
            raise oserror(BlockingIOError, errno.EAGAIN)
        if state == "refused":
            self._trace(call, asked=bufsize, result="EINVAL", injected=False, why="never connected")
            raise oserror(OSError, errno.EINVAL)
        self._trace(call, asked=bufsize, result="EOF", nbytes=0)
        return b""

    def _reset_after_connect(self) -> None:
        """The reset a ``ConnectReset(when="established")`` left for right after the connect succeeded."""
        self._connect.reset_pending = False
        self._apply_reset("connect_reset")

    def _send_unconnected(self, asked: int) -> int:
        """A send before the connection exists: EAGAIN while the connect is pending (Linux waits for the
        handshake; non-blocking, it answers EAGAIN), ENOTCONN after an ``at-once`` refusal."""
        if self._connect.state == "refused":
            self._trace("send", asked=asked, result="ENOTCONN", injected=False, why="never connected")
            raise oserror(OSError, errno.ENOTCONN)
        self._trace("send", asked=asked, result="EAGAIN", injected=False, connecting=True)
        self._count_eagain("send")
        raise oserror(BlockingIOError, errno.EAGAIN)

    def _poll_unconnected(self) -> int:
        """Readiness while the connect has not succeeded: its first poll decides how it ends (a timeout never
        does: no event, ever); a refused or failed socket is writable and hung up (and readable and in error
        while its error is pending), as Linux reports it."""
        attempt = self._connect
        if attempt.state == "connecting" and self._connecting:
            self._connecting = False
            code = attempt.first_poll()
            if code:
                self.faults_injected += 1
                self._connect_failed("connect_reset" if code == errno.ECONNRESET else "connect_refused", code)
            elif attempt.pending:
                self._trace("inject", fault="connect_timeout")
            elif attempt.reset_pending:
                # Connected: this poll says so (writable, SO_ERROR clear); the RST lands right after it.
                self.faults_injected += 1
                return WRITE
            else:
                return self.poll_events()
        if attempt.state == "connecting":
            return 0
        if attempt.state == "refused":
            return WRITE | POLLHUP
        return READ | WRITE | POLLHUP | (ERROR if self._so_error else 0)
