"""The HTML report: one self-contained page rendered on the server side from the report dict.

Rules for this module:
- Input is the plain report dict (docs/report-format.md); only the stdlib is imported, never faultio or
  the runner. `report.json` is the source of truth; the page is a view of it and adds no facts.
- Every string taken from the report goes through `_e` (HTML escaping) before it reaches the page.
  Payload bytes are only ever shown as a hex dump; JSON inside `<script>` goes through `_script_json`.
- The page needs nothing from the network (a Content-Security-Policy says so) and reads completely with
  JavaScript off. Scripts only filter, sort, expand/collapse and copy; they never create content.
- Colour is never the only signal: every outcome also carries a symbol and a word, every finding its class
  as a word ("contract", "design").
- A case's *status* is what a person acts on: ``violation`` (findings that fail the run), ``noted``
  (findings only of classes the run does not fail on), ``error`` (could not be judged; always fails) or
  ``pass``. It comes from the report's ``fails`` and ``outcome``; the page never recomputes a verdict.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional

from ._junit import render_junit
from ._report_evidence import HEX_BYTES_MAX, LOG_ROWS_MAX, _hexdump, _logs, _payload  # noqa: F401  (re-exported)
from ._report_text import SEVERITY, SYMBOL, WORD, _e, _UNSHOWABLE, _visible  # noqa: F401  (re-exported)
from ._report_timeline import LANES, _injected, _ms, _pins, _timeline  # noqa: F401  (re-exported)
from ._report_assets import _CSS, _JS
from ._report_scale import scale_facts
from ._report_json import PathLike, dumps_report, validate_report, write_atomic

__all__ = ["render_html", "write_report_dir"]

STATUSES = ("violation", "error", "noted", "pass")     # worst first, the order counts are shown in
CLASS_WORDS = ("contract", "design")                   # the invariant classes, in the order they are shown

TRACE_ROWS_MAX = 600    # a trace longer than this is shown as head + windows around pins + tail
TRACE_HEAD = TRACE_TAIL = 100
TRACE_WINDOW = 40       # events kept either side of each violation step
DETAIL_CHARS = 240      # one trace-detail cell is cut after this many characters


def _script_json(obj: Any) -> str:
    """JSON safe to place inside a `<script>` element: no `</script>`, no `<!--`, no line separators."""
    text = json.dumps(obj, ensure_ascii=True, sort_keys=True)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def _anchors(cases: list[dict]) -> dict[str, str]:
    """A readable, unique, URL-safe element id for every case id."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for case in cases:
        base = "case-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", case["id"]).strip("-") or "x")
        anchor, n = base, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        out[case["id"]] = anchor
    return out


def _status(case: dict) -> str:
    """``violation``, ``noted``, ``error`` or ``pass`` (see the module rules)."""
    if case["outcome"] == "violation":
        return "violation" if case["fails"] else "noted"
    return case["outcome"]


def _badge(status: str, title: str = "") -> str:
    tip = f' title="{_e(title)}"' if title else ""
    return (f'<span class="badge {_e(status)}"{tip}>{SYMBOL.get(status, "?")} '
            f'{_e(WORD.get(status, status))}</span>')


def _case_badge(case: dict, fail_on: list[str]) -> str:
    status = _status(case)
    if status == "noted":
        return _badge(status, f"{_classes_text(case['classes'])} only; this run fails on {_classes_text(fail_on)}")
    return _badge(status)


def _cls(klass: str) -> str:
    """The small word tag naming a finding's class (``contract``, ``design`` or ``error``)."""
    return f'<span class="cls {_e(klass)}">{_e(klass)}</span>'


def _classes_text(classes: Iterable[str]) -> str:
    """``contract findings``, ``contract and design findings``."""
    names = [c for c in CLASS_WORDS if c in set(classes)] + sorted(set(classes) - set(CLASS_WORDS))
    return (" and ".join(names) or "no") + " findings"


def _slug_classes(case: dict) -> dict[str, str]:
    """slug -> class of the case's findings (from its details; a slug with no detail gets "")."""
    return {d["slug"]: d["class"] for d in case["details"] if d["slug"]}


def _chips(case: dict, fail_on: list[str]) -> str:
    """The case's slugs as chips, each labelled with its class; a chip whose class does not fail the run
    says so in its tooltip."""
    klasses = _slug_classes(case)
    out = []
    for slug in case["violations"]:
        klass = klasses.get(slug, "")
        fails = "fails this run" if klass in fail_on else "does not fail this run"
        tip = f"{slug}: {klass} invariant, {fails}" if klass else slug
        out.append(f'<span class="chip {_e(klass)}" title="{_e(tip)}"><code class="slug">{_e(slug)}</code>'
                   + (_cls(klass) if klass else "") + "</span>")
    return " ".join(out)


def _kv(d: dict, limit: int = DETAIL_CHARS) -> str:
    """`key=value` pairs as escaped text; long hex payloads and long cells are shortened."""
    parts = []
    for key in sorted(d):
        value = d[key]
        if key.endswith("_hex") and isinstance(value, str) and len(value) > 64:
            value = f"{value[:64]}\u2026 ({len(value) // 2} bytes)"
        elif not isinstance(value, str):
            value = json.dumps(value)
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    if len(text) > limit:
        text = text[:limit] + f"\u2026 (+{len(text) - limit} chars)"
    return _e(text)


# ---------------------------------------------------------------------------------------------------
# Summary and matrix


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _fails_on_text(fail_on: list[str]) -> str:
    """What fails the run, in words: ``contract findings and errors``."""
    return f"{_classes_text(fail_on)} and errors"


def _status_line(report: dict) -> tuple[str, str]:
    """The summary's one-line verdict (plain text) and its CSS class (``bad`` or ``good``)."""
    s, cases = report["summary"], report["cases"]
    noted = [c for c in cases if _status(c) == "noted"]
    failing_viol = s["failing"] - s["errors"]
    if s["failing"]:
        parts = [_plural(failing_viol, "violation")] if failing_viol else []
        parts += [_plural(s["errors"], "error")] if s["errors"] else []
        text = (f'{SYMBOL["violation"]} {s["failing"]} of {_plural(s["cases"], "case")} fail this run '
                f'({" and ".join(parts)})')
        kind = "bad"
    elif noted:
        text = f'{SYMBOL["pass"]} no case fails this run'
        kind = "good"
    else:
        text = f'{SYMBOL["pass"]} all {_plural(s["cases"], "case")} passed'
        kind = "good"
    if noted:
        other = sorted({k for c in noted for k in c["classes"]} - set(report["fail_on"]))
        more = "more " if s["failing"] else ""
        text += (f'; {len(noted)} {more}{"case has" if len(noted) == 1 else "cases have"} only '
                 f'{_classes_text(other)}, which do not fail it')
    return text, kind


def _summary(report: dict) -> str:
    s, run, fail_on = report["summary"], report["run"], report["fail_on"]
    status, kind = _status_line(report)

    def counted(klass: str) -> str:
        return "fails the run" if klass in fail_on else "does not fail the run"

    # (label, value, css class, second line, tooltip)
    stats = [("Cases", s["cases"], "", "", ""), ("Passed", s["passed"], "pass", "", ""),
             ("Failing", s["failing"], "violation" if s["failing"] else "", "",
              "cases that fail this run: errors and cases with findings of a class it fails on"),
             *((k.capitalize(), s[k], f"cls-{k}" if s[k] else "", counted(k),
                f"cases with at least one {k} finding") for k in CLASS_WORDS),
             ("Violations", s["violations"], "violation" if s["violations"] else "", "",
              "cases with at least one finding, whatever its class"),
             ("Errors", s["errors"], "error" if s["errors"] else "", "", "cases that could not be judged"),
             ("Seed", report["seed"], "", "", ""), ("Duration", f'{run["duration_s"]:.2f} s', "", "", ""),
             ("Jobs", run["jobs"], "", "", "")]
    def cell(label: str, value: Any, css: str, sub: str, tip: str) -> str:
        title = f' title="{_e(tip)}"' if tip else ""
        second = f'<dd class="sub">{_e(sub)}</dd>' if sub else ""
        return f'<div class="{css}"{title}><dt>{_e(label)}</dt><dd>{_e(value)}</dd>{second}</div>'

    cells = "".join(cell(*stat) for stat in stats)
    facts = [("Fails on", _fails_on_text(fail_on)), ("Target", report["target"]),
             ("Transports", ", ".join(report["transports"]) or "\u2013"),
             ("Started", run["started"]), ("Run", run["id"]), ("Python", run["python"]),
             ("Format", report["format"]), *scale_facts(report)]
    rows = "".join(f'<tr><th scope="row">{_e(k)}</th><td><code>{_e(v)}</code></td></tr>' for k, v in facts)
    return (f'<section id="summary" aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2>'
            f'<p class="status {kind}">{_e(status)} <span class="failon">fails on: '
            f'{_e(_classes_text(fail_on))}</span></p>{_incomplete(report)}'
            f'<dl class="stats">{cells}</dl><table class="facts"><tbody>{rows}</tbody></table>{_not_run(report)}'
            f'<p class="label">Reproduce this run</p>{_command(report["command"], "cmd-run")}</section>')


def _not_run(report: dict) -> str:
    """What the target cannot express and was not run (``report["not_run"]``), with the reasons."""
    items = report.get("not_run") or []
    if not items:
        return ""
    rows = "".join(f'<li><code>{_e(n["what"])}</code>: {_e(n["reason"])}</li>' for n in items)
    return f'<p class="label">Not run (the target cannot express it)</p><ul class="not-run">{rows}</ul>'


def _incomplete(report: dict) -> str:
    """A banner for a run stopped before every case ran (``report["incomplete"]``)."""
    info = report.get("incomplete")
    if not info:
        return ""
    return (f'<p class="status error incomplete" role="alert">Incomplete run: {_e(info["reason"])}; '
            f'{_e(info["ran"])} of {_e(info["planned"])} cases ran, and only those are below.</p>')


def _command(text: str, ident: str) -> str:
    return (f'<div class="cmd"><pre><code id="{_e(ident)}">{_e(text)}</code></pre>'
            f'<button type="button" class="copy" data-target="{_e(ident)}" hidden>Copy</button></div>')


def _ordered_names(declared: list[str], seen: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(declared))
    return names + sorted(set(seen) - set(names))


def _matrix(report: dict, anchors: dict[str, str]) -> str:
    cases = report["cases"]
    ops = _ordered_names(report["operations"], (c["operation"] for c in cases))
    faults = _ordered_names(report["faults"], (c["fault"] for c in cases))
    cells: dict[tuple[str, str], list[dict]] = {}
    for case in cases:
        cells.setdefault((case["operation"], case["fault"]), []).append(case)
    head = "".join(f'<th scope="col">{_e(f)}</th>' for f in faults)
    rows = []
    for op in ops:
        tds = []
        for fault in faults:
            group = cells.get((op, fault))
            if not group:
                tds.append('<td class="none"><span class="sr">no cases</span>\u2013</td>')
                continue
            counts = Counter(_status(c) for c in group)
            worst = max(counts, key=SEVERITY.__getitem__)
            # Link to the worst case when it is not a pass (the first failing case, else the first case with
            # findings that do not fail the run), else to the group's first table row.
            target = next((c for c in group if _status(c) == worst), group[0])
            href = anchors[target["id"]] if worst != "pass" else "row-" + anchors[target["id"]]
            text = " ".join(f'<span class="n {o}">{SYMBOL[o]}\u202f{counts[o]}</span>'
                            for o in STATUSES if counts[o])
            label = f'{op} \u00d7 {fault}: ' + ", ".join(f"{counts[o]} {WORD[o]}" for o in STATUSES if counts[o])
            tds.append(f'<td class="{worst}"><a href="#{_e(href)}" title="{_e(label)}" '
                       f'data-cell-op="{_e(op)}" data-cell-fault="{_e(fault)}">{text}</a></td>')
        rows.append(f'<tr><th scope="row"><code>{_e(op)}</code></th>{"".join(tds)}</tr>')
    words = {"violation": "violation, fails the run", "error": "error (could not be judged), fails the run",
             "noted": f"findings that do not fail the run (it fails on {_classes_text(report['fail_on'])})",
             "pass": "pass"}
    # "noted" is shown when it can happen: the run leaves a class out, or a case is marked so anyway.
    shown = [o for o in STATUSES if o != "noted" or not set(CLASS_WORDS) <= set(report["fail_on"])
             or any(_status(c) == "noted" for c in cases)]
    legend = " \u00b7 ".join(f'<span class="n {o}">{SYMBOL[o]} {_e(words[o])}</span>' for o in shown)
    return (f'<section id="matrix" aria-labelledby="h-matrix"><h2 id="h-matrix">Fault \u00d7 operation</h2>'
            f'<p class="note">Each cell counts cases across transports and styles: {legend}. '
            f'A cell is coloured by its worst case and links to it.</p>'
            f'<div class="wide"><table class="matrix"><thead><tr><th scope="col">operation \\ fault</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')


# ---------------------------------------------------------------------------------------------------
# One case


def _data_attrs(case: dict) -> str:
    text = " ".join([case["id"], *case["violations"], *case["classes"],
                     *(d["message"] for d in case["details"])]).lower()
    return (f'data-case data-outcome="{_e(case["outcome"])}" data-fails="{"yes" if case["fails"] else "no"}" '
            f'data-classes="{_e(" ".join(case["classes"]))}" data-op="{_e(case["operation"])}" '
            f'data-fault="{_e(case["fault"])}" data-transport="{_e(case["transport"])}" data-text="{_e(text)}"')


def _meta(case: dict) -> str:
    fields = [(f, case[f]) for f in ("operation", "style", "fault", "transport", "profile", "origin", "seed")
              if f in case]
    if "virtual_ms" in case:
        fields.append(("virtual time covered", _ms(case["virtual_ms"])))
    if case.get("held_ms"):
        fields.append(("held back by time faults", _ms(case["held_ms"])))
    fields.append(("fails this run", "yes" if case["fails"] else "no"))
    if case["classes"]:
        fields.append(("classes", ", ".join(case["classes"])))
    if isinstance(case.get("sequence"), dict):  # a generated sequence: its ops, each read's style, its plan
        from faultio import PlanError, Sequence

        try:
            fields.append(("sequence", Sequence.from_json(case["sequence"]).describe()))
        except PlanError as exc:
            fields.append(("sequence", f"not readable: {exc}"))
    return '<dl class="meta">' + "".join(
        f'<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>' for k, v in fields) + "</dl>"


def _detail_rows(case: dict) -> list[Optional[int]]:
    """For each detail, the position in `trace` it points at: its `event` if given, else its step."""
    trace = case.get("trace") or []
    position = {e.get("index", i): i for i, e in enumerate(trace)}
    out: list[Optional[int]] = []
    for d in case["details"]:
        if isinstance(d.get("event"), int) and d["event"] in position:
            out.append(position[d["event"]])
        elif d["step"] is not None and trace:
            out.append(next((k for k, e in enumerate(trace) if e["step"] >= d["step"]), len(trace) - 1))
        else:
            out.append(None)
    return out


def _verdict_of(klass: str, fail_on: list[str]) -> str:
    """Whether a finding of class ``klass`` fails the run, in words."""
    if klass == "error":
        return "the case could not be judged; fails the run"
    if klass in fail_on:
        return "fails the run"
    return f"does not fail the run (it fails on {_classes_text(fail_on)})"


def _details_list(case: dict, ident: str, fail_on: list[str]) -> str:
    if not case["details"]:
        what = "No invariant details were recorded." if case["outcome"] != "pass" else ""
        return f'<p class="note">{what}</p>' if what else ""
    items = []
    for d, row in zip(case["details"], _detail_rows(case)):
        step = f'step {d["step"]}' if d["step"] is not None else "no step"
        link = f' <a class="jump" href="#{ident}-ev-{row}">trace event</a>' if row is not None else ""
        klass = d["class"]
        slug = f'<code class="slug">{_e(d["slug"])}</code> ' if d["slug"] else ""
        counts = "fails" if klass == "error" or klass in fail_on else "nofail"
        items.append(f'<li class="{_e(klass)} {counts}"><div>{slug}{_cls(klass)} <span class="step">{_e(step)}</span>'
                     f'{link} <span class="verdict">{_e(_verdict_of(klass, fail_on))}</span>'
                     f'</div><div class="expl">{_e(d["explanation"])}</div>'
                     f'<div class="msg">{_e(d["message"])}</div></li>')
    title = "Invariants" if any(d["slug"] for d in case["details"]) else "What went wrong"
    return f'<h4>{title}</h4><ul class="invariants">{"".join(items)}</ul>'


def _plan_table(plan: dict) -> str:
    rows = []
    for direction in ("read", "write"):
        for i, step in enumerate(plan.get(direction, ())):
            params = {k: v for k, v in step.items() if k != "kind"}
            shown = _kv(params) if params else '<span class="muted">\u2013</span>'
            rows.append(f'<tr><td class="num">{i}</td><td>{direction}</td><td><code>{_e(step["kind"])}</code></td>'
                        f'<td>{shown}</td></tr>')
    title = "Fault plan" + (f' <span class="muted">{_e(plan["name"])}</span>' if plan.get("name") else "")
    if not rows:
        return f'<h4>{title}</h4><p class="note">Empty plan: both directions behave like an ordinary socket.</p>'
    return (f'<h4>{title}</h4><div class="wide"><table class="plan"><thead><tr><th scope="col">#</th>'
            '<th scope="col">direction</th><th scope="col">step</th><th scope="col">parameters</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            '<p class="note">Steps run in order; after the last one the fd behaves like an ordinary socket.</p>')


def _culprit(slug: str, klass: str, fail_on: list[str]) -> str:
    """The badge on the trace row a detail names: its slug and class, marked as failing the run or not."""
    status = "violation" if klass == "error" or klass in fail_on else "noted"
    return f' <span class="badge {status}">{SYMBOL[status]} {_e(slug or "error")} [{_e(klass)}]</span>'


def _trace_table(case: dict, ident: str, fail_on: list[str]) -> str:
    trace = case.get("trace")
    if not trace:
        return ""
    n = len(trace)
    pin_steps = {p[0] for p in _pins(case)}
    # A detail that names its trace event (`event` = the event's `index`) puts its slug on that row; the
    # rows details point at (by event or by step) get an id to link to and survive truncation.
    culprits: dict[int, list[str]] = {}
    anchors = set()
    for d, row in zip(case["details"], _detail_rows(case)):
        if row is not None:
            anchors.add(row)
            if isinstance(d.get("event"), int) and d["event"] >= 0:
                culprits.setdefault(row, []).append((d["slug"], d["class"]))
    spans = [(0, n)]
    if n > TRACE_ROWS_MAX:
        wanted = [(0, TRACE_HEAD), (n - TRACE_TAIL, n)]
        wanted += [(max(0, i - TRACE_WINDOW), min(n, i + TRACE_WINDOW + 1)) for i in anchors]
        spans = []
        for a, b in sorted(wanted):
            if spans and a <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], b))
            else:
                spans.append((a, b))
    rows, shown, prev = [], 0, 0
    for a, b in spans:
        if a > prev:
            rows.append(f'<tr class="elided"><td colspan="6">\u2026 {a - prev} events elided '
                        f'(steps {trace[prev]["step"]}\u2013{trace[a - 1]["step"]}) \u2026</td></tr>')
        for i in range(a, b):
            e = trace[i]
            cls = " ".join(c for c in ("inj" if _injected(e) else "", "pinned" if e["step"] in pin_steps else "",
                                       "culprit" if i in culprits else "") if c)
            flag = "".join(_culprit(slug, klass, fail_on) for slug, klass in culprits.get(i, ()))
            rid = f' id="{ident}-ev-{i}"' if i in anchors else ""
            rows.append(f'<tr{rid} class="{cls}"><td class="num">{_e(e.get("index", i))}</td><td class="num">{e["step"]}'
                        f'</td><td class="num">{e["time"]:g}</td><td>{_e(e["source"])}</td>'
                        f'<td><code>{_e(e["kind"])}</code></td><td>{_kv(e["detail"])}{flag}</td></tr>')
        shown, prev = shown + (b - a), b
    note = (f'<p class="note">Showing {shown} of {n} events: the first {TRACE_HEAD}, the last {TRACE_TAIL} '
            f'and {TRACE_WINDOW} either side of each violation; {n - shown} elided. '
            f'The full trace is in report.json.</p>' if shown < n else "")
    head = "".join(f'<th scope="col">{h}</th>' for h in ("#", "step", "time", "source", "kind", "detail"))
    return (f'<h4>Trace ({n} events)</h4>{note}<div class="scroll"><table class="trace"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _case_section(case: dict, anchor: str, open_: bool, fail_on: list[str]) -> str:
    body = (_meta(case) + _details_list(case, anchor, fail_on) + _plan_table(case["plan"])
            + _timeline(case, anchor + "-svg", fail_on) + _trace_table(case, anchor, fail_on) + _logs(case)
            + _payload(case) + '<h4>Replay</h4>' + _command(case["replay"], anchor + "-replay"))
    opened = " open" if open_ else ""
    return (f'<details class="case {_status(case)}" id="{anchor}" {_data_attrs(case)}{opened}>'
            f'<summary>{_case_badge(case, fail_on)} <span class="cid">{_e(case["id"])}</span> '
            f'{_chips(case, fail_on)}</summary><div class="body">{body}</div></details>')


def _case_table(cases: list[dict], anchors: dict[str, str], fail_on: list[str]) -> str:
    rows = []
    for c in cases:
        a = anchors[c["id"]]
        cols = "".join(f'<td>{_e(c[k])}</td>' for k in ("operation", "style", "fault", "transport", "origin"))
        # Ids may break after a slash (never inside a word); escaping never produces a slash.
        rows.append(f'<tr id="row-{a}" {_data_attrs(c)}><td><a href="#{a}">{_e(c["id"]).replace("/", "/<wbr>")}'
                    f'</a></td>{cols}'
                    f'<td data-v="{SEVERITY[_status(c)]}">{_case_badge(c, fail_on)}</td>'
                    f'<td class="slugs">{_chips(c, fail_on)}</td></tr>')
    head = "".join(f'<th scope="col" data-sort>{h}</th>' for h in
                   ("case", "operation", "style", "fault", "transport", "origin", "verdict", "invariants"))
    return (f'<section id="cases" aria-labelledby="h-cases"><h2 id="h-cases">All cases</h2>'
            f'<div class="wide"><table id="case-table" class="cases"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div></section>')


def _filters(report: dict) -> str:
    cases = report["cases"]

    def select(name: str, label: str, values: list[str]) -> str:
        opts = "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
        return f'<label>{label} <select name="{name}"><option value="">all</option>{opts}</select></label>'

    def names(key: str, field: str) -> list[str]:
        return _ordered_names(report[key], (c[field] for c in cases))

    return ('<form id="filters" class="filters" role="search" hidden>'
            + select("outcome", "Outcome", ["violation", "error", "pass"])
            + select("fails", "Fails run", ["yes", "no"])
            + select("klass", "Class", list(CLASS_WORDS))
            + select("operation", "Operation", names("operations", "operation"))
            + select("fault", "Fault", names("faults", "fault"))
            + select("transport", "Transport", names("transports", "transport"))
            + '<label>Search <input type="search" name="q" placeholder="id, slug or message"></label>'
            '<span class="buttons"><button type="reset">Clear</button>'
            '<button type="button" id="expand-all">Expand all</button>'
            '<button type="button" id="collapse-all">Collapse all</button></span>'
            '<output id="filter-count" aria-live="polite"></output></form>')


# ---------------------------------------------------------------------------------------------------
# The page

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _not_applicable(report: dict) -> str:
    """The invariants that could not be checked on this target, with the reason (only when there are any)."""
    items = report["not_applicable"]
    if not items:
        return ""
    rows = "".join(f'<tr><td><code class="slug">{_e(i["slug"])}</code></td><td>{_e(i["reason"])}</td></tr>'
                   for i in items)
    return (f'<section id="not-applicable" aria-labelledby="h-na"><h2 id="h-na">Not checked on this target '
            f'({len(items)})</h2><p class="note">These invariants could not be checked on '
            f'<code>{_e(report["target"])}</code>, so no case could break them: a pass here says nothing '
            f'about them.</p><div class="wide"><table class="na"><thead><tr><th scope="col">invariant</th>'
            f'<th scope="col">why it was not checked</th></tr></thead><tbody>{rows}</tbody></table></div></section>')


#: Passing cases the page shows at most, as sections and table rows (the rest are counted, not shown).
PASSING_SHOWN = 1000


def render_html(report: dict) -> str:
    """Render the report as one self-contained HTML page (a str); the report is validated first."""
    validate_report(report)
    cases, fail_on = report["cases"], report["fail_on"]
    anchors = _anchors(cases)
    failing = [c for c in cases if c["fails"]]
    noted = [c for c in cases if _status(c) == "noted"]
    passing = [c for c in cases if c["outcome"] == "pass"]
    s = report["summary"]
    if failing:
        verdict = f'{s["failing"]} failing ({s["violations"]} with findings, {s["errors"]} errors)'
    else:
        verdict = "no case fails" + (f', {len(noted)} with findings not failing' if noted else "")
    meta = {k: report[k] for k in ("format", "seed", "target", "command", "fail_on")}
    # The fds' realism profile, when the run had one (a pytest session's tests choose their own).
    profile = f' \u00b7 profile {_e(report["run"]["profile"])}' if "profile" in report["run"] else ""
    meta.update(run=report["run"]["id"], summary=s)
    if failing:
        fail_html = "".join(_case_section(c, anchors[c["id"]], True, fail_on) for c in failing)
    elif noted:
        fail_html = (f'<p class="note">{SYMBOL["pass"]} No case fails this run; see the findings that do not '
                     f'fail it below.</p>')
    else:
        fail_html = f'<p class="note">{SYMBOL["pass"]} No case violated an invariant or errored.</p>'
    noted_html = ""
    if noted:
        noted_html = (f'<section id="findings" aria-labelledby="h-findings"><h2 id="h-findings">Findings that do '
                      f'not fail this run ({len(noted)})</h2><p class="note">These cases broke only invariants of '
                      f'a class this run does not fail on (it fails on {_e(_fails_on_text(fail_on))}). They are '
                      f'collapsed; open one to see its findings.</p>'
                      + "".join(_case_section(c, anchors[c["id"]], False, fail_on) for c in noted) + "</section>")
    # A campaign passes thousands of cases: past PASSING_SHOWN, the page counts them (report.json lists all).
    shown = passing[:PASSING_SHOWN]
    hidden = {c["id"] for c in passing[PASSING_SHOWN:]}
    pass_html = "".join(_case_section(c, anchors[c["id"]], False, fail_on) for c in shown)
    pass_html = pass_html or '<p class="note">No passing cases.</p>'
    if hidden:
        pass_html += (f'<p class="note">{len(hidden)} more passing cases are not shown on this page (nor in the '
                      f'table of all cases); report.json lists every case.</p>')
    nav = ['<a href="#summary">Summary</a>', '<a href="#matrix">Matrix</a>']
    if report["not_applicable"]:
        nav.append(f'<a href="#not-applicable">Not checked ({len(report["not_applicable"])})</a>')
    nav.append(f'<a href="#failures">Failing ({len(failing)})</a>')
    if noted:
        nav.append(f'<a href="#findings">Not failing ({len(noted)})</a>')
    nav += [f'<a href="#cases">All cases ({len(cases)})</a>', f'<a href="#passing">Passing ({len(passing)})</a>']
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<title>faultio report \u2013 {_e(report["target"])} \u2013 {_e(verdict)}</title>'
        f'<style>{_CSS}</style></head><body>'
        f'<header><h1>faultio report</h1><p><code>{_e(report["target"])}</code> \u00b7 seed {_e(report["seed"])}'
        f' \u00b7 run {_e(report["run"]["id"])}{profile} \u00b7 fails on {_e(_classes_text(fail_on))}</p></header>'
        f'<nav aria-label="Sections">{"".join(nav)}</nav>'
        f'{_filters(report)}<main>{_summary(report)}{_matrix(report, anchors)}{_not_applicable(report)}'
        f'<section id="failures" aria-labelledby="h-failures"><h2 id="h-failures">Cases failing this run '
        f'({len(failing)})</h2>{fail_html}</section>{noted_html}{_case_table([c for c in cases if c["id"] not in hidden], anchors, fail_on)}'
        f'<section id="passing" aria-labelledby="h-passing"><h2 id="h-passing">Passing cases ({len(passing)})</h2>'
        f'{pass_html}</section></main>'
        f'<footer>{_e(report["format"])} \u00b7 report.json next to this page is the source of truth.</footer>'
        f'<script type="application/json" id="faultio-report-meta">{_script_json(meta)}</script>'
        f'<script>{_JS}</script></body></html>\n')


def write_report_dir(report: dict, directory: PathLike, *, junit_path: Optional[PathLike] = None) -> Path:
    """Write ``report.json`` and ``index.html`` (and JUnit XML at `junit_path`) into `directory`.

    The directory is created if needed; each file is replaced atomically, ``index.html`` last so a
    page never points at a missing report. `junit_path` is used as given (a relative path is relative
    to the current directory, not to `directory`). Returns the path of ``index.html``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    json_text = dumps_report(report)
    page = render_html(report)
    junit = render_junit(report) if junit_path is not None else None
    write_atomic(out / "report.json", json_text)
    if junit is not None:
        write_atomic(Path(junit_path), junit)
    return write_atomic(out / "index.html", page)
