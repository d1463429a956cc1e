"""The pytest plugin under the TLS kinds: faultio's SSL stream passes every one, a stream that takes a ragged EOF
for a clean end fails, and the asyncio loop fixture refuses them (split from ``test_plugin.py``)."""

import xml.etree.ElementTree as ET

import pytest
from _plugin_project import project  # noqa: F401 - project is a fixture

from faultio import (
    FaultPlan,
    plan_for_kind,
)
from faultio._plan import TLS_KINDS

pytest_plugins = ["pytester"]


# --- the TLS kinds ------------------------------------------------------------------------------------

TLS_TEST = '''
import pytest

from faultio import StreamClosedError

PAYLOAD = bytes(range(256)) * 2


@pytest.mark.faults({kinds}, transports=("ssl",), inbound_size=len(PAYLOAD))
def test_reads_everything_until_the_peer_hangs_up(fault_loop, fault_streams):
    stream, peer = fault_streams.stream, fault_streams.peer

    async def client():
        await peer.send_all(PAYLOAD)
        await peer.close()

    async def server():
        try:
            return await stream.read_until_close()
        except StreamClosedError:
            return None  # the connection did not end cleanly: nothing is taken for the whole payload

    fault_loop.spawn(client())
    got = fault_loop.run_sync(server)
    if got is not None:
        fault_streams.check_received(got, PAYLOAD)
'''


def test_faultio_s_ssl_stream_passes_under_every_tls_kind(project):
    project.makepyfile(test_ext_tls=TLS_TEST.format(kinds=", ".join(f'"{k}"' for k in TLS_KINDS)))
    result = project.runpytest("-v")
    result.assert_outcomes(passed=len(TLS_KINDS))
    result.stdout.fnmatch_lines([f"*[[]{k}-ssl[]] PASSED*" for k in TLS_KINDS])


def _handshake_variants(project, *args):
    """Run the TLS test under handshake-fail with fault seeds 0, 1, ... until each variant has run; the
    outcome (and skip reason) of each variant's first run."""
    from faultio._plan import HANDSHAKE_VARIANTS

    project.makepyfile(test_ext_tls=TLS_TEST.format(kinds='"handshake-fail"'))
    seen = {}
    for seed in range(40):
        result = project.runpytest("--fault-seed", str(seed), *args)
        (report,) = [r for r in result.reprec.getreports("pytest_runtest_logreport")
                     if r.when == "call" or (r.when == "setup" and not r.passed)]
        plan = FaultPlan.from_json(dict(report.user_properties)["faultio_plan"])
        seen.setdefault(plan.name.partition(":")[2], (report.outcome, str(report.longrepr)))
        if len(seen) == len(HANDSHAKE_VARIANTS):
            return seen
    raise AssertionError(f"40 fault seeds ran only the handshake-fail variants {sorted(seen)}")


def test_faultio_s_ssl_stream_passes_every_handshake_fail_variant(project):
    seen = _handshake_variants(project)
    assert {variant: outcome for variant, (outcome, _) in seen.items()} == {
        "peer-rejects": "passed", "untrusted-cert": "passed", "wrong-hostname": "passed"}


def test_a_factory_that_cannot_be_a_tls_client_skips_the_variants_that_need_one(project):
    project.makepyfile(mystreams='''
        from faultio import SSLIOStream

        def make(sock, *, io_loop, transport, max_buffer_size, ssl_context):
            return SSLIOStream(sock, io_loop=io_loop, max_buffer_size=max_buffer_size, ssl_options=ssl_context,
                               server_side=True)
    ''')
    seen = _handshake_variants(project, "--fault-target", "mystreams:make")
    assert seen["peer-rejects"][0] == "passed"
    for variant in ("untrusted-cert", "wrong-hostname"):
        outcome, reason = seen[variant]
        assert outcome == "skipped" and f"handshake-fail:{variant} needs the stream under test as the TLS client: " \
            "the target mystreams:make cannot be built as a TLS client" in reason


def test_a_stream_taking_a_ragged_eof_for_a_clean_end_fails_under_ragged_eof_with_tls_ragged_eof(project):
    project.makeconftest('''
        import pytest
        from harness._mutants import RaggedEofTakenAsClean

        @pytest.fixture
        def fault_stream_factory():
            return RaggedEofTakenAsClean
    ''')
    project.makepyfile(test_ext_tls=TLS_TEST.format(kinds='"ragged-eof", "record-split"'))
    result = project.runpytest("-v", "--junitxml", "junit.xml")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*[[]record-split-ssl[]] PASSED*",
        "*_ test_reads_everything_until_the_peer_hangs_up[[]ragged-eof-ssl[]] _*",
        "faultio: tls-ragged-eof broken under the ragged-eof-ssl fault plan",
        "[[]tls-ragged-eof[]] read_until_close completed with 512 byte(s) and the stream's error None after the "
        "peer closed the connection without close_notify*",
        "fault plan ragged-eof-ssl over ssl (fault seed 0, plan seed *): ragged-eof: read[[]chunk(*",
        "replay: python -m pytest 'test_ext_tls.py::test_reads_everything_until_the_peer_hangs_up"
        "[[]ragged-eof-ssl[]]' --fault-seed 0",
    ])
    root = ET.parse(project.path / "junit.xml").getroot()
    props = {tc.get("name"): {p.get("name"): p.get("value") for p in tc.iter("property")}
             for tc in root.iter("testcase")}
    ragged = props["test_reads_everything_until_the_peer_hangs_up[ragged-eof-ssl]"]
    assert ragged["faultio_fault"] == "ragged-eof" and ragged["faultio_transport"] == "ssl"
    assert ragged["faultio_violations"] == "tls-ragged-eof"
    assert FaultPlan.from_json(ragged["faultio_plan"]) == plan_for_kind(
        "ragged-eof", seed=int(ragged["faultio_plan_seed"]), inbound_size=512)


def test_fault_event_loop_refuses_the_tls_kinds_saying_it_runs_over_plain_only(project):
    project.makepyfile(test_ext_x='import pytest\n\n@pytest.mark.faults("ragged-eof", transports=("ssl",))\n'
                       'async def test_x(fault_event_loop):\n    pass\n')
    result = project.runpytest()
    result.stdout.fnmatch_lines(["*fault_event_loop runs over the plain transport only (transports=('ssl',)); "
                                 "for TLS under faults (and the TLS kinds) use fault_streams*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
