import dataclasses

import pytest

from faultio import (
    Dribble,
    Eintr,
    Eof,
    FaultPlan,
    Flood,
    IOStream,
    Pass,
    Reset,
    SendEintr,
    SendReset,
    SSLIOStream,
)
from faultio._connect_faults import ConnectRefused, ConnectReset
from harness._case import Case
from harness.engine import INVARIANTS
from harness._matrix import build_cases
from harness._mutants import MUTANTS, Mutant, get_mutant
from harness._runner import derive_seed, run_case
from harness._targets import DEFAULT_TARGET, load_target

CLEAN = FaultPlan()
REFUSED_LATER = FaultPlan(write=(ConnectRefused(report="so-error"),), name="connect-refused:so-error")

#: For each mutant, one small case that catches it with one of its expected slugs: the plan the self-check
#: shrinks it to (seed 0), on the matrix cell it came from. (operation, style, fault, transport, plan)
TARGETED = {
    "eintr-closes-read": ("echo", "scenario", "eintr", "plain", FaultPlan(read=(Eintr(),))),
    "eintr-closes-write": ("echo", "scenario", "eintr", "plain", FaultPlan(write=(SendEintr(),))),
    "close-cb-ignores-pending": ("read_bytes_streaming", "future", "dribble", "plain", CLEAN),
    "close-cb-lost-on-read-loop-close": ("read_bytes_partial", "callback", "dribble", "plain", CLEAN),
    "close-cb-twice": ("read_bytes_streaming", "future", "dribble", "plain", CLEAN),
    "close-cb-overtakes-data": ("read_bytes_streaming", "future", "dribble", "plain", CLEAN),
    "no-pretend-pending": ("read_bytes", "future", "dribble", "plain", CLEAN),
    "error-listener-not-rearmed": ("read_until", "future", "dribble", "plain", CLEAN),
    "error-event-closes-sync": ("read_bytes", "callback", "econnreset", "plain",
                                FaultPlan(read=(Pass(nbytes=11), Reset()))),
    "eager-reader": ("read_bytes", "callback", "flood", "plain", FaultPlan(read=(Flood(nbytes=32611),))),
    "keeps-read-interest": ("read_until_max_bytes", "callback", "dribble", "plain", FaultPlan(read=(Dribble(),))),
    "busy-loop-on-ewouldblock": ("read_until", "future", "dribble", "plain", CLEAN),
    "ssl-stops-draining": ("read_bytes_partial", "callback", "ewouldblock", "ssl", CLEAN),
    "write-futures-orphaned": ("write", "future", "econnreset", "plain", FaultPlan(write=(SendReset(),))),
    "overflow-leaves-error-none": ("read_until_close", "future", "flood", "plain",
                                   FaultPlan(read=(Flood(nbytes=64849),))),
    "drops-buffer-on-close": ("read_bytes", "future", "dribble", "plain", CLEAN),
    "already-reading-after-closed-read": ("read_until", "future", "dribble", "plain", FaultPlan(read=(Dribble(),))),
    "max-bytes-raised-sync": ("read_until_max_bytes", "future", "dribble", "plain", CLEAN),
    "eintr-logs-retry": ("read_bytes", "future", "eintr", "plain", FaultPlan(read=(Eintr(),))),
    "truncates-read-until-close": ("read_until_close", "future", "dribble", "plain", CLEAN),
    "refuses-reads-after-close": ("read_bytes", "callback", "dribble", "plain", CLEAN),
    "ragged-eof-taken-as-clean": ("write", "future", "ragged-eof", "ssl", FaultPlan(name="ragged-eof")),
    "partial-record-at-eof": ("echo", "scenario", "eof-mid-record", "ssl",
                              FaultPlan(read=(Eof(),), name="eof-mid-record")),
    "handshake-error-swallowed": ("read_until_max_bytes", "callback", "handshake-fail", "ssl",
                                  FaultPlan(name="handshake-fail:peer-rejects")),
    "client-skips-verification": ("write", "future", "handshake-fail", "ssl",
                                  FaultPlan(name="handshake-fail:wrong-hostname")),
    "connect-error-swallowed": ("connect", "future", "connect-refused", "plain", REFUSED_LATER),
    "connect-skips-so-error": ("connect", "callback", "connect-refused", "plain", REFUSED_LATER),
    "connect-refusal-ignored": ("connect", "future", "connect-refused", "plain",
                                FaultPlan(write=(ConnectRefused(report="at-once"),), name="connect-refused:at-once")),
    "connect-queued-writes-dropped": ("connect", "future", "dribble", "plain", CLEAN),
    "connect-queued-writes-reordered": ("connect", "callback", "eintr", "plain", CLEAN),
    "connect-close-cb-twice": ("connect", "callback", "connect-reset", "plain",
                               FaultPlan(write=(ConnectReset(when="connecting"),), name="connect-reset:connecting")),
    "cancel-drops-taken-bytes": ("read_deadline", "future", "dribble", "plain", FaultPlan(read=(Dribble(),))),
    "cancel-leaves-read-state": ("read_deadline", "future", "dribble", "plain", CLEAN),
    "deadline-never-fires": ("read_deadline", "future", "dribble", "plain", CLEAN),
    "deadline-fires-early": ("read_deadline", "future", "dribble", "plain", CLEAN),
    "deadline-fires-late": ("read_deadline", "future", "dribble", "plain", CLEAN),
    "write-timeout-drops-queued": ("write_deadline", "future", "dribble", "plain", CLEAN),
}


def targeted_case(name):
    operation, style, fault, transport, plan = TARGETED[name]
    return Case(operation=operation, style=style, fault=fault, transport=transport, plan=plan,
                seed=derive_seed(0, operation, style, fault, transport))


def test_the_catalogue_holds_at_least_twelve_mutants_with_unique_names():
    names = [m.name for m in MUTANTS]
    assert len(names) >= 12
    assert len(set(names)) == len(names)
    assert len({m.cls for m in MUTANTS}) == len(MUTANTS)


def test_every_mutant_has_a_targeted_case():
    assert set(TARGETED) == {m.name for m in MUTANTS}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_loads_as_a_target_by_its_spec(mutant):
    target = load_target(mutant.spec)
    assert mutant.spec.startswith(("harness._mutants:", "harness._connect_mutants:", "harness._time_mutants:"))
    assert set(mutant.transports) <= set(target.transports)
    base = SSLIOStream if mutant.transports == ("ssl",) else IOStream
    assert issubclass(mutant.cls, base)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_describes_its_bug_and_names_known_invariants(mutant):
    assert mutant.description and "\n" not in mutant.description and "``" not in mutant.description
    assert mutant.expects and all(slug in INVARIANTS for slug in mutant.expects)


@pytest.mark.parametrize("name", sorted(TARGETED))
def test_each_mutant_is_caught_by_an_expected_invariant_on_its_targeted_case(name):
    mutant = get_mutant(name)
    case = targeted_case(name)
    assert case.transport in mutant.transports
    result = run_case(case, load_target(mutant.spec), keep_trace=False)
    assert set(result.slugs) & set(mutant.expects), (name, result.slugs, [v.message for v in result.violations])


@pytest.mark.parametrize("name", sorted(TARGETED))
def test_faultio_passes_every_targeted_case(name):
    # A targeted case only proves something if the reference stream survives it.
    result = run_case(targeted_case(name), DEFAULT_TARGET, keep_trace=False)
    assert result.outcome == "pass", (result.slugs, [v.message for v in result.violations])


def test_a_mutant_entry_rejects_unknown_slugs_transports_and_names():
    with pytest.raises(ValueError, match="unknown invariant"):
        Mutant(name="x", cls=IOStream, description="d", expects=("no-such-slug",))
    with pytest.raises(ValueError, match="transports"):
        Mutant(name="x", cls=IOStream, description="d", transports=("carrier-pigeon",))
    with pytest.raises(ValueError, match="slug"):
        Mutant(name="Not A Slug", cls=IOStream, description="d")


def test_get_mutant_names_the_valid_mutants_when_asked_for_an_unknown_one():
    with pytest.raises(KeyError, match="eintr-closes-read"):
        get_mutant("no-such-mutant")


def test_mutant_entries_are_values():
    mutant = get_mutant("eintr-closes-read")
    with pytest.raises(dataclasses.FrozenInstanceError):
        mutant.name = "other"  # type: ignore[misc]


# -- regressions: gaps the self-check found in the monitors and scenarios ------------------------------


def matrix_case(operation, style, fault, transport="plain", seed=0):
    cases = build_cases(faults=[fault], transports=[transport], operations=[operation], seed=seed)
    return next(case for case in cases if case.style == style)


@pytest.mark.parametrize("style, message", [("future", "the read future failed with StreamClosedError"),
                                            ("callback", "the close callback was scheduled inside")])
def test_pending_scoped_sees_close_handling_run_inside_the_read_loop_of_the_call_that_started_the_read(style, message):
    # The peer's FIN is met by the read loop of the read_bytes call itself. The monitor used to watch only
    # futures handed to it after that call returned, and never where the close callback was scheduled.
    case = dataclasses.replace(matrix_case("read_bytes", style, "dribble"), plan=CLEAN)
    result = run_case(case, load_target(get_mutant("no-pretend-pending").spec), keep_trace=False)
    assert [v.message for v in result.violations if v.slug == "pending-scoped"][0].startswith(message)


def test_a_streaming_chunk_still_queued_for_an_earlier_read_is_not_held_against_a_read_after_close():
    # A streaming read on the reset stream takes the buffered bytes (queued for its streaming callback) and
    # fails for the rest; the read after it finds the buffer rightly empty. Those queued bytes used to count
    # as "still held", a false reads-after-close for faultio's own stream.
    case = matrix_case("read_bytes_streaming", "callback", "econnreset")
    assert run_case(case, DEFAULT_TARGET, keep_trace=False).outcome == "pass"
    # A stream that really drops its buffer at close is still caught on the very same case.
    dropped = run_case(case, load_target(get_mutant("drops-buffer-on-close").spec), keep_trace=False)
    assert "reads-after-close" in dropped.slugs


@pytest.mark.parametrize("fault", ["econnreset", "flood"])
def test_every_seeded_reset_and_flood_lands_inside_a_read_scenarios_exchange(fault):
    # Faults are placed within the first 600 inbound bytes; read payloads used to be as short as 128 bytes,
    # so about half of these cells ran without their fault ever firing.
    for case in build_cases(faults=[fault], transports=["plain"]):
        if case.operation in ("write", "echo", "connect"):  # their faults are on the write side
            continue
        trace = run_case(case, DEFAULT_TARGET, full_trace=True).trace
        assert any(event["kind"] == "inject" for event in trace), case.id


@pytest.mark.parametrize("name", ["ragged-eof-taken-as-clean", "partial-record-at-eof", "handshake-error-swallowed",
                                  "client-skips-verification"])
def test_every_tls_mutant_is_expected_to_be_caught_by_a_tls_checker(name):
    mutant = get_mutant(name)
    assert mutant.transports == ("ssl",)
    assert all(slug.startswith("tls-") for slug in mutant.expects)


@pytest.mark.parametrize("name", ["connect-error-swallowed", "connect-skips-so-error", "connect-refusal-ignored",
                                  "connect-queued-writes-dropped", "connect-queued-writes-reordered",
                                  "connect-close-cb-twice"])
def test_every_connect_mutant_is_caught_by_a_connect_checker_not_only_by_liveness(name):
    mutant = get_mutant(name)
    result = run_case(targeted_case(name), load_target(mutant.spec), keep_trace=False)
    assert {"connect-outcome", "connect-writes"} & set(result.slugs), (name, result.slugs)
    assert "liveness" not in result.slugs
