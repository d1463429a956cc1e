"""Realism profiles: ``raw`` fds raise an injected EINTR, ``cpython`` fds absorb it as CPython does (PEP 475)."""

import dataclasses
import errno
import io
import json
import subprocess
import sys

import pytest

from faultio import (
    PROFILES,
    Chunk,
    Eintr,
    Eof,
    FaultPlan,
    IOLoop,
    Reset,
    SendEintr,
    SendPartial,
    WouldBlock,
    plan_for_kind,
    socketpair,
)
from faultio._realfd import real_socketpair
from faultio._shaped import interrupted_send_bytes
from harness import build_cases, run_case
from harness._case import Case
from harness._cli import main

READ, WRITE = IOLoop.READ, IOLoop.WRITE
PAYLOAD = bytes(range(256)) * 3  # 768 bytes, every byte value
#: Byte-at-a-time and all-at-once, for every reader path.
BUFSIZES = pytest.mark.parametrize("bufsize", [1, 65536], ids=["byte-at-a-time", "all-at-once"])
CALLS = pytest.mark.parametrize("call", ["recv", "recv_into"])


def read_once(sock, call, bufsize):
    if call == "recv":
        return sock.recv(bufsize)
    buf = bytearray(bufsize)
    return bytes(buf[: sock.recv_into(buf)])


def read_all(sock, call, bufsize, *, retry_eintr=False):
    """Read until EOF or EWOULDBLOCK. Only ``retry_eintr`` handles InterruptedError: a reader written for
    modern CPython does not."""
    out = bytearray()
    for _ in range(100_000):
        try:
            data = read_once(sock, call, bufsize)
        except InterruptedError:
            if not retry_eintr:
                raise
            continue
        except BlockingIOError:
            return bytes(out)
        if not data:
            return bytes(out)
        out += data
    raise AssertionError("the read did not finish")


def send_all(sock, data, *, retry_eintr=False):
    """Send everything; returns the count of each send. Only ``retry_eintr`` handles InterruptedError."""
    view, counts = memoryview(data), []
    while view:
        try:
            n = sock.send(view)
        except InterruptedError:
            if not retry_eintr:
                raise
            continue
        counts.append(n)
        view = view[n:]
    return counts


def eintr_plan(seed=7):
    return plan_for_kind("eintr", seed=seed, inbound_size=len(PAYLOAD), outbound_size=len(PAYLOAD))


def fake_pair(plan=None, profile="raw", **kw):
    loop = IOLoop()
    target, peer = socketpair(loop, plan, profile=profile, **kw)
    return loop, target, peer


def absorbed(loop):
    return [e for e in loop.trace if e.get("profile") == "cpython" and e.get("injected")]


# --- the profile names ---------------------------------------------------------------------------------


def test_profiles_are_raw_and_cpython_and_raw_is_the_default():
    assert PROFILES == ("raw", "cpython")
    _, target, peer = fake_pair()
    assert target.profile == "raw"
    assert fake_pair(profile="cpython")[1].profile == "cpython"


@pytest.mark.parametrize("make", [lambda p: socketpair(IOLoop(), profile=p), lambda p: real_socketpair(profile=p)],
                         ids=["fake", "real"])
@pytest.mark.parametrize("bad", ["CPython", "", None, 3])
def test_a_bad_profile_is_a_value_error_naming_the_valid_ones(make, bad):
    with pytest.raises(ValueError, match=r"profile .* is not valid; valid: raw, cpython"):
        make(bad)


# --- recv under the eintr kind -------------------------------------------------------------------------


@CALLS
@BUFSIZES
def test_cpython_absorbs_every_read_eintr_and_delivers_the_fault_free_bytes(call, bufsize):
    _, clean, clean_peer = fake_pair()
    clean_peer.send(PAYLOAD)
    clean_peer.close()
    loop, target, peer = fake_pair(eintr_plan(), "cpython")
    peer.send(PAYLOAD)
    peer.close()
    assert read_all(target, call, bufsize) == read_all(clean, call, bufsize) == PAYLOAD
    assert target.faults_injected > 0


@CALLS
@BUFSIZES
def test_raw_raises_interrupted_error_on_the_same_plan(call, bufsize):
    _, target, peer = fake_pair(eintr_plan(), "raw")
    peer.send(PAYLOAD)
    with pytest.raises(InterruptedError) as info:
        read_all(target, call, bufsize)
    assert info.value.errno == errno.EINTR


def test_raw_delivers_the_same_bytes_to_a_reader_that_retries_eintr():
    _, target, peer = fake_pair(eintr_plan(), "raw")
    peer.send(PAYLOAD)
    peer.close()
    assert read_all(target, "recv", 4096, retry_eintr=True) == PAYLOAD


def test_every_absorbed_read_interruption_is_counted_and_traced_as_injected():
    loop, target, peer = fake_pair(FaultPlan(read=(Eintr(), Chunk(max_bytes=2), Eintr(), Eintr())), "cpython")
    peer.send(b"abcdef")
    assert target.recv(10) == b"ab"
    assert target.recv(10) == b"cdef"  # two EINTRs in a row: both retried inside one call
    assert target.faults_injected == 3
    events = absorbed(loop)
    assert [(e.kind, e.get("result"), e.get("step")) for e in events] == [("recv", "EINTR-retried", "eintr")] * 3
    assert not [e for e in loop.trace if e.get("result") == "EINTR"]


@pytest.mark.parametrize(("plan", "arrange", "expected"), [
    (FaultPlan(read=(Eintr(),)), "nothing", "EAGAIN"),
    (FaultPlan(read=(Eintr(),)), "close", b""),
    (FaultPlan(read=(Eintr(), WouldBlock())), "data", "EAGAIN"),
    (FaultPlan(read=(Eintr(), Reset())), "data", "ECONNRESET"),
    (FaultPlan(read=(Eintr(), Eof())), "data", b""),
], ids=["eagain", "eof", "wouldblock-behind", "reset-behind", "eof-behind"])
def test_an_absorbed_eintr_leaves_the_call_to_answer_as_without_it(plan, arrange, expected):
    _, target, peer = fake_pair(plan, "cpython")
    if arrange == "data":
        peer.send(b"xyz")
    elif arrange == "close":
        peer.close()
    if isinstance(expected, bytes):
        assert target.recv(10) == expected
    else:
        with pytest.raises(OSError) as info:
            target.recv(10)
        assert errno.errorcode[info.value.errno] == expected
        assert not isinstance(info.value, InterruptedError)
    assert target.faults_injected >= 1


def test_a_pending_eintr_wakes_a_raw_reader_but_not_a_cpython_one():
    _, raw, _ = fake_pair(FaultPlan(read=(Eintr(), Chunk(max_bytes=4))), "raw")
    _, cpy, cpy_peer = fake_pair(FaultPlan(read=(Eintr(), Chunk(max_bytes=4))), "cpython")
    assert raw.poll_events() == READ | WRITE  # a spurious wakeup: the next recv fails by plan
    assert cpy.poll_events() == WRITE  # retried inside recv: nothing for a reader to see
    cpy_peer.send(b"data")
    assert cpy.poll_events() == READ | WRITE


def test_a_cpython_fd_still_wakes_a_reader_for_what_lies_behind_its_eintrs():
    for behind in (WouldBlock(), Reset(), Eof()):
        _, target, _ = fake_pair(FaultPlan(read=(Eintr(), Eintr(), behind)), "cpython")
        assert target.poll_events() & READ, behind


# --- send under the eintr kind -------------------------------------------------------------------------


def test_cpython_never_raises_on_send_and_the_peer_gets_every_byte():
    loop, target, peer = fake_pair(eintr_plan(), "cpython")
    counts = send_all(target, PAYLOAD)
    assert sum(counts) == len(PAYLOAD)
    assert peer.recv(4096) == PAYLOAD
    assert min(counts) >= 1 and len(counts) > 1  # interrupted sends returned partial counts
    events = absorbed(loop)
    assert target.faults_injected == len(events) > 0
    assert {e.get("result") for e in events} == {"EINTR-partial"}


def test_raw_raises_interrupted_error_on_send():
    _, target, peer = fake_pair(eintr_plan(), "raw")
    with pytest.raises(InterruptedError):
        send_all(target, PAYLOAD)
    _, target, peer = fake_pair(eintr_plan(), "raw")
    assert sum(send_all(target, PAYLOAD, retry_eintr=True)) == len(PAYLOAD)
    assert peer.recv(4096) == PAYLOAD


@pytest.mark.parametrize(("size", "kept"), [(2, 1), (3, 1), (10, 5), (11, 5), (4096, 2048)])
def test_an_interrupted_cpython_send_returns_the_first_half(size, kept):
    assert interrupted_send_bytes(size) == kept
    loop, target, peer = fake_pair(FaultPlan(write=(SendEintr(),)), "cpython")
    data = bytes(range(256)) * (size // 256 + 1)
    assert target.send(data[:size]) == kept
    assert peer.recv(size) == data[:kept]
    (event,) = [e for e in loop.trace if e.kind == "send" and e.get("role") == "target"]
    assert event.get("result") == "EINTR-partial" and event.get("nbytes") == kept
    assert event.get("injected") is True and event.get("profile") == "cpython" and event.get("step") == "send_eintr"
    assert "first half" in event.get("why")
    assert target.faults_injected == 1


def test_an_interrupted_one_byte_send_is_retried_and_sends_its_byte():
    loop, target, peer = fake_pair(FaultPlan(write=(SendEintr(), SendEintr())), "cpython")
    assert target.send(b"x") == 1
    assert peer.recv(4) == b"x"
    results = [e.get("result") for e in loop.trace if e.kind == "send" and e.get("role") == "target"]
    assert results == ["EINTR-retried", "EINTR-retried", "data"]
    assert target.faults_injected == 2


def test_the_write_step_behind_an_interruption_waits_for_the_next_send():
    _, target, peer = fake_pair(FaultPlan(write=(SendEintr(), SendPartial(max_bytes=2))), "cpython")
    assert target.send(b"0123456789") == 5
    assert target.send(b"56789") == 2
    assert target.send(b"789") == 3
    assert peer.recv(100) == b"0123456789"


def test_an_interrupted_send_takes_half_of_what_fits_and_is_retried_when_nothing_fits():
    _, target, peer = fake_pair(FaultPlan(write=(SendEintr(), SendEintr())), "cpython", capacity=6)
    assert target.send(b"abcdefghij") == 3  # room for 6 of the 10: half of those
    assert target.send(b"defghij") == 1  # room for 3: half of those, rounded down
    assert target.send(b"efghij") == 2  # no interruption left: what fits
    assert peer.recv(100) == b"abcdef"
    loop, full, _ = fake_pair(FaultPlan(write=(SendPartial(max_bytes=1), SendEintr())), "cpython", capacity=1)
    assert full.send(b"zz") == 1
    with pytest.raises(BlockingIOError):  # nothing could move, so CPython retried and met EAGAIN
        full.send(b"more")
    assert full.faults_injected == 1
    assert [e.get("result") for e in absorbed(loop)] == ["EINTR-retried"]


# --- real sockets --------------------------------------------------------------------------------------


@CALLS
def test_real_sockets_honour_the_profile_too(call):
    target, peer = real_socketpair(eintr_plan(), profile="cpython")
    try:
        peer.sendall(PAYLOAD)
        peer.shutdown(1)
        assert read_all(target, call, 4096) == PAYLOAD
        counts = send_all(target, PAYLOAD)
        assert sum(counts) == len(PAYLOAD)
        assert target.faults_injected > 0
        assert not [e for e in target.trace if e.get("result") == "EINTR"]
        assert any(e.get("result") == "EINTR-retried" for e in target.trace)
    finally:
        target.close()
        peer.close()


def test_a_real_interrupted_send_returns_the_first_half():
    target, peer = real_socketpair(FaultPlan(write=(SendEintr(),)), profile="cpython")
    try:
        assert target.send(b"0123456789") == 5
        assert peer.recv(100) == b"01234"
    finally:
        target.close()
        peer.close()


def test_real_sockets_stay_raw_by_default():
    target, peer = real_socketpair(FaultPlan(read=(Eintr(),)))
    try:
        with pytest.raises(InterruptedError):
            target.recv(10)
    finally:
        target.close()
        peer.close()


# --- the harness's cases -------------------------------------------------------------------------------


def _case(**kw):
    base = dict(operation="read_bytes", style="future", fault="eintr", transport="plain",
                plan=plan_for_kind("eintr", seed=1), seed=1)
    return Case(**{**base, **kw})


def test_case_json_round_trips_the_profile_and_keeps_its_id():
    case = _case(profile="cpython")
    data = case.to_json()
    assert data["profile"] == "cpython"
    assert Case.from_json(json.loads(json.dumps(data))) == case
    assert case.id == _case().id == "read_bytes/future/eintr/plain"


def test_an_old_case_json_without_a_profile_loads_as_raw():
    data = _case(profile="cpython").to_json()
    del data["profile"]
    assert Case.from_json(data).profile == "raw"


def test_a_case_with_a_bad_profile_is_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match="profile 'pypy' is not valid; valid: raw, cpython"):
        _case(profile="pypy")
    with pytest.raises(ValueError, match="valid: raw, cpython"):
        Case.from_json({**_case().to_json(), "profile": "pypy"})


def test_build_cases_puts_the_profile_on_every_case_and_changes_nothing_else():
    raw = build_cases(faults=["eintr", "dribble"], transports=["plain"], seed=3)
    cpy = build_cases(faults=["eintr", "dribble"], transports=["plain"], seed=3, profile="cpython")
    assert {c.profile for c in raw} == {"raw"} and {c.profile for c in cpy} == {"cpython"}
    assert [(c.id, c.seed, c.plan) for c in raw] == [(c.id, c.seed, c.plan) for c in cpy]
    with pytest.raises(ValueError, match="valid: raw, cpython"):
        build_cases(faults=["eintr"], transports=["plain"], profile="bogus")


def test_run_case_runs_the_fds_under_the_case_s_profile():
    (case,) = build_cases(faults=["eintr"], transports=["plain"], operations=["echo"], seed=0, profile="cpython")
    result = run_case(case, keep_trace=True, full_trace=True)
    assert result.outcome == "pass", result.violations
    results = [e["detail"].get("result") for e in result.trace if e["source"] == "fd"]
    assert "EINTR" not in results
    assert "EINTR-retried" in results
    raw = run_case(dataclasses.replace(case, profile="raw"), keep_trace=True, full_trace=True)
    assert "EINTR" in [e["detail"].get("result") for e in raw.trace if e["source"] == "fd"]


def test_generated_cases_carry_the_profile():
    from harness._generate import run_generated

    results = run_generated([("read_bytes", "future", "plain")], seed=0, examples=1, target_spec="faultio",
                            profile="cpython")
    assert results and {r.case.profile for r in results} == {"cpython"}


# --- the command line ----------------------------------------------------------------------------------


def cli(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_run_says_which_profile_it_used_on_its_last_line():
    code, _, err = cli(["run", "--faults", "eintr", "--transport", "plain", "--no-report", "-q", "--examples",
                        "0", "--operations", "read_bytes", "--jobs", "1"])
    assert code == 0
    assert err.splitlines()[-1].endswith("profile raw (the default of faultio:IOStream)")
    code, _, err = cli(["run", "--faults", "eintr", "--transport", "plain", "--no-report", "-q", "--examples",
                        "0", "--operations", "read_bytes", "--jobs", "1", "--profile", "cpython"])
    assert code == 0
    assert err.splitlines()[-1].endswith("profile cpython (--profile)")


def test_the_report_carries_the_profile_of_the_run_and_of_every_case():
    code, out, _ = cli(["run", "--faults", "eintr", "--transport", "plain", "--json", "--examples", "0",
                        "--operations", "read_bytes", "--jobs", "1", "--profile", "cpython"])
    assert code == 0
    report = json.loads(out)
    assert report["run"]["profile"] == "cpython"
    assert {c["profile"] for c in report["cases"]} == {"cpython"}
    assert "--profile cpython" in report["command"]


def test_python_dash_m_harness_runs_eintr_under_cpython_cleanly():
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--faults", "eintr", "--profile", "cpython",
                           "--transport", "plain", "--no-report", "-q"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "profile cpython" in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize("command", ["run", "replay"])
def test_a_bad_profile_is_a_usage_error_in_one_line_naming_the_valid_values(command, tmp_path):
    argv = ["run", "--no-report"] if command == "run" else ["replay", str(tmp_path / "case.json")]
    code, out, err = cli([*argv, "--profile", "pypy"])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--profile" in err and "'pypy' is not valid; valid: raw, cpython" in err


def test_replay_runs_the_case_under_its_own_profile_unless_told_otherwise(tmp_path):
    from harness._generate import CASE_FILE_FORMAT

    (case,) = build_cases(faults=["eintr"], transports=["plain"], operations=["read_bytes"], seed=0,
                          profile="cpython")[:1]
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"format": CASE_FILE_FORMAT, "case": case.to_json()}))
    code, out, _ = cli(["replay", str(path), "--limit", "0"])
    assert code == 0
    assert "profile cpython (the profile the case ran under)" in out.splitlines()[0]
    assert "result=EINTR-retried" in out and "result=EINTR " not in out
    code, out, _ = cli(["replay", str(path), "--limit", "0", "--profile", "raw"])
    assert code == 0
    assert "profile raw (given by --profile; the case ran under cpython)" in out.splitlines()[0]
    assert "result=EINTR " in out
