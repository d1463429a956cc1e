"""The pytest plugin, exercised the way another project uses it: through pytester runs of their tests."""

import importlib
import json
import re
import sys
import xml.etree.ElementTree as ET

import pytest
from _plugin_project import STRICT_INI, project, server_test  # noqa: F401 - project is a fixture

from faultio import (
    FAULT_KINDS,
)
from faultio._plan import ALL_KINDS, CONNECT_KINDS, TIME_KINDS, TLS_KINDS

#: What a marker's "all" names on ssl: every kind but the time and connect kinds (they run where they are
#: named).
MARKER_ALL = tuple(k for k in ALL_KINDS if k not in TIME_KINDS and k not in CONNECT_KINDS)

pytest_plugins = ["pytester"]

# --- loading, options, marker -------------------------------------------------------------------------


def test_loading_the_plugin_imports_nothing_heavy(project):
    project.makepyfile(test_ext_light='''
        import sys

        def test_only_the_plugin_is_loaded():
            assert "harness.pytest_plugin" in sys.modules
            heavy = ["OpenSSL", "cryptography", "faultio", "harness._runner", "harness._monitors",
                     "harness._report_html", "harness._plugin_world", "harness._plugin_report"]
            assert [name for name in heavy if name in sys.modules] == []
    ''')
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["faultio: fault seed 0, faults as each test's faults marker says*"])


def test_p_no_faultio_disables_the_plugin_so_strict_markers_rejects_the_marker(project):
    project.makepyfile(test_ext_server=server_test())
    # In a fresh process: pytest remembers known marker names for the life of the process.
    result = project.runpytest_subprocess("-p", "no:faultio")
    result.stdout.fnmatch_lines(["*'faults' not found in `markers` configuration option*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_marker_is_registered_with_its_signature(project):
    result = project.runpytest("--markers")
    result.stdout.fnmatch_lines(['@pytest.mark.faults(*kinds, transports=("plain",), inbound_size=256, *'])


def test_options_live_in_their_own_group_with_ini_equivalents(project):
    result = project.runpytest("--help")
    result.stdout.fnmatch_lines(["faultio: run stream tests under injected kernel faults:", "*--faults=KINDS*",
                                 "*--fault-seed=N*", "*--fault-report=DIR*", "*--fault-examples=N*",
                                 "*--fault-target=MODULE:FACTORY*"])
    for ini in ("faults ", "fault_seed ", "fault_report ", "fault_examples ", "faultio_target "):
        assert any(line.strip().startswith(ini) for line in result.stdout.lines), ini


def test_fixtures_are_documented_for_pytest_fixtures(project):
    project.makepyfile(test_ext_x="def test_x():\n    pass\n")
    result = project.runpytest("--fixtures")
    result.stdout.fnmatch_lines([
        "fault_plan*", "*FaultPlan*of this parametrisation*",
        "fault_loop*", "*deterministic*IOLoop*",
        "fault_stream_factory*", "*Override it in a conftest*",
        "fault_streams*", "*connected pair over fake fds*",
        "fault_event_loop*", "*simulated asyncio loop and a faulty connection*",
        "fault_socketpair*", "*real, connected, non-blocking OS socket pair*",
    ], consecutive=False)


def test_marker_parametrises_over_every_kind_and_transport_with_readable_ids(project):
    project.makepyfile(test_ext_server=server_test(transports='("plain", "ssl")'))
    result = project.runpytest("--collect-only", "-q")
    ids = re.findall(r"\[([\w-]+)\]", result.stdout.str())
    # "all" is the five core kinds on plain, and the TLS kinds too on ssl (the time and connect kinds only when
    # named).
    assert ids == [*FAULT_KINDS, *(f"{k}-ssl" for k in MARKER_ALL)]


def test_marker_runs_a_connect_kind_it_names_and_its_plan_refuses_the_connect(request):
    pytester_project = request.getfixturevalue("project")
    pytester_project.makepyfile(test_ext_connect='''
import errno
import socket

import pytest
from faultio import socketpair


@pytest.mark.faults("connect-refused", "eintr")
def test_connect(fault_loop, fault_plan):
    target, _peer = socketpair(fault_loop, fault_plan)
    code = target.connect_ex(("127.0.0.1", 1))
    if fault_plan.name.startswith("connect-refused"):
        if code == errno.EINPROGRESS:  # the so-error variant: the first poll reports the refusal
            target.poll_events()
            code = target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        assert code == errno.ECONNREFUSED
    else:
        assert code == errno.EINPROGRESS
''')
    result = pytester_project.runpytest("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    ids = re.findall(r"\[([\w-]+)\]", pytester_project.runpytest("--collect-only", "-q").stdout.str())
    assert ids == ["eintr", "connect-refused"]


@pytest.mark.parametrize("transports, expected", [
    ('("plain",)', list(FAULT_KINDS)),
    ('("ssl",)', [f"{k}-ssl" for k in MARKER_ALL]),
], ids=["plain", "ssl"])
def test_all_on_one_transport_is_the_kinds_valid_there(project, transports, expected):
    project.makepyfile(test_ext_server=server_test(transports=transports))
    result = project.runpytest("--collect-only", "-q")
    assert re.findall(r"\[([\w-]+)\]", result.stdout.str()) == expected


def test_a_tls_kind_runs_on_the_ssl_transport_only_when_both_are_asked_for(project):
    project.makepyfile(test_ext_server=server_test(kinds='"eintr", "ragged-eof"', transports='("plain", "ssl")'))
    result = project.runpytest("--collect-only", "-q")
    assert re.findall(r"\[([\w-]+)\]", result.stdout.str()) == ["eintr", "eintr-ssl", "ragged-eof-ssl"]


def test_faults_option_narrows_the_marker(project):
    project.makepyfile(test_ext_server=server_test(kinds='"eintr", "dribble", "flood"'))
    result = project.runpytest("--collect-only", "-q", "--faults", "dribble,econnreset")
    assert re.findall(r"\[([\w-]+)\]", result.stdout.str()) == ["dribble"]
    result = project.runpytest("-q", "--faults", "econnreset", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--faults econnreset leaves none of the kinds*(eintr, dribble, flood)*"])


def test_faults_option_accepts_the_tls_kinds_and_narrows_the_marker_by_them(project):
    project.makepyfile(test_ext_server=server_test(transports='("plain", "ssl")'))
    result = project.runpytest("--collect-only", "-q", "--faults", "record-split,eintr,ragged-eof")
    assert re.findall(r"\[([\w-]+)\]", result.stdout.str()) == ["eintr", "eintr-ssl", "ragged-eof-ssl",
                                                                  "record-split-ssl"]
    # On a plain-only marker a TLS kind leaves nothing to run: skipped, saying why.
    project.makepyfile(test_ext_server=server_test())
    result = project.runpytest("-q", "--faults", "ragged-eof", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--faults ragged-eof leaves none of the kinds*(eintr, *, flood)*"])


def test_ini_values_stand_in_for_the_options(project):
    project.makeini(STRICT_INI + "faults = ewouldblock\nfault_seed = 7\n")
    project.makepyfile(test_ext_server=server_test())
    result = project.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["faultio: fault seed 7, faults ewouldblock*", "*[[]ewouldblock[]] PASSED*"])


def test_unknown_kind_is_a_collection_error_naming_the_valid_kinds(project):
    project.makepyfile(test_ext_server=server_test(kinds='"eintr", "sigpipe"'))
    result = project.runpytest()
    result.stdout.fnmatch_lines(["*unknown fault kind 'sigpipe'; valid kinds for transport plain: eintr, econnreset, "
                                 "ewouldblock, dribble, flood, stall, *, send-stall, connect-refused, connect-reset, connect-timeout, all*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


@pytest.mark.parametrize("kind", TLS_KINDS)
def test_a_tls_kind_on_the_plain_transport_only_is_a_collection_error_naming_the_plain_kinds(project, kind):
    project.makepyfile(test_ext_server=server_test(kinds=f'"eintr", "{kind}"'))
    result = project.runpytest()
    result.stdout.fnmatch_lines([f"*@pytest.mark.faults on test_ext_server.py::test_server_reads_every_message: "
                                 f"fault kind '{kind}' applies to the ssl transport only; valid kinds for "
                                 "transport plain: eintr, econnreset, ewouldblock, dribble, flood, stall, *, send-stall, "
                                 "connect-refused, connect-reset, connect-timeout, all*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_a_tls_kind_with_fault_socketpair_is_a_collection_error(project):
    project.makepyfile(test_ext_x='import pytest\n\n@pytest.mark.faults("ragged-eof", transports="ssl")\n'
                       'def test_x(fault_socketpair):\n    pass\n')
    result = project.runpytest()
    result.stdout.fnmatch_lines(["*the TLS kinds (ragged-eof) act through fault_streams' TLS peer; "
                                 "fault_socketpair is a plain socket pair with no TLS layer*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_unknown_faults_option_is_a_usage_error(project):
    project.makepyfile(test_ext_server=server_test())
    result = project.runpytest("--faults", "eintr,nope")
    result.stderr.fnmatch_lines(["*--faults: unknown fault kind 'nope'; valid kinds for transport plain,ssl: "
                                 "eintr, *, flood, ragged-eof, *, tls-flood, stall, *, send-stall, connect-refused, *, connect-timeout, all"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize("transports, message", [
    ("5", "transports=5 is not valid; give a transport name or a tuple of them (valid transports: plain, ssl, all)"),
    ("()", "transports=() names no transport; valid transports: plain, ssl, all"),
    ("[]", "transports=[] names no transport; valid transports: plain, ssl, all"),
])
def test_a_bad_transports_argument_is_a_collection_error_naming_the_valid_transports(project, transports,
                                                                                     message):
    project.makepyfile(test_ext_server=server_test(kinds='"eintr"', transports=transports))
    result = project.runpytest("-rs")
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert "TypeError" not in result.stdout.str() and "skipped" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED


@pytest.mark.parametrize("profile, shown", [('"pypy"', "'pypy'"), ("None", "None")], ids=["unknown", "none"])
def test_a_bad_profile_argument_is_a_collection_error_naming_the_valid_profiles(project, profile, shown):
    project.makepyfile(test_ext_x=f'import pytest\n\n@pytest.mark.faults("eintr", profile={profile})\n'
                       'def test_x(fault_plan):\n    pass\n')
    result = project.runpytest()
    result.stdout.fnmatch_lines([f"*profile={shown} is not valid; valid: raw, cpython*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_the_marker_s_profile_reaches_the_fake_fds_the_junit_properties_and_the_report(project):
    # The marker's keywords follow transports= in the template.
    project.makepyfile(test_ext_server=server_test(kinds='"eintr"', transports='("plain",), profile="cpython"') + '''

@pytest.mark.faults("eintr", profile="cpython")
def test_the_fd_is_cpython(fault_streams):
    assert fault_streams.fd.profile == "cpython"
''')
    result = project.runpytest("--junitxml", "junit.xml", "--fault-report", "out")
    result.assert_outcomes(passed=2)
    root = ET.parse(project.path / "junit.xml").getroot()
    props = [{p.get("name"): p.get("value") for p in tc.iter("property")} for tc in root.iter("testcase")]
    assert [p["faultio_profile"] for p in props] == ["cpython", "cpython"]
    report = json.loads((project.path / "out" / "report.json").read_text())
    assert {c["profile"] for c in report["cases"]} == {"cpython"}
    assert "profile" not in report["run"]  # each test chose its own


def test_marker_without_a_fault_fixture_is_a_collection_error(project):
    project.makepyfile(test_ext_x='import pytest\n\n@pytest.mark.faults("eintr")\ndef test_x():\n    pass\n')
    result = project.runpytest()
    result.stdout.fnmatch_lines(["*request fault_plan, fault_streams, fault_event_loop or fault_socketpair*"])


def test_unmarked_tests_are_left_alone(project):
    project.makepyfile(test_ext_plain='''
        def test_plain(record_property):
            assert True

        def test_failing():
            assert 1 == 2
    ''')
    result = project.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1)
    assert "faultio ----" not in result.stdout.str()
    reports = result.reprec.getreports("pytest_runtest_logreport")
    assert all(not hasattr(r, "faultio_case") and r.user_properties == [] for r in reports)


# --- the fixtures and the verdict ---------------------------------------------------------------------


def test_fault_plan_is_seeded_by_the_fault_seed_and_the_test_id(project):
    project.makepyfile(test_ext_plan='''
        import pytest

        @pytest.mark.faults("econnreset", "eintr")
        def test_plan(fault_plan):
            print("PLAN", fault_plan.dumps())
    ''')
    def plans(*args):
        return [json.loads(p) for p in re.findall(r"PLAN (\{.*\})", project.runpytest("-rP", *args).stdout.str())]

    first, again, other = plans(), plans(), plans("--fault-seed", "1")
    assert [p["name"] for p in first] == ["eintr", "econnreset"]  # canonical kind order
    assert first == again and first != other


def test_a_correct_handler_passes_under_every_fault_and_transport(project):
    project.makepyfile(test_ext_server=server_test(transports='("plain", "ssl")'))
    project.runpytest().assert_outcomes(passed=len(FAULT_KINDS) + len(MARKER_ALL))


def test_a_short_read_taken_for_a_message_fails_with_data_integrity(project):
    project.makepyfile(test_ext_server=server_test(buggy=True, kinds='"dribble", "eintr"'))
    result = project.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*_ test_server_reads_every_message[[]dribble[]] _*",
        "faultio: data-integrity broken under the dribble fault plan",
        "[[]data-integrity[]] your code read * item(s) that are not a prefix of the 14 sent*",
        "    Bytes delivered to the caller are exactly a prefix of what the peer sent*",
        "fault plan dribble over plain (fault seed 0, plan seed *): dribble: read[[]dribble(nbytes=None)[]]*",
        "replay: python -m pytest 'test_ext_server.py::test_server_reads_every_message[[]dribble[]]'"
        " --fault-seed 0",
        "*- faultio -*",
        "plan JSON: *",
        "trace events #* of * (the first violation points at #*):",
        "  > #* step *",
    ])


def test_a_loop_that_goes_quiet_while_the_test_waits_fails_with_liveness(project):
    project.makepyfile(test_ext_stall='''
        import pytest

        @pytest.mark.faults("ewouldblock")
        def test_waits_for_bytes_never_sent(fault_loop, fault_streams):
            fault_streams.peer.send_now(b"hello")

            async def main():
                await fault_streams.stream.read_bytes(10)

            fault_loop.run_sync(main)
    ''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["faultio: liveness broken under the ewouldblock fault plan",
                                 "[[]liveness[]] the test waited on a loop with nothing left to do*"])
    assert "The above exception was the direct cause" not in result.stdout.str()


def test_a_handler_that_dies_unawaited_fails_with_target_crashed(project):
    project.makepyfile(test_ext_crash='''
        import pytest

        @pytest.mark.faults("dribble")
        def test_handler(fault_loop, fault_streams):
            async def handler(stream):
                header = await stream.read_bytes(4, partial=True)
                return int.from_bytes(header, "big") // (len(header) - 1)

            fault_loop.spawn(handler(fault_streams.stream))
            fault_streams.peer.send_now(b"\\0\\0\\0\\5hello")
    ''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["[[]target-crashed[]] the coroutine *handler ended with ZeroDivisionError*"])


def test_the_test_s_own_failure_keeps_its_traceback_and_gains_the_plan(project):
    project.makepyfile(test_ext_own='''
        import pytest

        @pytest.mark.faults("eintr")
        def test_own(fault_streams):
            assert fault_streams.plan.name == "dribble"
    ''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E       AssertionError: assert 'eintr' == 'dribble'*", "*- faultio -*",
                                 "fault plan eintr over plain*", "replay: python -m pytest *--fault-seed 0"])


def test_reads_reach_the_stream_with_their_arguments_as_given_and_the_monitor_models_them(project):
    project.makepyfile(test_ext_args='''
        import pytest
        from faultio import IOStream


        class IgnoresPartial(IOStream):
            """Waits for every byte of a partial read_bytes."""
            def read_bytes(self, num_bytes, callback=None, streaming_callback=None, partial=False):
                return super().read_bytes(num_bytes, callback, streaming_callback, False)


        def test_a_positional_partial_is_a_partial_read(fault_loop, fault_streams):
            fault_streams.peer.send_now(b"ab")

            async def main():
                return await fault_streams.stream.read_bytes(4, None, None, True)  # Tornado 4's order

            assert fault_loop.run_sync(main) == b"ab"


        def test_a_positional_callback_is_called_once_with_the_data(fault_loop, fault_streams):
            got = []
            fault_streams.peer.send_now(b"line\\r\\nrest")
            fault_streams.stream.read_until(b"\\r\\n", got.append, 64)
            fault_loop.run_until_quiescent()
            assert got == [b"line\\r\\n"]


        def test_a_str_delimiter_gets_the_stream_s_own_error(fault_streams):
            with pytest.raises(TypeError, match="read_until[(][)] delimiter must be bytes-like"):
                fault_streams.stream.read_until("\\r\\n")


        class TestAStreamIgnoringAPositionalPartial:
            @pytest.fixture
            def fault_stream_factory(self):
                return IgnoresPartial

            def test_is_caught_waiting(self, fault_loop, fault_streams):
                fault_streams.stream.read_bytes(4, None, None, True)
                fault_streams.peer.send_now(b"ab")
    ''')
    result = project.runpytest("-rA")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*[[]liveness[]] read_bytes(4, partial=True) waits at quiescence although the 2 "
                                 "byte(s) received would satisfy it*"])


def test_a_project_stream_factory_from_conftest_is_the_target(project):
    project.makeconftest('''
        import pytest
        from faultio import IOStream

        class EintrIsFatal(IOStream):
            """A stream that treats EINTR as the end of the connection."""
            def read_from_fd(self):
                try:
                    return super().read_from_fd()
                except InterruptedError:
                    self.close(exc_info=True)

        @pytest.fixture
        def fault_stream_factory():
            return EintrIsFatal
    ''')
    project.makepyfile(test_ext_server=server_test(kinds='"eintr", "dribble"'))
    result = project.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["[[]eintr-invisible[]] the stream closed with error InterruptedError*",
                                 "stream under test: conftest:EintrIsFatal"])


def test_fault_target_option_names_the_stream(project):
    project.makepyfile(mystreams='''
        from faultio import IOStream

        def make(sock, *, io_loop, transport, max_buffer_size, ssl_context):
            return IOStream(sock, io_loop=io_loop, max_buffer_size=max_buffer_size)
    ''')
    project.makepyfile(test_ext_server=server_test(kinds='"dribble"'))
    result = project.runpytest("--fault-target", "mystreams:make", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*target mystreams:make*"])


def test_generated_plans_are_extra_parametrisations_and_a_failure_shows_its_plan(project):
    project.makepyfile(test_ext_server=server_test(buggy=True, kinds='"dribble"'))
    result = project.runpytest("--fault-examples", "2", "-v")
    result.stdout.fnmatch_lines(["*[[]dribble[]] FAILED*", "*[[]gen0[]] *", "*[[]gen1[]] *"])
    failures = [r for r in result.reprec.getreports("pytest_runtest_logreport") if r.failed]
    generated = [r for r in failures if "[gen" in r.nodeid]
    assert generated, "a dribbled generated plan must catch the planted bug too"
    case = generated[0].faultio_case
    assert case["origin"] == "generated" and case["fault"] == "mixed" and case["plan"]["read"]
    assert "--fault-examples 2" in case["replay"]
    text = dict(generated[0].sections)["faultio"]
    assert "plan JSON: {" in text and '"name": "mixed"' in text


def _plans(seed=0):
    from harness._plugin_world import generated_plans

    return [plan.dumps() for plan in generated_plans(
        8, seed=seed, nodeid="test_ext.py::test_x[eintr]", kinds=("econnreset", "ewouldblock", "flood"),
        inbound_size=2800, outbound_size=2800)]


def test_generated_plans_do_not_depend_on_the_source_modules_loaded_before(tmp_path, monkeypatch):
    """xdist workers load different modules; Hypothesis must not mix their literals into the draws, or two
    workers would collect different plans under one test id."""
    before = [_plans(seed) for seed in (0, 1, 2)]
    name = "faultio_plugin_literals"
    # Fewer than the 1024 constants Hypothesis reads from one module, spread over the drawn ranges.
    (tmp_path / f"{name}.py").write_text("VALUES = (" + ", ".join(map(str, range(1, 2800, 3))) + ")\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, name, importlib.import_module(name))
    assert [_plans(seed) for seed in (0, 1, 2)] == before


def test_generated_plans_keep_their_seed_under_a_derandomizing_settings_profile():
    from hypothesis import settings

    default = [_plans(seed) for seed in (0, 1)]
    assert default[0] != default[1]
    previous = settings.get_current_profile_name()
    settings.register_profile("faultio-test-derandomized", derandomize=True)
    settings.load_profile("faultio-test-derandomized")
    try:
        assert [_plans(seed) for seed in (0, 1)] == default
    finally:
        settings.load_profile(previous)


# --- user checkers -------------------------------------------------------------------------------------

USER_CHECKS = '''
from harness import Checker, invariant


@invariant("no-eintr-in-this-project", klass="contract", observes=("trace",),
           explanation="This project's kernel never interrupts a call.")
class NoEintr(Checker):
    def on_fd(self, event):
        if event.get("result") == "EINTR":
            self.violate(f"{event.kind} was interrupted", event.index)
'''


def test_fault_invariants_loads_a_project_checker_that_fails_tests_like_a_built_in(project):
    project.makepyfile(user_checks=USER_CHECKS, test_ext_server=server_test(kinds='"eintr", "dribble"'))
    result = project.runpytest_subprocess("--fault-invariants", "user_checks", "--fault-report", "rep")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*[[]no-eintr-in-this-project[]] recv* was interrupted (contract, loop step*"])
    report = json.loads((project.path / "rep" / "report.json").read_text())
    (failing,) = [c for c in report["cases"] if c["outcome"] == "violation"]
    assert failing["violations"] == ["no-eintr-in-this-project"] and failing["classes"] == ["contract"]


def test_a_bad_fault_invariants_spec_is_a_usage_error(project):
    project.makepyfile(test_ext_server=server_test(kinds='"eintr"'))
    result = project.runpytest_subprocess("--fault-invariants", "json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fault-invariants 'json': module 'json' registers no invariant*"])


def test_the_time_kinds_run_where_a_marker_names_them(project):
    project.makepyfile(test_ext_server=server_test(kinds='"stall", "latency", "send-stall"'))
    result = project.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*[[]stall[]] PASSED*", "*[[]latency[]] PASSED*", "*[[]send-stall[]] PASSED*"])


def test_a_time_kind_with_fault_socketpair_is_a_collection_error(project):
    project.makepyfile(test_ext_x='import pytest\n\n@pytest.mark.faults("stall")\n'
                       'def test_x(fault_socketpair):\n    pass\n')
    result = project.runpytest()
    result.stdout.fnmatch_lines(["*the time kinds (stall) need the simulated kernel's virtual clock; "
                                 "fault_socketpair is a real OS socket pair*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
