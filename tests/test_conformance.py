"""check_stream: the fault matrix against a user's stream, without pytest."""

import pathlib
import re
import sys

import pytest

from faultio import IOStream
from harness.conformance import ConformanceError, check_stream

# --- the conformance helper ------------------------------------------------------------------------------


class EintrIsFatal(IOStream):
    """A deliberately broken stream: EINTR ends the connection."""

    def read_from_fd(self):
        try:
            return super().read_from_fd()
        except InterruptedError:
            self.close(exc_info=True)
            return None


def test_conformance_helper_passes_faultio_s_own_stream():
    result = check_stream(IOStream, faults="all", transports=("plain",))
    # 19 cells x (5 kernel + 6 time kinds), and the 2 connect cells x (5 kernel + 3 connect kinds)
    assert result.ok and len(result.results) == 19 * 11 + 2 * 8 and result.slugs == []


def test_conformance_helper_raises_for_a_broken_subclass_naming_slug_case_and_replay():
    with pytest.raises(ConformanceError) as info:
        check_stream(EintrIsFatal, faults="eintr,dribble", operations=("read_bytes", "echo"))
    message = str(info.value)
    assert "eintr-invisible" in info.value.result.slugs
    assert "- read_bytes/future/eintr/plain: eintr-invisible" in message
    assert "[eintr-invisible] the stream closed with error InterruptedError" in message
    assert (f"-m harness.conformance {EintrIsFatal.__module__}:EintrIsFatal --faults eintr --transports plain "
            "--operations read_bytes --seed 0 --case read_bytes/future/eintr/plain") in message
    assert all(r.outcome == "pass" for r in info.value.result.results if r.case.fault == "dribble")


def test_conformance_replay_command_of_an_ssl_case_reproduces_exactly_that_case(capsys):
    import shlex

    from harness import conformance

    result = check_stream("harness._mutants:SSLStopsDraining", faults="eintr", transports="ssl",
                          operations=("read_bytes",), seed=3, raise_on_violation=False)
    failure = result.failures[0]
    argv = shlex.split(result.replays[failure.case.id])
    assert argv[:3] == [sys.executable, "-m", "harness.conformance"]
    assert argv[argv.index("--transports") + 1] == "ssl"
    capsys.readouterr()
    assert conformance.main(argv[3:]) == 1
    out = capsys.readouterr().out
    assert out.startswith("harness._mutants:SSLStopsDraining: 1 case(s), 0 passed, 1 failed (seed 3)")
    assert f"- {failure.case.id}: {', '.join(failure.slugs)}" in out
    assert f"trace of {failure.case.id}" in out


def test_conformance_replay_call_for_an_unimportable_factory_names_the_one_case():
    def make(sock, *, io_loop, transport, max_buffer_size, ssl_context):
        return EintrIsFatal(sock, io_loop=io_loop, max_buffer_size=max_buffer_size)

    result = check_stream(make, faults="eintr", operations=("read_bytes",), raise_on_violation=False)
    replay = result.replays["read_bytes/future/eintr/plain"]
    assert "cases=('read_bytes/future/eintr/plain',)" in replay and "transports=('plain',)" in replay


def test_conformance_helper_rejects_bad_arguments_with_the_valid_values():
    with pytest.raises(ValueError, match="valid kinds for transport plain: eintr"):
        check_stream(IOStream, faults="sigpipe")
    with pytest.raises(ValueError, match="applies to the ssl transport only"):
        check_stream(IOStream, faults="ragged-eof")
    with pytest.raises(ValueError, match="valid: plain, ssl, all"):
        check_stream(IOStream, transports=("tcp",))


def test_conformance_module_needs_neither_pytest_nor_assert():
    import harness.conformance as conformance

    source = pathlib.Path(conformance.__file__).read_text()
    assert "import pytest" not in source and not re.search(r"^\s*assert ", source, re.M)


def test_conformance_helper_runs_the_tls_kinds_on_the_ssl_transport():
    from faultio import SSLIOStream

    from harness._mutants import RaggedEofTakenAsClean

    result = check_stream(SSLIOStream, faults="ragged-eof", transports=("ssl",), operations=("read_until_close",))
    assert result.ok and {r.case.fault for r in result.results} == {"ragged-eof"}
    with pytest.raises(ConformanceError) as caught:
        check_stream(RaggedEofTakenAsClean, faults="ragged-eof", transports=("ssl",),
                     operations=("read_until_close",))
    assert "tls-ragged-eof" in str(caught.value)
