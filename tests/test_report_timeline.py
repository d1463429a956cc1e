"""harness/_report_timeline.py (and the virtual time of a case in report.json and the page)."""

import pytest

from _report_samples import make_report, violation_case
from harness._report_html import render_html
from harness._report_json import ReportFormatError, validate_report
from harness._report_timeline import _ms, _time_at, _timeline


def stalled_case():
    case = violation_case(events=30)
    # A 60 s clock jump at step 5: the events after it happen at t = 60 s.
    for event in case["trace"]:
        event["time"] = 0.0 if event["step"] < 5 else 60.0
    case["trace"].append({"index": 99, "step": 5, "time": 60.0, "source": "loop", "kind": "clock",
                          "detail": {"time": 60.0}})
    case["trace"].sort(key=lambda e: (e["step"], e["kind"] != "clock", e["index"]))  # the jump comes first, as recorded
    case.update(virtual_ms=60000.0, held_ms=60000.0)
    return case


def test_milliseconds_read_for_people():
    assert _ms(0) == "0 ms" and _ms(36.5) == "36.5 ms" and _ms(97000) == "97000 ms (97 s)"


def test_the_time_at_a_step_is_that_of_the_last_event_before_it():
    trace = stalled_case()["trace"]
    assert _time_at(trace, 0) == 0.0 and _time_at(trace, 4) == 0.0 and _time_at(trace, 7) == 60000.0


def test_the_axis_shows_virtual_milliseconds_and_marks_each_clock_jump_with_its_size():
    svg = _timeline(stalled_case(), "c1", ["contract"])
    assert ">0 ms<" in svg and ">60000 ms<" in svg and ">@0<" in svg
    assert svg.count('class="jump-mark"') == 1
    assert "the virtual clock jumped 60000 ms (60 s)" in svg
    assert "virtual ms at loop step" in svg


def test_the_page_states_the_virtual_time_a_case_covered_and_how_long_it_was_held():
    page = render_html(make_report([stalled_case()]))
    assert "virtual time covered</dt><dd>60000 ms (60 s)" in page
    assert "held back by time faults</dt><dd>60000 ms (60 s)" in page


@pytest.mark.parametrize("key", ["virtual_ms", "held_ms"])
def test_report_json_checks_the_virtual_times_when_present(key):
    report = make_report([stalled_case()])
    validate_report(report)
    report["cases"][0][key] = "a minute"
    with pytest.raises(ReportFormatError, match=key):
        validate_report(report)
