"""SSLIOStream: the seed's stream with TLS, over pyOpenSSL in memory-BIO mode.

Rules for this module:
- The TLS object never touches the fd. Ciphertext moves between the fd and the SSL object's memory BIOs
  only here, through ``self.socket.recv``/``send``, so every byte of it passes through the fault plan.
- Buffering, callbacks and close ordering belong to ``BaseIOStream``; this module only supplies the fd
  hooks (``read_from_fd``, ``write_to_fd``, ``close_fd``) and the handshake states around them.
- Everything the peer can do wrong (bad records, alerts, a failed handshake, EOF without close_notify)
  ends as a closed stream with ``error`` set, never as an exception escaping the loop. TLS failures are
  raised into the base as ``OSError`` subclasses (``TLSError``, ``RaggedEOFError``) so its ordinary
  read/write error paths handle them.
- The drain rule (see ``SSLIOStream.read_from_fd``) is the point of this module. ``NonDrainingSSLIOStream``
  breaks it on purpose and must stay importable: the harness uses it as a negative control.
"""

from __future__ import annotations

import errno
import ipaddress
import sys
from typing import Any, Callable

from cryptography import x509
from OpenSSL import SSL

from ._future import Future
from ._iostream import IOStream
from ._iostream_util import gen_log, is_connreset
from ._loop import IOLoop

#: How much ciphertext one fd read asks for. Independent of ``read_chunk_size`` (which bounds the
#: *plaintext* taken per read): a small plaintext chunk must not turn into one recv per few bytes.
CIPHERTEXT_CHUNK = 65536

#: The most plaintext handed to ``SSL_write`` per ``write_to_fd``: four full records.
MAX_WRITE_PLAINTEXT = 4 * 16384

_VERIFY_NAMES = {
    value: name for name, value in vars(SSL.X509VerificationCodes).items() if isinstance(value, int)
}


class TLSError(OSError):
    """The TLS layer rejected what the peer sent (a bad record, an alert, a failed handshake).

    ``__cause__`` is the ``OpenSSL.SSL.Error`` behind it. An ``OSError`` so the stream's ordinary read
    and write error paths close the stream with it as ``error``.
    """


class TLSHandshakeError(TLSError):
    """The TLS handshake failed; the stream closed before any application byte moved."""


class CertificateVerificationError(TLSHandshakeError):
    """The peer's certificate did not verify: an untrusted chain, or not valid for the expected host.

    ``verify_code`` is OpenSSL's ``X509_V_ERR_*`` code, ``verify_message`` says what was wrong.
    """

    def __init__(self, verify_code: int, verify_message: str) -> None:
        super().__init__(f"certificate verify failed: {verify_message}")
        self.verify_code = verify_code
        self.verify_message = verify_message


class RaggedEOFError(ConnectionResetError):
    """The connection ended without TLS ``close_notify`` (a *ragged* EOF).

    A truncation attack looks exactly like this, so it is a reset, not a clean EOF: the stream closes
    quietly with this as ``error``. Its errno is ``ECONNRESET``.
    """

    def __init__(self, message: str = "TLS connection closed without close_notify (ragged EOF)") -> None:
        super().__init__(errno.ECONNRESET, message)


def hostname_matches(cert: x509.Certificate, hostname: str) -> bool:
    """True if ``cert``'s subjectAltName covers ``hostname`` (DNS names, one leading ``*.``, or IPs).

    No common-name fallback, as in every current TLS client.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        address = None
    if address is not None:
        return address in san.get_values_for_type(x509.IPAddress)
    host = hostname.rstrip(".").lower()
    for pattern in san.get_values_for_type(x509.DNSName):
        pattern = pattern.rstrip(".").lower()
        if pattern == host:
            return True
        # A wildcard stands for exactly one whole, non-empty leftmost label.
        if pattern.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == pattern[2:]:
                return True
    return False


def _default_context(server_side: bool) -> SSL.Context:
    from . import _certs  # the test certificates are only generated if somebody relies on the default

    return _certs.server_context() if server_side else _certs.client_context()


class SSLIOStream(IOStream):
    """An ``IOStream`` speaking TLS (client or server) over a socket-like object.

    ``ssl_options`` is an ``OpenSSL.SSL.Context`` (see ``faultio._certs``), or ``None`` for faultio's
    test certificates. A client sends ``server_hostname`` as SNI and, if its context verifies the peer
    (``VERIFY_PEER``), checks that the certificate is valid for that name. The handshake starts on the
    first loop iteration and is driven by fd events; reads wait for it, writes made before it completes
    are queued and sent after it. ``wait_for_handshake`` reports its end. Remaining arguments are
    ``BaseIOStream``'s (``io_loop``, ``max_buffer_size``, ``read_chunk_size``, ``max_write_buffer_size``).
    """

    def __init__(
        self,
        socket: Any,
        ssl_options: SSL.Context | None = None,
        *args: Any,
        server_side: bool = False,
        server_hostname: str | None = None,
        **kwargs: Any,
    ) -> None:
        if ssl_options is None:
            ssl_options = _default_context(server_side)
        if not isinstance(ssl_options, SSL.Context):
            raise TypeError(
                f"ssl_options must be an OpenSSL.SSL.Context or None, not {type(ssl_options).__name__}; "
                "faultio._certs.server_context()/client_context() build suitable ones"
            )
        super().__init__(socket, *args, **kwargs)
        self.server_side = server_side
        self._server_hostname = server_hostname
        self._tls = SSL.Connection(ssl_options, None)
        #: Ciphertext taken out of the SSL object and not yet accepted by the fd.
        self._cipher_out = bytearray()
        # Plaintext bytes at the head of the write buffer already encrypted into _cipher_out (see
        # write_to_fd): reported written once _cipher_out is empty.
        self._unacked = 0
        self._handshaking = True
        # True until the first handshake step ran: the only time WRITE is wanted with nothing to send
        # (a writable fd is the signal to start). Never set again, so no WRITE spin can come from it.
        self._handshake_kick = True
        self._verify_failure: tuple[int, str] | None = None
        self._ssl_connect_callback: Callable[..., Any] | None = None
        mode = self._tls.get_verify_mode()
        if mode & SSL.VERIFY_PEER:
            # Keep OpenSSL's chain verification (the callback gets its verdict as ``ok``), remember why
            # it failed, and add the host-name check to it.
            self._tls.set_verify(mode, self._verify_certificate)
        if server_side:
            self._tls.set_accept_state()
        else:
            self._tls.set_connect_state()
            if server_hostname:
                self._set_server_hostname(server_hostname)
        # A writable fd is the signal to take the first handshake step (a client sends its hello).
        self._add_io_state(IOLoop.WRITE)

    def _set_server_hostname(self, server_hostname: str) -> None:
        self._server_hostname = server_hostname
        try:
            ipaddress.ip_address(server_hostname)
        except ValueError:
            self._tls.set_tlsext_host_name(server_hostname.encode("idna"))  # SNI: never for IP literals

    # -- public --------------------------------------------------------------------------------------
    def wait_for_handshake(self, callback: Callable[[], Any] | None = None) -> Future | None:
        """Report the end of the TLS handshake.

        Without ``callback``, returns a future resolving to this stream once the handshake succeeded, or
        failing with ``StreamClosedError(real_error=...)`` if it failed. With ``callback``, it runs (with
        no arguments) on a later iteration after success; a failure is reported by the close callback.
        """
        if self._ssl_connect_callback is not None or self._ssl_connect_future is not None:
            raise RuntimeError("Already waiting for the handshake")
        future: Future | None = None
        if callback is not None:
            self._ssl_connect_callback = callback
        else:
            future = self._ssl_connect_future = Future(label="wait_for_handshake")
        if not self._handshaking:
            self._run_ssl_connect_callback()
        elif self.closed():
            self._maybe_run_close_callback()
        return future

    def connect(
        self, address: Any, callback: Callable[..., Any] | None = None, server_hostname: str | None = None
    ) -> Future | None:
        """Connect, then complete the TLS handshake; the future (or callback) reports the handshake.

        ``server_hostname`` overrides the one given at construction (SNI and verification).
        """
        if server_hostname is not None and not self.server_side:
            self._set_server_hostname(server_hostname)
        super().connect(address, callback=lambda: None)
        return self.wait_for_handshake(callback)

    @property
    def handshake_done(self) -> bool:
        """True once the handshake succeeded."""
        return not self._handshaking

    @property
    def tls_version(self) -> str | None:
        """The negotiated protocol (``"TLSv1.2"``, ``"TLSv1.3"``) once the handshake is done."""
        return None if self._handshaking else self._tls.get_protocol_version_name()

    @property
    def server_name(self) -> str | None:
        """Client: the name asked for. Server: the SNI name the client sent (``None`` if none)."""
        if not self.server_side:
            return self._server_hostname
        name = self._tls.get_servername()
        return name.decode("idna") if name else None

    def peer_certificate(self) -> x509.Certificate | None:
        """The peer's certificate (a ``cryptography`` object) once the handshake is done."""
        if self._handshaking:
            return None
        return self._tls.get_peer_certificate(as_cryptography=True)

    # -- states -------------------------------------------------------------------------------------
    def writing(self) -> bool:
        """True while ciphertext waits for the fd, before the first handshake step, or (once the handshake is
        done) while plaintext waits to be sent."""
        # Ciphertext waiting for the fd always wants WRITE. During the handshake queued *application*
        # bytes do not: they cannot be sent yet, and WRITE on an always-writable fd would fire every
        # iteration for nothing (the 4.x busy loop of a server that writes before its handshake ends).
        if self._cipher_out:
            return True
        if self._handshaking:
            return self._handshake_kick
        return super().writing()

    def _add_io_state(self, state: int) -> None:
        if self._handshaking and not self.writing():
            # Same reason as in writing(): ``write()`` asks for WRITE when it queued bytes; during the
            # handshake that would be a spin. The handshake asks for WRITE itself when it has output.
            state &= ~IOLoop.WRITE
            if not state:
                return
        super()._add_io_state(state)

    def _is_connreset(self, exc: BaseException) -> bool:
        return isinstance(exc, RaggedEOFError) or is_connreset(exc)

    # -- ciphertext plumbing --------------------------------------------------------------------------
    def _flush_ciphertext(self) -> None:
        """Move the SSL object's output to ``_cipher_out`` and send as much of it as the fd takes.

        EINTR is retried, EAGAIN (or a short send) keeps the rest for the next WRITE event; any other
        ``OSError`` propagates.
        """
        while True:
            try:
                self._cipher_out += self._tls.bio_read(CIPHERTEXT_CHUNK)
            except SSL.WantReadError:
                break
        while self._cipher_out:
            try:
                with memoryview(self._cipher_out) as view:
                    sent = self.socket.send(view)
            except InterruptedError:
                continue
            except BlockingIOError:
                break
            except OSError as exc:
                # The traceback keeps the fd's frame alive, and with it a view of _cipher_out that would
                # make the buffer unresizable for as long as the exception is kept (as ``error``).
                raise exc.with_traceback(None) from None
            if not sent:
                break
            del self._cipher_out[:sent]

    def _flush_and_watch(self) -> None:
        """``_flush_ciphertext``, then make sure a WRITE event will send what is left."""
        self._flush_ciphertext()
        if self._cipher_out:
            self._add_io_state(IOLoop.WRITE)

    def _recv_ciphertext(self) -> bytes | None:
        """One fd read for the SSL object: bytes, ``b""`` at EOF, ``None`` on EAGAIN.

        EINTR is retried here; resets and other ``OSError``s propagate.
        """
        while True:
            try:
                return self.socket.recv(CIPHERTEXT_CHUNK)
            except InterruptedError:
                continue
            except BlockingIOError:
                return None

    def _feed_ciphertext(self) -> bool:
        """Give the SSL object the fd's next ciphertext; False when the fd has nothing (EAGAIN)."""
        chunk = self._recv_ciphertext()
        if chunk is None:
            return False
        if chunk:
            self._tls.bio_write(chunk)
        else:
            # EOF on the fd: the SSL object reports close_notify (clean) or a ragged EOF next.
            self._tls.bio_shutdown()
        return True

    # -- handshake ----------------------------------------------------------------------------------
    def _verify_certificate(self, conn: SSL.Connection, cert: Any, code: int, depth: int, ok: int) -> bool:
        try:
            if not ok:
                if self._verify_failure is None:
                    self._verify_failure = (code, _VERIFY_NAMES.get(code, f"X509_V_ERR {code}"))
                return False
            if depth == 0 and self._server_hostname:
                leaf = cert.to_cryptography()
                if not hostname_matches(leaf, self._server_hostname):
                    try:
                        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                        valid = ", ".join(str(n.value) for n in names)
                    except x509.ExtensionNotFound:
                        valid = "no subjectAltName"
                    self._verify_failure = (
                        SSL.X509VerificationCodes.ERR_HOSTNAME_MISMATCH,
                        f"host name {self._server_hostname!r} does not match the certificate ({valid})",
                    )
                    return False
            return True
        except Exception as exc:  # a callback exception would be swallowed by pyOpenSSL: record it
            self._verify_failure = (-1, f"verification raised {exc!r}")
            return False

    def _do_handshake(self) -> bool:
        """Drive the handshake as far as the fd allows; True if it completed in this call.

        Feeds the SSL object until it completes or the fd has nothing more (EAGAIN), flushing its output
        on every turn. On failure the stream is closed with ``error`` set and nothing is raised.
        """
        self._handshake_kick = False
        try:
            while True:
                try:
                    self._tls.do_handshake()
                except (SSL.WantReadError, SSL.WantWriteError):
                    self._flush_ciphertext()
                    if not self._feed_ciphertext():
                        break  # wait for READ (and WRITE if output is left)
                    continue
                self._flush_ciphertext()
                self._handshaking = False
                break
        except SSL.Error as exc:
            self._handshake_failed(exc)
            return False
        except OSError as exc:
            # The fd failed under the handshake (reset, EPIPE...): same treatment as in a read.
            if not self._is_connreset(exc):
                gen_log.warning("Error during TLS handshake on %s: %s", self._fd_label(), exc)
            self.close(exc_info=(type(exc), exc, exc.__traceback__))
            return False
        if self._handshaking:
            self._add_io_state(IOLoop.READ | (IOLoop.WRITE if self._cipher_out else 0))
            return False
        if self._cipher_out:
            self._add_io_state(IOLoop.WRITE)
        self._run_ssl_connect_callback()
        return True

    def _handshake_failed(self, exc: SSL.Error) -> None:
        error: BaseException
        if self._verify_failure is not None:
            error = CertificateVerificationError(*self._verify_failure)
        elif isinstance(exc, SSL.SysCallError):
            error = RaggedEOFError("the connection ended during the TLS handshake")
        else:
            error = TLSHandshakeError(f"TLS handshake failed: {exc}")
        error.__cause__ = exc
        if not isinstance(error, RaggedEOFError):
            gen_log.warning("TLS handshake failed on %s: %s", self._fd_label(), error)
        try:
            self._flush_ciphertext()  # let the peer see our alert, if we produced one
        except OSError:
            pass
        self.close(exc_info=(type(error), error, None))

    def _run_ssl_connect_callback(self) -> None:
        if self._ssl_connect_callback is not None:
            callback, self._ssl_connect_callback = self._ssl_connect_callback, None
            self._run_callback(callback)
        if self._ssl_connect_future is not None:
            future, self._ssl_connect_future = self._ssl_connect_future, None
            future.set_result(self)

    def _after_handshake(self) -> None:
        """The handshake just completed: send the writes queued meanwhile, serve a waiting read."""
        if self.closed():
            return
        # Also with nothing queued: a write(b"") made during the handshake still waits to be completed.
        if self._write_buffer_size or self._cipher_out or self._write_callback is not None or self._write_futures:
            self._handle_write()
        # The peer's last handshake flight may have carried application records in the same fd read
        # (a TLS 1.3 client sends Finished and data together). They sit in the SSL object now and the
        # fd will never signal them: a waiting read must look for them at once (the drain rule).
        if not self.closed() and self.reading():
            super()._handle_read()

    # -- event hooks ---------------------------------------------------------------------------------
    def _handle_read(self) -> None:
        if self._handshaking:
            if self._do_handshake():
                self._after_handshake()
            return
        super()._handle_read()

    def _handle_write(self) -> None:
        if self._connecting:
            return
        if self._handshaking:
            if self._do_handshake():
                self._after_handshake()
            return
        try:
            self._flush_ciphertext()
        except OSError as exc:
            if not self._is_connreset(exc):
                gen_log.warning("Write error on %s: %s", self._fd_label(), exc)
            self.close(exc_info=(type(exc), exc, exc.__traceback__))
            return
        super()._handle_write()
        if self._cipher_out and not self.closed():
            self._add_io_state(IOLoop.WRITE)

    # -- fd hooks -----------------------------------------------------------------------------------
    def read_from_fd(self) -> bytes | None:
        """Plaintext from the SSL object, feeding it ciphertext from the fd as needed; ``None`` = EAGAIN.

        The drain rule: ask the SSL object *first*, and go to the fd only when it says WantRead. A TLS
        record is decrypted as a whole, and one fd read may hold several records, so after a read the SSL
        object can hold plaintext while the fd shows nothing; poll() cannot see it and no READ event will
        ever announce it. ``BaseIOStream._read_to_buffer_loop`` calls this until it returns ``None``
        (unless the pending read is satisfied first), and ``_try_inline_read`` calls it before waiting,
        so such plaintext is always found.
        """
        if self._handshaking:
            return None  # no application byte before the handshake completes
        size = self._next_read_size()
        while True:
            try:
                data = self._tls.recv(size)
            except SSL.WantReadError:
                if not self._feed_ciphertext():
                    return None
                continue
            except SSL.ZeroReturnError:
                # close_notify: a clean EOF.
                self.close()
                return None
            except SSL.SysCallError as exc:
                raise RaggedEOFError() from exc
            except SSL.Error as exc:
                raise TLSError(f"TLS error while reading: {exc}") from exc
            # Reading may produce output (a KeyUpdate answer); send it, but a failing send must not lose
            # the plaintext we hold: the write side will meet the error again and report it.
            try:
                self._flush_and_watch()
            except OSError:
                pass
            return data

    def write_to_fd(self, data: memoryview) -> int:
        """Encrypt a prefix of ``data`` and report it written once its ciphertext is on the fd.

        A memory BIO never refuses ``SSL_write``: the plaintext is taken at once. Reporting it written
        right away would complete write futures (and let the caller close) while its ciphertext still
        waits for the fd, and a close would drop it. So when the fd does not take all the ciphertext,
        the count is kept in ``_unacked`` and EAGAIN is raised; the base presents the same bytes again on
        the next WRITE event (its buffer prefix never changes meanwhile), and they are reported then,
        without being encrypted twice.
        """
        try:
            self._flush_ciphertext()
            if self._cipher_out:
                raise BlockingIOError(errno.EAGAIN, "ciphertext is still waiting for the fd")
            if self._unacked:
                sent, self._unacked = self._unacked, 0
                return sent
            try:
                sent = self._tls.send(data[:MAX_WRITE_PLAINTEXT])
            except SSL.Error as exc:
                raise TLSError(f"TLS error while writing: {exc}") from exc
            self._flush_ciphertext()
            if self._cipher_out:
                self._unacked = sent
                raise BlockingIOError(errno.EAGAIN, "the fd took only part of the ciphertext")
            return sent
        finally:
            del data

    def close(self, exc_info: Any = False) -> None:
        """Close the stream (see ``BaseIOStream.close``).

        Records that already came off the fd are still decrypted into the read buffer first (no fd I/O,
        within ``max_buffer_size``): for a plain ``IOStream`` those bytes would already be in its buffer,
        and a read started after the close is served from the buffer.
        """
        if not self._closed and not self._handshaking:
            if exc_info and not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()  # before our own try/except below can shadow it
            self._drain_plaintext()
        super().close(exc_info)

    def _drain_plaintext(self) -> None:
        # Appends to the buffer outside _read_to_buffer on purpose: that path may read the fd and closes
        # the stream on errors, neither of which may happen in the middle of a close.
        room = self.max_buffer_size - self._rbuf.size
        while room > 0:
            try:
                data = self._tls.recv(room)
            except SSL.Error:  # WantRead (would need the fd), close_notify, ragged EOF, a bad record
                return
            if not data:
                return
            self._rbuf.append(data)
            room -= len(data)

    def close_fd(self) -> None:
        """Send ``close_notify`` on a clean close (best effort, never raises), then close the fd."""
        # On a clean close, say so (close_notify) so the peer can tell it from a truncation. Best
        # effort, one send, never waits and never raises: the fd is closed right after.
        if self.error is None and not self._handshaking and self.socket is not None:
            try:
                self._tls.shutdown()
                self._flush_ciphertext()
            except (SSL.Error, OSError):
                pass
        self._cipher_out = bytearray()
        self._unacked = 0
        super().close_fd()


class NonDrainingSSLIOStream(SSLIOStream):
    """**Deliberately broken**: an ``SSLIOStream`` that violates the SSL drain rule. Never use it for I/O.

    It is the negative control of the TLS suite and of the harness self-check. Each ``read_from_fd``
    does one fd read and at most one TLS read of what arrived; when the fd has nothing new it returns
    "nothing" without asking the SSL object. Plaintext stranded inside the SSL object (several records
    delivered by one fd read, or a record larger than ``read_chunk_size``) is then never delivered: the
    loop goes quiet with a read pending, i.e. the stream hangs.
    """

    def read_from_fd(self) -> bytes | None:
        """The broken read: one fd read, at most one TLS read; plaintext left in the SSL object is never asked for."""
        if self._handshaking:
            return None
        try:
            if not self._feed_ciphertext():
                return None  # BUG (on purpose): the SSL object may still hold plaintext
            try:
                return self._tls.recv(self._next_read_size())
            except SSL.WantReadError:
                return None
        except SSL.ZeroReturnError:
            self.close()
            return None
        except SSL.SysCallError as exc:
            raise RaggedEOFError() from exc
        except SSL.Error as exc:
            raise TLSError(f"TLS error while reading: {exc}") from exc
