"""``python -m harness merge DIR...``: the reports of a run's shards as the one report of the whole run.

Rules for this module:
- Input is only the shards' ``report.json`` files (``load_report`` validates each); nothing is run again and
  no module a report names is imported.
- Shards belong together when everything outside ``run`` that says what ran is equal (seed, target, faults,
  operations, transports, what fails, profile, the command without ``--shard``, the campaign's budget) and
  they are shards ``0/n`` to ``n-1/n``, each once; anything else is a usage error naming the two files and
  the key. No case id may appear in two shards.
- The merged report has the documented shape and goes through the same writers as ``run``'s (report.json,
  index.html, JUnit): counts are recomputed from the cases, replay commands point at the merged report,
  cases are in matrix order (fixed cases: transport, fault, operation, style; then generated cases: transport,
  operation, style, example), which is the order of the unsharded run. The exit code is ``run``'s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
from pathlib import Path
from typing import Any, Sequence, TextIO

from ._cli_common import EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS, UsageError, check_report_dir

#: The keys whose values must be equal in every shard of one run.
SAME = ("format", "seed", "target", "faults", "operations", "transports", "fail_on")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``merge`` command to ``sub`` (an ``add_subparsers()`` result) and return its parser."""
    merge = sub.add_parser("merge", help="merge the reports of a run's shards (run --shard i/n) into one report",
                           description="Merge the report.json of every shard of one run (run --shard i/n, on any "
                           "machines) into one report: report.json, index.html and, if asked, JUnit XML.")
    merge.add_argument("sources", nargs="+", metavar="DIR",
                       help="a shard's run directory (holding report.json) or its report.json; one per shard")
    merge.add_argument("--report", default="reports", metavar="DIR",
                       help="where the merged run directory goes (default reports/)")
    merge.add_argument("--no-report", action="store_true", help="write no report files")
    merge.add_argument("--json", action="store_true", help="print the merged report as JSON on stdout, nothing else")
    merge.add_argument("--junit-xml", metavar="PATH", help="also write JUnit XML here")
    merge.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    return merge


def _load(source: str) -> tuple[Path, dict[str, Any]]:
    from ._report_json import ReportFormatError, load_report

    path = Path(source)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise UsageError(f"merge: {source} is not a report: give a shard's run directory (with report.json) or its "
                         "report.json")
    try:
        return path, load_report(path)
    except (ReportFormatError, OSError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"merge: {str(exc).splitlines()[0]}") from None


def unsharded_command(command: str) -> str:
    """``command`` without its ``--shard i/n``: the command of the whole run."""
    try:
        parts = shlex.split(command)
    except ValueError:
        return command
    kept: list[str] = []
    skip = False
    for part in parts:
        if skip:
            skip = False
        elif part == "--shard":
            skip = True
        elif not part.startswith("--shard="):
            kept.append(part)
    return shlex.join(kept)


def _identity(report: dict[str, Any]) -> dict[str, Any]:
    """What must be equal in every shard of one run."""
    ident = {key: report.get(key) for key in SAME}
    ident["profile"] = report["run"].get("profile")
    ident["command"] = unsharded_command(report["command"])
    campaign = report.get("campaign")
    ident["campaign budget"] = None if not isinstance(campaign, dict) else campaign.get("budget_s")
    return ident


def check_shards(loaded: Sequence[tuple[Path, dict[str, Any]]]) -> int:
    """Raise ``UsageError`` unless ``loaded`` are the shards ``0/n`` .. ``n-1/n`` of one run; return ``n``."""
    first_path, first = loaded[0]
    where: dict[int, Path] = {}
    count = None
    for path, report in loaded:
        shard = report.get("shard")
        if not (isinstance(shard, dict) and isinstance(shard.get("index"), int)
                and isinstance(shard.get("count"), int)):
            raise UsageError(f"merge: {path} is not the report of a shard (it has no 'shard'); merge takes the "
                             "reports of `run --shard i/n`")
        index, n = shard["index"], shard["count"]
        if count is None:
            count = n
        elif n != count:
            raise UsageError(f"merge: {path} is shard {index}/{n} but {first_path} is one of {count} shards; give "
                             "the shards of one run")
        if index in where:
            raise UsageError(f"merge: shard {index}/{n} is given twice ({where[index]} and {path}); give each "
                             "shard once")
        where[index] = path
        mine, theirs = _identity(first), _identity(report)
        for key in mine:
            if mine[key] != theirs[key]:
                raise UsageError(f"merge: {path} and {first_path} are not shards of one run: their {key} differ "
                                 f"({json.dumps(theirs[key])[:80]} and {json.dumps(mine[key])[:80]})")
    count = count or 1  # loaded is never empty (merge takes one DIR at least)
    missing = [i for i in range(count) if i not in where]
    if missing:
        names = ", ".join(f"{i}/{count}" for i in missing)
        raise UsageError(f"merge: shard(s) {names} missing; give all {count} shards of the run (got "
                         f"{', '.join(f'{i}/{count}' for i in sorted(where))})")
    owner: dict[str, Path] = {}
    for path, report in loaded:
        for case in report["cases"]:
            if case["id"] in owner:
                raise UsageError(f"merge: case {case['id']!r} is in {owner[case['id']]} and in {path}; shards of one "
                                 "run hold each case once")
            owner[case["id"]] = path
    return count


def matrix_order(report: dict[str, Any]) -> Any:
    """A sort key putting the cases of ``report`` in the order an unsharded run gives them."""
    from ._scenarios import OPERATIONS

    def at(values: Sequence[str], value: str) -> int:
        return values.index(value) if value in values else len(values)

    transports, faults, operations = report["transports"], report["faults"], report["operations"]

    def key(case: dict[str, Any]) -> tuple:
        styles = list(OPERATIONS.get(case["operation"], (None, ()))[1])
        where = (at(transports, case["transport"]), at(operations, case["operation"]), at(styles, case["style"]))
        if case["origin"] == "fixed":
            return (0, where[0], at(faults, case["fault"]), *where[1:], 0, case["id"])
        return (1, *where, 0, case.get("index", 0), case["id"])

    return key


def _merge_campaigns(figures: Sequence[dict[str, Any]], cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The figures of a sharded campaign: counts summed, times of the slowest shard."""
    total = {key: sum(int(f.get(key, 0)) for f in figures)
             for key in ("chunks", "cases", "replayed", "replayed_failing", "removed", "found", "stored")}
    elapsed = max(float(f.get("elapsed_s", 0)) for f in figures)
    failing_cells = {(c["operation"], c["style"], c["transport"]) for c in cases if c["outcome"] != "pass"}
    databases = sorted({str(f["database"]) for f in figures if f.get("database")})
    return {"budget_s": figures[0].get("budget_s"), "elapsed_s": elapsed,
            "examples_per_chunk": figures[0].get("examples_per_chunk"), **total,
            "cases_per_s": round(total["cases"] / elapsed, 1) if elapsed > 0 else 0.0,
            "cells": figures[0].get("cells"), "cells_failing": len(failing_cells),
            "database": ", ".join(databases) or None,
            "stopped": "; ".join(sorted({str(f.get("stopped", "")) for f in figures}))}


def merge_reports(loaded: Sequence[tuple[Path, dict[str, Any]]], *, run_id: str,
                  report_path: Path | None) -> dict[str, Any]:
    """The report of the whole run whose shards' reports are ``loaded`` (checked with ``check_shards``)."""
    from ._report import replay_command, summarize

    count = check_shards(loaded)
    loaded = sorted(loaded, key=lambda item: item[1]["shard"]["index"])
    first = loaded[0][1]
    cases = [dict(case) for _, report in loaded for case in report["cases"]]
    cases.sort(key=matrix_order(first))
    for case in cases:
        case["replay"] = replay_command(report_path, case["id"], target=first["target"])
    not_applicable: dict[str, str] = {}
    not_run: list[dict[str, str]] = []
    for _, report in loaded:
        for item in report["not_applicable"]:
            not_applicable.setdefault(item["slug"], item["reason"])
        for item in report.get("not_run", ()):
            if item not in not_run:
                not_run.append(item)
    runs = [report["run"] for _, report in loaded]
    merged: dict[str, Any] = {key: first[key] for key in SAME}
    merged.update(command=unsharded_command(first["command"]), summary=summarize(cases),
                  not_applicable=[{"slug": s, "reason": not_applicable[s]} for s in sorted(not_applicable)],
                  cases=cases)
    if not_run:
        merged["not_run"] = not_run
    stopped = [(report["shard"], report["incomplete"]) for _, report in loaded if "incomplete" in report]
    if stopped:
        stopped_ids = {report["shard"]["index"] for _, report in loaded if "incomplete" in report}
        planned = sum(info["planned"] for _, info in stopped) + sum(
            len(report["cases"]) for _, report in loaded if report["shard"]["index"] not in stopped_ids)
        merged["incomplete"] = {"reason": "; ".join(f"shard {s['index']}/{s['count']} {info['reason']}"
                                                    for s, info in stopped),
                                "planned": planned, "ran": len(cases)}
    campaigns = [report["campaign"] for _, report in loaded if isinstance(report.get("campaign"), dict)]
    if campaigns:
        merged["campaign"] = _merge_campaigns(campaigns, cases)
    merged["merged"] = {"shards": count, "from": [
        {"shard": report["shard"]["index"], "run": report["run"]["id"], "cases": len(report["cases"]),
         "duration_s": report["run"]["duration_s"], "report": str(path)} for path, report in loaded]}
    started = min(datetime.datetime.fromisoformat(r["started"]) for r in runs)
    merged["run"] = {"id": run_id, "started": started.isoformat(timespec="seconds"),
                     "duration_s": max(float(r["duration_s"]) for r in runs),
                     "jobs": sum(int(r["jobs"]) for r in runs),
                     "python": ", ".join(dict.fromkeys(r["python"] for r in runs)),
                     **({"profile": runs[0]["profile"]} if "profile" in runs[0] else {})}
    return merged


def main_merge(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``merge``; the exit codes of ``run`` (1 when a case fails, 4 when a shard was interrupted)."""
    from ._cli_run import _check_output_file, new_run_id

    loaded = [_load(source) for source in args.sources]
    if not args.no_report:
        check_report_dir(args.report)
    if args.junit_xml:
        _check_output_file(args.junit_xml, "--junit-xml")
    base = Path(args.report)
    run_id = new_run_id(loaded[0][1]["seed"], base) + "-merged"
    report_path = None if args.no_report else base / run_id / "report.json"
    report = merge_reports(loaded, run_id=run_id, report_path=report_path)
    index = None
    if report_path is not None:
        from ._report_html import write_report_dir

        index = write_report_dir(report, report_path.parent,
                                 junit_path=Path(args.junit_xml) if args.junit_xml else None)
    elif args.junit_xml:
        from ._junit import render_junit
        from ._report_json import write_atomic

        write_atomic(Path(args.junit_xml), render_junit(report))
    if args.json:
        from ._report_json import dumps_report

        out.write(dumps_report(report))
    s = report["summary"]
    if not (args.quiet or args.json):
        for case in [c for c in report["cases"] if c["fails"]][:20]:
            print(f"FAIL {case['id']}: {', '.join(case['violations']) or 'error'}", file=err)
            print(f"     {case['replay']}", file=err)
    where = f"; report: {index}" if index is not None else ""
    print(f"merged {report['merged']['shards']} shards: {s['cases']} cases, {s['passed']} passed, {s['violations']} "
          f"with violations ({s['contract']} contract, {s['design']} design), {s['errors']} errors; "
          f"{s['failing']} failing (fails on {', '.join(report['fail_on'])}){where}", file=err)
    if "incomplete" in report:
        print(f"incomplete: {report['incomplete']['reason']}", file=err)
        return EXIT_INTERRUPTED
    return EXIT_VIOLATIONS if s["failing"] else EXIT_OK
