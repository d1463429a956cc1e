"""faultio._connect_faults: the connect steps as plan data, and what a fake fd does with them, compared with real
loopback sockets where Linux lets us reproduce the fault."""

import errno
import socket
import struct
import tempfile
import time

import pytest

from faultio import FaultPlan, IOLoop, PlanError, plan_for_kind, socketpair
from faultio._connect_faults import (
    POLLHUP,
    ConnectRefused,
    ConnectReset,
    ConnectTimeout,
    connect_step,
    connect_variant,
    expected_failure,
    without_connect_steps,
)
from faultio._fakefd import ERROR, READ, WRITE
from faultio._plan import CONNECT_KINDS, SendPartial, kinds_for, parse_kinds

ADDRESS = ("127.0.0.1", 1)


def fake(*steps, plan=None):
    loop = IOLoop(max_steps=1000, make_current=False)
    target, peer = socketpair(loop, plan or FaultPlan(write=tuple(steps)))
    return loop, target, peer


def outcome(call):
    """What a socket call gives: its value, or the errno name it raised."""
    try:
        return call()
    except OSError as exc:
        return errno.errorcode[exc.errno]


# --- plan data -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [ConnectRefused(report="at-once"), ConnectRefused(report="so-error"),
                                  ConnectReset(when="connecting"), ConnectReset(when="established"),
                                  ConnectTimeout()], ids=lambda s: s.describe())
def test_connect_steps_round_trip_through_json_with_the_write_steps(step):
    plan = FaultPlan(write=(step, SendPartial(max_bytes=3)), name="x")
    assert FaultPlan.from_json(plan.dumps()) == plan
    assert without_connect_steps(plan.write) == (SendPartial(max_bytes=3),)
    assert connect_step(plan) == step


def test_a_bad_connect_variant_is_refused_naming_the_valid_ones():
    with pytest.raises(PlanError, match="at-once, so-error"):
        ConnectRefused(report="later")
    with pytest.raises(PlanError, match="connecting, established"):
        FaultPlan.from_json({"write": [{"kind": "connect_reset", "when": "never"}]})


def test_connect_kinds_are_valid_on_both_transports_and_in_all():
    assert set(CONNECT_KINDS) <= set(kinds_for(["plain"])) and set(CONNECT_KINDS) <= set(kinds_for(["ssl"]))
    assert parse_kinds("connect-timeout", transports=("plain",)) == ("connect-timeout",)


def test_each_connect_kind_builds_a_seeded_plan_naming_its_variant():
    variants = {plan_for_kind("connect-refused", seed=s).name for s in range(40)}
    assert variants == {"connect-refused:at-once", "connect-refused:so-error"}
    assert {plan_for_kind("connect-reset", seed=s).name for s in range(40)} == {
        "connect-reset:connecting", "connect-reset:established"}
    assert plan_for_kind("connect-timeout", seed=3) == FaultPlan(write=(ConnectTimeout(),), name="connect-timeout")
    assert plan_for_kind("connect-reset", seed=7) == plan_for_kind("connect-reset", seed=7)
    plan = plan_for_kind("connect-refused", seed=5)
    assert connect_variant(plan) == plan.name.partition(":")[2]


def test_expected_failure_says_which_connects_must_fail_and_with_what():
    assert expected_failure(FaultPlan(write=(ConnectRefused(report="at-once"),))) == (True, "ECONNREFUSED")
    assert expected_failure(FaultPlan(write=(ConnectReset(when="connecting"),))) == (True, "ECONNRESET")
    assert expected_failure(FaultPlan(write=(ConnectReset(when="established"),))) == (False, "")
    assert expected_failure(FaultPlan(write=(ConnectTimeout(),))) == (True, "")
    assert expected_failure(FaultPlan()) == (False, "")


# --- the fake fd ---------------------------------------------------------------------------------------


def test_a_clean_connect_is_in_progress_then_writable_and_the_peer_gets_what_is_sent():
    _, target, peer = fake()
    assert outcome(lambda: target.connect(ADDRESS)) == "EINPROGRESS"
    assert outcome(lambda: target.send(b"early")) == "EAGAIN"  # not connected yet
    assert target.poll_events() & WRITE
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    assert target.send(b"hi") == 2 and peer.recv(10) == b"hi"


def test_a_refusal_at_once_raises_from_connect_and_leaves_an_unconnected_socket():
    _, target, peer = fake(ConnectRefused(report="at-once"))
    assert outcome(lambda: target.connect(ADDRESS)) == "ECONNREFUSED"
    assert target.poll_events() == WRITE | POLLHUP
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    assert outcome(lambda: target.recv(10)) == "EINVAL"
    assert outcome(lambda: target.send(b"x")) == "ENOTCONN"
    assert peer.recv(10) == b""  # nobody was there: the peer side sees the end at once


def test_connect_ex_returns_the_errno_of_a_refusal_at_once():
    _, target, _ = fake(ConnectRefused(report="at-once"))
    assert target.connect_ex(ADDRESS) == errno.ECONNREFUSED


@pytest.mark.parametrize("step, code", [(ConnectRefused(report="so-error"), "ECONNREFUSED"),
                                        (ConnectReset(when="connecting"), "ECONNRESET")])
def test_a_failure_reported_through_so_error_is_readable_writable_and_in_error_once(step, code):
    _, target, _ = fake(step)
    assert outcome(lambda: target.connect(ADDRESS)) == "EINPROGRESS"
    assert target.poll_events() == READ | WRITE | ERROR
    assert errno.errorcode[target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)] == code
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    assert target.poll_events() == READ | WRITE | POLLHUP
    assert outcome(lambda: target.recv(10)) == b""
    assert outcome(lambda: target.send(b"x")) == "EPIPE"


def test_the_pending_error_is_raised_by_the_first_send_when_so_error_was_not_read():
    _, target, _ = fake(ConnectRefused(report="so-error"))
    target.connect_ex(ADDRESS)
    target.poll_events()
    with pytest.raises(ConnectionRefusedError):
        target.send(b"x")
    assert outcome(lambda: target.send(b"x")) == "EPIPE"


def test_a_reset_once_established_lets_the_connect_succeed_and_cuts_the_next_send():
    _, target, _ = fake(ConnectReset(when="established"))
    target.connect_ex(ADDRESS)
    assert target.poll_events() == WRITE
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    assert outcome(lambda: target.send(b"x")) == "ECONNRESET"
    assert outcome(lambda: target.send(b"x")) == "EPIPE"
    assert outcome(lambda: target.recv(10)) == b""


def test_a_connect_that_times_out_never_shows_readiness_and_answers_eagain():
    loop, target, peer = fake(ConnectTimeout())
    target.connect_ex(ADDRESS)
    peer.send(b"data the connection never carries")
    for _ in range(3):
        assert target.poll_events() == 0
    assert outcome(lambda: target.recv(10)) == "EAGAIN"
    assert outcome(lambda: target.send(b"x")) == "EAGAIN"
    assert target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    assert [e.get("fault") for e in loop.trace.events("fd", "inject")] == ["connect_timeout"]


def test_a_connect_step_is_inert_on_a_socket_that_never_connects():
    _, target, peer = fake(ConnectRefused(report="so-error"), SendPartial(max_bytes=2))
    assert target.send(b"abcd") == 2  # the write side still shapes the sends
    peer.send(b"xy")
    assert target.recv(10) == b"xy"


# --- against real loopback sockets -----------------------------------------------------------------------


def _closed_tcp_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _real_sequence(sock, calls):
    out = []
    for name in calls:
        if name == "so_error":
            out.append(errno.errorcode.get(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0))
        elif name == "recv":
            out.append(outcome(lambda: sock.recv(10)))
        elif name == "send":
            out.append(outcome(lambda: sock.send(b"x")))
    return out


CALLS = ("so_error", "so_error", "recv", "send", "send", "recv")


def test_a_refusal_through_so_error_matches_a_real_tcp_connect_to_a_closed_loopback_port():
    real = socket.socket()
    real.setblocking(False)
    try:
        first = outcome(lambda: real.connect(("127.0.0.1", _closed_tcp_port())))
        time.sleep(0.05)  # the kernel's RST arrives (no loop: this compares results, not timing)
        real_seq = [first, *_real_sequence(real, CALLS)]
    finally:
        real.close()
    _, target, _ = fake(ConnectRefused(report="so-error"))
    fake_first = outcome(lambda: target.connect(ADDRESS))
    target.poll_events()
    assert [fake_first, *_real_sequence(target, CALLS)] == real_seq
    assert real_seq[:2] == ["EINPROGRESS", "ECONNREFUSED"]


def test_a_refusal_at_once_matches_a_real_unix_socket_connect_to_a_socket_nobody_listens_on():
    with tempfile.TemporaryDirectory() as where:
        path = f"{where}/s"
        bound = socket.socket(socket.AF_UNIX)
        bound.bind(path)  # bound, never listening
        real = socket.socket(socket.AF_UNIX)
        real.setblocking(False)
        try:
            real_seq = [outcome(lambda: real.connect(path)), *_real_sequence(real, ("so_error", "recv", "send"))]
        finally:
            real.close()
            bound.close()
    _, target, _ = fake(ConnectRefused(report="at-once"))
    fake_seq = [outcome(lambda: target.connect(ADDRESS)), *_real_sequence(target, ("so_error", "recv", "send"))]
    assert fake_seq == real_seq == ["ECONNREFUSED", 0, "EINVAL", "ENOTCONN"]


def test_a_reset_right_after_establishment_matches_a_real_listener_that_accepts_and_aborts():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    real = socket.socket()
    real.setblocking(False)
    try:
        first = outcome(lambda: real.connect(listener.getsockname()))
        accepted, _ = listener.accept()
        accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        accepted.close()  # RST
        time.sleep(0.05)
        real_seq = [first, *_real_sequence(real, ("send", "send", "recv"))]
    finally:
        real.close()
        listener.close()
    _, target, _ = fake(ConnectReset(when="established"))
    fake_first = outcome(lambda: target.connect(ADDRESS))
    target.poll_events()  # connected: the RST lands right after
    assert [fake_first, *_real_sequence(target, ("send", "send", "recv"))] == real_seq
    assert real_seq == ["EINPROGRESS", "ECONNRESET", "EPIPE", b""]
