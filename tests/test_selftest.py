import io
import json
import re

import pytest

from faultio import IOStream
from harness import _selftest
from harness._case import Case
from harness._mutants import Mutant, get_mutant
from harness._runner import run_case
from harness._selftest import SelftestResult, replay, run_selftest, selftest
from harness._targets import load_target

#: Mutants the econnreset column of the plain matrix catches (seed 0): a reduced self-check that stays fast.
ECONNRESET_CAUGHT = [
    "close-cb-twice",
    "error-listener-not-rearmed",
    "error-event-closes-sync",
    "write-futures-orphaned",
    "drops-buffer-on-close",
    "max-bytes-raised-sync",
]

#: faultio's own stream, entered as if it were a mutant: nothing can catch it.
NOT_A_BUG = Mutant(name="not-a-bug", cls=IOStream, description="faultio's correct IOStream posing as a mutant",
                   transports=("plain",), expects=("eintr-invisible",))

#: The later stages (generated plans, sequences) off: a mutant the small matrix misses stays missed, quickly.
SMALL = dict(faults=["eintr"], transports=["plain"], operations=["read_bytes", "write"], plans=0, sequences=0)


def run(**kwargs):
    out = io.StringIO()
    code = run_selftest(out=out, **kwargs)
    return code, out.getvalue()


def without_timing(text):
    return "\n".join(line for line in text.splitlines() if not line.startswith("time: "))


def test_a_reduced_selftest_catches_every_mutant_it_runs_and_exits_0():
    mutants = [get_mutant(name) for name in ECONNRESET_CAUGHT]
    code, text = run(faults=["econnreset"], transports=["plain"], mutants=mutants)
    assert code == 0, text
    assert "reference faultio:IOStream: 21 cases, clean" in text
    for mutant in mutants:
        block = text.split(f"\n{mutant.name}: ", 1)[1].split("\n  replay: ", 1)[0]
        assert block.startswith("caught on ")
        caught_by = next(line for line in block.splitlines() if line.startswith("  caught by: "))
        assert any(slug in caught_by for slug in mutant.expects)
        assert "  shrunk (" in block
    assert text.splitlines()[-2] == f"selftest passed: {len(mutants)} of {len(mutants)} mutants caught; reference clean"
    assert text.splitlines()[-1].startswith("time: ")


def test_a_correct_stream_posing_as_a_mutant_is_reported_not_caught_and_fails_the_selftest():
    code, text = run(mutants=[get_mutant("eintr-closes-read"), NOT_A_BUG], **SMALL)
    assert code == 1
    assert "eintr-closes-read: caught on " in text
    assert "not-a-bug: NOT caught on any of 4 cases (plain)" in text
    assert "selftest FAILED: 1 of 2 mutants caught (missed: not-a-bug); reference clean" in text


def test_a_reference_that_is_not_clean_fails_the_selftest(monkeypatch):
    monkeypatch.setattr(_selftest, "DEFAULT_TARGET_SPEC", "harness._mutants:EintrClosesRead")
    code, text = run(mutants=[get_mutant("eintr-closes-read")], **SMALL)
    assert code == 1
    assert "cases NOT clean" in text and "read_bytes/future/eintr/plain: eintr-invisible" in text
    assert "reference NOT clean" in text.splitlines()[-2]


def test_a_mutant_for_a_transport_not_requested_is_skipped_not_failed():
    code, text = run(mutants=[get_mutant("ssl-stops-draining"), get_mutant("eintr-closes-read")], **SMALL)
    assert code == 0
    assert "ssl-stops-draining: SKIPPED (applies to ssl; not among the requested transports)" in text
    assert "selftest passed: 1 of 1 mutants caught, 1 skipped; reference clean" in text


def test_the_output_is_the_same_with_one_job_and_with_two():
    mutants = [get_mutant("eintr-closes-read"), get_mutant("eintr-closes-write"), NOT_A_BUG]
    one = run(jobs=1, mutants=mutants, **SMALL)
    two = run(jobs=2, mutants=mutants, **SMALL)
    assert one[0] == two[0] == 1
    assert without_timing(one[1]) == without_timing(two[1])


def test_the_text_goes_to_stderr_by_default(capsys):
    run_selftest(mutants=[get_mutant("eintr-closes-read")], **SMALL)
    captured = capsys.readouterr()
    assert captured.out == "" and "eintr-closes-read: caught on" in captured.err


def test_the_structured_result_says_what_the_text_says():
    result = selftest(mutants=[get_mutant("eintr-closes-read"), NOT_A_BUG], **SMALL)
    assert isinstance(result, SelftestResult)
    assert result.reference_clean and not result.ok and result.exit_code == 1
    assert result.missed == ("not-a-bug",)
    caught, missed = result.mutants
    assert caught.caught and caught.expected_seen and dict(caught.slugs)["eintr-invisible"] >= 1
    assert caught.shrunk.plan.read and caught.shrunk_slug == "eintr-invisible"
    assert not missed.caught and missed.shrunk is None
    data = json.loads(json.dumps(result.to_json()))
    assert data["ok"] is False and data["reference"]["failures"] == []
    assert [m["name"] for m in data["mutants"]] == ["eintr-closes-read", "not-a-bug"]
    assert Case.from_json(data["mutants"][0]["shrunk"]["case"]) == caught.shrunk


def test_saved_shrunk_cases_replay_to_the_same_violation(tmp_path):
    code, text = run(mutants=[get_mutant("eintr-closes-read")], save_dir=tmp_path, **SMALL)
    assert code == 0
    path = tmp_path / "eintr-closes-read.json"
    assert f"replay: python -m harness replay {path}" in text
    data = json.loads(path.read_text())
    result = run_case(Case.from_json(data["case"]), load_target(data["target"]), keep_trace=False)
    assert data["slug"] in result.slugs


def test_a_saved_shrunk_case_is_the_case_json_written_atomically(tmp_path, monkeypatch):
    import harness._report_json as report_json
    from harness._generate import CASE_FILE_FORMAT

    written = []
    atomic = report_json.write_atomic
    monkeypatch.setattr(report_json, "write_atomic", lambda path, data: written.append(path) or atomic(path, data))
    result = selftest(mutants=[get_mutant("eintr-closes-read")], save_dir=tmp_path, **SMALL)
    path = tmp_path / "eintr-closes-read.json"
    assert written == [path]
    data = json.loads(path.read_text())
    assert data["format"] == CASE_FILE_FORMAT and data["target"] == result.mutants[0].spec
    assert data["case"] == result.mutants[0].shrunk.to_json()
    assert result.to_json()["mutants"][0]["shrunk"]["case"] == data["case"]


def test_replay_reruns_and_reshrinks_a_mutant_case():
    out = io.StringIO()
    result = replay("error-event-closes-sync", "read_bytes/callback/econnreset/plain", seed=0, out=out)
    assert "error-event-deferred-close" in result.slugs
    text = out.getvalue()
    assert "plan: econnreset: read[pass(nbytes=11), reset()] write[-]" in text
    assert text.rstrip().splitlines()[-1].startswith("VIOLATION error-event-deferred-close")


def test_replay_names_the_valid_cases_when_given_an_unknown_one():
    with pytest.raises(ValueError, match="read_bytes/callback/eintr/plain"):
        replay("eintr-closes-read", "read_bytes/sideways/eintr/plain")


def test_an_unknown_transport_is_refused():
    with pytest.raises(ValueError, match="transports"):
        selftest(transports=["pigeon"])


#: The TLS mutants: each must be caught by a TLS checker on the TLS kinds of the ssl matrix.
TLS_MUTANTS = ["ragged-eof-taken-as-clean", "partial-record-at-eof", "handshake-error-swallowed",
               "client-skips-verification"]


def test_a_reduced_tls_selftest_catches_every_tls_mutant_with_a_tls_checker():
    mutants = [get_mutant(name) for name in TLS_MUTANTS]
    result = selftest(faults=["ragged-eof", "eof-mid-record", "handshake-fail"], transports=["ssl"],
                      operations=["read_bytes", "write", "echo"], mutants=mutants, shrink_runs=10)
    assert result.ok, result.to_json()
    for outcome in result.mutants:
        assert any(slug.startswith("tls-") for slug, _ in outcome.slugs), (outcome.name, outcome.slugs)
        assert outcome.shrunk_slug.startswith("tls-"), (outcome.name, outcome.shrunk_slug)


def test_the_selftest_runs_the_tls_kinds_by_default():
    from faultio._plan import TLS_KINDS

    assert set(TLS_KINDS) <= set(selftest.__kwdefaults__["faults"])


def test_a_mutant_the_fixed_matrix_misses_is_tried_with_generated_plans_then_sequences(tmp_path):
    from harness._workload_mutants import WORKLOAD_MUTANTS

    (loses,) = [m for m in WORKLOAD_MUTANTS if m.name == "loses-byte-of-full-chunk"]
    code, text = run(mutants=[loses, NOT_A_BUG], faults=["eintr"], transports=["plain"],
                     operations=["read_bytes", "write"], plans=1, sequences=30, save_dir=tmp_path)
    assert code == 1
    block = text.split("\nloses-byte-of-full-chunk: ", 1)[1].split("\nnot-a-bug: ", 1)[0]
    assert block.startswith("caught by generated sequences; the fixed matrix missed it on all 4 cases (plain)")
    # (how many generated plans a cell judges is Hypothesis' business: the count is read, not fixed)
    assert re.search(r"found by: generated sequences \(fixed cases: 0 of 4 failing; generated plans: 0 of \d+ "
                     r"failing; generated sequences: caught at #1 \(budget 30\)\)", block)
    assert "ops: read_until(" in block and f"replay: python -m harness replay {tmp_path}" in block
    assert re.search(r"found by: nothing \(fixed cases: 0 of 4 failing; generated plans: 0 of \d+ failing; "
                     r"generated sequences: none failing of 30 \(budget 30\)\)", text)
    assert "selftest FAILED: 1 of 2 mutants caught (0 by fixed cases, 0 by generated plans, 1 by generated " \
           "sequences) (missed: not-a-bug)" in text
    saved = json.loads((tmp_path / "loses-byte-of-full-chunk.json").read_text())
    case = Case.from_json(saved["case"])
    from harness._sequences import run_sequence_case

    assert saved["slug"] in run_sequence_case(case, load_target(saved["target"])).slugs


def test_the_whole_catalogue_includes_the_workload_mutants():
    from harness._mutants import MUTANTS
    from harness._workload_mutants import WORKLOAD_MUTANTS

    result = selftest(mutants=None, faults=["eintr"], transports=["ssl"], operations=["read_bytes"], plans=0,
                      sequences=0)
    assert [m.name for m in result.mutants] == [m.name for m in MUTANTS + WORKLOAD_MUTANTS]
