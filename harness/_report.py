"""Assembling a run's report dict (``docs/report-format.md``) from case results.

Rules for this module:
- The report dict is the source of truth; HTML, JUnit and ``--json`` are views of it.
- Everything outside ``run`` depends only on the seed, the target, the profile (each case carries it) and
  faultio's version: no times, no paths that change between runs (the replay command names the report
  directory, which the caller gives).
"""

from __future__ import annotations

import datetime
import platform
import shlex
from pathlib import Path
from typing import Any, Sequence

from ._case import CaseResult
from .engine import CLASSES
from ._report_json import FORMAT
from ._targets import DEFAULT_TARGET_NAMES

#: Payload bytes kept per direction in a report (hex); full lengths are recorded beside them.
PAYLOAD_KEEP = 1024


def replay_command(source: str | Path | None, case_id: str | None = None, *, target: str | None = None) -> str:
    """The command that replays ``case_id`` from the report at ``source`` (or, without ``case_id``, the saved
    case file ``source``) against ``target``.

    ``replay`` never imports a target named inside the file, so a target other than the default is spelled
    out as ``--target``: the command, copied, runs what the run ran.
    """
    parts = ["python", "-m", "harness", "replay", str(source) if source is not None else "report.json"]
    if case_id is not None:
        parts += ["--case", case_id]
    if target is not None and target not in DEFAULT_TARGET_NAMES:
        parts += ["--target", target]
    return " ".join(shlex.quote(p) for p in parts)


def case_to_json(result: CaseResult, *, report_path: str | Path | None, target: str | None = None,
                 fail_on: Sequence[str] = CLASSES) -> dict[str, Any]:
    """One case's report entry: identity, outcome, whether it fails a run failing on ``fail_on``, violations
    and their classes, plan, replay command (naming ``target`` when it is not the default) and steps; a case
    that did not pass also gets its payloads (hex), the target's log records and the trace."""
    case = result.case
    data: dict[str, Any] = {
        "id": case.id,
        "operation": case.operation,
        "style": case.style,
        "fault": case.fault,
        "transport": case.transport,
        "profile": case.profile,
        "origin": case.origin,
        "seed": case.seed,
        "index": case.index,
        "outcome": result.outcome,
        "fails": result.fails(tuple(fail_on)),
        "violations": result.slugs,
        "classes": sorted({v.klass for v in result.violations}),
        "details": [v.to_json() for v in result.violations],
        "plan": case.plan.to_json(),
        "replay": replay_command(report_path, case.id, target=target),
        "steps": result.steps,
        "virtual_ms": round(result.virtual_s * 1000, 3),
    }
    if case.sequence is not None:  # a generated sequence: what replay runs again
        data["sequence"] = case.sequence.to_json()
    if result.held_s:
        data["held_ms"] = round(result.held_s * 1000, 3)
    if result.error:
        data["details"].append({"slug": "", "class": "error", "explanation": "the case could not be judged",
                                "message": result.error, "step": None})
    if result.outcome != "pass":
        data["payload"] = {
            "sent": result.sent[:PAYLOAD_KEEP].hex(),
            "received": result.received[:PAYLOAD_KEEP].hex(),
            "sent_len": len(result.sent),
            "received_len": len(result.received),
        }
        data["logs"] = list(result.logs)
        data["trace"] = list(result.trace)
    return data


def summarize(cases: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The ``summary`` of report cases: counts by outcome, failing cases, and ``violation`` cases with
    findings of each class."""
    counts = {"pass": 0, "violation": 0, "error": 0}
    by_class = dict.fromkeys(CLASSES, 0)
    for c in cases:
        counts[c["outcome"]] += 1
        for klass in c["classes"] if c["outcome"] == "violation" else ():  # an error case counts as an error
            by_class[klass] += 1
    return {"cases": len(cases), "passed": counts["pass"], "violations": counts["violation"],
            "errors": counts["error"], "failing": sum(bool(c["fails"]) for c in cases), **by_class}


def build_report(results: Sequence[CaseResult], *, seed: int, target: str, command: str,
                 faults: Sequence[str], operations: Sequence[str], transports: Sequence[str],
                 report_path: str | Path | None, run_id: str, started: datetime.datetime,
                 duration_s: float, jobs: int, fail_on: Sequence[str] = CLASSES,
                 incomplete: dict[str, Any] | None = None, profile: str | None = None,
                 not_run: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The report dict of one run (``docs/report-format.md``): its settings, the classes of finding that fail
    it, summary counts, the invariants that could not be checked on the target, and every case; what may
    change between runs (id, times, jobs, Python version) is kept under ``run``. ``incomplete`` (``reason``,
    ``planned``, ``ran``) marks a run that was stopped before every case ran. ``profile`` is the realism
    profile the run's fds had (``run.profile``; left out when the cases chose their own, as in a pytest
    session). ``not_run`` lists what the target cannot express and was not run: ``{"what", "reason"}``
    each."""
    fail_on = sorted(set(fail_on))
    extra = {} if incomplete is None else {"incomplete": dict(incomplete)}
    if not_run:
        extra["not_run"] = [{"what": str(n["what"]), "reason": str(n["reason"])} for n in not_run]
    cases = [case_to_json(r, report_path=report_path, target=target, fail_on=fail_on) for r in results]
    not_applicable: dict[str, str] = {}
    for r in results:
        for slug, reason in r.not_applicable:
            not_applicable.setdefault(slug, reason)
    return {
        "format": FORMAT,
        "seed": seed,
        "target": target,
        "command": command,
        "faults": list(faults),
        "operations": list(operations),
        "transports": list(transports),
        "fail_on": fail_on,
        "summary": summarize(cases),
        "not_applicable": [{"slug": s, "reason": not_applicable[s]} for s in sorted(not_applicable)],
        **extra,
        "cases": cases,
        "run": {
            "id": run_id,
            "started": started.isoformat(timespec="seconds"),
            "duration_s": round(duration_s, 3),
            "jobs": jobs,
            "python": platform.python_version(),
            **({} if profile is None else {"profile": profile}),
        },
    }
