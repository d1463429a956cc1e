"""The built-in targets on the simulated asyncio loop: ``tornado`` (Tornado >= 5) and ``asyncio-streams``."""

import json

import pytest

from harness import _cli
from harness._targets import BUILTIN_TARGETS, load_target


def _run(capsys, *argv):
    code = _cli.main(["run", "--no-report", "--json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _findings(report, klass=None):
    found = set()
    for case in report["cases"]:
        for detail in case.get("details", []):
            if klass is None or detail.get("class") == klass:
                found.add((detail["slug"], case["id"]))
    return found


def _errors(report):
    return [(c["id"], c.get("error")) for c in report["cases"] if c["outcome"] == "error"]


def test_both_asyncio_targets_are_listed_as_built_in():
    assert "tornado" in BUILTIN_TARGETS and "asyncio-streams" in BUILTIN_TARGETS


def test_asyncio_streams_declare_what_their_api_lacks():
    target = load_target("asyncio-streams")
    assert target.loop == "asyncio" and target.default_profile == "cpython"
    assert target.lacking("read_bytes", "callback")
    assert target.lacking("read_until_regex", "future")
    assert target.lacking("read_bytes_streaming", "future")
    assert not target.lacking("read_bytes", "future")
    assert target.transports == ("plain", "ssl")


def test_asyncio_streams_run_every_applicable_case_without_an_error(capsys):
    code, report, err = _run(capsys, "--target", "asyncio-streams", "--faults", "eintr,econnreset,ewouldblock,dribble",
                             "--examples", "0", "--jobs", "2")
    assert _errors(report) == []
    # Callback cells and the operations asyncio streams lack are not run, and the last line says so.
    assert not any(c["style"] == "callback" for c in report["cases"])
    assert not any(c["operation"] in ("read_until_regex", "read_until_max_bytes", "read_bytes_streaming")
                   for c in report["cases"])
    assert "not applicable to asyncio-streams, not run:" in err and "no callback API" in err
    assert all(c["profile"] == "cpython" for c in report["cases"])
    # Checked against CPython's streams.py: after a reset the buffered bytes are never delivered.
    assert ("reads-after-close", "read_bytes/future/econnreset/plain") in _findings(report, "contract")
    assert code == 1
    # Both transports ran: TLS through asyncio's own SSL protocol.
    assert {c["transport"] for c in report["cases"]} == {"plain", "ssl"}
    # The invariants asyncio does not promise are listed as not applicable, with the reason.
    case = next(c for c in report["cases"] if c["id"] == "read_bytes/future/dribble/plain")
    assert case["outcome"] == "pass"
    reasons = {n["slug"]: n["reason"] for n in report["not_applicable"]}
    assert "no close callback" in reasons["close-cb-after-futures"]
    assert "pauses the transport" in reasons["overflow-error"]


def test_asyncio_streams_readexactly_is_not_bounded_by_the_limit(capsys):
    code, report, _ = _run(capsys, "--target", "asyncio-streams", "--faults", "flood", "--transport", "plain",
                           "--operations", "echo", "--examples", "0", "--jobs", "1")
    assert _errors(report) == []
    assert ("buffer-bound", "echo/scenario/flood/plain") in _findings(report, "contract")


def test_tornado_6_runs_its_plain_matrix_with_no_contract_finding(capsys):
    tornado = pytest.importorskip("tornado")
    if tornado.version_info < (6,):
        pytest.skip(f"Tornado {tornado.version} is installed; these findings are Tornado 6's")
    from faultio import FAULT_KINDS
    from harness._scenarios import OPERATIONS

    # The kernel kinds and the operations before the deadlines (what they find: docs/time-faults.md).
    code, report, err = _run(capsys, "--target", "tornado", "--faults", ",".join(FAULT_KINDS), "--transport", "plain",
                             "--operations", ",".join(op for op in OPERATIONS if op not in ("read_deadline", "write_deadline")),
                             "--examples", "0", "--jobs", "2")
    assert _errors(report) == []
    assert _findings(report, "contract") == set()
    assert {slug for slug, _ in _findings(report)} <= {"no-read-when-buffered", "bounded-read"}
    assert code == 0
    assert "no callback (removed in 6.0)" in err
    assert {c["transport"] for c in report["cases"]} == {"plain"}


@pytest.mark.parametrize("target", ["asyncio-streams", "tornado"])
def test_the_same_seed_gives_the_same_cases_with_one_or_two_jobs(capsys, target):
    if target == "tornado":
        pytest.importorskip("tornado")
    argv = ["--target", target, "--faults", "eintr,econnreset,dribble", "--examples", "1", "--seed", "5"]
    runs = []
    for jobs in ("1", "2", "2"):
        _, report, _ = _run(capsys, *argv, "--jobs", jobs)
        runs.append([{k: c.get(k) for k in ("id", "outcome", "slugs", "story", "steps", "plan", "error")}
                     for c in report["cases"]])
    assert runs[0] == runs[1] == runs[2]
    assert runs[0]


def test_the_report_lists_what_the_target_cannot_express(tmp_path, capsys):
    code = _cli.main(["run", "--target", "asyncio-streams", "--faults", "eintr", "--operations",
                      "read_bytes,read_until_regex", "--examples", "0", "--report", str(tmp_path), "-q"])
    capsys.readouterr()
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    report = json.loads((run_dir / "report.json").read_text())
    reasons = {n["what"]: n["reason"] for n in report["not_run"]}
    assert reasons["read_bytes/callback"] == "asyncio streams have no callback API; coroutines only"
    assert "no regex delimiter" in reasons["read_until_regex/callback, read_until_regex/future"]
    page = (run_dir / "index.html").read_text()
    assert "Not run (the target cannot express it)" in page and "no regex delimiter" in page
    assert code == 0
