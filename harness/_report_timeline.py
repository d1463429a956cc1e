"""The timeline of a case in the HTML report: an inline SVG of its trace, one lane per event source.

Rules for this module:
- Input is one case of the report dict; nothing is computed that the report does not hold. x is the loop
  step (every event has one, and most happen at the same virtual instant); the axis is labelled with the
  virtual time at each tick, in milliseconds, and every jump of the virtual clock is marked with its size.
- Every string from the report goes through ``_e``.
"""

from __future__ import annotations

import math

from ._report_text import SYMBOL, _e

LANES = ("fd", "loop", "stream", "harness", "log")


def _ms(ms: float) -> str:
    """Virtual milliseconds for people: ``0 ms``, ``36.5 ms``, ``97000 ms (97 s)``."""
    text = f"{ms:.3f}".rstrip("0").rstrip(".") + " ms"
    return f"{text} ({ms / 1000:g} s)" if ms >= 1000 else text


def _time_at(trace: list, step: int) -> float | None:
    """The virtual time (ms) of the last event at or before ``step`` (the first event's, before it)."""
    best = None
    for event in trace:
        if event["step"] > step and best is not None:
            break
        best = event.get("time", 0.0) * 1000
    return best


def _injected(event: dict) -> bool:
    return bool(event["detail"].get("injected"))


def _pins(case: dict) -> list[tuple[int, str, str, str]]:
    """``(step, slug, message, class)`` of every detail tied to a loop step."""
    return [(d["step"], d["slug"], d["message"], d["class"]) for d in case["details"] if d["step"] is not None]


def _ticks(lo: int, hi: int, count: int = 8) -> list[int]:
    span = max(hi - lo, 1)
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = -(-lo // step) * step
    return list(range(int(first), hi + 1, int(step)))


def _timeline(case: dict, ident: str, fail_on: list[str]) -> str:
    """An inline SVG: x is the trace step, one lane per event source, faults and violations marked."""
    trace, pins = case.get("trace") or [], _pins(case)
    if not trace and not pins:
        return ""
    steps = [e["step"] for e in trace] + [p[0] for p in pins]
    lo, hi = min(steps), max(steps)
    width, left, right, lane_h = 960, 78, 24, 26
    top = 46 if pins else 10
    plot = width - left - right
    height = top + lane_h * len(LANES) + 48

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
        at = _time_at(trace, t)
        label = f"{_ms(at).split(' (')[0]}" if at is not None else ""
        out.append(f'<line class="tick" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{base + 4}"/>'
                   f'<text class="tick-label" x="{x(t):.1f}" y="{base + 16}">{_e(label)}</text>'
                   f'<text class="tick-label" x="{x(t):.1f}" y="{base + 28}">@{t}</text>')
    # Each jump of the virtual clock (nothing was ready: the loop moved to the next timeout) is marked on the
    # axis with its size, so a stall reads as the gap it was.
    before = trace[0].get("time", 0.0) if trace else 0.0
    for event in trace:
        now = event.get("time", before)
        if event["source"] == "loop" and event["kind"] == "clock" and now > before:
            cx = x(event["step"])
            gap = _ms((now - before) * 1000)
            out.append(f'<g class="jump-mark"><title>{_e(f"the virtual clock jumped {gap} to {_ms(now * 1000)}")}'
                       f'</title><path d="M{cx:.1f} {base - 2}l4 6-8 0z"/></g>')
        before = now
    out.append(f'<text class="axis-label" x="{left + plot}" y="{base + 42}">virtual ms at loop step @N \u2192'
               '</text>')
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
                 + (f': {e["detail"].get("logger", "")} {str(e["detail"].get("message", ""))[:80]}'
                    if source == "log" else "")
                 for e in events[:4]]
        if len(events) > 4:
            lines.append(f"\u2026 and {len(events) - 4} more")
        tip = f"<title>{_e(chr(10).join(lines))}</title>"
        if injected:
            out.append(f'<path class="mark inj" d="M{col} {cy - 7}l6 7-6 7-6-7z">{tip}</path>')
        else:
            out.append(f'<rect class="mark {source}" x="{col - 1}" y="{cy - 6}" width="2" height="12">{tip}</rect>')
    for n, (step, slug, message, klass) in enumerate(pins):
        px, ly = x(step), 14 + (n % 2) * 16
        anchor = "end" if px > left + plot * 0.7 else "start"
        dx = -6 if anchor == "end" else 9
        fails = klass == "error" or klass in fail_on
        symbol = SYMBOL["violation" if fails else "noted"]
        what = f"{klass} violation {slug}" if slug else "error"
        verdict = "" if klass == "error" else (" (fails the run)" if fails else " (does not fail the run)")
        out.append(f'<g class="pin {_e(klass)}"><title>{_e(f"{what} at step {step}{verdict}: {message}")}</title>'
                   f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{ly + 2}" y2="{base}"/>'
                   f'<path d="M{px:.1f} {ly - 8}l6 0 0 10-6 0z"/>'
                   f'<text x="{px + dx:.1f}" y="{ly}" text-anchor="{anchor}">'
                   f'{symbol} {_e(slug or "error")} [{_e(klass)}] @ {step}</text></g>')
    out.append("</svg>")
    lanes = "".join(f'<span class="lk"><span class="key lane-{lane}">\u2503</span>\u2009{lane}</span>' for lane in LANES)
    legend = (f'<p class="legend">Events by lane: {lanes}<span class="lk"><span class="key inj">\u25c6</span>'
              f'\u2009injected fault</span> Findings at their step: <span class="lk"><span class="key pin">'
              f'\u2503</span>\u2009contract</span><span class="lk"><span class="key pin design">\u2507</span>'
              f'\u2009design</span><span class="lk"><span class="key pin error">\u2503</span>\u2009error</span>'
              f'({SYMBOL["violation"]} fails the run, {SYMBOL["noted"]} does not)</p>')
    return f'<h4>Timeline</h4><div class="svgwrap">{"".join(out)}</div>{legend}'
