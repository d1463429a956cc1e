"""Built-in target ``tornado``: Tornado >= 5's own ``IOStream`` and ``SSLIOStream`` on the simulated asyncio loop.

Rules for this module:
- The stream is Tornado's, unwrapped: built over the fake fd while the simulated asyncio loop is the running
  loop, so Tornado's ``IOLoop.current()`` wraps that loop and every handler it adds is polled there.
- TLS is Tornado's own ``SSLIOStream`` made as Tornado makes it: on the server side as ``TCPServer`` does for
  an accepted connection (``tornado.netutil.ssl_wrap_socket(sock, context, server_side=True,
  do_handshake_on_connect=False)``, then ``SSLIOStream(connection, max_buffer_size=...)``), on the client side
  (``server_side=False``, for the handshake-fail cases where the stream must reject the peer) as
  ``IOStream.start_tls`` does (``server_hostname`` given, the context in ``ssl_options``). The contexts are
  stdlib ``ssl.SSLContext`` s (the server's holds faultio's test certificate; the client's trusts the CA the
  harness's client context trusts) whose ``wrap_socket`` returns ``faultio._sslsocket.SimSSLSocket``: the
  stdlib's TLS over the fake fd, behaving as a kernel ``ssl.SSLSocket``. Tornado is not patched.
- Tornado 6 dropped the callback arguments (and with them streaming reads); those cells are declared lacking.
"""

from __future__ import annotations

import functools
from typing import Any

from .._targets import Target, TargetError

NAME = "tornado"
INSTALL = "pip install 'tornado>=5'"
#: What Tornado >= 6's IOStream lacks of the matrix, and why.
LACKS = {
    "*/callback": "Tornado 6 read and write methods take no callback (removed in 6.0); futures only",
    "read_bytes_streaming": "Tornado 6 read_bytes takes no streaming_callback (removed in 6.0)",
}


def load() -> Target:
    try:
        import tornado
    except ImportError as exc:
        raise TargetError(f"--target {NAME} needs Tornado >= 5, but tornado cannot be imported ({exc}); install "
                          f"it with: {INSTALL}") from None
    version = getattr(tornado, "version", "unknown")
    info = getattr(tornado, "version_info", None) or (0,)
    if info[0] < 5:
        raise TargetError(f"--target {NAME} needs Tornado >= 5, but Tornado {version} is installed (at "
                          f"{tornado.__file__}); for Tornado 4.x use --target tornado4")
    from tornado.iostream import IOStream, SSLIOStream
    from tornado.netutil import ssl_wrap_socket

    lacks = dict(LACKS)
    if info[0] == 5:  # Tornado 5 still had callbacks and streaming reads
        lacks = {}

    def tornado_stream(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int, ssl_context: Any,
                       server_side: bool = True, server_hostname: str | None = None) -> Any:
        """``IOStream(sock, max_buffer_size=...)``, or for ``ssl`` an ``SSLIOStream`` over ``ssl_wrap_socket``:
        the server side as ``TCPServer`` builds it, the client side (``server_side=False``, verifying the peer
        for ``server_hostname``) as ``IOStream.start_tls`` does; with the simulated loop running.
        ``ssl_context`` is the pyOpenSSL context the harness gives faultio's own stream: Tornado gets a stdlib
        one (for a client, trusting what that one trusts)."""
        if transport not in ("plain", "ssl"):
            raise TargetError(f"--target {NAME} has no {transport} variant; valid: plain, ssl")
        with io_loop.asyncio_loop.running():
            if transport == "ssl":
                if server_side:
                    context, hostname = server_ssl_context(), None
                else:
                    context, hostname = client_ssl_context(trusts_faultio=_trusts_faultio(ssl_context)), server_hostname
                connection = ssl_wrap_socket(sock, context, server_hostname=hostname, server_side=server_side,
                                             do_handshake_on_connect=False)
                stream = SSLIOStream(connection, max_buffer_size=max_buffer_size, ssl_options=context)
                # Where the decrypted plaintext Tornado has not read yet sits (the monitor's SSL drain rule).
                stream._ssl_conn = connection
            else:
                stream = IOStream(sock, max_buffer_size=max_buffer_size)
        io_loop.mask_sources.append(functools.partial(_tornado_mask, stream.io_loop))
        return stream

    def tornado_connecting(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int,
                           ssl_context: Any) -> Any:
        """For the ``connect`` operation: ``IOStream(sock)``, or ``SSLIOStream(sock, ssl_options=<client
        context>)`` as Tornado's own clients make it (the stream wraps the socket itself once connected), over the
        unconnected fd, with the simulated loop running."""
        with io_loop.asyncio_loop.running():
            if transport == "ssl":
                context = client_ssl_context(trusts_faultio=_trusts_faultio(ssl_context))
                stream = SSLIOStream(sock, max_buffer_size=max_buffer_size, ssl_options=context)
            else:
                stream = IOStream(sock, max_buffer_size=max_buffer_size)
        io_loop.mask_sources.append(functools.partial(_tornado_mask, stream.io_loop))
        return stream

    tornado_stream.__qualname__ = f"tornado_stream(tornado {version})"
    return Target(name=NAME, factory=tornado_stream, transports=("plain", "ssl"), loop="asyncio",
                  default_profile="cpython", lacks=lacks, connector=tornado_connecting)


def server_ssl_context() -> Any:
    """A stdlib server ``ssl.SSLContext`` holding the certificate faultio's TLS peer trusts, whose ``wrap_socket``
    wraps a fake fd in a simulated ``ssl.SSLSocket`` (``faultio._sslsocket``)."""
    import ssl

    from faultio._certs import server_certificate
    from faultio._sslsocket import SimSSLContext

    context = SimSSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_certificate().configure_cert(context)
    return context


def client_ssl_context(*, trusts_faultio: bool) -> Any:
    """A stdlib client ``ssl.SSLContext`` (chain and host name verified) trusting faultio's CA, or when
    ``trusts_faultio`` is false a CA that did not sign the peer's certificate; ``wrap_socket`` as above."""
    import ssl

    from faultio._certs import certificate_authority, untrusted_authority
    from faultio._sslsocket import SimSSLContext

    context = SimSSLContext(ssl.PROTOCOL_TLS_CLIENT)
    (certificate_authority() if trusts_faultio else untrusted_authority()).configure_trust(context)
    return context


def _trusts_faultio(context: Any) -> bool:
    """Whether ``context`` (the harness's client context: pyOpenSSL, or a stdlib one; ``None`` for the default)
    trusts faultio's CA: the server certificate verifies against its store (a stdlib one holds the CA)."""
    import ssl

    from faultio._certs import certificate_authority, server_certificate

    if context is None:
        return True
    if isinstance(context, ssl.SSLContext):
        ca = ssl.PEM_cert_to_DER_cert(certificate_authority().cert_pem.bytes().decode())
        return ca in context.get_ca_certs(binary_form=True)
    from cryptography import x509
    from OpenSSL import crypto

    leaf = x509.load_pem_x509_certificate(server_certificate().cert_chain_pems[0].bytes())
    try:
        crypto.X509StoreContext(context.get_cert_store(), crypto.X509.from_cryptography(leaf)).verify_certificate()
    except crypto.X509StoreContextError:
        return False
    return True


def _tornado_mask(tornado_loop: Any, fd: int) -> int | None:
    """What Tornado's asyncio ``IOLoop`` has registered for ``fd``, as a Tornado mask: READ and WRITE from its
    reader and writer sets (what asyncio polls), ERROR whenever a handler is registered (Tornado keeps an
    ERROR-only registration in its own table, with nothing in asyncio's); ``None`` when none is."""
    if fd not in getattr(tornado_loop, "handlers", {}):
        return None
    return (0x001 if fd in tornado_loop.readers else 0) | (0x004 if fd in tornado_loop.writers else 0) | 0x018
