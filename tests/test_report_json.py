"""The report dict: validation, JSON text, atomic writes, loading."""

from __future__ import annotations

import copy
import json
import os
import re
import stat

import pytest

from _report_samples import error_case, make_report, passing_case, sample_report, violation_case
from harness._report_json import (
    FORMAT,
    ReportFormatError,
    dumps_report,
    load_report,
    validate_report,
    write_atomic,
)


def test_sample_report_validates():
    validate_report(sample_report())


def test_report_format_error_is_a_value_error():
    assert issubclass(ReportFormatError, ValueError)


@pytest.mark.parametrize("key", ["format", "seed", "target", "command", "faults", "operations",
                                 "transports", "summary", "cases", "run"])
def test_validate_report_names_a_missing_top_level_key(key):
    report = sample_report()
    del report[key]
    with pytest.raises(ReportFormatError, match=f"missing key '{key}'"):
        validate_report(report)


def _broken(mutate):
    report = sample_report()
    mutate(report)
    with pytest.raises(ReportFormatError) as info:
        validate_report(report)
    return str(info.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["cases"][1].update(outcome="fail"), "report.cases[1].outcome: expected one of"),
        (lambda r: r["cases"][0].update(style="sync"), "report.cases[0].style"),
        (lambda r: r["cases"][1].update(violations=["z", "a"]), "report.cases[1].violations: slugs must be sorted"),
        (lambda r: r["cases"][1].update(violations=[]), "report.cases[1].violations"),
        (lambda r: r["cases"][0].update(violations=["close-cb-once"]), "report.cases[0].violations"),
        (lambda r: r["cases"][1]["details"][0].pop("slug"), "report.cases[1].details[0]: missing key 'slug'"),
        (lambda r: r["cases"][1]["details"][0].update(step="17"), "report.cases[1].details[0].step"),
        (lambda r: r["cases"][1]["plan"].pop("write"), "report.cases[1].plan: missing key 'write'"),
        (lambda r: r["cases"][1]["plan"]["read"][0].pop("kind"), "report.cases[1].plan.read[0]"),
        (lambda r: r["cases"][1]["payload"].update(sent="zz"), "report.cases[1].payload.sent: not a hex"),
        (lambda r: r["cases"][1]["trace"][3].update(source="kernel"), "report.cases[1].trace[3].source"),
        (lambda r: r["cases"][1]["trace"][3].update(time=float("nan")), "report.cases[1].trace[3].time"),
        (lambda r: r["cases"][2].update(id=r["cases"][0]["id"]), "report.cases[2].id: duplicate id"),
        (lambda r: r["summary"].update(passed=7), "report.summary.passed: is 7 but the cases give 1"),
        (lambda r: r.update(seed=True), "report.seed: expected int"),
        (lambda r: r.update(format="faultio-report/1"), "report.format: unsupported format"),
        (lambda r: r["cases"][1]["details"][0].update({"class": "style"}), "report.cases[1].details[0].class"),
        (lambda r: r["cases"][1].update(fails=False), "report.cases[1].fails: is False but the run"),
        (lambda r: r["cases"][2].update(fails=False), "report.cases[2].fails: a case that could not be judged"),
        (lambda r: r.update(fail_on=["contract", "styling"]), "report.fail_on: expected a sorted"),
        (lambda r: r["summary"].update(design=3), "report.summary.design: is 3 but the cases give 1"),
        (lambda r: r["run"].pop("duration_s"), "report.run: missing key 'duration_s'"),
        (lambda r: r.update(faults="eintr"), "report.faults: expected str-list"),
    ],
    ids=["outcome", "style", "unsorted-slugs", "violation-without-slug", "pass-with-slug", "detail-slug",
         "detail-step", "plan-write", "plan-kind", "payload-hex", "trace-source", "trace-nan", "duplicate-id",
         "summary", "bool-seed", "format", "detail-class", "fails-vs-fail-on", "error-fails", "fail-on",
         "summary-class", "run-duration", "faults-type"],
)
def test_validate_report_error_names_the_bad_key(mutate, expected):
    assert expected in _broken(mutate)


def test_a_profile_on_a_case_and_on_the_run_is_validated_and_kept_in_place():
    report = sample_report()
    report["cases"][0]["profile"] = "cpython"
    report["run"]["profile"] = "cpython"
    validate_report(report)
    text = dumps_report(report)
    assert re.search(r'"transport": "plain",\s*"profile": "cpython",\s*"origin"', text)
    assert re.search(r'"python": "3.11.7",\s*"profile": "cpython"', text)
    assert "report.cases[0].profile: expected one of 'raw', 'cpython', got 'pypy'" in _broken(
        lambda r: r["cases"][0].update(profile="pypy"))
    assert "report.run.profile: expected str, got int" in _broken(lambda r: r["run"].update(profile=1))


def test_validate_report_rejects_a_non_dict():
    with pytest.raises(ReportFormatError, match="expected a dict, got list"):
        validate_report([])


def test_validate_report_allows_unknown_keys_and_absent_trace_and_payload():
    report = sample_report()
    report["extra"] = {"future": 1}
    report["cases"][0]["note"] = "added later"
    assert "trace" not in report["cases"][0] and "payload" not in report["cases"][0]
    validate_report(report)


def test_dumps_report_round_trips():
    report = sample_report()
    assert json.loads(dumps_report(report)) == report


def test_dumps_report_is_stable_whatever_the_key_order():
    report = sample_report()
    shuffled = {k: report[k] for k in reversed(list(report))}
    shuffled["cases"] = [{k: c[k] for k in sorted(c, reverse=True)} for c in report["cases"]]
    assert dumps_report(shuffled) == dumps_report(report)


def test_dumps_report_puts_format_first_and_keeps_events_on_one_line():
    text = dumps_report(sample_report())
    assert text.startswith('{\n  "format": "faultio-report/2",\n  "seed": 0,')
    assert text.endswith("}\n")
    assert '{"index": 1, "step": 0, "time": 0.0, "source": "loop", "kind": "handler", "detail": {"fd": 5}},\n' in text


def test_dumps_report_is_ascii_so_line_separators_are_escaped():
    text = dumps_report(sample_report())
    assert text.isascii()
    assert "\\u2028" in text


def test_dumps_report_refuses_an_invalid_report():
    report = sample_report()
    del report["cases"][0]["replay"]
    with pytest.raises(ReportFormatError, match=r"cases\[0\]: missing key 'replay'"):
        dumps_report(report)


def test_dumps_report_does_not_modify_its_argument():
    report = sample_report()
    before = copy.deepcopy(report)
    dumps_report(report)
    assert report == before


def _leftovers(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_write_atomic_writes_text_and_bytes_and_leaves_no_temp_file(tmp_path):
    write_atomic(tmp_path / "a.txt", "h\u00e9llo")
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.txt").read_bytes() == "h\u00e9llo".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert _leftovers(tmp_path) == []
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_write_atomic_replaces_an_existing_file_and_keeps_its_mode(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    os.chmod(target, 0o600)
    assert write_atomic(target, "new") == target
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_write_atomic_failure_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_load_report_round_trips_through_a_file(tmp_path):
    report = sample_report()
    path = write_atomic(tmp_path / "report.json", dumps_report(report))
    assert load_report(path) == report


def test_load_report_names_an_unsupported_format_version(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**sample_report(), "format": "faultio-report/3"}))
    with pytest.raises(ReportFormatError) as info:
        load_report(path)
    message = str(info.value)
    assert str(path) in message
    assert "'faultio-report/3' is not supported" in message
    assert FORMAT in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("{not json", "not valid JSON"), ("[1, 2]", "not a faultio report"),
     ('{"format": "coverage/7"}', "not a faultio report (format 'coverage/7')")],
    ids=["not-json", "not-a-dict", "other-format"],
)
def test_load_report_explains_files_that_are_not_reports(tmp_path, text, expected):
    path = tmp_path / "report.json"
    path.write_text(text)
    with pytest.raises(ReportFormatError, match=re.escape(expected)):
        load_report(path)


def test_load_report_prefixes_validation_errors_with_the_file_name(tmp_path):
    report = sample_report()
    report["cases"][0]["outcome"] = "maybe"
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    with pytest.raises(ReportFormatError, match=r"report\.json: report\.cases\[0\]\.outcome"):
        load_report(path)


def test_cases_with_the_same_content_dump_identically_whatever_the_run_block():
    a = make_report([passing_case(), violation_case(), error_case()])
    b = make_report([passing_case(), violation_case(), error_case()],
                    run={"id": "other", "started": "2030-01-01T00:00:00Z", "duration_s": 9.5, "jobs": 8,
                         "python": "3.12.1"})
    cases_a = json.loads(dumps_report(a))["cases"]
    cases_b = json.loads(dumps_report(b))["cases"]
    assert cases_a == cases_b
