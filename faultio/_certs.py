"""Test certificates made in memory, once per process, and the pyOpenSSL contexts built on them.

Rules for this module:
- No key or certificate ever touches the disk or the repository: trustme generates them in memory.
- Key generation is the only slow part, so it happens at most once per process per name: every function
  that generates or parses keys is wrapped in ``functools.lru_cache``. Contexts are *not* cached: a
  pyOpenSSL ``Context`` refuses most changes once a ``Connection`` has used it, so every call returns a
  fresh one (cheap: it only points at the cached key and certificates).
- Only non-deprecated pyOpenSSL APIs (``cryptography`` objects in, never ``OpenSSL.crypto.X509``
  construction): the test suite turns every warning into an error.
- Nothing here knows about streams, fds or the loop.
"""

from __future__ import annotations

import functools
from typing import Union

import trustme
from OpenSSL import SSL

#: The names the server certificate is valid for (subjectAltName DNS entries).
SERVER_HOSTNAMES: tuple[str, ...] = ("localhost", "faultio.test")

#: A name the server certificate is *not* valid for (host-name-mismatch tests).
WRONG_HOSTNAME = "wrong.faultio.test"

#: Readable protocol names, as used in parametrize ids, to OpenSSL protocol version constants.
TLS_VERSIONS: dict[str, int] = {"tls12": SSL.TLS1_2_VERSION, "tls13": SSL.TLS1_3_VERSION}

#: What ``version`` may be: ``"tls12"``, ``"tls13"``, an OpenSSL version constant, or ``None`` (negotiate
#: TLS 1.2 or 1.3).
Version = Union[str, int, None]


def certificate_authority(name: str = "faultio") -> trustme.CA:
    """The in-memory CA called ``name`` (generated on first use, then reused for the whole process).

    ``"faultio"`` signs the server certificate; any other name is a CA nobody else trusts.
    """
    # Through one positional cache key: lru_cache would treat f() and f("faultio") as different calls.
    return _authority(name)


# RSA, not trustme's default ECDSA: an ECDSA signature's DER length varies from one signature to the next
# (70 to 72 bytes), so the server's handshake flight changed size from run to run and a fault placed at a
# byte offset of the ciphertext landed somewhere else each time. RSA signatures have the modulus' length.
KEY_TYPE = trustme.KeyType.RSA
#: Tries at a leaf whose serial number has its full DER length (see ``server_certificate``).
_SERIAL_TRIES = 64


@functools.lru_cache(maxsize=None)
def _authority(name: str) -> trustme.CA:
    return trustme.CA(organization_name=f"{name} test CA", key_type=KEY_TYPE)


@functools.lru_cache(maxsize=None)
def server_certificate() -> trustme.LeafCert:
    """The server's leaf certificate for ``SERVER_HOSTNAMES``, signed by the ``"faultio"`` CA (cached).

    Its encoded size is the same in every process: a random serial number that happens to encode one
    byte shorter (about 1 in 128) is drawn again, so the TLS byte stream has one shape for every run.
    """
    from cryptography import x509

    ca = certificate_authority()
    for _ in range(_SERIAL_TRIES):
        leaf = ca.issue_cert(*SERVER_HOSTNAMES, key_type=KEY_TYPE)
        serial = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).serial_number
        if serial.bit_length() > 152:  # 20 content bytes: the longest a 159-bit serial encodes to
            return leaf
    raise RuntimeError(f"no full-length certificate serial in {_SERIAL_TRIES} tries")  # pragma: no cover


def untrusted_authority() -> trustme.CA:
    """A second CA that did *not* sign the server certificate (cached): trusting only it must fail."""
    return certificate_authority("untrusted")


def _version_number(version: Version) -> int | None:
    if version is None:
        return None
    if isinstance(version, str):
        try:
            return TLS_VERSIONS[version]
        except KeyError:
            raise ValueError(
                f"unknown TLS version {version!r}; valid: {', '.join(TLS_VERSIONS)} or None"
            ) from None
    if isinstance(version, bool) or not isinstance(version, int) or version not in TLS_VERSIONS.values():
        raise ValueError(
            f"unknown TLS version {version!r}; valid: {', '.join(TLS_VERSIONS)}, "
            "OpenSSL.SSL.TLS1_2_VERSION, OpenSSL.SSL.TLS1_3_VERSION or None"
        )
    return version


def _pin_version(ctx: SSL.Context, version: Version) -> None:
    """Allow exactly ``version`` (or TLS 1.2 to 1.3 when ``None``)."""
    number = _version_number(version)
    if number is None:
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
    else:
        ctx.set_min_proto_version(number)
        ctx.set_max_proto_version(number)


def server_context(version: Version = None) -> SSL.Context:
    """A new server ``Context`` presenting the cached server certificate.

    ``version``: ``"tls12"`` or ``"tls13"`` pins the protocol; ``None`` accepts either.
    """
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    _pin_version(ctx, version)
    key, cert, chain = _server_credentials()
    ctx.use_privatekey(key)
    ctx.use_certificate(cert)
    for extra in chain:
        ctx.add_extra_chain_cert(extra)
    ctx.check_privatekey()
    return ctx


@functools.lru_cache(maxsize=None)
def _server_credentials() -> tuple:
    """The server certificate's key, leaf and chain as parsed objects (cached: parsing the RSA key checks it,
    which costs tens of milliseconds, and a harness run builds one server context per TLS case)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    leaf = server_certificate()
    key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
    certs = [x509.load_pem_x509_certificate(pem.bytes()) for pem in leaf.cert_chain_pems]
    return key, certs[0], tuple(certs[1:])


def client_context(version: Version = None, *, trust: str = "faultio") -> SSL.Context:
    """A new client ``Context`` that verifies the server's chain against the CA named ``trust``.

    With the default ``trust`` the server certificate verifies; with any other name it does not. The host
    name is checked by the stream (``SSLIOStream(server_hostname=...)``), not by the context.
    """
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    _pin_version(ctx, version)
    certificate_authority(trust).configure_trust(ctx)
    ctx.set_verify(SSL.VERIFY_PEER)
    return ctx


def untrusted_client_context(version: Version = None) -> SSL.Context:
    """A new client ``Context`` that trusts only a *different* CA: every handshake with it fails."""
    return client_context(version, trust="untrusted")


def version_name(version: Version) -> str:
    """The readable id of ``version`` (``"tls12"``, ``"tls13"``, or ``"tls"`` for negotiated)."""
    number = _version_number(version)
    for name, value in TLS_VERSIONS.items():
        if value == number:
            return name
    return "tls"
