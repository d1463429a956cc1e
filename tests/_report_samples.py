"""Hand-made report dicts for the report-writer tests (no simulation involved).

Run as a script to write a sample report directory for looking at in a browser:

    python tests/_report_samples.py /tmp/faultio-sample [--events 50000]
"""

from __future__ import annotations

import sys
from pathlib import Path

HOSTILE = b"<script>alert(1)</script>\x00\x01\xff&amp;\"'\n"

EXPLANATIONS = {
    "close-cb-once": "The close callback runs at most once per registration.",
    "pending-zero-at-rest": "At quiescence the pending-callback counter is 0.",
    "data-integrity": "Delivered bytes are exactly a prefix of the bytes the peer sent.",
    "harness-error": "The case raised an unexpected exception inside the harness.",
}


def _replay(case_id: str) -> str:
    return f"python -m harness replay reports/20261127-064400-s0/report.json --case '{case_id}'"


def passing_case(op: str = "read_bytes", fault: str = "eintr", transport: str = "plain",
                 style: str = "future") -> dict:
    cid = f"{op}/{style}/{fault}/{transport}"
    return {
        "id": cid, "operation": op, "style": style, "fault": fault, "transport": transport,
        "origin": "fixed", "outcome": "pass", "fails": False, "violations": [], "classes": [], "details": [],
        "plan": {"read": [{"kind": "eintr"}, {"kind": "chunk", "max_bytes": 3}], "write": []},
        "replay": _replay(cid),
    }


def trace_events(n: int, *, pin: int = 17) -> list[dict]:
    """`n` trace events over the four sources, with a few injected faults and one at `pin`."""
    sources = ("fd", "loop", "stream", "harness", "log")
    events = []
    for i in range(n):
        step = i // 3
        source = sources[i % 4]
        detail: dict = {"fd": 5}
        kind = {"fd": "recv", "loop": "handler", "stream": "read_from_fd", "harness": "check", "log": "warning"}[source]
        if source == "fd" and (i % 11 == 0 or step == pin):
            detail.update(injected=True, fault="eintr", error="InterruptedError")
        if source == "fd" and i % 7 == 0:
            detail["data_hex"] = HOSTILE.hex()
        if source == "harness" and step == pin:
            kind, detail = "violation", {"slug": "close-cb-once", "note": "</td><script>x</script>"}
        events.append({"index": i, "step": step, "time": round(step * 0.001, 6), "source": source,
                       "kind": kind, "detail": detail})
    return events


def violation_case(op: str = "read_until", fault: str = "econnreset", transport: str = "ssl",
                   events: int = 60, pin: int = 17) -> dict:
    cid = f"{op}/callback/{fault}/{transport}"
    sent = HOSTILE * 3
    trace = trace_events(events, pin=pin)
    culprit = next((e["index"] for e in trace if e["step"] == pin), -1)
    return {
        "id": cid, "operation": op, "style": "callback", "fault": fault, "transport": transport,
        "origin": "generated", "outcome": "violation", "fails": True,
        "violations": ["close-cb-once", "pending-zero-at-rest"], "classes": ["contract", "design"],
        "details": [
            {"slug": "close-cb-once", "class": "contract", "explanation": EXPLANATIONS["close-cb-once"],
             "message": "close callback ran twice (steps 9 and 17) <script>alert('x')</script>", "step": pin,
             "event": culprit},
            {"slug": "pending-zero-at-rest", "class": "design", "explanation": EXPLANATIONS["pending-zero-at-rest"],
             "message": "_pending_callbacks == 1 at quiescence \u2028 & stuck", "step": pin + 2},
        ],
        "plan": {"read": [{"kind": "chunk", "max_bytes": 3}, {"kind": "wouldblock", "count": 2},
                          {"kind": "reset"}],
                 "write": [{"kind": "send_partial", "max_bytes": 1, "count": 4}]},
        "replay": _replay(cid),
        "payload": {"sent": sent.hex(), "received": sent[:20].hex() + "00ff", "sent_len": len(sent) * 2},
        "trace": trace,
    }


def error_case(op: str = "read_until_close", fault: str = "flood", transport: str = "plain") -> dict:
    cid = f"{op}/scenario/{fault}/{transport}"
    return {
        "id": cid, "operation": op, "style": "scenario", "fault": fault, "transport": transport,
        "origin": "fixed", "outcome": "error", "fails": True, "violations": [], "classes": [],
        "details": [{"slug": "", "class": "error", "explanation": EXPLANATIONS["harness-error"],
                     "message": "RuntimeError: boom \x00 <b>bold</b>", "step": None}],
        "plan": {"read": [{"kind": "flood", "nbytes": 1 << 20}], "write": []},
        "replay": _replay(cid),
        "trace": trace_events(9, pin=-1),
    }


def make_report(cases: list[dict], **overrides) -> dict:
    """A valid report around `cases`, with the summary computed from them."""
    outcomes = [c["outcome"] for c in cases]
    classes = [k for c in cases for k in c["classes"]]
    report = {
        "format": "faultio-report/2", "seed": 0, "target": "faultio:IOStream",
        "command": "python -m harness run --faults all --seed 0",
        "faults": sorted({c["fault"] for c in cases}),
        "operations": sorted({c["operation"] for c in cases}),
        "transports": sorted({c["transport"] for c in cases}),
        "fail_on": ["contract", "design"],
        "summary": {"cases": len(cases), "passed": outcomes.count("pass"),
                    "violations": outcomes.count("violation"), "errors": outcomes.count("error"),
                    "failing": sum(c["fails"] for c in cases), "contract": classes.count("contract"),
                    "design": classes.count("design")},
        "not_applicable": [],
        "cases": cases,
        "run": {"id": "20261127-064400-s0", "started": "2026-11-27T06:44:00+00:00", "duration_s": 1.23,
                "jobs": 2, "python": "3.11.7"},
    }
    report.update(overrides)
    return report


def sample_report(events: int = 60) -> dict:
    """One passing, one violating and one erroring case."""
    return make_report([passing_case(), violation_case(events=events), error_case()])


def demo_report(events: int = 60) -> dict:
    """A fuller matrix: every operation x fault x transport passes except a few."""
    ops = ["read_bytes", "read_until", "read_until_close", "read_until_regex", "write"]
    faults = ["eintr", "econnreset", "ewouldblock", "dribble", "flood"]
    cases = []
    for op in ops:
        for fault in faults:
            for transport in ("plain", "ssl"):
                if (op, fault, transport) == ("read_until", "econnreset", "ssl"):
                    cases.append(violation_case(op, fault, transport, events=events))
                elif (op, fault, transport) == ("read_until_close", "flood", "plain"):
                    cases.append(error_case(op, fault, transport))
                else:
                    cases.append(passing_case(op, fault, transport))
    cases.append(violation_case("read_bytes", "dribble", "plain", events=events, pin=5))
    return make_report(cases, faults=faults, operations=ops, transports=["plain", "ssl"])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness._report_html import write_report_dir

    n = int(sys.argv[sys.argv.index("--events") + 1]) if "--events" in sys.argv else 60
    out = write_report_dir(demo_report(events=n), sys.argv[1], junit_path=Path(sys.argv[1]) / "junit.xml")
    print(out)
