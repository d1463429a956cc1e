"""The TLS checkers (``harness.engine.checkers.tls``): each is fed a stream that breaks it and one that does not."""

import dataclasses

import pytest

from faultio import Eof, FaultPlan, SSLIOStream
from faultio._ssl import RaggedEOFError
from harness._matrix import build_cases
from harness._mutants import (ClientSkipsVerification, HandshakeErrorSwallowed, PartialRecordAtEof,
                              RaggedEofTakenAsClean, SSLStopsDraining)
from harness._runner import run_case
from harness._targets import DEFAULT_TARGET, Target, load_target, stream_class_factory
from harness.engine import INVARIANTS

TLS_SLUGS = ("tls-ragged-eof", "tls-no-partial-record", "tls-data-before-cut", "tls-handshake-fail")


def target(cls):
    return Target(name=f"{cls.__module__}:{cls.__qualname__}", factory=stream_class_factory(cls))


def ssl_case(fault, operation="read_bytes", style="future", *, plan=None):
    cases = build_cases(faults=[fault], transports=["ssl"], operations=[operation])
    case = next(c for c in cases if c.style == style)
    return dataclasses.replace(case, plan=plan) if plan is not None else case


def slugs(case, stream_target):
    result = run_case(case, stream_target, keep_trace=False)
    assert not result.error, result.error
    return set(result.slugs)


@pytest.mark.parametrize("slug", TLS_SLUGS)
def test_every_tls_invariant_is_a_registered_contract_with_an_explanation(slug):
    spec = INVARIANTS[slug]
    assert spec.klass == "contract" and spec.group == "TLS" and spec.builtin
    assert spec.explanation and "trace" in spec.observes


# --- tls-ragged-eof -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["ragged-eof", "eof-mid-record"])
@pytest.mark.parametrize("operation, style", [("read_bytes", "future"), ("read_until_close", "callback"),
                                              ("write", "future")])
def test_a_ragged_end_taken_as_clean_breaks_tls_ragged_eof(fault, operation, style):
    case = ssl_case(fault, operation, style)
    assert "tls-ragged-eof" in slugs(case, target(RaggedEofTakenAsClean))
    assert slugs(case, DEFAULT_TARGET) == set()


def test_a_peer_that_ends_with_close_notify_gives_tls_ragged_eof_nothing_to_judge():
    # The same broken stream is fine when the peer ends cleanly: the rule is about the ragged end only.
    case = ssl_case("records-coalesced")
    assert "tls-ragged-eof" not in slugs(case, target(RaggedEofTakenAsClean))


def test_asyncio_streams_take_a_ragged_eof_for_a_clean_one():
    # A finding on CPython's asyncio SSL protocol (docs/targets.md): at the transport's EOF it never asks
    # whether close_notify came (sslproto.py eof_received -> _do_flush -> _do_shutdown).
    case = dataclasses.replace(ssl_case("ragged-eof"), profile="cpython")
    assert "tls-ragged-eof" in slugs(case, load_target("asyncio-streams"))


# --- tls-no-partial-record ------------------------------------------------------------------------------


def test_bytes_of_a_cut_record_delivered_break_tls_no_partial_record():
    case = ssl_case("eof-mid-record", "echo", "scenario", plan=FaultPlan(read=(Eof(),), name="eof-mid-record"))
    assert "tls-no-partial-record" in slugs(case, target(PartialRecordAtEof))
    assert slugs(case, DEFAULT_TARGET) == set()


# --- tls-data-before-cut --------------------------------------------------------------------------------


class DropsPlaintextAtRaggedEof(SSLIOStream):
    """At a ragged EOF the stream throws away the plaintext it already decrypted (and buffered)."""

    def read_from_fd(self):
        try:
            return super().read_from_fd()
        except RaggedEOFError:
            self._rbuf.clear()  # BUG: whole records received before the cut are lost
            raise


def test_plaintext_of_whole_records_dropped_at_a_ragged_eof_breaks_tls_data_before_cut():
    caught = set()
    for case in build_cases(faults=["eof-mid-record", "ragged-eof"], transports=["ssl"],
                            operations=["read_bytes", "read_until"]):
        caught |= slugs(case, target(DropsPlaintextAtRaggedEof))
        assert slugs(case, DEFAULT_TARGET) == set(), case.id
    assert "tls-data-before-cut" in caught


# --- tls-handshake-fail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["peer-rejects", "untrusted-cert", "wrong-hostname"])
def test_a_swallowed_handshake_error_breaks_tls_handshake_fail(variant):
    case = ssl_case("handshake-fail", "read_bytes", "future", plan=FaultPlan(name=f"handshake-fail:{variant}"))
    assert "tls-handshake-fail" in slugs(case, target(HandshakeErrorSwallowed))
    assert slugs(case, DEFAULT_TARGET) == set()


@pytest.mark.parametrize("variant", ["untrusted-cert", "wrong-hostname"])
def test_a_client_that_skips_verification_breaks_tls_handshake_fail(variant):
    case = ssl_case("handshake-fail", "write", "future", plan=FaultPlan(name=f"handshake-fail:{variant}"))
    assert "tls-handshake-fail" in slugs(case, target(ClientSkipsVerification))


def test_verification_skipped_on_the_server_side_is_not_a_handshake_failure():
    # peer-rejects: the *peer* verifies; a stream that accepts anything still sees the peer's alert.
    case = ssl_case("handshake-fail", "write", "future", plan=FaultPlan(name="handshake-fail:peer-rejects"))
    assert slugs(case, target(ClientSkipsVerification)) == set()


def test_a_target_that_cannot_be_a_tls_client_is_an_error_naming_why():
    def server_only(sock, *, io_loop, transport, max_buffer_size, ssl_context):
        return SSLIOStream(sock, ssl_context, io_loop=io_loop, max_buffer_size=max_buffer_size, server_side=True)

    case = ssl_case("handshake-fail", plan=FaultPlan(name="handshake-fail:untrusted-cert"))
    result = run_case(case, Target(name="tests:server_only", factory=server_only), keep_trace=False)
    assert "cannot be built as a TLS client" in result.error


# --- the drain rule stays with liveness -----------------------------------------------------------------


def test_plaintext_stranded_by_coalesced_records_is_caught_by_liveness():
    case = ssl_case("records-coalesced", "read_bytes", "callback")
    assert "liveness" in slugs(case, target(SSLStopsDraining))
    assert slugs(case, DEFAULT_TARGET) == set()
