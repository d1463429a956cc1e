"""The report dict: its format version, validation, JSON text and atomic files.

Rules for this module:
- The report is a plain dict of JSON values (the shape is documented in docs/report-format.md). Nothing
  here knows how a report is produced: only the stdlib is imported, never faultio or the harness runner,
  so every function can be exercised on a hand-made dict.
- `validate_report` is the single definition of "well-formed". Its errors name the offending key by its
  path (``cases[3].outcome``) so a broken producer is found without a debugger.
- Output is deterministic: the same dict always gives the same bytes (fixed key order, fixed layout).
- Files are replaced atomically: a reader sees the old file or the new one, never half of either.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Union

FORMAT = "faultio-report/2"
FORMAT_PREFIX = "faultio-report/"

OUTCOMES = ("pass", "violation", "error")
STYLES = ("future", "callback", "scenario")
ORIGINS = ("fixed", "generated", "replay")
#: The realism profiles a case's fds can have (``faultio.PROFILES``, spelled out: nothing of faultio is imported).
PROFILES = ("raw", "cpython")
SOURCES = ("fd", "loop", "stream", "harness", "log")
CLASSES = ("contract", "design")
#: A detail's class: an invariant's class, or "error" for a case that could not be judged.
DETAIL_CLASSES = (*CLASSES, "error")

# Keys in the order a human wants to read them; keys not listed follow, sorted.
_TOP_ORDER = ("format", "seed", "target", "command", "faults", "operations", "transports", "fail_on",
              "summary", "incomplete", "shard", "campaign", "merged", "not_applicable", "not_run", "cases", "run")
_CASE_ORDER = ("id", "operation", "style", "fault", "transport", "profile", "origin", "seed", "outcome", "fails",
               "violations", "classes", "details", "plan", "replay", "payload", "logs", "trace")
_SUMMARY_ORDER = ("cases", "passed", "violations", "errors", "failing", "contract", "design")
_DETAIL_ORDER = ("slug", "class", "explanation", "message", "step", "event")
_PAYLOAD_ORDER = ("sent", "received", "sent_len", "received_len")
_EVENT_ORDER = ("index", "step", "time", "source", "kind", "detail")
_RUN_ORDER = ("id", "started", "duration_s", "jobs", "python", "profile")

# A record (a dict holding no list: a trace event, a plan step, a detail) is written on one line, so a
# trace reads one event per line; any other container goes on one line if it fits in this many columns.
_LINE_WIDTH = 100

PathLike = Union[str, "os.PathLike[str]"]


class ReportFormatError(ValueError):
    """A report dict or report file does not have the documented shape.

    The message starts with the path of the offending key (``cases[3].outcome``) or the file name.
    """


# ---------------------------------------------------------------------------------------------------
# Validation


def _fail(where: str, problem: str) -> None:
    raise ReportFormatError(f"report{where}: {problem}")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _get(d: dict, key: str, where: str) -> Any:
    if key not in d:
        _fail(where, f"missing key {key!r}")
    return d[key]


def _is_int(value: Any) -> bool:
    # bool is an int subclass; a seed of True is a producer bug, not a seed.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


_KINDS = {
    "str": lambda v: isinstance(v, str),
    "int": _is_int,
    "number": _is_number,
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
    "str-list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "int-or-null": lambda v: v is None or _is_int(v),
    "bool": lambda v: isinstance(v, bool),
}


def _check(d: dict, key: str, where: str, kind: str, choices: tuple = ()) -> Any:
    """Return ``d[key]`` after checking it is a ``kind``; `where` is the path of `d`."""
    value = _get(d, key, where)
    path = f"{where}.{key}" if where else f".{key}"
    if not _KINDS[kind](value):
        _fail(path, f"expected {kind}, got {_type_name(value)} {value!r:.60}")
    if choices and value not in choices:
        _fail(path, f"expected one of {', '.join(map(repr, choices))}, got {value!r:.60}")
    return value


def _check_hex(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, f"expected a hex string, got {_type_name(value)}")
    try:
        bytes.fromhex(value)
    except ValueError:
        _fail(path, f"not a hex string: {value[:40]!r}")


def _validate_case(case: Any, where: str) -> None:
    if not isinstance(case, dict):
        _fail(where, f"expected dict, got {_type_name(case)}")
    for key in ("id", "operation", "fault", "transport", "replay"):
        _check(case, key, where, "str")
    _check(case, "style", where, "str", STYLES)
    _check(case, "origin", where, "str", ORIGINS)
    if "profile" in case:
        _check(case, "profile", where, "str", PROFILES)
    if "seed" in case:
        _check(case, "seed", where, "int")
    for key in ("virtual_ms", "held_ms"):
        if key in case:
            _check(case, key, where, "number")
    outcome = _check(case, "outcome", where, "str", OUTCOMES)
    slugs = _check(case, "violations", where, "str-list")
    if slugs != sorted(set(slugs)):
        _fail(f"{where}.violations", f"slugs must be sorted and unique, got {slugs!r}")
    if outcome == "pass" and slugs:
        _fail(f"{where}.violations", "a passing case has no violations")
    if outcome == "violation" and not slugs:
        _fail(f"{where}.violations", "a case with outcome 'violation' names at least one slug")
    fails = _check(case, "fails", where, "bool")
    if outcome == "pass" and fails:
        _fail(f"{where}.fails", "a passing case does not fail the run")
    if outcome == "error" and not fails:
        _fail(f"{where}.fails", "a case that could not be judged always fails the run")
    classes = _check(case, "classes", where, "str-list")
    if classes != sorted(set(classes)) or any(c not in CLASSES for c in classes):
        _fail(f"{where}.classes", f"expected sorted, unique classes from {CLASSES}, got {classes!r}")
    if bool(classes) != bool(slugs):
        _fail(f"{where}.classes", "a case has classes exactly when it has violations")
    for i, detail in enumerate(_check(case, "details", where, "list")):
        dwhere = f"{where}.details[{i}]"
        if not isinstance(detail, dict):
            _fail(dwhere, f"expected dict, got {_type_name(detail)}")
        for key in ("slug", "explanation", "message"):
            _check(detail, key, dwhere, "str")
        _check(detail, "class", dwhere, "str", DETAIL_CLASSES)
        _check(detail, "step", dwhere, "int-or-null")
        if "event" in detail:
            _check(detail, "event", dwhere, "int")
    plan = _check(case, "plan", where, "dict")
    for direction in ("read", "write"):
        for i, step in enumerate(_check(plan, direction, f"{where}.plan", "list")):
            swhere = f"{where}.plan.{direction}[{i}]"
            if not isinstance(step, dict):
                _fail(swhere, f"expected dict, got {_type_name(step)}")
            _check(step, "kind", swhere, "str")
    if "payload" in case:
        payload = _check(case, "payload", where, "dict")
        for key in ("sent", "received"):
            _check_hex(_get(payload, key, f"{where}.payload"), f"{where}.payload.{key}")
        for key in ("sent_len", "received_len"):
            if key in payload:
                _check(payload, key, f"{where}.payload", "int")
    if "logs" in case:
        for i, record in enumerate(_check(case, "logs", where, "list")):
            lwhere = f"{where}.logs[{i}]"
            if not isinstance(record, dict):
                _fail(lwhere, f"expected dict, got {_type_name(record)}")
            for key in ("logger", "level", "message"):
                _check(record, key, lwhere, "str")
    if "trace" in case:
        for i, event in enumerate(_check(case, "trace", where, "list")):
            ewhere = f"{where}.trace[{i}]"
            if not isinstance(event, dict):
                _fail(ewhere, f"expected dict, got {_type_name(event)}")
            if "index" in event:
                _check(event, "index", ewhere, "int")
            _check(event, "step", ewhere, "int")
            _check(event, "time", ewhere, "number")
            _check(event, "source", ewhere, "str", SOURCES)
            _check(event, "kind", ewhere, "str")
            _check(event, "detail", ewhere, "dict")


def validate_report(d: Any) -> None:
    """Check that `d` has the shape of a ``faultio-report/2`` dict; return None or raise.

    Raises `ReportFormatError` (a `ValueError`) whose message names the missing or bad key by its path,
    for example ``report.cases[2].violations: slugs must be sorted and unique``. Unknown keys are
    allowed (later minor additions must not break older readers); the summary must agree with the cases.
    """
    if not isinstance(d, dict):
        raise ReportFormatError(f"report: expected a dict, got {_type_name(d)}")
    fmt = _check(d, "format", "", "str")
    if fmt != FORMAT:
        _fail(".format", f"unsupported format {fmt!r}; this reader understands {FORMAT!r}")
    _check(d, "seed", "", "int")
    _check(d, "target", "", "str")
    _check(d, "command", "", "str")
    for key in ("faults", "operations", "transports"):
        _check(d, key, "", "str-list")
    fail_on = _check(d, "fail_on", "", "str-list")
    if not fail_on or any(c not in CLASSES for c in fail_on) or fail_on != sorted(set(fail_on)):
        _fail(".fail_on", f"expected a sorted, non-empty list of classes from {CLASSES}, got {fail_on!r}")
    summary = _check(d, "summary", "", "dict")
    for key in _SUMMARY_ORDER:
        _check(summary, key, ".summary", "int")
    for i, item in enumerate(_check(d, "not_applicable", "", "list")):
        if not isinstance(item, dict):
            _fail(f".not_applicable[{i}]", f"expected dict, got {_type_name(item)}")
        for key in ("slug", "reason"):
            _check(item, key, f".not_applicable[{i}]", "str")
    for i, item in enumerate(_check(d, "not_run", "", "list") if "not_run" in d else ()):
        if not isinstance(item, dict):
            _fail(f".not_run[{i}]", f"expected dict, got {_type_name(item)}")
        for key in ("what", "reason"):
            _check(item, key, f".not_run[{i}]", "str")
    if "incomplete" in d:
        incomplete = _check(d, "incomplete", "", "dict")
        _check(incomplete, "reason", ".incomplete", "str")
        _check(incomplete, "planned", ".incomplete", "int")
        ran = _check(incomplete, "ran", ".incomplete", "int")
        if ran != len(d.get("cases", ())):
            _fail(".incomplete.ran", f"is {ran} but the report holds {len(d.get('cases', ()))} cases")
    cases = _check(d, "cases", "", "list")
    seen: dict[str, int] = {}
    counts = dict.fromkeys(OUTCOMES, 0)
    by_class = dict.fromkeys(CLASSES, 0)
    failing = 0
    for i, case in enumerate(cases):
        _validate_case(case, f".cases[{i}]")
        if case["id"] in seen:
            _fail(f".cases[{i}].id", f"duplicate id {case['id']!r} (also cases[{seen[case['id']]}])")
        seen[case["id"]] = i
        counts[case["outcome"]] += 1
        for klass in case["classes"] if case["outcome"] == "violation" else ():
            by_class[klass] += 1
        failing += case["fails"]
        # A case may say what it was judged by (a pytest session mixes streams, each with its default).
        case_fail_on = _check(case, "fail_on", f".cases[{i}]", "str-list") if "fail_on" in case else fail_on
        if case["outcome"] == "violation" and case["fails"] != any(c in case_fail_on for c in case["classes"]):
            _fail(f".cases[{i}].fails", f"is {case['fails']} but the run fails on {case_fail_on} and the case's "
                  f"findings are {case['classes']}")
    expected = {"cases": len(cases), "passed": counts["pass"], "violations": counts["violation"],
                "errors": counts["error"], "failing": failing, **by_class}
    for key, value in expected.items():
        if summary[key] != value:
            _fail(f".summary.{key}", f"is {summary[key]} but the cases give {value}")
    _validate_scale(d)
    run = _check(d, "run", "", "dict")
    for key in ("id", "started", "python"):
        _check(run, key, ".run", "str")
    _check(run, "duration_s", ".run", "number")
    _check(run, "jobs", ".run", "int")
    if "profile" in run:
        _check(run, "profile", ".run", "str", PROFILES)


def _validate_scale(d: dict) -> None:
    """The optional ``shard``, ``campaign`` and ``merged`` blocks (a shard's report, a campaign's, a merge's)."""
    if "shard" in d:
        shard = _check(d, "shard", "", "dict")
        index, count = _check(shard, "index", ".shard", "int"), _check(shard, "count", ".shard", "int")
        if not 0 <= index < count:
            _fail(".shard", f"index {index} of {count} shards; an index is counted from 0 and below the count")
    if "campaign" in d:
        campaign = _check(d, "campaign", "", "dict")
        for key in ("chunks", "cases", "replayed", "replayed_failing", "removed", "found", "stored", "cells",
                    "cells_failing"):
            if _check(campaign, key, ".campaign", "int") < 0:
                _fail(f".campaign.{key}", "a count is 0 or more")
        for key in ("budget_s", "elapsed_s", "cases_per_s"):
            _check(campaign, key, ".campaign", "number")
        _check(campaign, "stopped", ".campaign", "str")
    if "merged" in d:
        merged = _check(d, "merged", "", "dict")
        _check(merged, "shards", ".merged", "int")
        for i, part in enumerate(_check(merged, "from", ".merged", "list")):
            if not isinstance(part, dict):
                _fail(f".merged.from[{i}]", f"expected dict, got {_type_name(part)}")
            for key in ("shard", "cases"):
                _check(part, key, f".merged.from[{i}]", "int")
            _check(part, "run", f".merged.from[{i}]", "str")


# ---------------------------------------------------------------------------------------------------
# JSON text


def _ordered(d: dict, order: tuple) -> dict:
    head = {k: d[k] for k in order if k in d}
    tail = {k: d[k] for k in sorted(d) if k not in head}
    return {**head, **tail}


def _canonical(report: dict) -> dict:
    """Return a copy of `report` with every dict in its documented key order."""
    out = _ordered(report, _TOP_ORDER)
    if isinstance(out.get("summary"), dict):
        out["summary"] = _ordered(out["summary"], _SUMMARY_ORDER)
    if isinstance(out.get("run"), dict):
        out["run"] = _ordered(out["run"], _RUN_ORDER)
    cases = []
    for case in out.get("cases", ()):
        case = _ordered(case, _CASE_ORDER)
        case["details"] = [_ordered(x, _DETAIL_ORDER) for x in case.get("details", ())]
        plan = case.get("plan", {})
        case["plan"] = {k: [_ordered(s, ("kind",)) for s in plan[k]] for k in ("read", "write")
                        if k in plan}
        case["plan"].update({k: plan[k] for k in sorted(plan) if k not in case["plan"]})
        if "payload" in case:
            case["payload"] = _ordered(case["payload"], _PAYLOAD_ORDER)
        if "trace" in case:
            case["trace"] = [_ordered({**e, "detail": _ordered(e.get("detail", {}), ())}, _EVENT_ORDER)
                             for e in case["trace"]]
        cases.append(case)
    if "cases" in out:
        out["cases"] = cases
    return out


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and all(
        not isinstance(v, list) and (not isinstance(v, dict) or _is_record(v)) for v in value.values())


def _encode(value: Any, indent: int, out: list[str]) -> None:
    compact = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
    if (not isinstance(value, (dict, list)) or not value or _is_record(value)
            or indent + len(compact) <= _LINE_WIDTH):
        out.append(compact)
        return
    pad = " " * (indent + 2)
    opener, closer = ("{", "}") if isinstance(value, dict) else ("[", "]")
    out.append(opener + "\n")
    items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    for i, (key, item) in enumerate(items):
        out.append(pad)
        if key is not None:
            prefix = json.dumps(key, ensure_ascii=True) + ": "
            out.append(prefix)
        _encode(item, indent + 2, out)
        out.append(",\n" if i < len(items) - 1 else "\n")
    out.append(" " * indent + closer)


def dumps_report(d: dict) -> str:
    """Serialise a report as JSON text: documented key order, 2-space indent, ASCII, trailing newline.

    Short containers (a trace event, a plan step) stay on one line. The same dict always gives the same
    text. The report is validated first, so a malformed dict never reaches disk.
    """
    validate_report(d)
    out: list[str] = []
    _encode(_canonical(d), 0, out)
    out.append("\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------
# Files


def write_atomic(path: PathLike, data: Union[str, bytes]) -> Path:
    """Write `data` (str is encoded as UTF-8) to `path` atomically and durably; return the path.

    The bytes go to a temporary file in the same directory, which is flushed, fsynced and renamed over
    `path` with `os.replace`. If anything fails the temporary file is removed and `path` is untouched.
    A new file gets mode 0644; an existing file keeps its mode.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    # Persist the rename itself; not every platform lets a directory be opened, and that is fine.
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return target


def load_report(path: PathLike) -> dict:
    """Read and validate a ``report.json``; return the dict.

    Raises `ReportFormatError` naming the file when it is not JSON, is not a faultio report, has a
    format version this code does not understand, or does not validate.
    """
    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportFormatError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(d, dict) or not isinstance(d.get("format"), str):
        raise ReportFormatError(f"{p}: not a faultio report (no 'format' key)")
    fmt = d["format"]
    if fmt != FORMAT:
        if fmt.startswith(FORMAT_PREFIX):
            raise ReportFormatError(
                f"{p}: report format {fmt!r} is not supported; this version of faultio reads {FORMAT!r}. "
                "Re-run the harness with this version, or read the file with the faultio that wrote it.")
        raise ReportFormatError(f"{p}: not a faultio report (format {fmt!r})")
    try:
        validate_report(d)
    except ReportFormatError as exc:
        raise ReportFormatError(f"{p}: {exc}") from None
    return d
