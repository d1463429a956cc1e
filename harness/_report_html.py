"""The HTML report: one self-contained page rendered on the server side from the report dict.

Rules for this module:
- Input is the plain report dict (docs/report-format.md); only the stdlib is imported, never faultio or
  the runner. `report.json` is the source of truth; the page is a view of it and adds no facts.
- Every string taken from the report goes through `_e` (HTML escaping) before it reaches the page.
  Payload bytes are only ever shown as a hex dump; JSON inside `<script>` goes through `_script_json`.
- The page needs nothing from the network (a Content-Security-Policy says so) and reads completely with
  JavaScript off. Scripts only filter, sort, expand/collapse and copy; they never create content.
- Colour is never the only signal: every outcome also carries a symbol and a word.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional

from ._junit import render_junit
from ._report_assets import _CSS, _JS
from ._report_json import PathLike, dumps_report, validate_report, write_atomic

__all__ = ["render_html", "write_report_dir"]

SYMBOL = {"pass": "\u2713", "violation": "\u2717", "error": "!"}
WORD = {"pass": "pass", "violation": "violation", "error": "error"}
SEVERITY = {"violation": 3, "error": 2, "pass": 1}
LANES = ("fd", "loop", "stream", "harness", "log")

TRACE_ROWS_MAX = 600    # a trace longer than this is shown as head + windows around pins + tail
TRACE_HEAD = TRACE_TAIL = 100
TRACE_WINDOW = 40       # events kept either side of each violation step
DETAIL_CHARS = 240      # one trace-detail cell is cut after this many characters
HEX_BYTES_MAX = 4096    # a hex dump shows at most this many bytes


# Characters HTML forbids or the page's UTF-8 cannot carry: C0/C1 controls other than tab, newline and
# carriage return, lone surrogates and the two noncharacters at the end of the BMP.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _e(value: Any) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes); controls become ``\\xNN``."""
    return html.escape(_UNSHOWABLE.sub(_visible, str(value)), quote=True)


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


def _badge(outcome: str) -> str:
    return f'<span class="badge {_e(outcome)}">{SYMBOL.get(outcome, "?")} {_e(WORD.get(outcome, outcome))}</span>'


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


def _summary(report: dict) -> str:
    s, run = report["summary"], report["run"]
    bad = s["violations"] + s["errors"]
    if bad:
        parts = [f'{s["violations"]} violation{"s" * (s["violations"] != 1)}'] if s["violations"] else []
        parts += [f'{s["errors"]} error{"s" * (s["errors"] != 1)}'] if s["errors"] else []
        status = f'{SYMBOL["violation"]} {" and ".join(parts)} in {s["cases"]} cases'
    else:
        status = f'{SYMBOL["pass"]} all {s["cases"]} cases passed'
    stats = [("Cases", s["cases"], ""), ("Passed", s["passed"], "pass"),
             ("Violations", s["violations"], "violation" if s["violations"] else ""),
             ("Errors", s["errors"], "error" if s["errors"] else ""), ("Seed", report["seed"], ""),
             ("Duration", f'{run["duration_s"]:.2f} s', ""), ("Jobs", run["jobs"], "")]
    cells = "".join(f'<div class="{c}"><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>' for k, v, c in stats)
    facts = [("Target", report["target"]), ("Transports", ", ".join(report["transports"]) or "\u2013"),
             ("Started", run["started"]), ("Run", run["id"]), ("Python", run["python"]),
             ("Format", report["format"])]
    rows = "".join(f'<tr><th scope="row">{_e(k)}</th><td><code>{_e(v)}</code></td></tr>' for k, v in facts)
    return (f'<section id="summary" aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2>'
            f'<p class="status {"bad" if bad else "good"}">{_e(status)}</p>'
            f'<dl class="stats">{cells}</dl><table class="facts"><tbody>{rows}</tbody></table>'
            f'<p class="label">Reproduce this run</p>{_command(report["command"], "cmd-run")}</section>')


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
            counts = Counter(c["outcome"] for c in group)
            worst = max(counts, key=SEVERITY.__getitem__)
            # Link to the first failing case when there is one, else to the group's first table row.
            target = next((c for c in group if c["outcome"] != "pass"), group[0])
            href = anchors[target["id"]] if target["outcome"] != "pass" else "row-" + anchors[target["id"]]
            text = " ".join(f'<span class="n {o}">{SYMBOL[o]}\u202f{counts[o]}</span>'
                            for o in ("violation", "error", "pass") if counts[o])
            label = f'{op} \u00d7 {fault}: ' + ", ".join(f"{counts[o]} {WORD[o]}"
                                                         for o in ("violation", "error", "pass") if counts[o])
            tds.append(f'<td class="{worst}"><a href="#{_e(href)}" title="{_e(label)}" '
                       f'data-cell-op="{_e(op)}" data-cell-fault="{_e(fault)}">{text}</a></td>')
        rows.append(f'<tr><th scope="row"><code>{_e(op)}</code></th>{"".join(tds)}</tr>')
    legend = " ".join(f'<span class="n {o}">{SYMBOL[o]} {WORD[o]}</span>' for o in ("violation", "error", "pass"))
    return (f'<section id="matrix" aria-labelledby="h-matrix"><h2 id="h-matrix">Fault \u00d7 operation</h2>'
            f'<p class="note">Each cell counts cases across transports and styles. {legend}. '
            f'A cell links to its first failing case.</p>'
            f'<div class="wide"><table class="matrix"><thead><tr><th scope="col">operation \\ fault</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')


# ---------------------------------------------------------------------------------------------------
# One case


def _data_attrs(case: dict) -> str:
    text = " ".join([case["id"], *case["violations"], *(d["message"] for d in case["details"])]).lower()
    return (f'data-case data-outcome="{_e(case["outcome"])}" data-op="{_e(case["operation"])}" '
            f'data-fault="{_e(case["fault"])}" data-transport="{_e(case["transport"])}" data-text="{_e(text)}"')


def _meta(case: dict) -> str:
    fields = [f for f in ("operation", "style", "fault", "transport", "origin", "seed") if f in case]
    return '<dl class="meta">' + "".join(
        f'<div><dt>{f}</dt><dd>{_e(case[f])}</dd></div>' for f in fields) + "</dl>"


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


def _details_list(case: dict, ident: str) -> str:
    if not case["details"]:
        what = "No invariant details were recorded." if case["outcome"] != "pass" else ""
        return f'<p class="note">{what}</p>' if what else ""
    items = []
    for d, row in zip(case["details"], _detail_rows(case)):
        step = f'step {d["step"]}' if d["step"] is not None else "no step"
        link = f' <a class="jump" href="#{ident}-ev-{row}">trace event</a>' if row is not None else ""
        items.append(f'<li><div><code class="slug">{_e(d["slug"])}</code> <span class="step">{_e(step)}</span>{link}'
                     f'</div><div class="expl">{_e(d["explanation"])}</div>'
                     f'<div class="msg">{_e(d["message"])}</div></li>')
    return f'<h4>Invariants</h4><ul class="invariants">{"".join(items)}</ul>'


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


def _injected(event: dict) -> bool:
    return bool(event["detail"].get("injected"))


def _pins(case: dict) -> list[tuple[int, str, str]]:
    return [(d["step"], d["slug"], d["message"]) for d in case["details"] if d["step"] is not None]


def _ticks(lo: int, hi: int, count: int = 8) -> list[int]:
    span = max(hi - lo, 1)
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = -(-lo // step) * step
    return list(range(int(first), hi + 1, int(step)))


def _timeline(case: dict, ident: str) -> str:
    """An inline SVG: x is the trace step, one lane per event source, faults and violations marked."""
    trace, pins = case.get("trace") or [], _pins(case)
    if not trace and not pins:
        return ""
    steps = [e["step"] for e in trace] + [p[0] for p in pins]
    lo, hi = min(steps), max(steps)
    width, left, right, lane_h = 960, 78, 24, 26
    top = 46 if pins else 10
    plot = width - left - right
    height = top + lane_h * len(LANES) + 34

    def x(step: int) -> float:
        return left + (plot / 2 if hi == lo else (step - lo) / (hi - lo) * plot)

    out = [f'<svg class="timeline" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{ident}-t" '
           f'preserveAspectRatio="xMinYMin meet"><title id="{ident}-t">Timeline of {_e(case["id"])}: '
           f'{len(trace)} trace events over steps {lo}\u2013{hi}, {len(pins)} violation marker(s)</title>']
    for i, lane in enumerate(LANES):
        y = top + i * lane_h
        out.append(f'<rect class="lane{i % 2}" x="{left}" y="{y}" width="{plot}" height="{lane_h}"/>'
                   f'<text class="lane-label" x="{left - 8}" y="{y + lane_h / 2 + 4}">{lane}</text>')
    base = top + lane_h * len(LANES)
    for t in _ticks(lo, hi):
        out.append(f'<line class="tick" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{base + 4}"/>'
                   f'<text class="tick-label" x="{x(t):.1f}" y="{base + 16}">{t}</text>')
    out.append(f'<text class="axis-label" x="{left + plot}" y="{base + 30}">loop step \u2192</text>')
    # Events sharing a narrow column of the lane become one mark whose tooltip lists a few of them. This
    # bounds the picture's size however long the trace is, and keeps dense marks from merging into a
    # band: ordinary events snap to 4-unit columns, injected faults (wider diamonds) to 10-unit ones.
    groups: dict[tuple[str, int, bool], list[dict]] = {}
    for event in trace:
        inj = _injected(event)
        grid = 10 if inj else 4
        col = left + round((x(event["step"]) - left) / grid) * grid
        groups.setdefault((event["source"], col, inj), []).append(event)
    for (source, col, injected), events in sorted(groups.items(), key=lambda kv: kv[0][2]):
        cy = top + LANES.index(source) * lane_h + lane_h / 2
        lines = [f'step {e["step"]} \u00b7 {e["source"]} {e["kind"]}' + (" (injected)" if injected else "")
                 for e in events[:4]]
        if len(events) > 4:
            lines.append(f"\u2026 and {len(events) - 4} more")
        tip = f"<title>{_e(chr(10).join(lines))}</title>"
        if injected:
            out.append(f'<path class="mark inj" d="M{col} {cy - 7}l6 7-6 7-6-7z">{tip}</path>')
        else:
            out.append(f'<rect class="mark {source}" x="{col - 1}" y="{cy - 6}" width="2" height="12">{tip}</rect>')
    for n, (step, slug, message) in enumerate(pins):
        px, ly = x(step), 14 + (n % 2) * 16
        anchor = "end" if px > left + plot * 0.7 else "start"
        dx = -6 if anchor == "end" else 9
        out.append(f'<g class="pin"><title>{_e(f"violation {slug} at step {step}: {message}")}</title>'
                   f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{ly + 2}" y2="{base}"/>'
                   f'<path d="M{px:.1f} {ly - 8}l6 0 0 10-6 0z"/>'
                   f'<text x="{px + dx:.1f}" y="{ly}" text-anchor="{anchor}">'
                   f'{SYMBOL["violation"]} {_e(slug)} @ {step}</text></g>')
    out.append("</svg>")
    legend = ('<p class="legend"><span class="key ev">\u258d</span> event '
              '<span class="key inj">\u25c6</span> injected fault '
              '<span class="key pin">\u2502</span> violation (step and slug)</p>')
    return f'<h4>Timeline</h4><div class="svgwrap">{"".join(out)}</div>{legend}'


def _trace_table(case: dict, ident: str) -> str:
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
                culprits.setdefault(row, []).append(d["slug"])
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
            flag = "".join(f' <span class="badge violation">{SYMBOL["violation"]} {_e(slug)}</span>'
                           for slug in culprits.get(i, ()))
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


def _hexdump(data: bytes) -> str:
    lines = []
    for off in range(0, min(len(data), HEX_BYTES_MAX), 16):
        row = data[off:off + 16]
        hexes = " ".join(f"{b:02x}" for b in row[:8]) + "  " + " ".join(f"{b:02x}" for b in row[8:])
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        lines.append(f"{off:08x}  {hexes:<48}  |{text}|")
    return _e("\n".join(lines)) if lines else "(empty)"


def _payload(case: dict) -> str:
    payload = case.get("payload")
    if not payload:
        return ""
    sent, received = bytes.fromhex(payload["sent"]), bytes.fromhex(payload["received"])
    common = next((i for i, (a, b) in enumerate(zip(sent, received)) if a != b), min(len(sent), len(received)))
    if common < len(received):
        verdict = f"received differs from sent at offset {common} (0x{common:x})"
    else:
        verdict = f"received is the first {len(received)} of the {len(sent)} bytes sent"
    blocks = []
    for label, data, key in (("sent", sent, "sent_len"), ("received", received, "received_len")):
        total = payload.get(key, len(data))
        notes = []
        if total > len(data):
            notes.append(f"the report keeps {len(data)} of {total} bytes")
        if len(data) > HEX_BYTES_MAX:
            notes.append(f"showing the first {HEX_BYTES_MAX}")
        extra = f' <span class="muted">({"; ".join(notes)})</span>' if notes else ""
        blocks.append(f'<div><p class="sub"><strong>{label}</strong>: {total} bytes{extra}</p>'
                      f'<pre class="hex">{_hexdump(data)}</pre></div>')
    return f'<h4>Payload</h4><p class="note">{_e(verdict)}.</p><div class="payload">{"".join(blocks)}</div>'


def _case_section(case: dict, anchor: str, open_: bool) -> str:
    slugs = " ".join(f'<code class="slug">{_e(s)}</code>' for s in case["violations"])
    body = (_meta(case) + _details_list(case, anchor) + _plan_table(case["plan"]) + _timeline(case, anchor + "-svg")
            + _trace_table(case, anchor) + _payload(case)
            + '<h4>Replay</h4>' + _command(case["replay"], anchor + "-replay"))
    opened = " open" if open_ else ""
    return (f'<details class="case {_e(case["outcome"])}" id="{anchor}" {_data_attrs(case)}{opened}>'
            f'<summary>{_badge(case["outcome"])} <span class="cid">{_e(case["id"])}</span> {slugs}</summary>'
            f'<div class="body">{body}</div></details>')


def _case_table(cases: list[dict], anchors: dict[str, str]) -> str:
    rows = []
    for c in cases:
        a = anchors[c["id"]]
        cols = "".join(f'<td>{_e(c[k])}</td>' for k in ("operation", "style", "fault", "transport", "origin"))
        rows.append(f'<tr id="row-{a}" {_data_attrs(c)}><td><a href="#{a}">{_e(c["id"])}</a></td>{cols}'
                    f'<td data-v="{SEVERITY[c["outcome"]]}">{_badge(c["outcome"])}</td>'
                    f'<td class="slugs">{" ".join(f"<code>{_e(s)}</code>" for s in c["violations"])}</td></tr>')
    head = "".join(f'<th scope="col" data-sort>{h}</th>' for h in
                   ("case", "operation", "style", "fault", "transport", "origin", "outcome", "invariants"))
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


def render_html(report: dict) -> str:
    """Render the report as one self-contained HTML page (a str); the report is validated first."""
    validate_report(report)
    cases = report["cases"]
    anchors = _anchors(cases)
    failing = [c for c in cases if c["outcome"] != "pass"]
    passing = [c for c in cases if c["outcome"] == "pass"]
    s = report["summary"]
    verdict = f'{s["violations"]} violations, {s["errors"]} errors' if failing else "all passed"
    meta = {k: report[k] for k in ("format", "seed", "target", "command")}
    meta.update(run=report["run"]["id"], summary=s)
    if failing:
        fail_html = "".join(_case_section(c, anchors[c["id"]], True) for c in failing)
    else:
        fail_html = f'<p class="note">{SYMBOL["pass"]} No case violated an invariant or errored.</p>'
    pass_html = "".join(_case_section(c, anchors[c["id"]], False) for c in passing)
    pass_html = pass_html or '<p class="note">No passing cases.</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<title>faultio report \u2013 {_e(report["target"])} \u2013 {_e(verdict)}</title>'
        f'<style>{_CSS}</style></head><body>'
        f'<header><h1>faultio report</h1><p><code>{_e(report["target"])}</code> \u00b7 seed {_e(report["seed"])}'
        f' \u00b7 run {_e(report["run"]["id"])}</p></header>'
        '<nav aria-label="Sections"><a href="#summary">Summary</a><a href="#matrix">Matrix</a>'
        f'<a href="#failures">Failures ({len(failing)})</a><a href="#cases">All cases ({len(cases)})</a>'
        f'<a href="#passing">Passing ({len(passing)})</a></nav>'
        f'{_filters(report)}<main>{_summary(report)}{_matrix(report, anchors)}'
        f'<section id="failures" aria-labelledby="h-failures"><h2 id="h-failures">Failures ({len(failing)})</h2>'
        f'{fail_html}</section>{_case_table(cases, anchors)}'
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
