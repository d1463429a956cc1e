"""The evidence blocks of a case in the HTML report: the payload as a hex dump, and the target's logs.

Rules for this module:
- Payload bytes are only ever shown as a hex dump; every string from the report goes through ``_e``.
"""

from __future__ import annotations

from ._report_text import _e

LOG_ROWS_MAX = 200      # a case's log block shows at most this many records
HEX_BYTES_MAX = 4096    # a hex dump shows at most this many bytes


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


def _logs(case: dict) -> str:
    """The target's log records captured during the case, as a table (only when the case has ``logs``)."""
    if "logs" not in case:
        return ""
    logs = case["logs"]
    if not logs:
        return '<h4>Logs</h4><p class="note">The target logged nothing during this case.</p>'
    shown = logs[:LOG_ROWS_MAX]
    rows = "".join(f'<tr class="lvl-{_e(r["level"].lower())}"><td class="num">{i}</td><td>{_e(r["level"])}</td>'
                   f'<td><code>{_e(r["logger"])}</code></td><td class="logmsg">{_e(r["message"])}</td></tr>'
                   for i, r in enumerate(shown))
    note = (f'<p class="note">Showing the first {len(shown)} of {len(logs)} records; all are in report.json.</p>'
            if len(shown) < len(logs) else "")
    head = "".join(f'<th scope="col">{h}</th>' for h in ("#", "level", "logger", "message"))
    return (f'<h4>Logs ({len(logs)} record{"s" * (len(logs) != 1)})</h4>{note}<div class="scroll">'
            f'<table class="logs"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
