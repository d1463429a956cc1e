import pytest

from faultio import IOLoop, Peer, socketpair
from faultio._peer import PeerBase


@pytest.fixture
def loop():
    loop = IOLoop()
    yield loop
    IOLoop.clear_current()


def test_peer_and_tls_peer_share_one_implementation_of_waiting_and_receiving():
    from faultio._tlspeer import TLSPeer

    for name in ["_wait", "recv_exactly", "recv_until_eof"]:
        assert getattr(Peer, name) is getattr(PeerBase, name)
        assert getattr(TLSPeer, name) is getattr(PeerBase, name)
    # Each keeps its own wire format.
    assert Peer.recv_some is not TLSPeer.recv_some


def test_wait_futures_keep_each_peer_kind_in_their_label(loop):
    from faultio import _certs
    from faultio._tlspeer import TLSPeer

    _, plain_sock = socketpair(loop)
    _, tls_sock = socketpair(loop)
    assert Peer(loop, plain_sock)._wait(IOLoop.READ).label == "peer-wait-1"
    tls = TLSPeer(loop, tls_sock, _certs.client_context(), server_hostname="localhost")
    assert tls._wait(IOLoop.WRITE).label == "tlspeer-wait-4"


def test_recv_exactly_waits_for_every_byte_and_returns_fewer_only_when_the_connection_ends(loop):
    target, sock = socketpair(loop)
    peer = Peer(loop, sock)

    async def main():
        loop.call_later(1, target.send, b"abc")
        loop.call_later(2, target.send, b"defgh")
        first = await peer.recv_exactly(6)
        loop.call_later(1, target.close)
        rest = await peer.recv_exactly(10)
        return first, rest

    assert loop.run_sync(main) == (b"abcdef", b"gh")
    assert peer.eof and peer.received == bytearray(b"abcdefgh")


def test_recv_until_eof_returns_everything_sent_before_the_other_end_closed(loop):
    target, sock = socketpair(loop)
    peer = Peer(loop, sock)
    target.send(b"x" * 100_000)
    loop.call_later(1, target.close)
    assert loop.run_sync(peer.recv_until_eof) == b"x" * 100_000


def test_recv_until_eof_stops_at_its_limit(loop):
    target, sock = socketpair(loop)
    peer = Peer(loop, sock)
    target.send(b"0123456789")
    assert loop.run_sync(lambda: peer.recv_until_eof(limit=4)) == b"0123"
    assert not peer.eof


def test_tls_peer_recv_until_eof_returns_the_plaintext_sent_before_close_notify(loop):
    from faultio import _certs
    from faultio._tlspeer import TLSPeer

    client_sock, server_sock = socketpair(loop)
    client = TLSPeer(loop, client_sock, _certs.client_context(), server_hostname="localhost")
    server = TLSPeer(loop, server_sock, _certs.server_context(), server_side=True)

    async def serve():
        await server.handshake()
        await server.send_all(b"hello " * 5000)
        await server.close(notify=True)

    async def main():
        serving = loop.spawn(serve())
        await client.handshake()
        data = await client.recv_until_eof()
        await serving
        return data

    assert loop.run_sync(main) == b"hello " * 5000
    assert client.eof == "close_notify"
