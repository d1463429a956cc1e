"""A simulated ``ssl.SSLSocket`` over a fake fd: the stdlib's own TLS (``ssl.SSLObject``) with memory BIOs.

Rules for this module:
- The TLS is real: OpenSSL through the stdlib's ``ssl.SSLObject`` (``context.wrap_bio``). This module only
  moves ciphertext between its memory BIOs and the fake fd, and turns what the fd said into what CPython's
  ``SSLSocket`` says on a non-blocking kernel socket. Every ciphertext byte crosses the fd, so the plan's
  faults hit the TLS byte stream exactly where they hit a kernel socket's.
- It mirrors, call by call, CPython 3.10+ ``Lib/ssl.py`` ``SSLSocket`` over ``Modules/_ssl.c`` with OpenSSL
  3 and a socket BIO (checked against CPython 3.11.7 and OpenSSL 3.0 on real TCP sockets):
  - *reading* pulls ciphertext from the fd only when the SSL object wants more, and only what OpenSSL
    reads without ``read_ahead`` (its default): a record's 5-byte header, then the rest of that record,
    so ciphertext beyond the current record stays in the fd, visible to ``select()``; ``pending()`` is
    what OpenSSL has decrypted and not handed out (the rest of one record).
  - nothing readable: ``SSLWantReadError``, the SSL object's own. An EINTR from the fd (``raw`` profile)
    is one too: OpenSSL's socket BIO retries EINTR (``BIO_sock_non_fatal_error``), ``_ssl.c`` checks
    signals and, on a non-blocking socket, raises want-read.
  - EOF from the fd is fed to the SSL object (``MemoryBIO.write_eof``): without ``close_notify`` OpenSSL
    raises ``SSLEOFError`` (``SSL_ERROR_EOF``), which ``read``/``recv``/``recv_into`` turn into ``b""``/0
    when ``suppress_ragged_eofs`` (``wrap_socket``'s default, and what Tornado leaves it at); after
    ``close_notify`` a read returns ``b""``/0 (``SSL_ERROR_ZERO_RETURN`` with the shutdown received).
  - an OSError from the fd (ECONNRESET, EPIPE) is what ``_ssl.c``'s ``PySSL_SetError`` makes of a socket
    BIO's ``SSL_ERROR_SYSCALL``: raised as the OSError itself (``ConnectionResetError``) by
    ``do_handshake`` and ``unwrap``, whose OpenSSL call returns -1; but ``SSLEOFError`` ("EOF occurred in
    violation of protocol") by ``read`` and ``write``, whose ``SSL_read_ex``/``SSL_write_ex`` return 0,
    the ``ret == 0`` branch. So a reset under a read is a ragged EOF to the caller (``b""`` when
    suppressed), as it is on a kernel SSLSocket.
  - *writing* encrypts one record (at most 16 KiB of plaintext, OpenSSL's ``max_send_fragment``) at a
    time and flushes it to the fd before the next, as ``ssl3_write_bytes`` does without
    ``SSL_MODE_ENABLE_PARTIAL_WRITE``; ``send`` returns only when every byte asked is in the fd. When the
    fd takes no more (EAGAIN or EINTR), the unsent ciphertext is kept (OpenSSL's pending write buffer),
    ``SSLWantWriteError`` is raised, the plaintext of the records already flushed is remembered, and the
    retry, which must pass at least the same bytes (OpenSSL's ``BAD_LENGTH`` otherwise), flushes the kept
    ciphertext first and returns the whole count.
  - outgoing ciphertext (handshake flights, alerts, session tickets) is flushed after every SSL call that
    made some; what the fd does not take now is kept and goes first next time. ``do_handshake`` raises
    ``SSLWantWriteError`` until its flight is out, as OpenSSL's state machine does.
  - ``close()`` sends no ``close_notify`` (CPython's does not) and drops unsent ciphertext; ``unwrap()``
    does the TLS shutdown.
- Where it differs from a kernel SSLSocket, knowingly: it never blocks (the fd is always non-blocking;
  ``do_handshake_on_connect=True`` is refused); under the fd's ``cpython`` profile the fd retries an
  injected EINTR inside ``recv``/``send`` (PEP 475's rule for socket methods), whereas OpenSSL would see
  it and CPython raise want-read/want-write (the ``raw`` profile gives that); after a fatal error the
  exact follow-up errors are the memory-BIO OpenSSL's (their ``args[0]`` class, not their text, can differ
  from a socket BIO's: e.g. ``SSLSyscallError`` instead of ``SSLEOFError`` on a second failed handshake
  call); synthesised errors carry CPython's text without the ``(_ssl.c:NNNN)`` suffix; a bad-length retry
  raises without breaking the connection.
- Nothing here knows about streams, plans or the harness. The fd is anything with ``recv``/``send``/
  ``fileno`` that raises the OS's exceptions (``faultio.FakeSocket``); a kernel ``socket.socket`` goes to
  the stdlib (``SimSSLContext.wrap_socket``).
"""

from __future__ import annotations

import builtins
import socket
import ssl
from typing import Any

#: The bytes of a TLS record header (type, version, length), which OpenSSL reads before the body.
RECORD_HEADER = 5

#: The most plaintext OpenSSL puts in one record (``max_send_fragment``); ``send`` encrypts one at a time.
MAX_FRAGMENT = 16384

_EOF_TEXT = "EOF occurred in violation of protocol"


def _ssl_error(cls: type[ssl.SSLError], code: int, text: str, reason: str | None = None,
               library: str | None = None) -> ssl.SSLError:
    """An ``ssl.SSLError`` shaped as ``_ssl.c`` makes them: ``args == (code, text)``, ``reason``, ``library``."""
    error = cls(code, text)
    error.reason = reason  # type: ignore[attr-defined]
    error.library = library  # type: ignore[attr-defined]
    return error


def _want_write() -> ssl.SSLWantWriteError:
    return _ssl_error(ssl.SSLWantWriteError, ssl.SSL_ERROR_WANT_WRITE,  # type: ignore[return-value]
                      "The operation did not complete (write)")


def _ragged_eof() -> ssl.SSLEOFError:
    """What ``PySSL_SetError`` raises for ``SSL_ERROR_SYSCALL`` when ``SSL_read_ex``/``SSL_write_ex`` returned 0."""
    return _ssl_error(ssl.SSLEOFError, ssl.SSL_ERROR_EOF, _EOF_TEXT)  # type: ignore[return-value]


class SimSSLSocket:
    """The non-blocking surface of ``ssl.SSLSocket`` over a fake fd (made by ``wrap_socket``, never directly).

    Supports what a stream reader calls on a kernel ``SSLSocket``: ``do_handshake``, ``recv``,
    ``recv_into``, ``read``, ``send``, ``sendall``, ``write``, ``pending``, ``unwrap``, ``close``,
    ``shutdown``, ``fileno``, ``getpeercert`` and the other session queries, and the socket calls it passes
    to the fd (``setblocking``, ``getsockopt``, ``getpeername``, ...). See the module's rules for what it
    mirrors and where it differs.
    """

    def __init__(self, sock: Any, *, context: ssl.SSLContext, server_side: bool, server_hostname: str | None,
                 suppress_ragged_eofs: bool, session: Any) -> None:
        self._sock = sock
        self._context = context
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.do_handshake_on_connect = False
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._sslobj: ssl.SSLObject | None = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, server_hostname=server_hostname,
            session=session)
        self._closed = False
        self._timeout: float | None = None
        #: Ciphertext made and not yet taken by the fd (OpenSSL's pending write buffer), sent first next time.
        self._out = b""
        #: Plaintext bytes of an interrupted ``send`` already flushed in whole records (OpenSSL's ``wnum``), and
        #: of the record whose ciphertext waits in ``_out`` (``wpend_tot``): both count once it is out.
        self._wnum = 0
        self._wpend = 0
        #: Where the incoming ciphertext is in its record framing: header bytes seen, body bytes still due.
        self._header = bytearray()
        self._body_due = 0

    @classmethod
    def create(cls, sock: Any, *, context: ssl.SSLContext, server_side: bool = False,
               do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True,
               server_hostname: str | None = None, session: Any = None) -> SimSSLSocket:
        """Wrap ``sock`` as ``context.wrap_socket`` would (its argument checks included)."""
        if server_side:
            if server_hostname:
                raise ValueError("server_hostname can only be specified in client mode")
            if session is not None:
                raise ValueError("session can only be specified in client mode")
        if context.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        if do_handshake_on_connect:
            # CPython refuses it on a non-blocking socket and blocks on a blocking one; a fake fd never blocks.
            raise ValueError("do_handshake_on_connect should not be specified for non-blocking sockets "
                             "(a faultio fake fd never blocks: pass do_handshake_on_connect=False and call "
                             "do_handshake() when the fd is ready)")
        self = cls(sock, context=context, server_side=server_side, server_hostname=server_hostname,
                   suppress_ragged_eofs=suppress_ragged_eofs, session=session)
        self._trace("wrap", server_side=server_side)
        return self

    def __repr__(self) -> str:
        state = "closed" if self._closed else "unwrapped" if self._sslobj is None else "open"
        return f"<SimSSLSocket fd={self.fileno()} {state} server_side={self.server_side}>"

    # -- the socket underneath ----------------------------------------------------------------------
    @property
    def family(self) -> Any:
        return getattr(self._sock, "family", socket.AF_UNIX)

    @property
    def type(self) -> Any:
        return getattr(self._sock, "type", socket.SOCK_STREAM)

    @property
    def proto(self) -> int:
        return getattr(self._sock, "proto", 0)

    @property
    def context(self) -> ssl.SSLContext:
        """The ``ssl.SSLContext`` this socket was wrapped with."""
        return self._context

    def fileno(self) -> int:
        """The fd's number (-1 once closed, as a kernel socket's)."""
        return -1 if self._closed else self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        """Recorded (``gettimeout``); every call stays non-blocking whatever it says."""
        self._timeout = None if flag else 0.0
        self._sock.setblocking(flag)

    def settimeout(self, value: float | None) -> None:
        """Recorded (``gettimeout``); every call stays non-blocking whatever it says."""
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    def getsockopt(self, *args: Any) -> Any:
        return self._sock.getsockopt(*args)

    def setsockopt(self, *args: Any) -> None:
        self._sock.setsockopt(*args)

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    def connect(self, address: Any) -> None:
        """Connect the socket underneath (``do_handshake_on_connect=False``: the handshake is the caller's)."""
        self._sock.connect(address)

    def connect_ex(self, address: Any) -> int:
        """``connect``, returning its errno instead of raising."""
        return self._sock.connect_ex(address)

    def getsockname(self) -> Any:
        return self._sock.getsockname()

    # -- TLS session queries (as ``ssl.SSLSocket``'s, through the SSL object) ----------------------------
    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate; ``ValueError`` before the handshake, as the stdlib's."""
        return self._sslobj.getpeercert(binary_form)  # type: ignore[union-attr]

    def cipher(self) -> Any:
        return None if self._sslobj is None else self._sslobj.cipher()

    def version(self) -> str | None:
        return None if self._sslobj is None else self._sslobj.version()

    def selected_alpn_protocol(self) -> str | None:
        return None if self._sslobj is None else self._sslobj.selected_alpn_protocol()

    def shared_ciphers(self) -> Any:
        return None if self._sslobj is None else self._sslobj.shared_ciphers()

    def compression(self) -> Any:
        return None if self._sslobj is None else self._sslobj.compression()

    @property
    def session(self) -> Any:
        return None if self._sslobj is None else self._sslobj.session

    @property
    def session_reused(self) -> bool | None:
        return None if self._sslobj is None else self._sslobj.session_reused

    def pending(self) -> int:
        """Decrypted bytes the SSL object holds that a read returns without touching the fd."""
        return 0 if self._sslobj is None else self._sslobj.pending()

    # -- handshake ------------------------------------------------------------------------------------
    def _drive(self, name: str, step: Any) -> None:
        """Run ``step`` (the SSL object's handshake or shutdown) as far as the fd allows: flush what it wrote,
        pull ciphertext while it wants more and the fd has some, and raise want-read/want-write, an
        ``SSLError`` (its alert flushed first) or the fd's ``OSError`` where CPython's ``SSLSocket`` would.
        A failure is traced as ``name``'s outcome."""
        try:
            self._flush_or_want_write()
            while True:
                try:
                    step()
                except ssl.SSLWantReadError:
                    self._flush_or_want_write()
                    if self._pull():
                        continue
                    raise
                except ssl.SSLError:
                    self._flush_quietly()
                    raise
                self._flush_or_want_write()
                return
        except BaseException as exc:
            self._trace(name, result=_outcome(exc))
            raise

    def do_handshake(self, block: bool = False) -> None:
        """One step of the handshake: returns when it is complete and its last flight is in the fd; raises
        ``SSLWantReadError``/``SSLWantWriteError`` to be called again when the fd is readable/writable, an
        ``SSLError`` when TLS fails (its alert flushed first), or the fd's ``OSError`` (``ConnectionResetError``)."""
        sslobj = self._sslobj
        if sslobj is None:
            # CPython calls ``self._sslobj.do_handshake()``; Tornado catches the AttributeError this gives.
            raise AttributeError("'NoneType' object has no attribute 'do_handshake'")
        self._drive("do_handshake", sslobj.do_handshake)
        self._trace("do_handshake", result="done", version=sslobj.version())

    # -- reading --------------------------------------------------------------------------------------
    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """``ssl.SSLSocket.read``: up to ``len`` bytes (into ``buffer`` when given, returning the count);
        ``b""``/0 at a clean EOF, and at a ragged one when ``suppress_ragged_eofs``."""
        if self._sslobj is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        call = "read" if buffer is None else "read_into"
        try:
            result = self._read(len, buffer)
        except ssl.SSLError as exc:
            if exc.args[0] == ssl.SSL_ERROR_EOF and self.suppress_ragged_eofs:
                self._trace(call, result="EOF", ragged=True, suppressed=_outcome(exc))
                return 0 if buffer is not None else b""
            self._trace(call, result=_outcome(exc))
            raise
        except BaseException as exc:
            self._trace(call, result=_outcome(exc))
            raise
        nbytes = result if buffer is not None else builtins.len(result)
        self._trace(call, result="data" if nbytes else "EOF", nbytes=nbytes, pending=self.pending())
        return result

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if self._sslobj is None:
            return self._sock.recv(buflen, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to recv() on {self.__class__}")
        return self.read(buflen)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        if not nbytes:
            with memoryview(buffer) as view:
                nbytes = view.nbytes or 1024
        if self._sslobj is None:
            return self._sock.recv_into(buffer, nbytes, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to recv_into() on {self.__class__}")
        return self.read(nbytes, buffer)

    def _read(self, n: int, buffer: Any) -> Any:
        sslobj = self._sslobj
        assert sslobj is not None
        while True:
            try:
                result = sslobj.read(n, buffer) if buffer is not None else sslobj.read(n)
            except ssl.SSLWantReadError:
                self._flush_quietly()
                try:
                    pulled = self._pull()
                except OSError as exc:
                    # SSL_read_ex returned 0 with the BIO's errno set: _ssl.c's ``ret == 0`` branch.
                    raise _ragged_eof() from exc
                if pulled:
                    continue
                raise
            except ssl.SSLError:
                self._flush_quietly()  # the alert OpenSSL wrote for it
                raise
            self._flush_quietly()
            return result

    def _pull(self) -> bool:
        """Move the ciphertext OpenSSL reads next (the rest of a record header, or of a record body) from the
        fd into the SSL object. True when something arrived (bytes, or EOF); False when the fd had nothing
        (EAGAIN, or EINTR which OpenSSL's socket BIO retries later). Other OSErrors propagate."""
        if self._incoming.eof:
            return False
        want = self._body_due or RECORD_HEADER - len(self._header)
        try:
            data = self._sock.recv(want)
        except (BlockingIOError, InterruptedError):
            return False
        if not data:
            self._incoming.write_eof()
            return True
        self._incoming.write(data)
        if self._body_due:
            self._body_due -= len(data)
        else:
            self._header += data
            if len(self._header) == RECORD_HEADER:
                self._body_due = int.from_bytes(self._header[3:5], "big")
                self._header.clear()
        return True

    # -- writing --------------------------------------------------------------------------------------
    def write(self, data: Any) -> int:
        """``ssl.SSLSocket.write``: all of ``data`` as TLS records; raises ``SSLWantWriteError`` when the fd
        fills up (call again with at least the same bytes), ``SSLEOFError`` when the fd is reset or shut."""
        if self._sslobj is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        try:
            sent = self._write(data)
        except BaseException as exc:
            self._trace("send", result=_outcome(exc), committed=self._wnum)
            raise
        self._trace("send", result="data", nbytes=sent)
        return sent

    def send(self, data: Any, flags: int = 0) -> int:
        if self._sslobj is None:
            return self._sock.send(data, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to send() on {self.__class__}")
        return self.write(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """``send`` until everything went (on a non-blocking socket a full fd raises, as CPython's does)."""
        if self._sslobj is None:
            self._sock.sendall(data, flags)
            return
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to sendall() on {self.__class__}")
        with memoryview(data) as view, view.cast("B") as byte_view:
            count = 0
            while count < len(byte_view):
                count += self.send(byte_view[count:])

    def _write(self, data: Any) -> int:
        sslobj = self._sslobj
        assert sslobj is not None
        with memoryview(data) as raw, raw.cast("B") as view:
            total = len(view)
            if total < self._wnum or (self._out and total < self._wnum + self._wpend):
                raise _ssl_error(ssl.SSLError, ssl.SSL_ERROR_SSL, "[SSL: BAD_LENGTH] bad length", "BAD_LENGTH",
                                 "SSL")
            done, self._wnum = self._wnum, 0
            if self._out or self._wpend:  # the record an earlier send could not get out goes first
                self._flush_for_write(done)
                done, self._wpend = done + self._wpend, 0
            while done < total:
                size = min(MAX_FRAGMENT, total - done)
                sslobj.write(view[done:done + size])
                self._out += self._outgoing.read()
                self._wpend = size
                self._flush_for_write(done)
                done, self._wpend = done + size, 0
            return done

    def _flush_for_write(self, done: int) -> None:
        """Flush for ``write``: on a full fd keep ``done`` for the retry and raise want-write; on a reset or
        a shut connection raise what ``SSL_write_ex`` returning 0 gives (``SSLEOFError``)."""
        try:
            flushed = self._flush()
        except OSError as exc:
            self._wnum = done
            raise _ragged_eof() from exc
        if not flushed:
            self._wnum = done
            raise _want_write()

    # -- the fd ---------------------------------------------------------------------------------------
    def _flush(self) -> bool:
        """Send what the SSL object wrote, in order, after what waited: True when the fd took all of it,
        False when it would block (EAGAIN, or EINTR, which OpenSSL's socket BIO retries later)."""
        self._out += self._outgoing.read()
        while self._out:
            try:
                sent = self._sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                return False
            if sent <= 0:
                return False
            self._out = self._out[sent:]
        return True

    def _flush_or_want_write(self) -> None:
        """Flush for the handshake or shutdown: want-write on a full fd; the fd's OSError itself otherwise
        (OpenSSL returns -1 there, and _ssl.c raises the BIO's errno)."""
        if not self._flush():
            raise _want_write()

    def _flush_quietly(self) -> None:
        """Flush after a read, when it made output (an alert, a post-handshake message), after what waited;
        a read that made none leaves a waiting record to the next send, as ``SSL_read`` does. What the fd
        does not take waits, and a write error shows at the next send."""
        if not self._outgoing.pending:
            return
        try:
            self._flush()
        except OSError:
            pass

    # -- closing --------------------------------------------------------------------------------------
    def unwrap(self) -> SimSSLSocket:
        """The TLS shutdown (``close_notify`` both ways); returns this socket, now plain, as CPython's
        returns its socket. Raises want-read/want-write until the peer's ``close_notify`` arrived."""
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError(f"No SSL wrapper around {self}")
        self._drive("unwrap", sslobj.unwrap)
        self._trace("unwrap", result="done")
        self._sslobj = None
        return self

    def shutdown(self, how: int) -> None:
        """``socket.shutdown`` on the fd; the SSL object is dropped first, as CPython's ``SSLSocket`` does."""
        self._sslobj = None
        self._sock.shutdown(how)

    def close(self) -> None:
        """Close the fd without ``close_notify`` (as CPython's ``SSLSocket.close``); unsent ciphertext is lost."""
        if self._closed:
            return
        self._trace("close", unsent=len(self._out))
        self._closed = True
        self._sslobj = None
        self._out = b""
        self._sock.close()

    def _trace(self, call: str, **detail: Any) -> None:
        trace = getattr(getattr(self._sock, "loop", None), "trace", None)
        if trace is not None:
            trace.record("fd", "ssl", fd=getattr(self._sock, "fd", None), call=call, **detail)


def _outcome(exc: BaseException) -> str:
    """An exception as a trace value: its class and, for ``SSLError``/``OSError``, its code."""
    code = exc.args[0] if isinstance(exc, OSError) and exc.args and isinstance(exc.args[0], int) else None
    return type(exc).__name__ if code is None else f"{type(exc).__name__}({code})"


class SimSSLContext(ssl.SSLContext):
    """An ``ssl.SSLContext`` whose ``wrap_socket`` wraps a faultio fake fd in a ``SimSSLSocket`` (and a kernel
    socket as the stdlib does), so code that takes an ``SSLContext`` and calls ``wrap_socket`` (Tornado's
    ``ssl_wrap_socket``, ``TCPServer``, ``start_tls``) runs over the simulated kernel unchanged."""

    def wrap_socket(self, sock: Any, server_side: bool = False, do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: str | None = None,
                    session: Any = None) -> Any:
        if isinstance(sock, socket.socket):
            return super().wrap_socket(sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
                                       suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
                                       session=session)
        return wrap_socket(self, sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
                           suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
                           session=session)


def wrap_socket(context: ssl.SSLContext, sock: Any, **kwargs: Any) -> SimSSLSocket:
    """``context.wrap_socket(sock, **kwargs)`` for a fake fd, with any stdlib ``ssl.SSLContext``."""
    return SimSSLSocket.create(sock, context=context, **kwargs)
