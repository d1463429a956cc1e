"""The built-in ``tornado`` target over TLS: Tornado 6's own ``SSLIOStream`` over ``faultio._sslsocket``.

The matrix run is the CLI's (``run --target tornado --transport ssl --faults all``); its findings must be exactly
the ones docs/targets.md lists, each explained there with Tornado's source lines.
"""

import json
from pathlib import Path

import pytest

tornado = pytest.importorskip("tornado")
if tornado.version_info < (6,):  # pragma: no cover - the dev venv has Tornado 6
    pytest.skip(f"Tornado {tornado.version} is installed; the documented TLS findings are Tornado 6's",
                allow_module_level=True)

from tornado.iostream import SSLIOStream, StreamClosedError

from faultio import (
    AsyncioIOLoop,
    Dribble,
    FaultPlan,
    SendPartial,
    _certs,
    socketpair,
)
from faultio._sslsocket import SimSSLSocket
from faultio._tlspeer import TLSPeer
from harness import _cli
from harness._targets import load_target

DOCS = Path(__file__).resolve().parents[1] / "docs" / "targets.md"
MAX_BUFFER = 1 << 20


def documented(marker):
    """``case id -> sorted slugs`` of the list between ``<!-- marker:begin -->`` and ``<!-- marker:end -->``."""
    block = DOCS.read_text().split(f"<!-- {marker}:begin -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    found = {}
    for line in block.splitlines():
        if ": " in line:
            case_id, slugs = line.split(": ", 1)
            found[case_id.strip()] = sorted(s.strip() for s in slugs.split(","))
    return found


def run_tls_matrix(capsys, *argv):
    # The documented lists are those of the kernel, TLS and connect kinds and the operations but the deadlines
    # (what the time kinds find is in docs/time-faults.md).
    from faultio._plan import CONNECT_KINDS, FAULT_KINDS, TLS_KINDS
    from harness._scenarios import OPERATIONS

    operations = ",".join(op for op in OPERATIONS if op not in ("read_deadline", "write_deadline"))
    faults = ",".join(FAULT_KINDS + TLS_KINDS + CONNECT_KINDS)
    code = _cli.main(["run", "--target", "tornado", "--transport", "ssl", "--faults", faults,
                      "--operations", operations, "--no-report", "--json", "--jobs", "2", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def findings(report):
    return {case["id"]: sorted(case["violations"]) for case in report["cases"] if case["violations"]}


def errors(report):
    return [(case["id"], case.get("error")) for case in report["cases"] if case["outcome"] == "error"]


@pytest.fixture
def kernel():
    kernel = AsyncioIOLoop()
    yield kernel
    kernel.shutdown()
    kernel.close(all_fds=True)


# -- the target ---------------------------------------------------------------------------------------------


def test_the_tornado_target_has_a_tls_variant():
    assert load_target("tornado").transports == ("plain", "ssl")


def test_the_server_stream_is_tornados_ssliostream_over_a_simulated_sslsocket(kernel):
    fd, _ = socketpair(kernel)
    stream = load_target("tornado").make(fd, io_loop=kernel, transport="ssl", max_buffer_size=MAX_BUFFER,
                                         ssl_context=_certs.server_context())
    assert type(stream) is SSLIOStream
    assert isinstance(stream.socket, SimSSLSocket) and stream.socket.server_side
    assert stream.socket.fileno() == fd.fd and stream._ssl_conn is stream.socket
    assert stream.socket.suppress_ragged_eofs is True  # Tornado leaves wrap_socket's default


@pytest.mark.parametrize("trust", ["faultio", "untrusted"])
def test_the_client_stream_verifies_the_peer_against_what_the_harness_context_trusts(kernel, trust):
    import ssl

    fd, _ = socketpair(kernel)
    factory = load_target("tornado").factory
    stream = factory(fd, io_loop=kernel, transport="ssl", max_buffer_size=MAX_BUFFER,
                     ssl_context=_certs.client_context(trust=trust), server_side=False, server_hostname="localhost")
    tls = stream.socket
    assert not tls.server_side and tls.server_hostname == "localhost"
    assert tls.context.verify_mode == ssl.CERT_REQUIRED and tls.context.check_hostname
    ca = ssl.PEM_cert_to_DER_cert(_certs.certificate_authority(trust).cert_pem.bytes().decode())
    assert tls.context.get_ca_certs(binary_form=True) == [ca]
    # A stdlib client context given instead is read the same way.
    fd, _ = socketpair(kernel)
    again = factory(fd, io_loop=kernel, transport="ssl", max_buffer_size=MAX_BUFFER, ssl_context=tls.context,
                    server_side=False, server_hostname="localhost")
    assert again.socket.context.get_ca_certs(binary_form=True) == [ca]


def test_tornados_ssliostream_reads_lines_and_writes_through_the_simulated_socket_byte_at_a_time(kernel):
    plan = FaultPlan(read=(Dribble(),), write=(SendPartial(max_bytes=1, count=100_000),))
    fd, sock = socketpair(kernel, plan, record_payload=False, profile="cpython")
    stream = load_target("tornado").make(fd, io_loop=kernel, transport="ssl", max_buffer_size=MAX_BUFFER,
                                         ssl_context=None)
    peer = TLSPeer(kernel, sock, _certs.client_context(), server_hostname="localhost")
    lines = [b"line %d\r\n" % i for i in range(20)]

    async def main():
        await peer.handshake()
        await peer.send_records(lines)  # twenty records in one fd write
        got = [await stream.read_until(b"\r\n") for _ in lines]
        await stream.write(b"".join(got))
        echoed = await peer.recv_exactly(sum(map(len, lines)))
        await peer.close(notify=True)
        with pytest.raises(StreamClosedError):
            await stream.read_bytes(1)
        return got, echoed

    got, echoed = kernel.run_sync(main)
    assert got == lines and echoed == b"".join(lines)
    assert stream.closed() and stream.error is None  # close_notify: a clean end


# -- the matrix -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["cpython", "raw"])
def test_the_tls_matrix_has_no_error_and_exactly_the_documented_findings(capsys, profile):
    argv = ["--profile", profile] if profile == "raw" else []
    code, report = run_tls_matrix(capsys, *argv)
    assert report["transports"] == ["ssl"] and report["fail_on"] == ["contract"]
    assert errors(report) == []
    assert findings(report) == documented("tornado-tls-findings")
    assert code == 1  # tls-ragged-eof is a contract finding


def test_the_seed_3_tls_matrix_adds_exactly_the_documented_tornado_behaviours(capsys):
    _, report = run_tls_matrix(capsys, "--seed", "3")
    assert errors(report) == []
    found = findings(report)
    ragged_only = {case_id for case_id, slugs in found.items() if slugs == ["tls-ragged-eof"]}
    assert all(("/ragged-eof/" in c) or ("/eof-mid-record/" in c) for c in ragged_only)
    assert {c: s for c, s in found.items() if c not in ragged_only} == documented("tornado-tls-seed3-findings")


def test_the_documented_lists_are_well_formed():
    from harness.engine import INVARIANTS

    for marker in ("tornado-tls-findings", "tornado-tls-seed3-findings"):
        found = documented(marker)
        assert found and all(slug in INVARIANTS for slugs in found.values() for slug in slugs)
        assert all(case_id.endswith("/ssl") or "/ssl#" in case_id for case_id in found)
