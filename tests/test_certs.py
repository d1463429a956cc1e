import pathlib

import pytest
from cryptography import x509
from OpenSSL import SSL

from faultio import _certs

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pump(a, b):
    """Move every ciphertext byte ``a`` produced into ``b``."""
    while True:
        try:
            data = a.bio_read(65536)
        except SSL.WantReadError:
            return
        b.bio_write(data)


def handshake(server_ctx, client_ctx, hostname=b"localhost"):
    """A memory-BIO handshake between two contexts; returns (server, client) connections or raises."""
    server = SSL.Connection(server_ctx, None)
    server.set_accept_state()
    client = SSL.Connection(client_ctx, None)
    client.set_connect_state()
    client.set_tlsext_host_name(hostname)
    for _ in range(10):
        done = 0
        for conn in (client, server):
            try:
                conn.do_handshake()
                done += 1
            except SSL.WantReadError:
                pass
        pump(client, server)
        pump(server, client)
        if done == 2:
            return server, client
    raise AssertionError("handshake did not finish")


def test_certificates_are_generated_once_per_process():
    assert _certs.server_certificate() is _certs.server_certificate()
    assert _certs.certificate_authority() is _certs.certificate_authority("faultio")
    assert _certs.untrusted_authority() is _certs.untrusted_authority()
    assert _certs.untrusted_authority() is not _certs.certificate_authority()


def test_server_certificate_covers_both_host_names():
    pem = _certs.server_certificate().cert_chain_pems[0].bytes()
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "faultio.test"}
    assert _certs.WRONG_HOSTNAME not in names.get_values_for_type(x509.DNSName)


def test_contexts_are_fresh_objects_so_each_connection_can_configure_its_own():
    assert _certs.server_context() is not _certs.server_context()
    assert _certs.client_context() is not _certs.client_context()


@pytest.mark.parametrize("version", ["tls12", "tls13"])
def test_pinned_contexts_negotiate_exactly_that_version(version):
    server, client = handshake(_certs.server_context(version), _certs.client_context(version))
    expected = {"tls12": "TLSv1.2", "tls13": "TLSv1.3"}[version]
    assert server.get_protocol_version_name() == client.get_protocol_version_name() == expected


def test_unpinned_contexts_prefer_tls13():
    server, client = handshake(_certs.server_context(), _certs.client_context())
    assert client.get_protocol_version_name() == "TLSv1.3"


def test_tls12_only_server_and_tls13_only_client_do_not_agree():
    with pytest.raises(SSL.Error):
        handshake(_certs.server_context("tls12"), _certs.client_context("tls13"))


def test_the_untrusted_client_context_fails_verification():
    with pytest.raises(SSL.Error, match="certificate verify failed"):
        handshake(_certs.server_context(), _certs.untrusted_client_context())


def test_openssl_version_constants_are_accepted_and_named():
    assert _certs.version_name(SSL.TLS1_2_VERSION) == "tls12"
    assert _certs.version_name("tls13") == "tls13"
    assert _certs.version_name(None) == "tls"


@pytest.mark.parametrize("bad", ["tls11", "TLSv1.3", 0, True, 1.3])
def test_an_unknown_version_is_refused_with_the_valid_ones_listed(bad):
    with pytest.raises(ValueError, match="tls12, tls13"):
        _certs.server_context(bad)


def test_no_key_or_certificate_file_is_kept_in_the_repository():
    import subprocess

    suffixes = {".pem", ".key", ".crt", ".cer", ".p12", ".der"}
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
        files = [ROOT / line for line in listed.stdout.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout: look at the project's own folders (virtual environments hold CA bundles).
        files = [p for d in ("faultio", "harness", "tests", "docs", "benchmarks") for p in (ROOT / d).rglob("*")]
    assert [p for p in files if p.suffix in suffixes] == []
