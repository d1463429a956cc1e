"""fault_event_loop: a project's own asyncio code on the simulated asyncio loop, through pytester runs."""

import json
import xml.etree.ElementTree as ET

import pytest
from _plugin_project import project  # noqa: F401 - project is a fixture

from faultio import FAULT_KINDS

pytest_plugins = ["pytester"]

HEADER = '''
import asyncio
import struct

import pytest

MESSAGES = [b"hello world, %d." % i for i in range(13)] + [b"break"]
WIRE = b"".join(struct.pack("!I", len(m)) + m for m in MESSAGES)
'''


# --- the test runs on the simulated loop ------------------------------------------------------------------


def test_an_async_test_runs_as_a_task_on_the_simulated_loop_in_virtual_time(project):
    project.makepyfile(test_ext_loop=HEADER + '''
from faultio import SimEventLoop


@pytest.mark.faults("eintr")
async def test_the_loop(fault_event_loop):
    loop = asyncio.get_running_loop()
    assert isinstance(loop, SimEventLoop) and loop is fault_event_loop.loop
    assert asyncio.current_task().get_name() == "test_the_loop[eintr]"
    await asyncio.sleep(3600)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(fault_event_loop.peer.recv_exactly(5), 30)
    assert loop.time() == 3630 and fault_event_loop.kernel.time() == 3630
    assert fault_event_loop.sock.profile == "cpython" and fault_event_loop.plan.name == "eintr"
    fault_event_loop.sock.close()


@pytest.mark.faults("eintr", profile="raw")
async def test_the_marker_s_profile_wins(fault_event_loop):
    assert fault_event_loop.sock.profile == "raw"
    fault_event_loop.sock.close()


async def test_unmarked_is_a_clean_connection(fault_event_loop):
    assert fault_event_loop.plan.is_clean and fault_event_loop.sock.profile == "cpython"
    fault_event_loop.sock.close()


def test_a_sync_test_runs_coroutines_with_run(fault_event_loop):
    async def main():
        await asyncio.sleep(10)
        return asyncio.get_running_loop().time()

    assert fault_event_loop.run(main()) == 10
    fault_event_loop.sock.close()


async def test_run_inside_the_loop_is_refused(fault_event_loop):
    with pytest.raises(RuntimeError, match="await the coroutine instead"):
        fault_event_loop.run(asyncio.sleep(0))
    fault_event_loop.sock.close()
''')
    result = project.runpytest("-v")
    result.assert_outcomes(passed=5)


ACCEPTED_SOCKET = HEADER + '''

@pytest.mark.faults("all")
async def test_connect_accepted_socket(fault_event_loop):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, protocol = await loop.connect_accepted_socket(
        lambda: asyncio.StreamReaderProtocol(reader), sock=fault_event_loop.sock)
    await fault_event_loop.peer.send_all(WIRE)
    fault_event_loop.peer.close()
    got = b""
    try:  # to EOF, or twice what was sent (a flood brings more than the peer sent)
        while len(got) < 2 * len(WIRE) and (chunk := await reader.read(4096)):
            got += chunk
    except ConnectionResetError:
        pass
    transport.close()
    fault_event_loop.check_received(got[:len(WIRE)], WIRE)


@pytest.mark.faults("eintr", "ewouldblock", "dribble")
async def test_sock_recv_and_sock_sendall(fault_event_loop):
    loop, sock, peer = asyncio.get_running_loop(), fault_event_loop.sock, fault_event_loop.peer
    await peer.send_all(WIRE)
    got = bytearray()
    while len(got) < len(WIRE):
        got += await loop.sock_recv(sock, 4096)
    await loop.sock_sendall(sock, b"server is good")
    assert await peer.recv_exactly(14) == b"server is good"
    sock.close()
    fault_event_loop.check_received(bytes(got), WIRE)
'''


def test_asyncio_s_other_ways_of_taking_the_socket_work_on_the_fake_socket(project):
    project.makepyfile(test_ext_accepted=ACCEPTED_SOCKET)
    result = project.runpytest("-v")
    result.assert_outcomes(passed=len(FAULT_KINDS) + 3)


TORNADO_SERVER = HEADER + '''
from tornado.iostream import IOStream, StreamBufferFullError, StreamClosedError


async def handle_connection(stream, received):
    try:
        payload = None
        while payload != b"break":
            (length,) = struct.unpack("!I", await stream.read_bytes(4))
            if length > 65536:
                break
            payload = await stream.read_bytes(length)
            received.append(payload)
            await stream.write(b"server is good")
    except (StreamClosedError, StreamBufferFullError):
        pass
    finally:
        stream.close()


@pytest.mark.faults("all")
async def test_tornado_server(fault_event_loop):
    received, peer = [], fault_event_loop.peer
    server = asyncio.ensure_future(handle_connection(IOStream(fault_event_loop.sock, max_buffer_size=65536),
                                                     received))
    for message in MESSAGES:
        await peer.send_all(struct.pack("!I", len(message)) + message)
        if await peer.recv_exactly(14) != b"server is good":
            break
    await server
    fault_event_loop.check_received(received, MESSAGES)
'''


def test_tornado_6_iostream_built_inside_the_test_runs_on_the_simulated_loop_under_every_fault(project):
    tornado = pytest.importorskip("tornado")
    if tornado.version_info < (6,):
        pytest.skip("the test drives Tornado 6's IOStream")
    project.makepyfile(test_ext_tornado=TORNADO_SERVER)
    project.runpytest().assert_outcomes(passed=len(FAULT_KINDS))
    # The planted bug: a short read taken for the whole message.
    project.makepyfile(test_ext_tornado=TORNADO_SERVER.replace("await stream.read_bytes(length)",
                                                               "await stream.read_bytes(length, partial=True)"))
    result = project.runpytest("--faults", "dribble")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["faultio: data-integrity broken under the dribble fault plan",
                                 "code under test: fault_event_loop"])


# --- the verdict ---------------------------------------------------------------------------------------


def test_a_loop_that_goes_quiet_while_the_test_waits_fails_with_liveness_naming_where_each_task_waits(project):
    project.makepyfile(test_ext_stall=HEADER + '''

async def serve(reader):
    await reader.readexactly(10)


@pytest.mark.faults("dribble")
async def test_waits_for_bytes_never_sent(fault_event_loop):
    reader, writer = await asyncio.open_connection(sock=fault_event_loop.sock)
    server = asyncio.create_task(serve(reader))
    await fault_event_loop.peer.send_all(b"abc")
    await server
''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "faultio: liveness broken under the dribble fault plan",
        "[[]liveness[]] the test waited on a loop with nothing left to do, a hang on a real machine (* the test "
        "still waits (test_waits_for_bytes_never_sent at test_ext_stall.py:*); tasks waiting too: task #2 "
        "(serve at test_ext_stall.py:*, in readexactly > _wait_for_data)*",
        "fault plan dribble over plain, profile cpython *",
        "replay: python -m pytest 'test_ext_stall.py::test_waits_for_bytes_never_sent[[]dribble[]]' --fault-seed 0",
    ])
    assert "StalledError" not in result.stdout.str()


def test_a_reader_that_spins_on_ewouldblock_fails_with_no_busy_loop(project):
    project.makepyfile(test_ext_spin=HEADER + '''

@pytest.mark.faults("ewouldblock")
async def test_spins(fault_event_loop):
    sock = fault_event_loop.sock
    fault_event_loop.peer.send_now(b"x" * 10)
    got = b""
    while len(got) < 20:  # more than was sent: retries recv without ever waiting for readiness
        try:
            got += sock.recv(10)
        except BlockingIOError:
            continue
''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["faultio: no-busy-loop broken under the ewouldblock fault plan",
                                 "[[]no-busy-loop[]] * reads answered EWOULDBLOCK in one loop step*"])


def test_a_leaked_connection_and_io_after_close_fail_with_no_io_after_close(project):
    project.makepyfile(test_ext_close=HEADER + '''
KEPT = []


@pytest.mark.faults("eintr")
async def test_leaks(fault_event_loop):
    KEPT.append(await asyncio.open_connection(sock=fault_event_loop.sock))


@pytest.mark.faults("eintr")
async def test_sends_after_close(fault_event_loop):
    sock = fault_event_loop.sock
    sock.close()
    try:
        sock.send(b"late")
    except OSError:
        pass


@pytest.mark.faults("eintr")
async def test_closes(fault_event_loop):
    reader, writer = await asyncio.open_connection(sock=fault_event_loop.sock)
    writer.close()
    await writer.wait_closed()
''')
    result = project.runpytest("-rA")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(["[[]no-io-after-close[]] the connection was never closed: its fd was still open "
                                 "when the loop went quiet after the test ended and the peer hung up*"])
    result.stdout.fnmatch_lines(["[[]no-io-after-close[]] send on the fd after it was closed*"])


def test_a_double_close_a_reader_left_on_a_closed_fd_and_a_raising_callback_are_caught(project):
    project.makepyfile(test_ext_hygiene=HEADER + '''

@pytest.mark.faults("eintr")
async def test_double_close(fault_event_loop):
    fault_event_loop.sock.close()
    fault_event_loop.sock.close()


@pytest.mark.faults("eintr")
async def test_reader_left_registered(fault_event_loop):
    asyncio.get_running_loop().add_reader(fault_event_loop.sock, lambda: None)
    fault_event_loop.sock.close()


@pytest.mark.faults("eintr")
async def test_callback_raises(fault_event_loop):
    asyncio.get_running_loop().call_soon(lambda: 1 / 0)
    await asyncio.sleep(0)
    fault_event_loop.sock.close()
''')
    result = project.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["[[]no-io-after-close[]] close_fd ran 2 times (contract*"])
    result.stdout.fnmatch_lines(["[[]no-io-after-close[]] the stream closed but its fd handler is still registered*"])
    result.stdout.fnmatch_lines(["[[]target-crashed[]] an exception escaped into the loop: ZeroDivisionError*"])


def test_a_task_that_dies_unawaited_fails_with_target_crashed_but_a_connection_that_ended_does_not(project):
    project.makepyfile(test_ext_crash=HEADER + '''

async def parse(reader):
    header = await reader.read(4)
    return int.from_bytes(header, "big") // (len(header) - 1)


@pytest.mark.faults("dribble")
async def test_handler_dies(fault_event_loop):
    reader, writer = await asyncio.open_connection(sock=fault_event_loop.sock)
    asyncio.create_task(parse(reader))
    await fault_event_loop.peer.send_all(b"\\0\\0\\0\\5hello")
    await asyncio.sleep(1)
    writer.close()


@pytest.mark.faults("econnreset")
async def test_handler_sees_the_reset(fault_event_loop):
    reader, writer = await asyncio.open_connection(sock=fault_event_loop.sock)
    task = asyncio.create_task(reader.readexactly(len(WIRE)))
    await fault_event_loop.peer.send_all(WIRE)
    await asyncio.sleep(1)
    writer.close()
''')
    result = project.runpytest("-rA")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["[[]target-crashed[]] the task #2 (parse) ended with ZeroDivisionError*, and "
                                 "nothing awaited it*"])


def test_the_test_s_own_failure_keeps_its_traceback_and_gains_the_plan(project):
    project.makepyfile(test_ext_own=HEADER + '''

@pytest.mark.faults("econnreset")
async def test_own(fault_event_loop):
    reader, writer = await asyncio.open_connection(sock=fault_event_loop.sock)
    await fault_event_loop.peer.send_all(WIRE)
    try:
        assert await reader.readexactly(len(WIRE)) == WIRE
    finally:
        writer.close()
''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   *ConnectionResetError*", "*- faultio -*",
                                 "fault plan econnreset over plain, profile cpython*",
                                 "code under test: fault_event_loop", "replay: python -m pytest *--fault-seed 0"])


def test_failure_messages_are_the_same_whatever_ran_before(project):
    """asyncio numbers its tasks per process: the messages name them per loop instead."""
    project.makepyfile(test_ext_order=HEADER + '''

async def serve(reader):
    await reader.readexactly(10)


@pytest.mark.faults("eintr", "dribble")
async def test_stalls(fault_event_loop):
    reader, writer = await asyncio.open_connection(sock=fault_event_loop.sock)
    await asyncio.gather(*(asyncio.sleep(i) for i in range(5)))
    await asyncio.create_task(serve(reader))
''')
    result = project.runpytest()
    result.assert_outcomes(failed=2)
    # Only the failure reports: the short summary repeats whole messages when pytest sees a CI environment.
    lines = result.stdout.lines
    reports = lines[:next(i for i, line in enumerate(lines) if "short test summary info" in line)]
    waits = [line for line in reports if line.startswith("[liveness] the test waited")]
    assert len(waits) == 2 and all("task #7 (serve at test_ext_order.py:" in line for line in waits)


# --- collection ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixtures, message", [
    ("fault_event_loop, fault_streams", "fault_event_loop (the simulated asyncio loop) and fault_loop and "
                                        "fault_streams (faultio's Tornado-4 loop) do not mix in one test; use one "
                                        "or the other"),
    ("fault_event_loop, fault_loop", "fault_event_loop (the simulated asyncio loop) and fault_loop "
                                     "(faultio's Tornado-4 loop) do not mix in one test"),
], ids=["streams", "loop"])
def test_fault_event_loop_and_faultio_s_own_loop_do_not_mix(project, fixtures, message):
    project.makepyfile(test_ext_mix=f'import pytest\n\n@pytest.mark.faults("eintr")\ndef test_x({fixtures}):\n'
                       '    pass\n')
    result = project.runpytest()
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_fault_event_loop_over_ssl_is_a_collection_error(project):
    project.makepyfile(test_ext_ssl='import pytest\n\n@pytest.mark.faults("eintr", transports="all")\n'
                       'async def test_x(fault_event_loop):\n    pass\n')
    result = project.runpytest()
    result.stdout.fnmatch_lines(["*fault_event_loop runs over the plain transport only (transports='all')*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


# --- other plugins that run coroutine tests ----------------------------------------------------------------

# What pytest-asyncio does in auto mode, in miniature: every coroutine test's function is swapped, while it
# runs, for a functools.wraps wrapper that runs it on the plugin's own (real) event loop.
OWN_LOOP_PLUGIN = '''
import asyncio
import functools
import inspect

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    func = getattr(item, "obj", None)
    if not inspect.iscoroutinefunction(func):
        return (yield)

    @functools.wraps(func)
    def synchronous(*args, **kwargs):
        asyncio.run(func(*args, **kwargs))

    item.obj = synchronous
    try:
        return (yield)
    finally:
        item.obj = func
'''


def test_a_plugin_that_runs_coroutine_tests_on_its_own_loop_keeps_its_tests_and_leaves_ours(project):
    project.makeconftest(OWN_LOOP_PLUGIN)
    project.makepyfile(test_ext_both=HEADER + '''
from faultio import SimEventLoop


async def test_theirs():
    assert not isinstance(asyncio.get_running_loop(), SimEventLoop)


@pytest.mark.faults("dribble")
async def test_ours(fault_event_loop):
    assert asyncio.get_running_loop() is fault_event_loop.loop
    fault_event_loop.sock.close()
''')
    project.runpytest("-rA").assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_pytest_asyncio_runs_its_own_tests_and_leaves_ours(project, mode):
    pytest.importorskip("pytest_asyncio")
    project.makeini("[pytest]\naddopts = --strict-markers --strict-config -p no:cacheprovider\n"
                    f"filterwarnings = error\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n")
    project.makepyfile(test_ext_both=HEADER + '''
from faultio import SimEventLoop


@pytest.mark.asyncio
async def test_theirs():
    assert not isinstance(asyncio.get_running_loop(), SimEventLoop)


@pytest.mark.faults("dribble")
async def test_ours(fault_event_loop):
    assert asyncio.get_running_loop() is fault_event_loop.loop
    fault_event_loop.sock.close()
''')
    project.runpytest_subprocess("-rA").assert_outcomes(passed=2)


# --- reports ---------------------------------------------------------------------------------------------

SERVER = HEADER + '''

async def handle_connection(reader, writer, received):
    try:
        payload = None
        while payload != b"break":
            (length,) = struct.unpack("!I", await reader.readexactly(4))
            if length > 65536:
                break
            payload = await reader.{read}(length)
            received.append(payload)
            writer.write(b"server is good")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.mark.faults({kinds})
async def test_server(fault_event_loop):
    received, peer = [], fault_event_loop.peer
    reader, writer = await asyncio.open_connection(sock=fault_event_loop.sock)
    server = asyncio.create_task(handle_connection(reader, writer, received))
    for message in MESSAGES:
        await peer.send_all(struct.pack("!I", len(message)) + message)
        if await peer.recv_exactly(14) != b"server is good":
            break
    await server
    fault_event_loop.check_received(received, MESSAGES)
'''


def test_xdist_reports_and_junit_carry_the_asyncio_cases(project):
    project.makepyfile(test_ext_good=SERVER.format(read="readexactly", kinds='"eintr", "econnreset"'),
                       test_ext_bad=SERVER.format(read="read", kinds='"dribble", "flood"'))
    result = project.runpytest_subprocess("-n", "2", "--fault-report", "rep", "--junitxml", "junit.xml")
    result.assert_outcomes(failed=1, passed=3)
    report = json.loads((project.path / "rep" / "report.json").read_text())
    assert report["summary"]["cases"] == 4 and report["summary"]["violations"] == 1
    (failing,) = [c for c in report["cases"] if c["outcome"] == "violation"]
    assert failing["id"] == "test_ext_bad.py::test_server[dribble]" and failing["violations"] == ["data-integrity"]
    assert failing["target"] == "fault_event_loop" and failing["profile"] == "cpython" and failing["trace"]
    assert failing["payload"]["received"] == b"h".hex()  # what the test said its code read
    root = ET.parse(project.path / "junit.xml").getroot()
    props = [{p.get("name"): p.get("value") for p in tc.iter("property")} for tc in root.iter("testcase")]
    assert {p["faultio_profile"] for p in props} == {"cpython"}
