"""faultio._aioloop with libraries on top: asyncio's SSL transport against faultio's TLS peer, and Tornado's own
IOStream, on the simulated kernel in virtual time (split from ``test_aioloop.py``)."""

from __future__ import annotations

import ssl

import pytest

from faultio import (
    Peer,
    TLSPeer,
    socketpair,
)
from faultio._certs import client_context, server_certificate

from _aioloop_support import DRIBBLE, ERROR, READ, open_streams, random_bytes, target_reads


# --- 7. TLS: asyncio's SSL transport against faultio's TLS peer ---------------------------------------

TLS_READS = {"all-at-once": None, "byte-at-a-time": DRIBBLE}
TLS_VERSIONS = {"tls12": "TLSv1.2", "tls13": "TLSv1.3"}


@pytest.mark.parametrize("version", TLS_VERSIONS, ids=TLS_VERSIONS.keys())
@pytest.mark.parametrize("plan", TLS_READS.values(), ids=TLS_READS.keys())
def test_asyncio_ssl_transport_exchanges_kib_both_ways_with_the_tls_peer(make_kernel, plan, version):
    kernel = make_kernel()
    fd, peer_sock = socketpair(kernel, plan, record_payload=False)  # ciphertext differs on every run
    aloop = kernel.asyncio_loop
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_certificate().configure_cert(context)
    tls = TLSPeer(kernel, peer_sock, client_context(version), server_hostname="localhost")
    up = random_bytes(4096, seed=1)
    down = random_bytes(3000, seed=2)

    async def server():
        reader, writer = await open_streams(aloop, fd, ssl=context)
        got = await reader.readexactly(len(up))
        negotiated = writer.get_extra_info("ssl_object").version()
        writer.write(down)
        await writer.drain()
        writer.close()  # close_notify; the peer answers with its own
        await writer.wait_closed()
        return got, negotiated

    async def client():
        await tls.handshake()
        await tls.send_all(up)
        got = await tls.recv_until_eof()
        await tls.close()
        return got

    with aloop.running():
        served = aloop.create_task(server())
    answered = kernel.spawn(client)
    assert kernel.run_until(lambda: served.done() and answered.done())
    assert served.result() == (up, TLS_VERSIONS[version])
    assert answered.result() == down
    assert tls.eof == "close_notify"
    reads = target_reads(kernel)
    if plan is DRIBBLE:
        assert set(reads) == {1}
    else:
        assert max(reads) > 1
    assert aloop.time() == 0  # no handshake or shutdown timer ever fired


# --- 8. Tornado's own IOStream on this loop ----------------------------------------------------------

TORNADO_LINES = (b"GET / HTTP/1.1\r\n", b"Host: faultio.test\r\n", b"\r\n")


@pytest.mark.parametrize("plan", TLS_READS.values(), ids=TLS_READS.keys())
def test_tornado_iostream_reads_lines_dribbled_byte_at_a_time_on_this_loop(make_kernel, plan):
    tornado = pytest.importorskip("tornado")
    if tornado.version_info < (5,):
        pytest.skip(f"Tornado {tornado.version} runs on its own loop (faultio's IOLoop), not on asyncio's")
    from tornado.iostream import IOStream as TornadoIOStream

    kernel = make_kernel()
    fd, peer_sock = socketpair(kernel, plan, profile="cpython")
    peer = Peer(kernel, peer_sock)
    aloop = kernel.asyncio_loop
    with aloop.running():
        stream = TornadoIOStream(fd)
    assert stream.io_loop.asyncio_loop is aloop
    masks = []

    async def main():
        lines = []
        for _ in TORNADO_LINES:
            lines.append(await stream.read_until(b"\r\n"))
        return lines

    with aloop.running():
        task = aloop.create_task(main())
    kernel.run_until_quiescent()  # Tornado registers its read; nothing has arrived
    masks.append(kernel.handler_mask(fd.fd))
    assert not task.done()
    peer.send_now(b"".join(TORNADO_LINES))
    kernel.run_until(task.done)
    assert tuple(task.result()) == TORNADO_LINES
    masks.append(kernel.handler_mask(fd.fd))
    total = sum(map(len, TORNADO_LINES))
    reads = target_reads(kernel)
    assert reads == ([1] * total if plan is DRIBBLE else [total])
    handlers = {e.get("name") for e in kernel.trace.events(source="loop", kind="handler")}
    assert handlers == {"BaseAsyncIOLoop._handle_events"}  # Tornado's own handler, polled by this loop
    assert masks[0] == READ | ERROR
    stream.close()
    assert fd.closed()
