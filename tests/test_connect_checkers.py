"""harness/engine/checkers/connect.py, harness._scenario_connect and harness._connect_setup: the connect operation on
faultio's own stream, and the connect checkers on streams that break them and streams that do not."""

import pytest

from faultio import FaultPlan, IOStream
from faultio._connect_faults import ConnectRefused, ConnectReset, ConnectTimeout
from faultio._plan import CONNECT_KINDS, TLS_KINDS
from harness._case import Case
from harness._matrix import applies, build_cases
from harness._runner import derive_seed, run_case
from harness._scenario_connect import CONNECT_DEADLINE
from harness._targets import DEFAULT_TARGET, Target
from harness.engine import INVARIANTS

REFUSED = {"at-once": FaultPlan(write=(ConnectRefused(report="at-once"),), name="connect-refused:at-once"),
           "so-error": FaultPlan(write=(ConnectRefused(report="so-error"),), name="connect-refused:so-error")}
RESET = {w: FaultPlan(write=(ConnectReset(when=w),), name=f"connect-reset:{w}") for w in ("connecting", "established")}
TIMEOUT = FaultPlan(write=(ConnectTimeout(),), name="connect-timeout")


def case(style, plan, fault="connect-refused", transport="plain"):
    return Case(operation="connect", style=style, fault=fault, transport=transport, plan=plan,
                seed=derive_seed(0, "connect", style, fault, transport))


def harness_events(result, kind):
    return [e["detail"] for e in result.trace if e["source"] == "harness" and e["kind"] == kind]


def test_the_connect_checkers_are_contract_invariants_in_their_own_group():
    for slug in ("connect-outcome", "connect-writes"):
        assert INVARIANTS[slug].klass == "contract" and INVARIANTS[slug].group == "connect"


def test_connect_kinds_make_connect_cases_only_and_tls_kinds_none():
    assert all(applies(k, "connect") and not applies(k, "read_bytes") for k in CONNECT_KINDS)
    assert all(not applies(k, "connect") and applies(k, "write") for k in TLS_KINDS)
    cases = build_cases(faults=["connect-timeout", "ragged-eof", "eintr"], transports=["plain", "ssl"])
    assert {c.operation for c in cases if c.fault == "connect-timeout"} == {"connect"}
    assert "connect" not in {c.operation for c in cases if c.fault == "ragged-eof"}
    assert {(c.transport, c.style) for c in cases if c.operation == "connect" and c.fault == "eintr"} == {
        ("plain", "callback"), ("plain", "future"), ("ssl", "callback"), ("ssl", "future")}


@pytest.mark.parametrize("transport", ["plain", "ssl"])
@pytest.mark.parametrize("style", ["callback", "future"])
def test_a_clean_connect_delivers_the_writes_queued_before_it_in_order(style, transport):
    result = run_case(case(style, FaultPlan(), fault="eintr", transport=transport), full_trace=True)
    assert result.outcome == "pass", result.violations
    (done,) = harness_events(result, "connect_done")
    assert done["ok"] and done["how"] == style
    (peer,) = harness_events(result, "connect_peer")
    assert peer["match"] == "all" and peer["nbytes"] > 0
    assert [w["index"] for w in harness_events(result, "connect_write")] == list(
        range(harness_events(result, "connect_started")[0]["writes"]))


@pytest.mark.parametrize("transport", ["plain", "ssl"])
@pytest.mark.parametrize("style", ["callback", "future"])
@pytest.mark.parametrize("plan, error", [(REFUSED["at-once"], "ECONNREFUSED"), (REFUSED["so-error"], "ECONNREFUSED"),
                                         (RESET["connecting"], "ECONNRESET")], ids=["at-once", "so-error", "reset"])
def test_faultio_fails_a_refused_or_reset_connect_with_its_error_and_fails_the_queued_writes(plan, error, style,
                                                                                          transport):
    result = run_case(case(style, plan, transport=transport), full_trace=True)
    assert result.outcome == "pass", result.violations
    (done,) = harness_events(result, "connect_done")
    assert not done["ok"] and done["error"] == error and not done["late"]
    writes = harness_events(result, "connect_write")
    assert writes and all(not w["ok"] and w["error"] == error for w in writes)
    assert harness_events(result, "connect_peer")[0]["nbytes"] == 0


@pytest.mark.parametrize("style", ["callback", "future"])
def test_a_connect_that_never_completes_costs_the_virtual_deadline_then_fails_on_close(style):
    result = run_case(case(style, TIMEOUT, fault="connect-timeout"), full_trace=True)
    assert result.outcome == "pass", result.violations
    assert harness_events(result, "connect_deadline") == [{"after": CONNECT_DEADLINE}]
    (done,) = harness_events(result, "connect_done")
    assert not done["ok"] and done["late"]
    deadline = next(e for e in result.trace if e["source"] == "harness" and e["kind"] == "connect_deadline")
    assert deadline["time"] >= CONNECT_DEADLINE


def test_a_reset_once_established_fails_the_writes_not_the_connect():
    result = run_case(case("future", RESET["established"], fault="connect-reset"), full_trace=True)
    assert result.outcome == "pass", result.violations
    assert harness_events(result, "connect_done")[0]["ok"]
    assert all(w["error"] == "ECONNRESET" for w in harness_events(result, "connect_write"))


# --- streams that break the rules ----------------------------------------------------------------------


class SucceedsWhateverSoErrorSays(IOStream):
    def _handle_connect(self):
        self._connecting = False  # SO_ERROR never read
        future, self._connect_future = self._connect_future, None
        if future is not None:
            future.set_result(self)


class FailsWithoutTheError(IOStream):
    def _handle_connect(self):
        self.close()  # no error recorded: the refusal is reported as a plain close


class CompletesQueuedWritesOnFailure(IOStream):
    def _handle_connect(self):
        import socket as s

        if self.socket.getsockopt(s.SOL_SOCKET, s.SO_ERROR):
            for _, future in self._write_futures:
                future.set_result(None)  # "written", although nothing ever was
            self._write_futures.clear()
            self.error = ConnectionRefusedError(111, "Connection refused")
            self.close()
            return
        super()._handle_connect()


def target(cls):
    return Target(name=f"tests:{cls.__name__}", factory=lambda sock, **kw: cls(
        sock, io_loop=kw["io_loop"], max_buffer_size=kw["max_buffer_size"]), transports=("plain",))


def test_connect_outcome_catches_a_refused_connect_reported_as_a_success():
    result = run_case(case("future", REFUSED["so-error"]), target(SucceedsWhateverSoErrorSays))
    assert "connect-outcome" in result.slugs
    message = next(v.message for v in result.violations if v.slug == "connect-outcome")
    assert "reported as a success" in message


def test_connect_outcome_catches_a_failure_without_the_connect_s_error():
    result = run_case(case("future", REFUSED["so-error"]), target(FailsWithoutTheError))
    message = next(v.message for v in result.violations if v.slug == "connect-outcome")
    assert "not ECONNREFUSED" in message


def test_connect_writes_catches_queued_writes_completed_although_the_connect_failed():
    result = run_case(case("future", REFUSED["so-error"]), target(CompletesQueuedWritesOnFailure))
    message = next(v.message for v in result.violations if v.slug == "connect-writes")
    assert "completed although the connect failed" in message


def test_the_connect_checkers_judge_nothing_outside_the_connect_operation():
    result = run_case(build_cases(faults=["eintr"], transports=["plain"], operations=["write"])[0], DEFAULT_TARGET,
                      full_trace=True)
    assert result.outcome == "pass"
    assert not [e for e in result.trace if e["source"] == "harness" and e["kind"].startswith("connect_")]


def test_a_stream_without_connect_is_an_error_outcome_saying_to_declare_it_lacking():
    class NoConnect:
        def __init__(self, sock, **kwargs):
            self.sock = sock

        def set_close_callback(self, callback):
            pass

    no_connect = Target(name="tests:NoConnect", factory=lambda sock, **kw: NoConnect(sock), transports=("plain",))
    result = run_case(case("future", FaultPlan(), fault="eintr"), no_connect)
    assert result.outcome == "error" and "Target.lacks" in result.error
