"""The TLS fault kinds: plan vocabulary, the matrix (ssl only), the CLI, the strategy, and the peer behaviour
the harness derives from a case (``harness._tls_peer``)."""

import io

import pytest
from hypothesis import given, settings

from faultio import FAULT_KINDS, Eof, FaultPlan, Flood, Pass, PlanError, plan_for_kind
from faultio._plan import ALL_KINDS, CONNECT_KINDS, HANDSHAKE_VARIANTS, TIME_KINDS, TLS_KINDS, parse_kinds, tls_variant
from faultio.strategies import tls_fault_plans
from harness._case import Case
from harness._cli import main
from harness._matrix import build_cases
from harness._runner import run_case
from harness._targets import DEFAULT_TARGET
from harness._tls_peer import tls_setup


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


# --- the vocabulary -------------------------------------------------------------------------------------


def test_without_transports_parse_kinds_knows_only_the_core_kinds_as_before():
    assert parse_kinds("all") == FAULT_KINDS
    with pytest.raises(PlanError, match="unknown fault kind 'ragged-eof'"):
        parse_kinds("ragged-eof")


def test_all_names_the_tls_kinds_when_ssl_is_among_the_transports():
    assert parse_kinds("all", transports=("plain", "ssl")) == ALL_KINDS
    assert parse_kinds("all", transports=("ssl",)) == ALL_KINDS
    # plain: the core, time and connect kinds (a connect fails before any TLS), never a TLS kind
    assert parse_kinds("all", transports=("plain",)) == FAULT_KINDS + TIME_KINDS + CONNECT_KINDS


def test_a_tls_kind_on_plain_only_is_refused_naming_the_kinds_valid_there():
    with pytest.raises(PlanError) as info:
        parse_kinds("eintr,ragged-eof", transports=("plain",))
    message = str(info.value)
    assert "'ragged-eof' applies to the ssl transport only" in message
    assert ("valid kinds for transport plain: eintr, econnreset, ewouldblock, dribble, flood, stall, latency, "
            "bandwidth, limit-data, slow-close, send-stall, connect-refused, connect-reset, connect-timeout, "
            "all") in message


@pytest.mark.parametrize("kind", TLS_KINDS)
def test_every_tls_plan_is_seeded_named_and_round_trips_through_json(kind):
    plan = plan_for_kind(kind, seed=7, inbound_size=600)
    assert plan == plan_for_kind(kind, seed=7, inbound_size=600)
    assert FaultPlan.from_json(plan.dumps()) == plan
    assert plan.name.partition(":")[0] == kind


def test_eof_mid_record_places_an_eof_at_a_seeded_offset_inside_the_exchange():
    offsets = set()
    for seed in range(20):
        plan = plan_for_kind("eof-mid-record", seed=seed, inbound_size=600)
        assert isinstance(plan.read[0], Pass) and isinstance(plan.read[1], Eof)
        assert 1 <= plan.read[0].nbytes < 600
        offsets.add(plan.read[0].nbytes)
    assert len(offsets) > 10


def test_handshake_fail_picks_every_variant_from_the_seed_and_names_it_in_the_plan():
    variants = {tls_variant(plan_for_kind("handshake-fail", seed=seed)) for seed in range(40)}
    assert variants == set(HANDSHAKE_VARIANTS)
    assert tls_variant(FaultPlan(name="handshake-fail:nonsense")) == ""
    assert tls_variant(FaultPlan(name="ragged-eof")) == ""


def test_tls_flood_floods_like_flood():
    plan = plan_for_kind("tls-flood", seed=3, flood_bytes=1000)
    assert isinstance(plan.read[0], Pass) and plan.read[1] == Flood(nbytes=1000, pattern_seed=plan.read[1].pattern_seed)


@settings(max_examples=25, deadline=None)
@given(plan=tls_fault_plans())
def test_the_tls_strategy_draws_plans_of_the_tls_kinds_that_round_trip(plan):
    assert plan.name.partition(":")[0] in TLS_KINDS
    assert FaultPlan.from_json(plan.to_json()) == plan


def test_the_tls_strategy_refuses_a_core_kind():
    from hypothesis.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        tls_fault_plans(kinds=["eintr"])


# --- the matrix and the CLI -----------------------------------------------------------------------------


def test_build_cases_makes_tls_cases_on_ssl_only():
    cases = build_cases(faults=ALL_KINDS, transports=("plain", "ssl"), seed=0)
    plain = {c.fault for c in cases if c.transport == "plain"}
    ssl = {c.fault for c in cases if c.transport == "ssl"}
    assert plain == set(FAULT_KINDS) | set(TIME_KINDS) | set(CONNECT_KINDS)
    assert ssl == set(ALL_KINDS)
    assert build_cases(faults=["ragged-eof"], transports=("plain",)) == []


def test_build_cases_is_the_same_for_the_core_kinds_as_before():
    before = build_cases(faults=FAULT_KINDS, transports=("plain", "ssl"), seed=0)
    after = [c for c in build_cases(faults=ALL_KINDS, transports=("plain", "ssl"), seed=0) if c.fault in FAULT_KINDS]
    assert before == after


def test_the_cli_refuses_a_tls_kind_on_the_plain_transport_with_a_usage_error():
    code, _, err = cli("run", "--transport", "plain", "--faults", "ragged-eof", "--no-report")
    assert code == 2
    assert "ragged-eof" in err and "valid kinds for transport plain: eintr" in err


def test_list_shows_the_tls_kinds_and_the_tls_invariants():
    code, out, _ = cli("list")
    assert code == 0
    for kind in TLS_KINDS:
        assert f"  {kind}" in out
    for slug in ("tls-ragged-eof", "tls-no-partial-record", "tls-data-before-cut", "tls-handshake-fail"):
        assert slug in out


def test_a_run_of_one_tls_kind_against_faultio_is_clean():
    code, _, err = cli("run", "--transport", "ssl", "--faults", "eof-mid-record,handshake-fail", "--no-report",
                       "--jobs", "1", "--examples", "0", "--operations", "read_bytes,echo", "-q")
    assert code == 0, err
    assert "6 cases, 6 passed" in err


# --- the setup a case gives -----------------------------------------------------------------------------


def ssl_case(fault, operation="read_bytes", style="future", seed=0):
    cases = build_cases(faults=[fault], transports=["ssl"], operations=[operation], seed=seed)
    return next(c for c in cases if c.style == style)


def test_eof_mid_record_takes_the_eof_out_of_the_fd_plan_and_gives_the_peer_a_plaintext_offset():
    case = ssl_case("eof-mid-record")
    setup = tls_setup(case)
    assert setup.cut_at == case.plan.read[0].nbytes
    assert not any(isinstance(s, Eof) for s in setup.plan.read)
    assert not setup.notify


def test_a_core_kind_keeps_its_eof_and_the_peer_ends_with_close_notify():
    case = Case(operation="read_bytes", style="future", fault="econnreset", transport="ssl",
                plan=FaultPlan(read=(Pass(nbytes=5), Eof())), seed=0)
    setup = tls_setup(case)
    assert setup.kind == "" and setup.cut_at is None and setup.notify
    assert setup.plan == case.plan


@pytest.mark.parametrize("variant, client", [("peer-rejects", False), ("untrusted-cert", True),
                                             ("wrong-hostname", True)])
def test_each_handshake_variant_sets_up_its_roles(variant, client):
    case = ssl_case("handshake-fail")
    case = Case.from_json({**case.to_json(), "plan": FaultPlan(name=f"handshake-fail:{variant}").to_json()})
    setup = tls_setup(case)
    assert setup.variant == variant and setup.target_client is client and setup.handshake_must_fail
    assert (setup.peer_trust == "untrusted") is (variant == "peer-rejects")


def test_the_setup_comes_back_from_the_case_json_so_replay_reproduces_it():
    for kind in TLS_KINDS:
        case = ssl_case(kind, operation="echo", style="scenario")
        assert tls_setup(Case.from_json(case.to_json())) == tls_setup(case)


# --- what the peer does ---------------------------------------------------------------------------------


def events(result, kind):
    return [e["detail"] for e in result.trace if e["source"] == "harness" and e["kind"] == kind]


def test_the_peer_cuts_a_record_in_the_middle_and_faultio_closes_with_a_ragged_eof():
    result = run_case(ssl_case("eof-mid-record"), DEFAULT_TARGET, full_trace=True)
    assert result.outcome == "pass"
    (cut,) = events(result, "peer_cut")
    assert 0 < cut["kept"] < cut["record"]
    assert any(s.startswith("closed RaggedEOFError") for s in result.story)


def test_the_ragged_eof_peer_closes_without_close_notify():
    result = run_case(ssl_case("ragged-eof"), DEFAULT_TARGET, full_trace=True)
    assert result.outcome == "pass"
    assert events(result, "peer_close") and not any(e["notify"] for e in events(result, "peer_close"))


def test_the_case_announces_its_tls_expectation_in_the_trace():
    result = run_case(ssl_case("handshake-fail", operation="echo", style="scenario"), DEFAULT_TARGET,
                      full_trace=True)
    (announced,) = events(result, "tls_fault")
    assert announced["fault"] == "handshake-fail" and announced["handshake_must_fail"] is True


@pytest.mark.parametrize("kind", TLS_KINDS)
@pytest.mark.parametrize("operation, style", [("read_bytes", "callback"), ("read_until", "future"),
                                              ("write", "future"), ("echo", "scenario")])
def test_faultio_passes_every_tls_kind(kind, operation, style):
    result = run_case(ssl_case(kind, operation=operation, style=style), DEFAULT_TARGET, keep_trace=False)
    assert result.outcome == "pass", (result.error, [(v.slug, v.message) for v in result.violations])
