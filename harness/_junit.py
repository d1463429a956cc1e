"""JUnit XML from the report dict, for CI systems that show test results.

Rules for this module:
- Input is the plain report dict (docs/report-format.md); only the stdlib is imported, never faultio or
  the runner.
- XML is built with `xml.etree.ElementTree`, which escapes markup. Characters XML 1.0 cannot carry at
  all (NUL and most C0 controls, lone surrogates) are replaced by a visible ``\\xNN`` escape first, so any
  message from any target still gives a well-formed file.
- One ``<testsuite>`` per transport, one ``<testcase>`` per case (classname = operation, name = case id).
  A violation is a ``<failure>``, an error is an ``<error>``; the body says how to replay the case.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from ._report_json import validate_report

__all__ = ["render_junit"]

# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: object) -> str:
    """`text` as a str that XML 1.0 can represent; disallowed characters become ``\\xNN``/``\\uNNNN``."""
    def visible(m: re.Match) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return _NOT_XML.sub(visible, str(text))


def _sub(parent: ET.Element, tag: str, text: object = None, **attrs: object) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _failure_body(case: dict) -> str:
    lines = []
    for d in case["details"]:
        step = f" at step {d['step']}" if d["step"] is not None else ""
        klass = f" ({d['class']})" if d.get("class") in ("contract", "design") else ""
        lines.append(f"[{d['slug'] or 'harness-error'}]{klass}{step}: {d['message']}")
        lines.append(f"    {d['explanation']}")
    if not lines:
        lines.append(f"outcome {case['outcome']} with no recorded details")
    lines += ["", f"operation={case['operation']} style={case['style']} fault={case['fault']} "
              f"transport={case['transport']} origin={case['origin']}", "", "replay:", f"  {case['replay']}"]
    return "\n".join(lines)


def _labelled(case: dict) -> str:
    """``slug [class], ...`` of the case's findings."""
    classes = {d["slug"]: d.get("class", "") for d in case["details"]}
    return ", ".join(f"{slug} [{classes.get(slug, '')}]" for slug in case["violations"])


def _testcase(suite: ET.Element, case: dict, fail_on: list[str]) -> None:
    tc = _sub(suite, "testcase", classname=case["operation"], name=case["id"])
    first = case["details"][0] if case["details"] else None
    out = ""
    if case["outcome"] == "violation" and case["fails"]:
        failing = [d for d in case["details"] if d.get("class") in fail_on] or case["details"]
        message = f"{_labelled(case)}: {failing[0]['message']}" if failing else _labelled(case)
        _sub(tc, "failure", _failure_body(case), type=failing[0]["slug"] if failing else case["violations"][0],
             message=message)
    elif case["outcome"] == "violation":
        # Findings of a class this run does not fail on: reported beside the passing test case, not hidden.
        out = f"findings not failing this run (it fails on {', '.join(fail_on)}): {_labelled(case)}\n" \
              + _failure_body(case) + "\n"
    elif case["outcome"] == "error":
        kind = (first["slug"] or "harness-error") if first else "error"
        message = f"{kind}: {first['message']}" if first else "the case errored"
        _sub(tc, "error", _failure_body(case), type=kind, message=message)
    plan = json.dumps(case["plan"], sort_keys=True)
    _sub(tc, "system-out", f"{out}plan: {plan}\nreplay: {case['replay']}\n")


def render_junit(report: dict) -> str:
    """Render the report as a JUnit XML document (str, starting with an XML declaration).

    ``<testsuites>`` holds one ``<testsuite name="faultio.<transport>">`` per transport, each with
    ``<properties>`` (seed, target, command, format, run id) and one ``<testcase>`` per case. The
    per-case fault plan is JSON in ``<system-out>``. Timings exist only for the whole run.
    """
    validate_report(report)
    by_transport: dict[str, list[dict]] = {t: [] for t in report["transports"]}
    for case in report["cases"]:
        by_transport.setdefault(case["transport"], []).append(case)
    s = report["summary"]
    root = ET.Element("testsuites", {
        "name": "faultio", "tests": str(s["cases"]), "failures": str(s["failing"] - s["errors"]),
        "errors": str(s["errors"]), "time": f"{report['run']['duration_s']:.3f}"})
    for transport, cases in by_transport.items():
        suite = _sub(root, "testsuite", name=f"faultio.{transport}", tests=len(cases),
                     failures=sum(c["outcome"] == "violation" and c["fails"] for c in cases),
                     errors=sum(c["outcome"] == "error" for c in cases), skipped=0,
                     timestamp=report["run"]["started"])
        props = _sub(suite, "properties")
        for name, value in (("seed", report["seed"]), ("target", report["target"]),
                            ("command", report["command"]), ("format", report["format"]),
                            ("run", report["run"]["id"]), ("transport", transport),
                            ("fail_on", ",".join(report["fail_on"]))):
            _sub(props, "property", name=name, value=value)
        for case in cases:
            _testcase(suite, case, report["fail_on"])
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
