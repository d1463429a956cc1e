"""The diff page: one self-contained HTML page rendered on the server side from the diff document.

Rules for this module:
- Input is the plain document ``harness._diff.diff_json`` makes (what ``diff.json`` holds); the page is a
  view of it and adds no facts. Only the stdlib and the report page's assets and helpers are imported
  (``_report_html``'s escaping, badges and command block, ``_report_assets``' style sheet), never the runner.
- Every string taken from the document goes through ``_e`` before it reaches the page; payload bytes are
  only shown as hex; JSON inside ``<script>`` goes through ``_script_json``.
- The page needs nothing from the network (the report's Content-Security-Policy) and has no script that
  does anything: it reads completely with JavaScript off.
- Colour is never the only signal: outcomes carry their symbol and word, differing rows say so in words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ._report_assets import _CSS
from ._report_html import _CSP, SYMBOL, _anchors, _badge, _command, _e, _plural, _script_json
from ._report_json import PathLike, write_atomic

__all__ = ["render_diff_html", "write_diff_dir"]

#: A story longer than this is cut in the page (the whole story is in diff.json).
STORY_ROWS_MAX = 250
_EXTRA_CSS = """
.badge.na{color:var(--muted);background:var(--panel)}
table.diff td{min-width:11rem}table.diff td.cid{min-width:14rem;font-family:var(--mono);font-weight:600}
table.diff td .facts-line{display:block;font-family:var(--mono);font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
table.story td{font-family:var(--mono);font-size:.8rem}table.story tr.differs td{background:var(--viol-bg)}
table.story td.same{color:var(--muted)}table.obs th[scope=row]{font-weight:500;color:var(--muted)}
table.obs td{font-family:var(--mono);font-size:.82rem;overflow-wrap:anywhere}
dl.dims{margin:.5rem 0}dl.dims dt{font-weight:600;font-family:var(--mono)}dl.dims dd{margin:0 0 .4rem 1rem}
"""


def _outcome_badge(outcome: str) -> str:
    if outcome == "n/a":
        return '<span class="badge na" title="not applicable: the target cannot run this case">\u2013 n/a</span>'
    return _badge(outcome)


def _slugs(observation: Mapping[str, Any]) -> str:
    return " ".join(f'<code class="slug">{_e(s)}</code>' for s in observation["violations"])


def _cell(case: Mapping[str, Any], o: Mapping[str, Any], order_at: int | None) -> str:
    """One target's cell in the divergence table: its outcome, and what it shows where the case diverges."""
    parts = [_outcome_badge(o["outcome"]), _slugs(o)]
    if o["outcome"] == "error":
        parts.append(f'<span class="facts-line">{_e(o["error"])}</span>')
    elif o["outcome"] != "n/a":
        dims = case["diverges"]
        if "bytes" in dims:
            parts.append(f'<span class="facts-line">{_e(o["delivered"])} bytes, crc32 {_e(o["crc32"] or "?")}</span>')
        if "error" in dims:
            closed = (o["close_error"] or "no error") if o["closed"] else "never seen closed"
            parts.append(f'<span class="facts-line">errors: {_e(", ".join(o["errors"]) or "none")}; '
                         f'closed: {_e(closed)}</span>')
        if order_at is not None:
            seen = o["order"][order_at] if order_at < len(o["order"]) else "(nothing more)"
            parts.append(f'<span class="facts-line">event #{order_at}: {_e(seen)}</span>')
    return " ".join(p for p in parts if p)


def _divergence_table(cases: list[Mapping[str, Any]], targets: list[str], anchors: dict[str, str]) -> str:
    rows = []
    for case in cases:
        at = case["order_differs_at"]
        what = ", ".join(case["diverges"]) or "could not be judged on some target"
        cells = "".join(f"<td>{_cell(case, o, at)}</td>" for o in case["observations"])
        rows.append(f'<tr><td class="cid"><a href="#{anchors[case["id"]]}">{_e(case["id"]).replace("/", "/<wbr>")}'
                    f'</a></td><td>{_e(what)}</td>{cells}</tr>')
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in ("case", "differs in", *targets))
    return (f'<div class="wide"><table class="diff"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _observations(case: Mapping[str, Any], targets: list[str]) -> str:
    """Each target's facts for one case, side by side."""
    def facts(o: Mapping[str, Any]) -> list[str]:
        if o["outcome"] == "n/a":
            return ["\u2013"] * 7
        closed = (o["close_error"] or "no error") if o["closed"] else "never seen closed"
        head = bytes.fromhex(o["received_head"])
        return [_outcome_badge(o["outcome"]) + (" " + _slugs(o) if o["violations"] else ""),
                _e(o["error"] or "\u2013"),
                _e("?" if o["delivered"] is None else f'{o["delivered"]} bytes'),
                _e(o["crc32"] or "?"),
                _e(head.hex(" ") or "(none)"),
                _e(", ".join(o["errors"]) or "none"),
                _e(closed)]

    labels = ("outcome", "could not be judged", "delivered", "crc32", "first bytes (hex)", "errors seen",
              "closed with")
    columns = [facts(o) for o in case["observations"]]
    rows = "".join(f'<tr><th scope="row">{_e(label)}</th>' + "".join(f"<td>{col[i]}</td>" for col in columns)
                   + "</tr>" for i, label in enumerate(labels))
    head = '<th scope="col"></th>' + "".join(f'<th scope="col">{_e(t)}</th>' for t in targets)
    return f'<div class="wide"><table class="obs"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _story(case: Mapping[str, Any], targets: list[str]) -> str:
    """The stories side by side, one entry a row; rows where the judged targets' entries differ are marked."""
    stories = [o["story"] if o["outcome"] in ("pass", "violation") else None for o in case["observations"]]
    told = [s for s in stories if s is not None]
    if not told:
        return ""
    longest = max(len(s) for s in told)
    shown = min(longest, STORY_ROWS_MAX)
    rows = []
    for i in range(shown):
        entries = [s[i] if s is not None and i < len(s) else "" for s in stories]
        differs = len({s[i] if i < len(s) else "" for s in told}) > 1
        cls = ' class="differs"' if differs else ""
        mark = "differs" if differs else ""
        cells = "".join(f'<td{"" if differs else " class=same"}>{_e(e)}</td>' for e in entries)
        rows.append(f'<tr{cls}><td class="num">{i}</td>{cells}<td>{mark}</td></tr>')
    note = (f'<p class="note">Showing {shown} of {longest} entries; diff.json has them all.</p>'
            if shown < longest else "")
    head = '<th scope="col">#</th>' + "".join(f'<th scope="col">{_e(t)}</th>' for t in targets) + \
        '<th scope="col"></th>'
    return (f'<h4>What the caller saw, in order</h4><p class="note">One entry a row (<code>x3</code>: three times '
            f'in a row); the last entry is what was delivered in all. Sizes may differ where the order agrees: '
            f'the <em>order</em> dimension compares the kinds of event only.</p>{note}<div class="scroll">'
            f'<table class="story"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _case_section(case: Mapping[str, Any], targets: list[str], anchor: str) -> str:
    what = ", ".join(case["diverges"]) or "could not be judged on some target"
    meta = "".join(f'<div><dt>{_e(k)}</dt><dd>{_e(case[k])}</dd></div>'
                   for k in ("operation", "style", "fault", "transport"))
    return (f'<details class="case violation" id="{_e(anchor)}" open><summary><span class="cid">{_e(case["id"])}'
            f'</span> <span class="muted">differs in: {_e(what)}</span></summary><div class="body">'
            f'<dl class="meta">{meta}</dl>{_observations(case, targets)}{_story(case, targets)}</div></details>')


def _agreeing(cases: list[Mapping[str, Any]], targets: list[str]) -> str:
    if not cases:
        return '<p class="note">No case on which the targets agree.</p>'
    rows = "".join(f'<tr><td class="cid">{_e(c["id"]).replace("/", "/<wbr>")}</td>'
                   + "".join(f"<td>{_outcome_badge(o['outcome'])} {_slugs(o)}</td>" for o in c["observations"])
                   + "</tr>" for c in cases)
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in ("case", *targets))
    return (f'<details class="case pass"><summary>{_plural(len(cases), "case")} on which every target that can run '
            f'it agrees</summary><div class="body"><div class="wide"><table class="diff"><thead><tr>{head}</tr>'
            f'</thead><tbody>{rows}</tbody></table></div></div></details>')


def _summary(doc: Mapping[str, Any]) -> str:
    s = doc["summary"]
    if s["agree"]:
        status, kind = f'{SYMBOL["pass"]} the targets agree on all {_plural(s["cases"], "case")}', "good"
    else:
        status = f'{SYMBOL["violation"]} {s["diverging"]} of {_plural(s["cases"], "case")} diverge'
        if s["unjudged"]:
            status += f'; {s["unjudged"]} could not be judged on some target'
        kind = "bad"
    stats = [("Cases", s["cases"], ""), ("Diverging", s["diverging"], "violation" if s["diverging"] else ""),
             *((f"in {dim}", n, "violation" if n else "") for dim, n in s["by_dimension"].items()),
             ("Unjudged", s["unjudged"], "error" if s["unjudged"] else ""), ("n/a somewhere", s["not_applicable"], ""),
             ("Seed", doc["seed"], "")]
    cells = "".join(f'<div class="{css}"><dt>{_e(label)}</dt><dd>{_e(value)}</dd></div>' for label, value, css in stats)
    run = doc["run"]
    facts = [("Targets", ", ".join(doc["targets"])), ("Faults", ", ".join(doc["faults"])),
             ("Operations", ", ".join(doc["operations"])), ("Transports", ", ".join(doc["transports"])),
             ("Started", run.get("started")), ("Run", run.get("id")), ("Jobs", run.get("jobs")),
             ("Python", run.get("python")), ("Format", doc["format"])]
    rows = "".join(f'<tr><th scope="row">{_e(k)}</th><td><code>{_e(v)}</code></td></tr>' for k, v in facts)
    dims = "".join(f"<dt>{_e(d)}</dt><dd>{_e(h)}</dd>" for d, h in doc["dimensions"].items())
    return (f'<section id="summary" aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2>'
            f'<p class="status {kind}">{_e(status)}</p><dl class="stats">{cells}</dl>'
            f'<table class="facts"><tbody>{rows}</tbody></table>'
            f'<p class="label">What is compared</p><dl class="dims">{dims}</dl>'
            f'<p class="note">A case a target cannot run (a transport or operation it lacks) is n/a for it, never '
            f'a divergence; a case a target could not judge is an error there.</p>'
            f'<p class="label">Reproduce this diff</p>{_command(doc["command"], "cmd-diff")}</section>')


def render_diff_html(doc: Mapping[str, Any]) -> str:
    """Render the diff document as one self-contained HTML page (a str)."""
    targets = list(doc["targets"])
    cases = list(doc["cases"])
    anchors = _anchors(cases)
    shown = [c for c in cases if c["diverges"] or c["unjudged"]]
    agreeing = [c for c in cases if not (c["diverges"] or c["unjudged"])]
    s = doc["summary"]
    verdict = "agree" if s["agree"] else f'{s["diverging"]} of {s["cases"]} diverge'
    if shown:
        body = (_divergence_table(shown, targets, anchors)
                + "".join(_case_section(c, targets, anchors[c["id"]]) for c in shown))
    else:
        body = f'<p class="note">{SYMBOL["pass"]} No case diverges.</p>'
    meta = {"format": doc["format"], "targets": targets, "seed": doc["seed"], "summary": s}
    names = " \u00b7 ".join(f"<code>{_e(t)}</code>" for t in targets)
    nav = ('<a href="#summary">Summary</a>'
           f'<a href="#divergences">Divergences ({len(shown)})</a><a href="#agreeing">Agreeing ({len(agreeing)})</a>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<title>faultio diff \u2013 {_e(" vs ".join(targets))} \u2013 {_e(verdict)}</title>'
        f'<style>{_CSS}{_EXTRA_CSS}</style></head><body>'
        f'<header><h1>faultio diff</h1><p>{names}'
        f' \u00b7 seed {_e(doc["seed"])} \u00b7 run {_e(doc["run"].get("id"))}</p></header>'
        f'<nav aria-label="Sections">{nav}</nav><main>{_summary(doc)}'
        f'<section id="divergences" aria-labelledby="h-div"><h2 id="h-div">Divergences ({len(shown)})</h2>{body}'
        f'</section><section id="agreeing" aria-labelledby="h-agree"><h2 id="h-agree">Agreeing cases '
        f'({len(agreeing)})</h2>{_agreeing(agreeing, targets)}</section></main>'
        f'<footer>{_e(doc["format"])} \u00b7 diff.json next to this page is the source of truth.</footer>'
        f'<script type="application/json" id="faultio-diff-meta">{_script_json(meta)}</script></body></html>\n')


def write_diff_dir(doc: Mapping[str, Any], directory: PathLike) -> Path:
    """Write ``diff.json`` and ``diff.html`` into ``directory`` (created if needed), each atomically, the page
    last so it never points at a missing document. Returns the page's path."""
    import json

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    page = render_diff_html(doc)
    write_atomic(out / "diff.json", json.dumps(doc, indent=2) + "\n")
    return write_atomic(out / "diff.html", page)
