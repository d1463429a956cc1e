"""Differential runs: the same cases against several targets, and where what their users saw disagrees.

Rules for this module:
- Comparing is pure and runs nothing: ``observe`` turns one ``CaseResult`` into an ``Observation`` (what
  the stream's user saw), ``compare`` names the ``DIMENSIONS`` in which observations differ, ``diff_results``
  lines the targets up case by case, ``diff_json`` makes the versioned document (``FORMAT``) that
  ``diff.json`` holds and every view (the terminal table, ``--json``, ``diff.html``) is rendered from.
- Running is ``run_targets`` (one ``run_cases`` per target, in worker processes); the CLI glue is
  ``add_parser`` and ``main_diff`` (wired into ``python -m harness`` by ``_cli``, which this module never
  imports).
- No target is special: any spec ``load_target`` accepts is run and compared the same way. A case a target
  cannot run (a transport not in ``Target.transports``, an operation or style its ``Target.lacking``
  names) is ``n/a`` for it, never a divergence.
- A case some target could not judge (``error``) is shown as such: it diverges on ``outcome`` from a target
  that judged it, and the other dimensions are compared only between targets that judged it.
- Exit codes as ``run``'s: 0 the targets agree, 1 they diverge (or a case could not be judged on some
  target), 2 usage error, 3 internal error; humans on stderr, ``--json`` alone on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

from ._case import Case, CaseResult
from ._cli_common import UsageError, check_report_dir, whole_number, worker_count

#: Version of the diff document (``diff.json``, ``--json``).
FORMAT = "faultio-diff/1"
#: What two targets can disagree on, in the order they are shown.
DIMENSIONS = ("outcome", "bytes", "error", "order")
DIMENSION_HELP = {
    "outcome": "pass, violation or error, and the broken invariants' slugs",
    "bytes": "the bytes delivered to the caller: how many, their CRC-32 and the first ones kept",
    "error": "the errors that ended reads and writes (class names), and the stream's error at close",
    "order": "the sequence of what the caller saw (read results, streamed chunks, refusals, writes, the "
             "close callback), sizes and error names left out",
}
NOT_APPLICABLE = "n/a"
#: What an observation's outcome may be: a case result's, or not applicable.
OUTCOMES = ("pass", "violation", "error", NOT_APPLICABLE)
EXIT_AGREE, EXIT_DIVERGE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
#: Bytes of each target's delivered prefix the document keeps (hex).
HEAD_KEEP = 32
#: Widest a cell of the terminal table gets (longer ones end with an ellipsis).
CELL_WIDTH = 52
CASE_WIDTH = 48


class DiffUsageError(UsageError):
    """A bad ``diff`` command line: one line naming the bad value and the valid ones."""


# --- comparing (pure) ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Observation:
    """What one target's user saw in one case (``observe``), or that the case was not applicable to it."""

    target: str
    #: ``pass``, ``violation``, ``error`` or ``n/a``.
    outcome: str
    slugs: tuple[str, ...] = ()
    #: Why the case could not be judged (``error`` only).
    error: str = ""
    #: Bytes delivered to the caller, and their CRC-32 (``None``/``""`` when the run did not tell).
    delivered: int | None = None
    digest: str = ""
    #: The first delivered bytes.
    head: bytes = b""
    #: Class names of the errors that ended reads or writes, each once, in the order first seen.
    errors: tuple[str, ...] = ()
    #: Whether the stream was seen closed, and the class name of its ``error`` then ("" for none).
    closed: bool = False
    close_error: str = ""
    #: What the caller saw, in order, as event kinds (``read ok``, ``chunk``, ``close-callback``, ...).
    order: tuple[str, ...] = ()
    #: The monitor's story as recorded (sizes, names and repeat counts included).
    story: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not valid; valid: {', '.join(OUTCOMES)}")

    @property
    def applicable(self) -> bool:
        return self.outcome != NOT_APPLICABLE

    @property
    def judged(self) -> bool:
        return self.outcome in ("pass", "violation")


def _repeats(entry: str) -> tuple[str, int]:
    """``("read ok 1", 3)`` for the story entry ``read ok 1 x3``."""
    text, sep, count = entry.rpartition(" x")
    if sep and count.isdigit():
        return text, int(count)
    return entry, 1


def story_kind(text: str) -> str:
    """The kind of a story entry: ``read ok``, ``chunk``, ``read raised``, ``close-callback``, ... (sizes and
    error names left out)."""
    words = text.split()
    if not words:
        return ""
    if words[0] in ("read", "write") and len(words) > 1:
        return f"{words[0]} {words[1]}"
    return words[0]


def observe(result: CaseResult, target: str) -> Observation:
    """What ``result`` shows ``target``'s user saw. A result without a story (a case that never ran its
    scenario) has only its outcome and the bytes it kept."""
    errors: list[str] = []
    order: list[str] = []
    closed, close_error = False, ""
    delivered: int | None = None
    digest = ""
    for entry in result.story:
        text, count = _repeats(entry)
        words = text.split()
        kind = story_kind(text)
        if kind == "delivered" and len(words) >= 3 and words[1].isdigit():
            delivered, digest = int(words[1]), words[2].partition(":")[2] or words[2]
            continue
        if kind == "closed":
            if not closed:
                closed, close_error = True, words[1] if len(words) > 1 else ""
            continue
        if kind in ("read raised", "read closed", "read failed", "write failed") and len(words) > 2:
            if words[2] not in errors:
                errors.append(words[2])
        order += [kind] * count
    return Observation(target=target, outcome=result.outcome, slugs=tuple(result.slugs),
                       error=result.error[:300], delivered=delivered, digest=digest,
                       head=bytes(result.received[:HEAD_KEEP]), errors=tuple(errors), closed=closed,
                       close_error=close_error, order=tuple(order), story=tuple(result.story))


def not_applicable(target: str) -> Observation:
    """The observation of a case ``target`` cannot run."""
    return Observation(target=target, outcome=NOT_APPLICABLE)


def _key(observation: Observation, dimension: str) -> Any:
    if dimension == "outcome":
        return observation.outcome, observation.slugs
    if dimension == "bytes":
        return observation.delivered, observation.digest, observation.head
    if dimension == "error":
        return observation.errors, observation.closed, observation.close_error
    return observation.order


def compare(observations: Sequence[Observation]) -> tuple[str, ...]:
    """The dimensions in which ``observations`` (one per target, of one case) differ. ``n/a`` ones are left
    out; ``outcome`` compares every other one, the rest only those that were judged (not ``error``)."""
    applicable = [o for o in observations if o.applicable]
    judged = [o for o in applicable if o.judged]
    differ = []
    for dimension in DIMENSIONS:
        among = applicable if dimension == "outcome" else judged
        if len({_key(o, dimension) for o in among}) > 1:
            differ.append(dimension)
    return tuple(differ)


def first_difference(sequences: Sequence[Sequence[Any]]) -> int | None:
    """The first index at which ``sequences`` differ (a shorter one ends there), or ``None``."""
    if len(sequences) < 2:
        return None
    longest = max(len(s) for s in sequences)
    for i in range(longest):
        if len({s[i] if i < len(s) else None for s in sequences}) > 1:
            return i
    return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CaseDiff:
    """One case seen by every target: the observations, in target order, and where they diverge."""

    case: Case
    observations: tuple[Observation, ...]
    diverges: tuple[str, ...]

    @property
    def unjudged(self) -> bool:
        """Whether some target could not judge this case (an ``error`` outcome)."""
        return any(o.outcome == "error" for o in self.observations)


def diff_results(cases: Sequence[Case], targets: Sequence[str],
                 results: Mapping[str, Mapping[str, CaseResult]]) -> list[CaseDiff]:
    """Each of ``cases`` compared across ``targets``: ``results[target][case_id]`` is that target's result,
    and a case missing there was not applicable to it."""
    diffs = []
    for case in cases:
        observations = tuple(observe(results[t][case.id], t) if case.id in results.get(t, {}) else
                             not_applicable(t) for t in targets)
        diffs.append(CaseDiff(case=case, observations=observations, diverges=compare(observations)))
    return diffs


def summarize(diffs: Sequence[CaseDiff]) -> dict[str, Any]:
    """Counts: cases, diverging cases, diverging cases per dimension, cases some target could not judge,
    cases not applicable to some target, and whether the targets agree (nothing diverges or is unjudged)."""
    diverging = [d for d in diffs if d.diverges]
    unjudged = [d for d in diffs if d.unjudged]
    return {
        "cases": len(diffs),
        "diverging": len(diverging),
        "by_dimension": {dim: sum(dim in d.diverges for d in diffs) for dim in DIMENSIONS},
        "unjudged": len(unjudged),
        "not_applicable": sum(any(not o.applicable for o in d.observations) for d in diffs),
        "agree": not diverging and not unjudged,
    }


def _observation_json(o: Observation) -> dict[str, Any]:
    return {
        "target": o.target,
        "outcome": o.outcome,
        "violations": list(o.slugs),
        "error": o.error,
        "delivered": o.delivered,
        "crc32": o.digest,
        "received_head": o.head.hex(),
        "errors": list(o.errors),
        "closed": o.closed,
        "close_error": o.close_error,
        "order": list(o.order),
        "story": list(o.story),
    }


def diff_json(diffs: Sequence[CaseDiff], *, targets: Sequence[str], seed: int, faults: Sequence[str],
              operations: Sequence[str], transports: Sequence[str], command: str,
              run: Mapping[str, Any]) -> dict[str, Any]:
    """The diff document: what ``diff.json`` holds and ``--json`` prints (format ``FORMAT``)."""
    return {
        "format": FORMAT,
        "seed": seed,
        "targets": list(targets),
        "faults": list(faults),
        "operations": list(operations),
        "transports": list(transports),
        "command": command,
        "run": dict(run),
        "dimensions": {dim: DIMENSION_HELP[dim] for dim in DIMENSIONS},
        "summary": summarize(diffs),
        "cases": [{
            "id": d.case.id,
            "operation": d.case.operation,
            "style": d.case.style,
            "fault": d.case.fault,
            "transport": d.case.transport,
            "diverges": list(d.diverges),
            "unjudged": d.unjudged,
            "order_differs_at": (first_difference([o.order for o in d.observations if o.judged])
                                 if "order" in d.diverges else None),
            "observations": [_observation_json(o) for o in d.observations],
        } for d in diffs],
    }


def summary_line(doc: Mapping[str, Any]) -> str:
    """``N cases, K diverge (by dimension: outcome 2, bytes 2)``, and the unjudged and n/a counts."""
    s = doc["summary"]
    dims = ", ".join(f"{dim} {n}" for dim, n in s["by_dimension"].items() if n) or "none"
    line = f"{s['cases']} case{'s' * (s['cases'] != 1)}, {s['diverging']} diverge (by dimension: {dims})"
    if s["unjudged"]:
        line += f"; {s['unjudged']} could not be judged on some target"
    if s["not_applicable"]:
        line += f"; {s['not_applicable']} n/a on some target"
    return line


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def cells(case: Mapping[str, Any]) -> list[str]:
    """One short text per target for a case of the document: its outcome, what it shows in each diverging
    dimension (bytes delivered, with their CRC-32 when the counts agree; the errors and the error at close;
    the event where its order first differs), then the broken invariants' slugs."""
    observations = case["observations"]
    dims, at = case["diverges"], case["order_differs_at"]
    counts = {o["delivered"] for o in observations if o["outcome"] in ("pass", "violation")}
    out = []
    for o in observations:
        if o["outcome"] == NOT_APPLICABLE:
            out.append(NOT_APPLICABLE)
            continue
        if o["outcome"] == "error":
            out.append(f"error: {o['error']}")
            continue
        parts = [o["outcome"]]
        if "bytes" in dims:
            size = "?" if o["delivered"] is None else f"{o['delivered']}B"
            parts.append(f"{size} crc32:{o['crc32'] or '?'}" if len(counts) == 1 else size)
        if "error" in dims:
            closed = (o["close_error"] or "None") if o["closed"] else "open"
            parts.append(f"errors {','.join(o['errors']) or '-'}; closed {closed}")
        if at is not None:
            parts.append(f"@{at} {o['order'][at] if at < len(o['order']) else 'end'}")
        if o["violations"]:
            parts.append(",".join(o["violations"]))
        out.append("; ".join(parts))
    return out


def render_table(doc: Mapping[str, Any]) -> list[str]:
    """The divergence table: a header, then one row per case that diverges or that some target could not
    judge (case id, what differs, then a cell per target). No rows when the targets agree."""
    rows = []
    for case in doc["cases"]:
        if case["diverges"] or case["unjudged"]:
            what = ",".join(case["diverges"]) or "unjudged"
            rows.append([case["id"], what, *cells(case)])
    if not rows:
        return []
    head = ["case", "differs in", *doc["targets"]]
    widths = [CASE_WIDTH, 26] + [CELL_WIDTH] * len(doc["targets"])
    table = [[_cut(str(c), w) for c, w in zip(row, widths)] for row in [head, *rows]]
    sizes = [max(len(row[i]) for row in table) for i in range(len(head))]
    return ["  ".join(c.ljust(n) for c, n in zip(row, sizes)).rstrip() for row in table]


# --- running -------------------------------------------------------------------------------------------


def applies(target: Any, case: Case) -> bool:
    """Whether ``target`` can run ``case``: its transport is one the target is built for, and the target
    does not declare its operation or style lacking (``Target.lacking``, where a target has it)."""
    if case.transport not in target.transports:
        return False
    lacking = getattr(target, "lacking", None)
    return not (callable(lacking) and lacking(case.operation, case.style))


def run_targets(cases: Sequence[Case], targets: Sequence[tuple[str, Any]], *, jobs: int, timeout_s: float,
                progress: TextIO | None = None) -> dict[str, dict[str, CaseResult]]:
    """Run each target's applicable ``cases`` (``run_cases``, contained in worker processes);
    ``{spec: {case id: result}}``. ``progress`` gets one line per target."""
    from ._matrix import run_cases
    from ._runner import forget_hangs

    results: dict[str, dict[str, CaseResult]] = {}
    for spec, target in targets:
        mine = [c for c in cases if applies(target, c)]
        forget_hangs()
        t0 = time.perf_counter()
        done = run_cases(mine, target_spec=spec, jobs=jobs, timeout_s=timeout_s, contain=True)
        results[spec] = {r.case.id: r for r in done}
        if progress is not None:
            bad = sum(r.outcome != "pass" for r in done)
            skipped = f", {len(cases) - len(mine)} n/a" if len(mine) < len(cases) else ""
            print(f"{spec}: {len(done)} cases run ({bad} not passing{skipped}) in "
                  f"{time.perf_counter() - t0:.1f}s", file=progress)
    return results


# --- the command line ----------------------------------------------------------------------------------


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``diff`` command to ``sub`` (an ``add_subparsers()`` result) and return its parser."""
    diff = sub.add_parser("diff", help="run the same cases against several targets and show where they disagree",
                          description="Run the same fixed cases against each target and report, case by case, "
                          "where the targets disagree: " + "; ".join(f"{d}: {h}" for d, h in
                                                                   DIMENSION_HELP.items()) + ".")
    diff.add_argument("--targets", required=True, metavar="A,B[,C...]",
                      help="two or more targets, comma-separated: built-in names (see `list`) or module:factory")
    diff.add_argument("--faults", default="all", help="fault kinds: all, or a comma list (default: all)")
    diff.add_argument("--transport", default="all", help="plain, ssl or all (default: all)")
    diff.add_argument("--operations", default="all", help="operations: all, or a comma list (see `list`)")
    diff.add_argument("--seed", type=whole_number, default=0, help="the seed everything derives from")
    diff.add_argument("--jobs", type=worker_count, default=None, help="worker processes, 1 or more (default: one per core)")
    diff.add_argument("--report", default="reports", metavar="DIR",
                      help="where run directories go (default reports/): diff.html and diff.json")
    diff.add_argument("--no-report", action="store_true", help="write no report files")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON on stdout, nothing else")
    diff.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    return diff


@dataclasses.dataclass(frozen=True)
class _Request:
    targets: tuple[tuple[str, Any], ...]
    faults: tuple[str, ...]
    transports: tuple[str, ...]
    operations: tuple[str, ...]


def _request(args: argparse.Namespace) -> _Request:
    """The checked command line; ``DiffUsageError`` names what is wrong."""
    from faultio import PlanError, parse_kinds

    from ._matrix import parse_operations, parse_transports
    from ._targets import BUILTIN_TARGETS, TargetError, load_target

    specs = [s.strip() for s in str(args.targets).split(",")]
    if any(not s for s in specs):
        raise DiffUsageError(f"--targets {args.targets!r}: an empty name; give two or more targets separated by "
                             "commas, e.g. --targets faultio,mypkg.streams:make_stream")
    if len(specs) < 2:
        raise DiffUsageError(f"--targets {args.targets!r}: diff needs two or more targets to compare, separated by "
                             f"commas (built-in: {', '.join(BUILTIN_TARGETS)}; or module:factory)")
    twice = sorted({s for s in specs if specs.count(s) > 1})
    if twice:
        raise DiffUsageError(f"--targets: {', '.join(twice)} named twice; name each target once")
    try:
        transports = parse_transports(args.transport)
    except ValueError as exc:
        raise DiffUsageError(f"--transport: {exc}") from None
    try:  # the TLS kinds count on the ssl transport (and "all" includes them there), as for run
        faults = tuple(parse_kinds(args.faults, transports=transports))
    except PlanError as exc:
        raise DiffUsageError(f"--faults: {exc}") from None
    try:
        operations = parse_operations(args.operations)
    except ValueError as exc:
        raise DiffUsageError(f"--operations: {exc}") from None
    targets = []
    for spec in specs:
        try:
            targets.append((spec, load_target(spec)))
        except TargetError as exc:
            raise DiffUsageError(str(exc)) from None
    if not args.no_report:
        check_report_dir(args.report)
    return _Request(tuple(targets), faults, transports, operations)



def _run_dir(base: Path, seed: int) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name, n = f"diff-{stamp}-s{seed}", 1
    while (base / name).exists():
        n += 1
        name = f"diff-{stamp}-s{seed}-{n}"
    return base / name


def command_line(args: argparse.Namespace) -> str:
    """The ``python -m harness diff ...`` command that reproduces this diff."""
    parts = ["python", "-m", "harness", "diff", "--targets", args.targets, "--faults", args.faults,
             "--transport", args.transport]
    if args.operations != "all":
        parts += ["--operations", args.operations]
    parts += ["--seed", str(args.seed)]
    return " ".join(shlex.quote(p) for p in parts)


def main_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``python -m harness diff`` as parsed into ``args`` (``add_parser``'s options); return the exit
    code: 0 the targets agree, 1 they diverge or a case could not be judged, 2 usage error, 3 internal
    error. A Ctrl-C or SIGTERM ends it with ``KeyboardInterrupt`` (``run``'s exit 4)."""
    try:
        request = _request(args)
    except UsageError as exc:
        print(f"python -m harness diff: {str(exc).splitlines()[0]}", file=err)
        return EXIT_USAGE
    try:
        return _diff(request, args, out, err)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception:
        print("harness: internal error (this is a bug in faultio, not in the targets compared):", file=err)
        traceback.print_exc(file=err)
        return EXIT_INTERNAL


def _diff(request: _Request, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._matrix import build_cases, default_jobs
    from ._runner import calibrated_timeout

    chatty = not (args.quiet or args.json)
    for spec, target in request.targets:
        lacking = [t for t in request.transports if t not in target.transports]
        if lacking and chatty:
            print(f"note: {spec} has no {'/'.join(lacking)} variant; its {'/'.join(lacking)} cases are n/a",
                  file=err)
    jobs = args.jobs or default_jobs()
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    cases = build_cases(faults=request.faults, transports=request.transports, operations=request.operations,
                        seed=args.seed)
    timeout_s, reference = calibrated_timeout()
    if chatty:
        print(f"case timeout {timeout_s:g} s (a reference case took {reference * 1000:.0f} ms here); "
              f"{len(cases)} cases x {len(request.targets)} targets", file=err)
    from ._runner import stop_signals

    with stop_signals():
        results = run_targets(cases, request.targets, jobs=jobs, timeout_s=timeout_s,
                              progress=err if chatty else None)
    specs = [spec for spec, _ in request.targets]
    diffs = diff_results(cases, specs, results)
    run_dir = None if args.no_report else _run_dir(Path(args.report), args.seed)
    run = {"id": run_dir.name if run_dir else None, "started": started.isoformat(timespec="seconds"),
           "duration_s": round(time.perf_counter() - t0, 3), "jobs": jobs,
           "python": sys.version.split()[0]}
    doc = diff_json(diffs, targets=specs, seed=args.seed, faults=request.faults, operations=request.operations,
                    transports=request.transports, command=command_line(args), run=run)
    page = None
    if run_dir is not None:
        from ._diff_html import write_diff_dir

        page = write_diff_dir(doc, run_dir)
    if args.json:
        out.write(json.dumps(doc, indent=2) + "\n")
    if chatty:
        for line in render_table(doc):
            print(line, file=err)
    where = f"; report: {page}" if page is not None else ""
    print(f"{summary_line(doc)} across {len(specs)} targets (seed {args.seed}){where}", file=err)
    return EXIT_AGREE if doc["summary"]["agree"] else EXIT_DIVERGE


__all__ = ["CaseDiff", "DIMENSIONS", "FORMAT", "Observation", "add_parser", "applies", "cells", "compare",
           "diff_json", "diff_results", "first_difference", "main_diff", "not_applicable", "observe",
           "render_table", "run_targets", "story_kind", "summarize", "summary_line"]
