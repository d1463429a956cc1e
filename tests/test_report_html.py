"""The HTML report page: escaping, self-containment, structure, the timeline and truncation."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from _report_samples import (
    HOSTILE,
    error_case,
    make_report,
    passing_case,
    sample_report,
    violation_case,
)
from harness._report_html import (
    HEX_BYTES_MAX,
    TRACE_ROWS_MAX,
    _hexdump,
    _script_json,
    render_html,
    write_report_dir,
)
from harness._report_json import ReportFormatError, load_report

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Inline SVG elements written as <x/> are reported through handle_startendtag and need no closing tag.


class _Page(HTMLParser):
    """Collects what the tests look at and the first nesting error, if any."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)
        self._in_script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


def test_page_tags_are_balanced(page):
    parsed = _parse(page)
    assert parsed.errors == []
    assert parsed.stack == []


def test_page_starts_with_a_doctype_and_declares_utf8(page):
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert '<meta charset="utf-8">' in page


def test_payload_bytes_never_reach_the_page_as_markup(page):
    assert "<script>alert" not in page
    assert "alert(1)</script>" not in page
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", page)
    # Only our two script elements exist: the JSON meta block and the behaviour script.
    assert page.count("<script") == 2


def test_every_report_string_is_escaped():
    report = sample_report()
    report["target"] = "<img src=x onerror=alert(1)>"
    report["command"] = "run --x '</code><b>'"
    report["cases"][0]["id"] = "read\"/><svg onload=alert(1)>"
    report["cases"][0]["replay"] = "replay <i>now</i>"
    page = render_html(report)
    for raw in ("<img src=x", "</code><b>", "<svg onload", "<i>now</i>", "<b>bold</b>"):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "RuntimeError: boom \\x00 &lt;b&gt;bold&lt;/b&gt;" in page
    assert _parse(page).errors == []


def test_page_loads_nothing_from_outside(page):
    parsed = _parse(page)
    assert "http://" not in page and "https://" not in page
    assert [a for a in parsed.attrs if a[1] in ("src", "srcset", "background", "poster", "data")] == []
    hrefs = [v for _, k, v in parsed.attrs if k == "href"]
    assert hrefs and all(h.startswith("#") for h in hrefs)
    assert not [t for t, a in parsed.tags if t == "link"]
    assert "@import" not in page and "url(" not in page
    csp = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0].startswith("default-src 'none'")


def test_every_internal_link_has_a_target(page):
    parsed = _parse(page)
    ids = {a["id"] for _, a in parsed.tags if "id" in a}
    hrefs = {v[1:] for _, k, v in parsed.attrs if k == "href"}
    assert hrefs <= ids


def test_summary_shows_counts_seed_and_the_reproducing_command(page):
    assert '<dt>Cases</dt><dd>3</dd>' in page
    assert '<dt>Violations</dt><dd>1</dd>' in page
    assert '<dt>Seed</dt><dd>0</dd>' in page
    assert '<dt>Duration</dt><dd>1.23 s</dd>' in page
    assert '<code id="cmd-run">python -m harness run --faults all --seed 0</code>' in page


def test_matrix_cells_count_outcomes_with_a_symbol_as_well_as_a_colour():
    report = make_report([passing_case("read_bytes", "eintr", "plain"), passing_case("read_bytes", "eintr", "ssl"),
                          violation_case("read_bytes", "eintr", "ssl")])
    page = render_html(report)
    cell = re.search(r'<td class="violation"><a href="#([^"]+)"[^>]*>(.*?)</a></td>', page)
    assert cell is not None
    assert cell.group(1) == "case-read_bytes-callback-eintr-ssl"
    assert "\u2717\u202f1" in cell.group(2) and "\u2713\u202f2" in cell.group(2)


def test_failing_cases_are_open_and_passing_cases_collapsed(page):
    parsed = _parse(page)
    cases = {a["id"]: a for t, a in parsed.tags if t == "details"}
    assert "open" in cases["case-read_until-callback-econnreset-ssl"]
    assert "open" in cases["case-read_until_close-scenario-flood-plain"]
    assert "open" not in cases["case-read_bytes-future-eintr-plain"]


def test_failing_case_shows_slugs_explanations_messages_and_the_plan(page):
    assert ('<code class="slug">close-cb-once</code> <span class="cls contract">contract</span> '
            '<span class="step">step 17</span>') in page
    assert "The close callback runs at most once per registration." in page
    assert "close callback ran twice (steps 9 and 17) &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert '<td><code>send_partial</code></td><td>count=4 max_bytes=1</td>' in page


def test_timeline_svg_pins_the_violation_at_its_step(page):
    svg = re.search(r'<svg class="timeline".*?</svg>', page, re.S).group(0)
    assert '<g class="pin contract"><title>contract violation close-cb-once at step 17 (fails the run):' in svg
    assert "\u2717 close-cb-once [contract] @ 17</text>" in svg
    assert 'class="mark inj"' in svg
    for lane in ("fd", "loop", "stream", "harness"):
        assert f">{lane}</text>" in svg
    assert "<script" not in svg.replace("&lt;script", "")


def test_trace_table_marks_injected_and_pinned_rows(page):
    assert '<tr class="inj">' in page
    assert '<tr class="pinned">' in page


def test_trace_row_named_by_a_violation_carries_its_slug_and_is_linked(page):
    row_id, row = re.search(r'<tr id="([^"]+)" class="[^"]*culprit[^"]*">(.*?)</tr>', page).groups()
    assert row_id == "case-read_until-callback-econnreset-ssl-ev-51"
    assert row.startswith('<td class="num">51</td><td class="num">17</td>')
    assert '<span class="badge violation">\u2717 close-cb-once [contract]</span>' in row
    assert f'<a class="jump" href="#{row_id}">trace event</a>' in page


def test_truncation_keeps_the_rows_around_the_event_a_violation_names():
    case = violation_case(events=20_000, pin=10)
    case["details"][0]["event"] = 15_000
    page = render_html(make_report([case]))
    assert re.search(r'<tr id="[^"]+" class="[^"]*culprit[^"]*"><td class="num">15000</td>', page)
    assert '<td class="num">14960</td>' in page and '<td class="num">15040</td>' in page
    assert '<td class="num">14959</td>' not in page


def test_the_header_shows_the_run_s_profile_and_each_case_its_own():
    case = passing_case()
    case["profile"] = "cpython"
    page = render_html(make_report([case], run={**make_report([])["run"], "profile": "cpython"}))
    header = page[page.index("<header>"): page.index("</header>")]
    assert "profile cpython" in header
    assert "<dt>profile</dt><dd>cpython</dd>" in page
    assert "profile" not in render_html(sample_report()).split("</header>")[0]  # a run without one


def test_replay_command_is_in_a_code_block(page):
    case_id = "read_until/callback/econnreset/ssl"
    assert (f'<code id="case-read_until-callback-econnreset-ssl-replay">python -m harness replay '
            f'reports/20261127-064400-s0/report.json --case &#x27;{case_id}&#x27;</code>') in page


def test_hexdump_shows_16_bytes_per_row_with_escaped_ascii():
    dump = _hexdump(HOSTILE)
    lines = dump.split("\n")
    assert len(lines) == 3
    assert lines[0] == ("00000000  3c 73 63 72 69 70 74 3e  61 6c 65 72 74 28 31 29  "
                        "|&lt;script&gt;alert(1)|")
    assert lines[1].startswith("00000010  3c 2f 73 63 72 69 70 74  3e 00 01 ff 26 61 6d 70")
    assert "|&lt;/script&gt;...&amp;amp|" in lines[1]
    assert lines[2] == "00000020  3b 22 27 0a" + " " * 39 + "|;&quot;&#x27;.|"


def test_hexdump_stops_at_its_limit():
    lines = _hexdump(bytes(HEX_BYTES_MAX * 2)).split("\n")
    assert len(lines) == HEX_BYTES_MAX // 16


def test_payload_section_reports_divergence_and_truncation(page):
    assert "received differs from sent at offset 20 (0x14)." in page
    assert "the report keeps 108 of 216 bytes" in page


def test_script_json_escapes_everything_that_could_end_the_script():
    value = {"a": "</script><!-- & > \u2028\u2029"}
    text = _script_json(value)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == value


def test_embedded_meta_json_survives_a_hostile_target():
    report = sample_report()
    report["target"] = "</script><script>alert(1)</script>\u2028"
    parsed = _parse(render_html(report))
    meta = json.loads(parsed.scripts[0])
    assert meta["target"] == report["target"]
    assert meta["summary"] == report["summary"]


def test_filter_controls_are_hidden_until_the_script_shows_them(page):
    assert '<form id="filters" class="filters" role="search" hidden>' in page
    assert 'class="copy" data-target="cmd-run" hidden>' in page


def test_every_case_row_and_section_carries_filter_data(page):
    parsed = _parse(page)
    tagged = [a for t, a in parsed.tags if "data-case" in a]
    assert len(tagged) == 2 * 3
    assert {a["data-outcome"] for a in tagged} == {"pass", "violation", "error"}
    assert all(a["data-text"] == a["data-text"].lower() for a in tagged)


def test_huge_trace_is_truncated_with_a_note():
    n = 50_000
    report = make_report([violation_case(events=n, pin=9000), passing_case()])
    page = render_html(report)
    assert f"<h4>Trace ({n} events)</h4>" in page
    shown = int(re.search(r"Showing (\d+) of 50000 events", page).group(1))
    assert shown < TRACE_ROWS_MAX
    elided = [int(x) for x in re.findall(r"\u2026 (\d+) events elided", page)]
    assert len(elided) == 2 and sum(elided) == n - shown
    # The rows around the violation step are kept.
    assert re.search(r'<tr (id="[^"]+" )?class="[^"]*pinned[^"]*"><td class="num">\d+</td><td class="num">9000</td>',
                     page)
    # The picture bins events per pixel column, so its size does not grow with the trace.
    svg = re.search(r'<svg class="timeline".*?</svg>', page, re.S).group(0)
    assert svg.count('class="mark') < 4 * 1000 * 2
    assert _parse(page).errors == []


def test_a_short_trace_is_shown_whole(page):
    assert "events elided" not in page


def test_report_with_no_cases_renders():
    page = render_html(make_report([]))
    assert "No case violated an invariant or errored." in page
    assert _parse(page).errors == []


def test_render_html_refuses_an_invalid_report():
    report = sample_report()
    del report["cases"][1]["plan"]
    with pytest.raises(ReportFormatError, match=r"cases\[1\]: missing key 'plan'"):
        render_html(report)


def test_write_report_dir_writes_every_file_atomically(tmp_path):
    report = sample_report()
    out = tmp_path / "reports" / "run-1"
    index = write_report_dir(report, out, junit_path=out / "junit.xml")
    assert index == out / "index.html"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "junit.xml", "report.json"]
    assert load_report(out / "report.json") == report
    assert index.read_text(encoding="utf-8") == render_html(report)


def test_write_report_dir_without_junit_writes_two_files(tmp_path):
    write_report_dir(make_report([error_case()]), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "report.json"]


def test_controls_and_lone_surrogates_are_shown_as_escapes_and_the_page_can_be_written(tmp_path):
    case = violation_case()
    case["details"][0]["message"] = "bad \ud800 surrogate \x1b[31m red \x7f"
    index = write_report_dir(make_report([case]), tmp_path)
    page = index.read_text(encoding="utf-8")
    assert "bad \\ud800 surrogate \\x1b[31m red \\x7f" in page
    assert "\x1b" not in page and "\x7f" not in page


def _mixed_report():
    """A run failing on contract findings only: one case with a design finding alone, one with logs."""
    import copy

    from _report_samples import make_report, passing_case, violation_case

    design_only = violation_case("read_bytes", "dribble", "plain")
    design_only["violations"], design_only["classes"] = ["pending-zero-at-rest"], ["design"]
    design_only["details"] = [d for d in design_only["details"] if d["class"] == "design"]
    design_only["fails"] = False
    failing = copy.deepcopy(violation_case())
    failing["logs"] = [{"logger": "tornado.general", "level": "WARNING",
                        "message": "Write error <script>alert(1)</script>"}]
    report = make_report([passing_case(), failing, design_only], fail_on=["contract"])
    report["summary"]["failing"] = 1
    report["not_applicable"] = [{"slug": "pending-scoped", "reason": "the stream has no _read_to_buffer_loop"}]
    return report


def test_a_design_only_case_is_shown_as_not_failing_a_contract_run():
    from harness._report_json import validate_report

    report = _mixed_report()
    validate_report(report)
    page = render_html(report)
    assert "fails on: contract findings" in page or "fails on contract findings" in page
    design_row = next(line for line in page.split("<tr ") if "read_bytes/callback/dribble/plain" in line)
    assert "noted" in design_row and "violation" not in design_row.split("</td>")[6]


def test_not_applicable_invariants_and_case_logs_are_listed_and_escaped():
    page = render_html(_mixed_report())
    assert 'id="not-applicable"' in page and "pending-scoped" in page
    assert "the stream has no _read_to_buffer_loop" in page
    assert "tornado.general" in page and "Write error &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_a_page_of_thousands_of_passing_cases_shows_a_bounded_number_and_counts_the_rest(monkeypatch):
    import harness._report_html as html_module

    monkeypatch.setattr(html_module, "PASSING_SHOWN", 3)
    cases = [dict(passing_case("read_bytes", "eintr", "plain"), id=f"read_bytes/future/eintr/plain#{n}")
             for n in range(5)]
    page = render_html(make_report([violation_case(), *cases]))
    assert "2 more passing cases are not shown on this page" in page
    assert 'id="row-' in page and page.count('id="row-') == 4  # the failing case and 3 passing ones
