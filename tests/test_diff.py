"""Differential runs (``harness._diff``): the comparison rules on hand-made results, the monitor's story on a
real run, and ``diff`` end to end (table, JSON, page, exit codes) through a parser built with ``add_parser``."""

from __future__ import annotations

import argparse
import io
import json
import zlib
from html.parser import HTMLParser

import pytest

from faultio import plan_for_kind
from harness._case import Case, CaseResult
from harness._diff import (
    DIMENSIONS,
    FORMAT,
    add_parser,
    applies,
    compare,
    diff_json,
    diff_results,
    first_difference,
    main_diff,
    not_applicable,
    observe,
    render_table,
    summarize,
    summary_line,
)
from harness._diff_html import render_diff_html
from harness._runner import run_case
from harness._targets import DEFAULT_TARGET
from harness.engine import Violation

LOSES_A_BYTE = "harness._mutants:TruncatesReadUntilClose"
CLOSE_CALLBACK_FIRST = "harness._mutants:CloseCallbackOvertakesData"


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # what python -m harness does: a usage error, not a SystemExit
        raise _Usage(f"{self.prog}: {message}")


def diff(argv):
    """``python -m harness diff ARGV`` without the CLI module: ``(exit code, stdout, stderr)``."""
    parser = _Parser(prog="python -m harness")
    add_parser(parser.add_subparsers(dest="command", parser_class=_Parser))
    out, err = io.StringIO(), io.StringIO()
    try:
        args = parser.parse_args(["diff", *argv])
    except _Usage as exc:
        return 2, "", str(exc) + "\n"
    code = main_diff(args, out, err)
    return code, out.getvalue(), err.getvalue()


def _case(operation="read_bytes", style="future", transport="plain"):
    return Case(operation=operation, style=style, fault="eintr", transport=transport,
                plan=plan_for_kind("eintr", seed=0, inbound_size=600), seed=0)


STORY = ("read ok 5 x2", "closed ConnectionResetError", "read closed StreamClosedError(ConnectionResetError)",
         "close-callback", "delivered 10 crc32:0000abcd")


def _result(story=STORY, case=None, **fields):
    return CaseResult(case=case or _case(), story=tuple(story), received=b"0123456789", **fields)


class _Page(HTMLParser):
    VOID = {"br", "meta", "wbr", "img", "input", "hr", "link"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")


def _balanced(page):
    parser = _Page()
    parser.feed(page)
    parser.close()
    return not parser.errors and not parser.stack


# --- the comparison rules ------------------------------------------------------------------------------


def test_observe_reads_order_errors_close_and_delivered_bytes_from_the_story():
    o = observe(_result(), "a")
    assert o.outcome == "pass" and o.slugs == ()
    assert o.order == ("read ok", "read ok", "read closed", "close-callback")
    assert o.errors == ("StreamClosedError(ConnectionResetError)",)
    assert o.closed and o.close_error == "ConnectionResetError"
    assert (o.delivered, o.digest, o.head) == (10, "0000abcd", b"0123456789")


def test_identical_results_agree_in_every_dimension():
    assert compare([observe(_result(), "a"), observe(_result(), "b")]) == ()


@pytest.mark.parametrize("story, dimension", [
    (STORY[:-1] + ("delivered 9 crc32:0000beef",), "bytes"),
    (("read ok 5", "close-callback", "read ok 5") + STORY[1:3] + STORY[4:], "order"),
    (STORY[:1] + ("closed",) + STORY[2:], "error"),
    (STORY[:2] + ("read raised UnsatisfiableReadError",) + STORY[3:], "error"),
], ids=["a-lost-byte", "close-callback-first", "no-error-at-close", "another-error-class"])
def test_each_kind_of_disagreement_is_named_by_its_dimension(story, dimension):
    differ = compare([observe(_result(), "a"), observe(_result(story), "b")])
    assert dimension in differ
    assert set(differ) <= set(DIMENSIONS)


def test_a_raised_read_and_a_failed_future_differ_in_order_and_not_in_error():
    story = STORY[:2] + ("read raised StreamClosedError(ConnectionResetError)",) + STORY[3:]
    assert compare([observe(_result(), "a"), observe(_result(story), "b")]) == ("order",)


def test_read_sizes_are_not_compared_by_order_only_by_bytes():
    story = ("read ok 3", "read ok 7") + STORY[1:]
    assert compare([observe(_result(), "a"), observe(_result(story), "b")]) == ()


def test_outcome_compares_the_verdict_and_the_broken_invariants():
    broken = _result(violations=(Violation(slug="data-integrity", message="lost", step=3),))
    other = _result(violations=(Violation(slug="liveness", message="stuck", step=3),))
    assert compare([observe(_result(), "a"), observe(broken, "b")]) == ("outcome",)
    assert compare([observe(broken, "a"), observe(other, "b")]) == ("outcome",)


def test_a_target_that_cannot_run_a_case_is_not_a_divergence():
    assert compare([observe(_result(), "a"), not_applicable("b")]) == ()
    assert compare([observe(_result(), "a"), not_applicable("b"), observe(_result(), "c")]) == ()


def test_an_error_outcome_diverges_on_outcome_only_and_two_errors_do_not_diverge():
    error = CaseResult(case=_case(), error="the target factory raised RuntimeError('boom')")
    assert compare([observe(_result(), "a"), observe(error, "b")]) == ("outcome",)
    assert compare([observe(error, "a"), observe(error, "b")]) == ()


def test_first_difference_finds_where_sequences_part_or_one_ends():
    assert first_difference([("a", "b"), ("a", "c")]) == 1
    assert first_difference([("a",), ("a", "b")]) == 1
    assert first_difference([("a", "b"), ("a", "b")]) is None


def test_diff_results_lines_targets_up_by_case_and_summarizes():
    plain, ssl = _case(), _case(transport="ssl")
    lossy = _result(STORY[:-1] + ("delivered 9 crc32:0000beef",))
    error = CaseResult(case=ssl, error="boom")
    results = {"a": {plain.id: _result(), ssl.id: _result(case=ssl)}, "b": {plain.id: lossy, ssl.id: error},
               "c": {plain.id: _result()}}
    diffs = diff_results([plain, ssl], ["a", "b", "c"], results)
    assert [d.diverges for d in diffs] == [("bytes",), ("outcome",)]
    assert [o.outcome for o in diffs[1].observations] == ["pass", "error", "n/a"]
    summary = summarize(diffs)
    assert summary == {"cases": 2, "diverging": 2, "by_dimension": {"outcome": 1, "bytes": 1, "error": 0, "order": 0},
                       "unjudged": 1, "not_applicable": 1, "agree": False}


def test_a_target_runs_only_its_transports_and_what_it_does_not_declare_lacking():
    class Declares:
        transports = ("plain",)

        def lacking(self, operation, style):
            return "no callbacks" if style == "callback" else ""

    class DeclaresNothing:
        transports = ("plain", "ssl")

    assert applies(DEFAULT_TARGET, _case(transport="ssl"))
    assert applies(Declares(), _case())
    assert not applies(Declares(), _case(transport="ssl"))
    assert not applies(Declares(), _case(style="callback"))
    assert applies(DeclaresNothing(), _case(operation="write", style="callback"))


def _doc(diffs, targets):
    return diff_json(diffs, targets=targets, seed=0, faults=["eintr"], operations=["read_bytes"],
                     transports=["plain"], command="python -m harness diff --targets a,b", run={"id": "r"})


def test_the_table_has_one_row_per_diverging_case_and_a_summary_line():
    case = _case()
    diffs = diff_results([case], ["a", "b"], {"a": {case.id: _result()},
                                              "b": {case.id: _result(("close-callback",) + STORY)}})
    doc = _doc(diffs, ["a", "b"])
    header, row = render_table(doc)
    assert header.split()[:4] == ["case", "differs", "in", "a"]
    assert row.startswith(case.id) and "order" in row and "@0 read ok" in row and "@0 close-callback" in row
    assert summary_line(doc) == "1 case, 1 diverge (by dimension: order 1)"
    assert render_table(_doc(diff_results([case], ["a", "b"], {"a": {case.id: _result()},
                                                               "b": {case.id: _result()}}), ["a", "b"])) == []


def test_the_page_escapes_every_string_and_needs_nothing_else():
    case = _case()
    hostile = "<img src=x onerror=alert(1)>"
    diffs = diff_results([case], [hostile, "b"], {hostile: {case.id: _result(("<script>alert(1)</script>",) + STORY)},
                                                  "b": {case.id: _result()}})
    page = render_diff_html(_doc(diffs, [hostile, "b"]))
    assert page.startswith("<!DOCTYPE html>")
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<script") == 1  # the JSON meta block, nothing that runs
    assert "http://" not in page and "https://" not in page
    assert _balanced(page)


# --- the story the monitor records ---------------------------------------------------------------------


def test_the_monitor_tells_what_the_caller_saw_and_what_was_delivered():
    case = Case(operation="read_until_close", style="callback", fault="eintr", transport="plain",
                plan=plan_for_kind("eintr", seed=1, inbound_size=600), seed=1)
    result = run_case(case, DEFAULT_TARGET, keep_trace=False)
    assert result.outcome == "pass"
    story = result.story
    assert story[-1] == f"delivered {len(result.received)} crc32:{zlib.crc32(result.received):08x}"
    assert "close-callback" in story and any(e.startswith("read ok ") for e in story)
    # The result arrives before the close callback, and the stream was seen closed with no error.
    assert story.index(next(e for e in story if e.startswith("read ok "))) < story.index("close-callback")
    assert "closed" in story


# --- the command ---------------------------------------------------------------------------------------


def test_a_planted_lost_byte_is_reported_with_its_cases_dimensions_json_and_page(tmp_path):
    code, out, err = diff(["--targets", f"faultio,{LOSES_A_BYTE}", "--operations", "read_until_close,read_bytes",
                           "--faults", "eintr", "--jobs", "2", "--json", "--report", str(tmp_path)])
    assert code == 1, err
    doc = json.loads(out)  # stdout holds the document and nothing else
    assert doc["format"] == FORMAT and doc["targets"] == ["faultio", LOSES_A_BYTE]
    assert set(doc) >= {"seed", "faults", "operations", "transports", "command", "run", "dimensions", "summary"}
    diverging = {c["id"]: c for c in doc["cases"] if c["diverges"]}
    assert set(diverging) == {"read_until_close/callback/eintr/plain", "read_until_close/future/eintr/plain"}
    for case in diverging.values():
        assert {"outcome", "bytes"} <= set(case["diverges"])
        ours, theirs = case["observations"]
        assert theirs["delivered"] == ours["delivered"] - 1 and theirs["violations"] == ["data-integrity"]
        assert set(ours) >= {"target", "outcome", "violations", "delivered", "crc32", "received_head", "errors",
                             "closed", "close_error", "order", "story"}
    # The mutant is a plain stream class: its ssl cases are n/a, not divergences.
    ssl = [c for c in doc["cases"] if c["transport"] == "ssl"]
    assert len(ssl) == 4 and all(c["observations"][1]["outcome"] == "n/a" and not c["diverges"] for c in ssl)
    assert doc["summary"]["cases"] == 8 and doc["summary"]["diverging"] == 2
    assert doc["summary"]["by_dimension"]["bytes"] == 2 and doc["summary"]["not_applicable"] == 4
    assert "8 cases, 2 diverge (by dimension: outcome 2, bytes 2); 4 n/a on some target" in err
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "diff.json").read_text()) == doc
    page = (run_dir / "diff.html").read_text()
    assert _balanced(page) and "read_until_close/<wbr>future/<wbr>eintr/<wbr>plain" in page
    assert f"report: {run_dir / 'diff.html'}" in err


def test_a_close_callback_that_overtakes_data_diverges_in_order_shown_in_the_table():
    code, out, err = diff(["--targets", f"faultio,{CLOSE_CALLBACK_FIRST}", "--operations", "read_until_close",
                           "--faults", "eintr", "--transport", "plain", "--jobs", "1", "--no-report"])
    assert code == 1, err
    assert out == ""
    (row,) = [line for line in err.splitlines() if line.startswith("read_until_close/")]
    assert row.startswith("read_until_close/callback/eintr/plain") and "order" in row
    assert "@1 read ok" in row and "@1 close-callback" in row
    assert "2 cases, 1 diverge (by dimension: outcome 1, order 1)" in err


def test_a_target_that_cannot_be_built_is_shown_as_an_error_and_fails_the_diff():
    code, out, err = diff(["--targets", "faultio,_broken_targets:explode", "--operations", "write", "--faults",
                           "eintr", "--transport", "plain", "--jobs", "1", "--no-report"])
    assert code == 1
    rows = [line for line in err.splitlines() if line.startswith("write/")]
    assert len(rows) == 2 and all("outcome" in r and "error: the target factory" in r for r in rows)
    assert "2 could not be judged on some target" in err


def test_faultio_agrees_with_itself_under_two_names():
    code, out, err = diff(["--targets", "faultio,faultio:IOStream", "--operations", "read_bytes,read_until,write",
                           "--faults", "econnreset,dribble", "--no-report", "--jobs", "2"])
    assert code == 0, err
    assert "24 cases, 0 diverge (by dimension: none)" in err
    assert "differs in" not in err


@pytest.mark.parametrize("argv, needle", [
    (["--targets", "faultio"], "two or more targets"),
    (["--targets", "faultio,nocolon"], "use module:factory"),
    (["--targets", "faultio,no_such_module_xyz:f"], "cannot import"),
    (["--targets", "faultio,,default"], "an empty name"),
    (["--targets", "faultio,faultio"], "faultio named twice"),
    (["--targets", "faultio,default", "--faults", "bogus"], "valid kinds"),
    (["--targets", "faultio,default", "--transport", "pigeon"], "valid: plain, ssl, all"),
    (["--targets", "faultio,default", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--faults", "eintr"], "--targets"),
])
def test_usage_errors_exit_2_with_one_line(argv, needle):
    code, out, err = diff(argv)
    assert code == 2
    assert out == ""
    assert needle in err and len(err.strip().splitlines()) == 1


def test_the_tls_kinds_are_compared_on_the_ssl_transport():
    code, out, err = diff(["--targets", "faultio,harness._mutants:RaggedEofTakenAsClean", "--transport", "ssl",
                           "--faults", "ragged-eof,eintr", "--operations", "read_until_close", "--no-report",
                           "--json"])
    data = json.loads(out)
    diverging = {case["id"] for case in data["cases"] if case["diverges"]}
    assert "read_until_close/future/ragged-eof/ssl" in diverging
    assert not any("/eintr/" in case_id for case_id in diverging)
    assert code == 1


def test_a_tls_kind_on_plain_only_is_a_usage_error_naming_the_kinds_valid_there():
    code, _, err = diff(["--targets", "faultio,faultio:IOStream", "--transport", "plain", "--faults",
                         "ragged-eof", "--no-report"])
    assert code == 2
    assert "applies to the ssl transport only" in err and "valid kinds for transport plain" in err
