"""fault_socketpair: real OS sockets obeying a plan, under asyncio and Tornado 6, through pytester runs."""


import pytest
from _plugin_project import project  # noqa: F401 - project is a fixture

pytest_plugins = ["pytester"]

# --- fault_socketpair: real sockets, real event loops --------------------------------------------------

REAL_SOCKET_TESTS = '''
import asyncio
import socket
import struct

import pytest

MESSAGES = [b"hello world, %d." % i for i in range(13)] + [b"break"]
WIRE = b"".join(struct.pack("!I", len(m)) + m for m in MESSAGES)


def send_and_finish(peer):
    peer.sendall(WIRE)
    peer.shutdown(socket.SHUT_WR)
'''

ASYNCIO_READER = REAL_SOCKET_TESTS + '''

async def read_frames(sock, limit=65536):
    """recv until EWOULDBLOCK, then wait for readiness with add_reader; retry EINTR."""
    loop = asyncio.get_running_loop()
    buf, frames = bytearray(), []
    while True:
        try:
            data = sock.recv(4096)
        except InterruptedError:
            continue
        except BlockingIOError:
            ready = loop.create_future()
            loop.add_reader(sock.fileno(), ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_reader(sock.fileno())
            continue
        except ConnectionResetError:
            return frames, "reset"
        if not data:
            return frames, "eof"
        buf += data
        if len(buf) > limit:
            return frames, "overflow"
        while len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "big"):
            n = int.from_bytes(buf[:4], "big")
            frames.append(bytes(buf[4:4 + n]))
            del buf[:4 + n]


@pytest.mark.faults("all")
def test_asyncio_reader(fault_socketpair, fault_plan):
    target, peer = fault_socketpair
    send_and_finish(peer)
    frames, end = asyncio.run(read_frames(target))
    expected_end = {"econnreset": "reset", "flood": "overflow"}.get(fault_plan.name, "eof")
    assert end == expected_end
    if fault_plan.name != "flood":
        assert frames == MESSAGES[: len(frames)]
    if end == "eof":
        assert frames == MESSAGES
    assert target.faults_injected or fault_plan.name == "dribble"


@pytest.mark.faults("eintr", "ewouldblock", "dribble")
def test_asyncio_sock_recv(fault_socketpair):
    target, peer = fault_socketpair
    send_and_finish(peer)

    async def read_to_eof():
        loop, got = asyncio.get_running_loop(), bytearray()
        while data := await loop.sock_recv(target, 4096):
            got += data
        return bytes(got)

    assert asyncio.run(read_to_eof()) == WIRE
'''

TORNADO_READER = REAL_SOCKET_TESTS + '''
from tornado.iostream import IOStream, StreamBufferFullError, StreamClosedError


@pytest.mark.faults("all")
def test_tornado_iostream(fault_socketpair, fault_plan):
    target, peer = fault_socketpair
    send_and_finish(peer)

    async def read_all():
        stream = IOStream(target, max_buffer_size=65536)
        frames = []
        try:
            while True:
                (n,) = struct.unpack("!I", await stream.read_bytes(4))
                frames.append(await stream.read_bytes(n))
        except (StreamClosedError, StreamBufferFullError, InterruptedError) as exc:
            return frames, stream.error, exc

    frames, error, raised = asyncio.run(read_all())
    if fault_plan.name == "eintr":
        # Tornado 6 leaves EINTR to Python (PEP 475), so an EINTR that reaches it closes the stream.
        assert isinstance(error, InterruptedError) and frames == []
    elif fault_plan.name == "econnreset":
        assert isinstance(error, ConnectionResetError) and frames == MESSAGES[: len(frames)]
    elif fault_plan.name == "flood":
        assert isinstance(error, StreamBufferFullError)
    else:
        assert frames == MESSAGES and error is None
    assert target.recv_calls > 0
'''


def test_fault_socketpair_drives_a_hand_written_asyncio_reader(project):
    project.makepyfile(test_ext_asyncio_reader=ASYNCIO_READER)
    project.runpytest().assert_outcomes(passed=8)


def test_fault_socketpair_drives_tornado_6_iostream(project):
    tornado = pytest.importorskip("tornado")
    if tornado.version_info < (6,):
        pytest.skip("the test drives Tornado 6's IOStream")
    project.makepyfile(test_ext_tornado=TORNADO_READER)
    project.runpytest().assert_outcomes(passed=5)


def test_fault_socketpair_failure_shows_the_real_fd_trace(project):
    project.makepyfile(test_ext_real_fail=REAL_SOCKET_TESTS + '''

@pytest.mark.faults("eintr")
def test_naive_reader(fault_socketpair):
    target, peer = fault_socketpair
    send_and_finish(peer)
    target.recv(4096)
''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*InterruptedError*", "*- faultio -*", "trace events #0..#* of *:",
                                 "*fd recv fd=* role=target result=EINTR injected=True step=eintr*"])


# --- the cpython profile: EINTR retried inside the call, as CPython's socket methods do (PEP 475) ----------

CPYTHON_PROFILE_TESTS = REAL_SOCKET_TESTS + '''
import select


@pytest.mark.faults("eintr", profile="cpython")
def test_a_reader_that_never_handles_eintr(fault_socketpair):
    target, peer = fault_socketpair
    assert target.profile == "cpython"
    send_and_finish(peer)
    got = bytearray()
    while True:
        try:
            data = target.recv(4096)
        except BlockingIOError:
            select.select([target], [], [], 5)
            continue
        if not data:
            break
        got += data
    assert bytes(got) == WIRE
    assert target.faults_injected > 0
    assert any(e.get("result") == "EINTR-retried" for e in target.trace)


@pytest.mark.faults("eintr")
def test_raw_is_still_the_default(fault_socketpair):
    assert fault_socketpair.target.profile == "raw"
'''

TORNADO_CPYTHON = REAL_SOCKET_TESTS + '''
from tornado.iostream import IOStream, StreamClosedError


@pytest.mark.faults("eintr", profile="cpython")
def test_tornado_iostream_reads_every_frame(fault_socketpair):
    target, peer = fault_socketpair
    send_and_finish(peer)

    async def read_all():
        stream = IOStream(target, max_buffer_size=65536)
        frames = []
        try:
            while True:
                (n,) = struct.unpack("!I", await stream.read_bytes(4))
                frames.append(await stream.read_bytes(n))
        except StreamClosedError:
            return frames, stream.error

    frames, error = asyncio.run(read_all())
    assert frames == MESSAGES and error is None
    assert target.faults_injected > 0
'''


def test_fault_socketpair_under_the_cpython_profile_absorbs_eintr(project):
    project.makepyfile(test_ext_cpython=CPYTHON_PROFILE_TESTS)
    project.runpytest().assert_outcomes(passed=2)


def test_tornado_6_passes_eintr_under_the_cpython_profile(project):
    tornado = pytest.importorskip("tornado")
    if tornado.version_info < (6,):
        pytest.skip("the test drives Tornado 6's IOStream")
    project.makepyfile(test_ext_tornado_cpython=TORNADO_CPYTHON)
    project.runpytest().assert_outcomes(passed=1)
