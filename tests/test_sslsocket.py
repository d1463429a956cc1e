"""``faultio._sslsocket``: the simulated ``ssl.SSLSocket`` against faultio's TLS peer over a fake socket pair.

The server side is driven as a non-blocking caller drives a kernel ``SSLSocket`` (Tornado's ``SSLIOStream``
does exactly this): call, and on ``SSLWantReadError``/``SSLWantWriteError`` wait for that readiness of the fd
and call again. What each call raises is what CPython 3.11 with OpenSSL 3 raises on a real non-blocking
TCP socket in the same situation (checked by hand on kernel sockets; the module's rules say which).
"""

import random
import socket
import ssl

import pytest
from OpenSSL import SSL

from faultio import Dribble, Eintr, FaultPlan, IOLoop, SendPartial, SendWouldBlock, _certs, socketpair
from faultio._future import Future
from faultio._sslsocket import MAX_FRAGMENT, SimSSLContext, SimSSLSocket, wrap_socket
from faultio._tlspeer import TLSPeer

READ, WRITE = IOLoop.READ, IOLoop.WRITE
VERSIONS = ["tls12", "tls13"]
#: Byte at a time both ways (the fd hands out one byte per recv and takes one per send), or all at once.
DELIVERIES = {
    "bytewise": FaultPlan(read=(Dribble(),), write=(SendPartial(max_bytes=1, count=200_000),)),
    "bulk": None,
}
PAYLOAD = bytes(random.Random(42).randrange(256) for _ in range(40_000))  # three records, the last one short


@pytest.fixture(params=VERSIONS)
def version(request):
    return request.param


@pytest.fixture
def loop():
    loop = IOLoop()
    yield loop
    IOLoop.clear_current()


def server_context():
    context = SimSSLContext(ssl.PROTOCOL_TLS_SERVER)
    _certs.server_certificate().configure_cert(context)
    return context


class Server:
    """The simulated SSLSocket's side: each want-read/want-write waits for that readiness, then calls again."""

    def __init__(self, loop, fd, **wrap):
        self.loop, self.fd = loop, fd
        wrap.setdefault("server_side", True)
        wrap.setdefault("do_handshake_on_connect", False)
        self.tls = server_context().wrap_socket(fd, **wrap)
        self.wants = []

    def wait(self, events):
        future = Future(label=f"server-wait-{events}")

        def ready(fd, got):
            self.loop.remove_handler(fd)
            future.set_result(got)

        self.loop.add_handler(self.fd.fd, ready, events)
        return future

    async def call(self, method, *args):
        while True:
            try:
                return method(*args)
            except ssl.SSLWantReadError:
                self.wants.append("read")
                await self.wait(READ)
            except ssl.SSLWantWriteError:
                self.wants.append("write")
                await self.wait(WRITE)

    async def handshake(self):
        await self.call(self.tls.do_handshake)

    async def recv_exactly(self, nbytes):
        out = bytearray()
        while len(out) < nbytes:
            data = await self.call(self.tls.recv, 65536)
            if not data:
                break
            out += data
        return bytes(out)

    async def send_all(self, data):
        view = memoryview(data)
        while view:
            view = view[await self.call(self.tls.send, view):]


def connected(loop, version, plan=None, *, capacity=None, profile="raw", **wrap):
    """A socket pair with the simulated SSLSocket on the target end and a TLS peer (client) on the other."""
    kwargs = {} if capacity is None else {"capacity": capacity}
    fd, sock = socketpair(loop, plan, record_payload=False, profile=profile, **kwargs)
    peer = TLSPeer(loop, sock, _certs.client_context(version), server_hostname="localhost")
    return Server(loop, fd, **wrap), peer, fd, sock


def handshake(loop, server, peer):
    async def main():
        client = loop.spawn(peer.handshake())
        await server.handshake()
        await client

    loop.run_sync(main)


# -- the handshake and data -------------------------------------------------------------------------------


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_handshake_and_data_both_ways_byte_at_a_time_and_all_at_once(loop, version, delivery):
    server, peer, fd, _ = connected(loop, version, DELIVERIES[delivery])
    handshake(loop, server, peer)
    assert server.tls.version() == {"tls12": "TLSv1.2", "tls13": "TLSv1.3"}[version]
    assert server.tls.getpeercert() is None  # the server asked for no client certificate

    async def main():
        sending = loop.spawn(peer.send_all(PAYLOAD))
        got = await server.recv_exactly(len(PAYLOAD))
        await sending
        replying = loop.spawn(server.send_all(got[::-1]))
        echoed = await peer.recv_exactly(len(PAYLOAD))
        await replying
        return got, echoed

    got, echoed = loop.run_sync(main)
    assert got == PAYLOAD and echoed == PAYLOAD[::-1]
    assert fd.bytes_received == peer.ciphertext_sent  # every ciphertext byte crossed the fd
    if delivery == "bytewise":
        assert fd.bytes_sent == fd.send_calls  # one byte per send, and every one of them went through the plan


def test_reads_take_one_record_from_the_fd_and_pending_is_the_rest_of_that_record(loop, version):
    server, peer, fd, peer_sock = connected(loop, version)
    handshake(loop, server, peer)
    first, second = peer._encrypt(b"a" * 100), peer._encrypt(b"b" * 200)
    peer_sock.send(first + second)  # both records in one fd write
    tls = server.tls
    assert tls.recv(65536) == b"a" * 100
    # OpenSSL reads no further than the record it needs: the second stays in the fd, visible to select().
    assert tls.pending() == 0 and fd.pending() == len(second) and fd.poll_events() & READ
    assert tls.recv(10) == b"b" * 10
    # That read took the whole second record from the fd: its rest waits decrypted where select() cannot see.
    assert tls.pending() == 190 and fd.pending() == 0 and not fd.poll_events() & READ
    assert tls.recv(65536) == b"b" * 190
    with pytest.raises(ssl.SSLWantReadError):
        tls.recv(65536)


def test_recv_with_nothing_readable_raises_want_read_after_one_header_sized_fd_read(loop, version):
    server, peer, fd, _ = connected(loop, version)
    handshake(loop, server, peer)
    calls = fd.recv_calls
    buffer = bytearray(100)
    for read in (lambda: server.tls.recv(100), lambda: server.tls.recv_into(buffer)):
        with pytest.raises(ssl.SSLWantReadError) as caught:
            read()
        assert caught.value.args[0] == ssl.SSL_ERROR_WANT_READ
    assert fd.recv_calls == calls + 2
    events = [e for e in loop.trace.events("fd", "recv_into") + loop.trace.events("fd", "recv")
              if e.get("role") == "target"]
    assert [e.get("asked") for e in events[-2:]] == [5, 5]


def test_an_injected_eintr_is_want_read_under_the_raw_profile_and_the_retry_proceeds(loop, version):
    server, peer, fd, _ = connected(loop, version, FaultPlan(read=(Eintr(),)))
    client = loop.spawn(peer.handshake())
    loop.run_until_quiescent()  # the ClientHello waits in the fd
    assert fd.poll_events() & READ
    with pytest.raises(ssl.SSLWantReadError):
        server.tls.do_handshake()  # OpenSSL's socket BIO retries EINTR later: _ssl.c says want-read
    assert fd.faults_injected == 1 and fd.bytes_received == 0

    async def main():
        await server.handshake()
        await client

    loop.run_sync(main)
    assert server.tls.version()


# -- writing into a full fd ---------------------------------------------------------------------------------


def test_send_into_a_full_fd_raises_want_write_and_the_retry_returns_the_whole_count(loop, version):
    server, peer, _, peer_sock = connected(loop, version, capacity=4000)
    handshake(loop, server, peer)
    data = PAYLOAD[: 2 * MAX_FRAGMENT + 100]
    wire, wants, short_retry = bytearray(), 0, None
    while True:
        try:
            sent = server.tls.send(data)
            break
        except ssl.SSLWantWriteError as exc:
            assert exc.args[0] == ssl.SSL_ERROR_WANT_WRITE
            wants += 1
            if short_retry is None:  # OpenSSL refuses a retry with fewer bytes than it already took
                with pytest.raises(ssl.SSLError) as short_retry:
                    server.tls.send(data[:10])
            wire += peer_sock.recv(65536)  # the peer's kernel drains the fd
    assert sent == len(data) and wants > 1
    assert short_retry.value.reason == "BAD_LENGTH"
    wire += peer_sock.recv(65536)
    peer.conn.bio_write(bytes(wire))
    plaintext = bytearray()
    while len(plaintext) < len(data):
        plaintext += peer.conn.recv(65536)
    assert plaintext == data


def test_a_send_the_fd_refuses_with_ewouldblock_is_kept_and_flushed_first_by_the_retry(loop, version):
    server, peer, _, _ = connected(loop, version, FaultPlan(write=(SendWouldBlock(count=2),)))
    handshake(loop, server, peer)  # the handshake's first flight met both EWOULDBLOCKs
    assert server.wants.count("write") == 2
    loop.run_sync(lambda: server.send_all(b"after the handshake"))
    assert loop.run_sync(lambda: peer.recv_exactly(19)) == b"after the handshake"


# -- the end of the connection ------------------------------------------------------------------------------


@pytest.mark.parametrize("suppress", [True, False], ids=["suppressed", "not-suppressed"])
def test_ragged_eof_reads_as_eof_when_suppressed_and_raises_ssleoferror_otherwise(loop, version, suppress):
    server, peer, _, _ = connected(loop, version, suppress_ragged_eofs=suppress)
    handshake(loop, server, peer)

    async def main():
        await peer.send_all(b"hello")
        await peer.close(notify=False)

    loop.run_sync(main)
    assert server.tls.recv(100) == b"hello"
    if suppress:
        assert server.tls.recv(100) == b"" and server.tls.recv_into(bytearray(10)) == 0
    else:
        with pytest.raises(ssl.SSLEOFError) as caught:
            server.tls.recv(100)
        assert caught.value.args[0] == ssl.SSL_ERROR_EOF


def test_close_notify_reads_as_eof_even_without_suppressing_ragged_eofs(loop, version):
    server, peer, _, _ = connected(loop, version, suppress_ragged_eofs=False)
    handshake(loop, server, peer)

    async def main():
        await peer.send_all(b"bye")
        await peer.close(notify=True)

    loop.run_sync(main)
    assert server.tls.recv(100) == b"bye"
    assert server.tls.recv(100) == b""
    assert server.tls.recv_into(bytearray(10)) == 0


@pytest.mark.parametrize("suppress", [True, False], ids=["suppressed", "not-suppressed"])
def test_a_reset_mid_record_is_what_cpython_makes_of_it_a_ragged_eof_to_a_read(loop, version, suppress):
    server, peer, fd, peer_sock = connected(loop, version, suppress_ragged_eofs=suppress)
    handshake(loop, server, peer)
    record = peer._encrypt(b"x" * 100)
    peer_sock.send(record[:30])
    received = fd.bytes_received
    with pytest.raises(ssl.SSLWantReadError):
        server.tls.recv(100)  # the header and 25 bytes of the body are in; the rest is not
    assert fd.bytes_received == received + 30 and fd.pending() == 0
    peer.reset()
    if suppress:
        assert server.tls.recv(100) == b""
    else:
        # SSL_read_ex returned 0 with ECONNRESET from the BIO: _ssl.c's ``ret == 0`` branch raises SSLEOFError.
        with pytest.raises(ssl.SSLEOFError) as caught:
            server.tls.recv(100)
        assert caught.value.args[0] == ssl.SSL_ERROR_EOF
        assert isinstance(caught.value.__cause__, ConnectionResetError)


def test_a_reset_during_the_handshake_raises_connection_reset_error(loop, version):
    server, peer, _, _ = connected(loop, version)
    loop.spawn(peer.handshake())
    loop.run_until_quiescent()
    peer.reset()
    with pytest.raises(ConnectionResetError) as caught:  # SSL_do_handshake returned -1: the BIO's errno
        server.tls.do_handshake()
    assert caught.value.errno == 104 and not isinstance(caught.value, ssl.SSLError)


def test_a_send_to_a_reset_connection_raises_ssleoferror(loop, version):
    server, peer, _, _ = connected(loop, version)
    handshake(loop, server, peer)
    peer.reset()
    with pytest.raises(ssl.SSLEOFError) as caught:  # SSL_write_ex returned 0: _ssl.c's ``ret == 0`` branch
        server.tls.send(b"x")
    assert caught.value.args[0] == ssl.SSL_ERROR_EOF


def test_close_sends_no_close_notify_and_unwrap_does(loop, version):
    server, peer, fd, _ = connected(loop, version)
    handshake(loop, server, peer)
    server.tls.close()
    assert fd.closed() and server.tls.fileno() == -1 and server.tls.pending() == 0
    assert loop.run_sync(peer.recv_some) == b"" and peer.eof == "ragged"

    server, peer, fd, _ = connected(loop, version)
    handshake(loop, server, peer)

    async def main():
        unwrapping = loop.spawn(server.call(server.tls.unwrap))
        assert await peer.recv_some() == b""
        await peer.close(notify=True)  # the peer answers with its own close_notify
        return await unwrapping

    assert loop.run_sync(main) is server.tls
    assert peer.eof == "close_notify" and not fd.closed()


# -- the handshake failing ----------------------------------------------------------------------------------


def test_a_failed_certificate_check_on_the_peer_side_fails_the_handshake_with_the_peers_alert(loop, version):
    fd, sock = socketpair(loop, record_payload=False)
    peer = TLSPeer(loop, sock, _certs.untrusted_client_context(version), server_hostname="localhost")
    server = Server(loop, fd)

    async def main():
        client = loop.spawn(peer.handshake())
        with pytest.raises(ssl.SSLError) as caught:
            await server.handshake()
        with pytest.raises(SSL.Error):
            await client
        return caught.value

    error = loop.run_sync(main)
    assert error.args[0] == ssl.SSL_ERROR_SSL and error.reason == "TLSV1_ALERT_UNKNOWN_CA"
    with pytest.raises(ValueError, match="handshake not done yet"):
        server.tls.getpeercert()


# -- wrapping ---------------------------------------------------------------------------------------------


def test_wrap_socket_checks_its_arguments_as_the_stdlib_does_and_refuses_a_blocking_handshake(loop):
    fd, _ = socketpair(loop)
    context = server_context()
    with pytest.raises(ValueError, match="do_handshake_on_connect"):
        context.wrap_socket(fd, server_side=True)
    with pytest.raises(ValueError, match="server_hostname can only be specified in client mode"):
        context.wrap_socket(fd, server_side=True, server_hostname="localhost", do_handshake_on_connect=False)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ValueError, match="check_hostname requires server_hostname"):
        wrap_socket(client, fd, do_handshake_on_connect=False)
    tls = context.wrap_socket(fd, server_side=True, do_handshake_on_connect=False)
    assert isinstance(tls, SimSSLSocket) and tls.fileno() == fd.fd and tls.context is context
    tls.setblocking(False)
    assert tls.gettimeout() == 0.0 and not tls.getblocking()


def test_the_context_wraps_a_kernel_socket_as_the_stdlib_does():
    a, b = socket.socketpair()
    try:
        wrapped = server_context().wrap_socket(a, server_side=True, do_handshake_on_connect=False)
        assert type(wrapped) is ssl.SSLSocket
        wrapped.close()
    finally:
        a.close()
        b.close()
