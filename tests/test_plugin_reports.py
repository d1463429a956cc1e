"""The pytest plugin's reports: under pytest-xdist only the controller writes one, and the JUnit XML carries each
case's seed and plan (split from ``test_plugin.py``)."""

import json
import xml.etree.ElementTree as ET

from _plugin_project import project, server_test  # noqa: F401 - project is a fixture

from faultio import (
    FaultPlan,
    plan_for_kind,
)

pytest_plugins = ["pytester"]


# --- reports ------------------------------------------------------------------------------------------


def test_xdist_workers_send_their_cases_and_only_the_controller_writes_one_report(project):
    project.makepyfile(test_ext_server=server_test(buggy=True, kinds='"dribble", "ewouldblock"'),
                       test_ext_other=server_test(kinds='"eintr", "econnreset", "dribble"').replace(
                           "test_server_reads_every_message", "test_other_server"))
    result = project.runpytest_subprocess("-n", "2", "--fault-report", "rep")
    result.assert_outcomes(failed=2, passed=3)
    assert result.stdout.str().count("faultio: report of 5 faulted test case(s) written to") == 1
    assert sorted(p.name for p in (project.path / "rep").iterdir()) == ["index.html", "report.json"]
    report = json.loads((project.path / "rep" / "report.json").read_text())
    ids = [case["id"] for case in report["cases"]]
    assert sorted(ids) == sorted([
        *(f"test_ext_server.py::test_server_reads_every_message[{k}]"
          for k in ("dribble", "ewouldblock")),
        *(f"test_ext_other.py::test_other_server[{k}]" for k in ("eintr", "econnreset", "dribble"))])
    assert report["summary"] == {"cases": 5, "passed": 3, "violations": 2, "errors": 0, "failing": 2,
                                 "contract": 2, "design": 0}
    assert report["run"]["jobs"] == 2 and "--fault-report rep" in report["command"]
    failing = [c for c in report["cases"] if c["outcome"] == "violation"]
    assert all(c["violations"] == ["data-integrity"] and c["trace"] and c["replay"].startswith("python -m pytest")
               for c in failing)
    page = (project.path / "rep" / "index.html").read_text()
    assert "test_other_server[eintr]" in page and "data-integrity" in page


def test_junit_xml_carries_the_seed_and_the_plan(project):
    project.makepyfile(test_ext_server=server_test(buggy=True, kinds='"dribble", "econnreset"'))
    project.runpytest("--junitxml", "junit.xml", "--fault-seed", "3")
    root = ET.parse(project.path / "junit.xml").getroot()
    props = {tc.get("name"): {p.get("name"): p.get("value") for p in tc.iter("property")}
             for tc in root.iter("testcase")}
    dribble = props["test_server_reads_every_message[dribble]"]
    assert dribble["faultio_seed"] == "3" and dribble["faultio_fault"] == "dribble"
    assert FaultPlan.from_json(dribble["faultio_plan"]) == plan_for_kind(
        "dribble", seed=int(dribble["faultio_plan_seed"]))
    assert dribble["faultio_violations"] == "data-integrity"
    assert "faultio_violations" not in props["test_server_reads_every_message[econnreset]"]
