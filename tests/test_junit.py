"""JUnit XML: structure, counts, escaping."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from _report_samples import error_case, make_report, passing_case, sample_report, violation_case
from harness._junit import render_junit
from harness._report_json import ReportFormatError


@pytest.fixture(scope="module")
def root() -> ET.Element:
    return ET.fromstring(render_junit(sample_report()))


def test_junit_has_one_suite_per_transport(root):
    assert root.tag == "testsuites"
    assert [s.get("name") for s in root.findall("testsuite")] == ["faultio.plain", "faultio.ssl"]


def test_junit_counts_failures_and_errors(root):
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    assert len(root.findall("testsuite/testcase")) == 3
    assert len(root.findall(".//failure")) == 1
    assert len(root.findall(".//error")) == 1
    plain, ssl = root.findall("testsuite")
    assert (plain.get("tests"), plain.get("failures"), plain.get("errors")) == ("2", "0", "1")
    assert (ssl.get("tests"), ssl.get("failures"), ssl.get("errors")) == ("1", "1", "0")


def test_junit_testcase_names_are_case_ids_and_classnames_operations(root):
    pairs = {(tc.get("classname"), tc.get("name")) for tc in root.iter("testcase")}
    assert pairs == {("read_bytes", "read_bytes/future/eintr/plain"),
                     ("read_until", "read_until/callback/econnreset/ssl"),
                     ("read_until_close", "read_until_close/scenario/flood/plain")}


def test_junit_failure_carries_slugs_message_and_replay(root):
    failure = root.find(".//failure")
    assert failure.get("type") == "close-cb-once"
    assert failure.get("message").startswith("close-cb-once [contract], pending-zero-at-rest [design]: close "
                                             "callback ran twice")
    assert "<script>alert('x')</script>" in failure.get("message")
    assert "[pending-zero-at-rest] (design) at step 19:" in failure.text
    assert "--case 'read_until/callback/econnreset/ssl'" in failure.text


def test_junit_error_replaces_characters_xml_cannot_carry(root):
    error = root.find(".//error")
    assert error.get("type") == "harness-error"
    assert error.get("message") == "harness-error: RuntimeError: boom \\x00 <b>bold</b>"


def test_junit_properties_hold_seed_and_target(root):
    for suite in root.findall("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        assert props["seed"] == "0"
        assert props["target"] == "faultio:IOStream"
        assert props["command"] == "python -m harness run --faults all --seed 0"


def test_junit_system_out_holds_the_plan_as_json(root):
    report = sample_report()
    plans = {c["id"]: c["plan"] for c in report["cases"]}
    for tc in root.iter("testcase"):
        first = tc.find("system-out").text.splitlines()[0]
        assert first.startswith("plan: ")
        assert json.loads(first[len("plan: "):]) == plans[tc.get("name")]


def test_junit_survives_hostile_strings_everywhere():
    case = violation_case()
    case["id"] = "a]]>\x01<b>&\"'"
    case["details"][0]["message"] = "\ud800 lone surrogate \x1b[31m"
    report = make_report([case], target="<t>\x00", command="run ]]> &")
    text = render_junit(report)
    root = ET.fromstring(text)
    tc = root.find(".//testcase")
    assert tc.get("name") == "a]]>\\x01<b>&\"'"
    assert "\\ud800 lone surrogate \\x1b[31m" in tc.find("failure").get("message")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["target"] == "<t>\\x00"


def test_junit_transport_with_no_cases_gives_an_empty_suite():
    report = make_report([passing_case()], transports=["plain", "ssl"])
    root = ET.fromstring(render_junit(report))
    ssl = root.findall("testsuite")[1]
    assert ssl.get("tests") == "0" and ssl.findall("testcase") == []


def test_junit_refuses_an_invalid_report():
    report = make_report([error_case()])
    report["summary"]["errors"] = 0
    with pytest.raises(ReportFormatError, match="summary.errors"):
        render_junit(report)
