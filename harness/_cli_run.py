"""``python -m harness run``: build the cases, run them in worker processes, write the report, summarise.

Rules for this module:
- Machine output (``--json``) goes to stdout and nothing else does; people and progress go to stderr.
- The report directory is written atomically, file by file; a run that fails half-way leaves no half file.
- The fds' realism profile is ``--profile`` when given, else the target's ``default_profile``; the last line
  says which and why. The cells a target cannot express are not run, and the last line lists them.
- A Ctrl-C or SIGTERM stops every worker and writes the report of what ran, marked incomplete (exit 4).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shlex
import signal
import time
from pathlib import Path
from typing import Any, Sequence, TextIO

from faultio import PlanError, parse_kinds

from ._case import Case, CaseResult
from ._cli_common import (EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS, UsageError, check_report_dir,
                          load_user_invariants, probe_write)
from ._matrix import applies, build_cases, default_jobs, parse_operations, parse_transports, run_cases
from ._report import build_report, replay_command
from ._runner import RunInterrupted, stop_signals
from ._scenarios import OPERATIONS
from ._targets import DEFAULT_TARGET_NAMES, DEFAULT_TARGET_SPEC, TargetError, load_target


class _Progress:
    """A bar on a terminal, plain lines (every tenth) otherwise, nothing when quiet."""

    def __init__(self, total: int, stream: TextIO, quiet: bool) -> None:
        self.total, self.stream, self.quiet = total, stream, quiet
        self.done = self.bad = 0
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self._next_line = max(1, total // 10)

    def __call__(self, result: CaseResult) -> None:
        self.done += 1
        self.bad += result.outcome != "pass"
        if self.quiet:
            return
        if self.tty:
            width = 30
            filled = width * self.done // max(1, self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} cases, "
                              f"{self.bad} failing")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif self.done % self._next_line == 0 or self.done == self.total:
            print(f"{self.done}/{self.total} cases run, {self.bad} failing", file=self.stream)


def new_run_id(seed: int, base: Path) -> str:
    """A new run directory name under ``base``: the time, the seed, and a number if the name is taken."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id = f"{stamp}-s{seed}"
    n = 1
    while (base / run_id).exists():
        n += 1
        run_id = f"{stamp}-s{seed}-{n}"
    return run_id


def _command_line(args: argparse.Namespace) -> str:
    parts = ["python", "-m", "harness", "run", "--faults", args.faults, "--transport", args.transport]
    if args.operations != "all":
        parts += ["--operations", args.operations]
    if args.target != DEFAULT_TARGET_SPEC:
        parts += ["--target", args.target]
    if args.profile is not None:
        parts += ["--profile", args.profile]
    parts += ["--seed", str(args.seed), "--examples", str(args.examples)]
    if getattr(args, "budget", None) is not None:
        parts += ["--budget", f"{args.budget:g}s"]
    if getattr(args, "shard", None) is not None:
        parts += ["--shard", str(args.shard)]
    if args.sequences is not None:
        parts += ["--sequences", str(args.sequences)]
    return " ".join(shlex.quote(p) for p in parts)


def _check_output_file(text: str, option: str) -> None:
    """A file the run will write (``--junit-xml PATH``) must be writable in an existing directory."""
    path = Path(text)
    if path.is_dir():
        raise UsageError(f"{option} {text}: is a directory; give a file path in an existing, writable directory")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {text}: the directory {parent} does not exist; give a file path in an "
                         "existing, writable directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {text}: the directory {parent} is not writable; give a file path in an "
                         "existing, writable directory")
    try:
        probe_write(parent)
    except OSError as exc:
        raise UsageError(f"{option} {text}: cannot write in {parent} ({exc.strerror or exc}); give a file path "
                         "in an existing, writable directory") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunSetup:
    """What a run (or a campaign) runs, checked from its command line before anything runs."""

    transports: tuple[str, ...]
    faults: tuple[str, ...]
    operations: tuple[str, ...]
    target: Any
    fail_on: tuple[str, ...]
    why_fail_on: str
    profile: str
    why_profile: str
    not_applicable: list[str]
    not_run: list[dict[str, str]]
    jobs: int
    cases: list[Case]
    cells: list[tuple[str, str, str]]


def prepare_run(args: argparse.Namespace, err: TextIO) -> RunSetup:
    """Check ``args`` (a ``UsageError`` for anything wrong) and build the cases and cells of this run: the
    ones the target can express and, with ``--shard``, the ones of this shard."""
    try:
        transports = parse_transports(args.transport)
    except ValueError as exc:
        raise UsageError(f"--transport: {exc}") from None
    try:  # the TLS kinds exist on the ssl transport only: --transport plain --faults ragged-eof is refused here
        faults = parse_kinds(args.faults, transports=transports)
    except PlanError as exc:
        raise UsageError(f"--faults: {exc}") from None
    try:
        operations = parse_operations(args.operations)
    except ValueError as exc:
        raise UsageError(f"--operations: {exc}") from None
    idle = [k for k in faults if not any(applies(k, op) for op in operations)]
    if idle and args.faults != "all":  # a connect kind without the connect operation: it would make no case
        raise UsageError(f"--faults {','.join(idle)}: makes no case of the operations asked for ({args.operations}); "
                         "the connect kinds fault the connect operation only, the TLS kinds every operation but "
                         "connect")
    load_user_invariants(args.invariants)
    try:
        target = load_target(args.target)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    fail_on, why_fail_on = _fail_on(args)
    profile, why_profile = _profile_of(args, target)
    unsupported = [t for t in transports if t not in target.transports]
    if unsupported and args.transport != "all":
        raise UsageError(f"--transport {args.transport}: the target {args.target} cannot be built for it; "
                         f"valid for this target: {', '.join(target.transports)}")
    not_applicable: list[str] = []
    not_run: list[dict[str, str]] = []
    if unsupported:
        transports = tuple(t for t in transports if t in target.transports)
        why = f": {target.why_transports}" if getattr(target, "why_transports", "") else ""
        not_applicable.append(f"the {'/'.join(unsupported)} transport{why}")
        not_run.append({"what": f"transport {'/'.join(unsupported)}",
                        "reason": getattr(target, "why_transports", "") or "the target has no such variant"})
        if not args.json:
            print(f"note: {args.target} has no {'/'.join(unsupported)} variant; running "
                  f"{', '.join(transports)} only", file=err)
    if not args.no_report:
        check_report_dir(args.report)
    if args.junit_xml:
        _check_output_file(args.junit_xml, "--junit-xml")
    jobs = args.jobs or default_jobs()
    cases = build_cases(faults=faults, transports=transports, operations=operations, seed=args.seed,
                        profile=profile)
    cells = [(op, style, tr) for tr in transports for op in operations for style in OPERATIONS[op][1]]
    # The cells the target's API cannot express are not run: listed, never failed.
    lacks: dict[str, list[str]] = {}
    for op, style, _ in cells:
        why = target.lacking(op, style)
        if why and f"{op}/{style}" not in lacks.setdefault(why, []):
            lacks[why].append(f"{op}/{style}")
    if lacks:
        cases = [c for c in cases if not target.lacking(c.operation, c.style)]
        cells = [cell for cell in cells if not target.lacking(cell[0], cell[1])]
        not_applicable += [f"{', '.join(names)} ({why})" for why, names in lacks.items()]
        not_run += [{"what": ", ".join(names), "reason": why} for why, names in lacks.items()]
    if getattr(args, "shard", None) is not None:  # this machine's part of the run (harness/_shard.py)
        from ._shard import case_unit, cell_unit

        cases = [c for c in cases if args.shard.holds(case_unit(c.id, c.origin))]
        cells = [cell for cell in cells if args.shard.holds(cell_unit(*cell))]
    return RunSetup(transports=tuple(transports), faults=tuple(faults), operations=tuple(operations),
                    target=target, fail_on=fail_on, why_fail_on=why_fail_on, profile=profile,
                    why_profile=why_profile, not_applicable=not_applicable, not_run=not_run, jobs=jobs,
                    cases=cases, cells=cells)


def case_timeout(args: argparse.Namespace, err: TextIO) -> float:
    """``--case-timeout``, or the timeout calibrated on this machine (said on ``err`` unless quiet)."""
    if args.case_timeout is not None:
        return args.case_timeout
    from ._runner import calibrated_timeout

    timeout_s, reference = calibrated_timeout()
    if not (args.quiet or args.json):
        print(f"case timeout {timeout_s:g} s (a reference case took {reference * 1000:.0f} ms here; "
              "--case-timeout sets it)", file=err)
    return timeout_s


def run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if getattr(args, "example_db", None) or getattr(args, "no_example_db", False):
        raise UsageError("--example-db and --no-example-db are for campaigns: add --budget DURATION, or drop them")
    setup = prepare_run(args, err)
    transports, faults, operations, target = setup.transports, setup.faults, setup.operations, setup.target
    fail_on, why_fail_on, profile, why_profile = setup.fail_on, setup.why_fail_on, setup.profile, setup.why_profile
    not_applicable, not_run, jobs, cases, cells = (setup.not_applicable, setup.not_run, setup.jobs, setup.cases,
                                                   setup.cells)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    base = Path(args.report)
    run_id = new_run_id(args.seed, base)
    run_dir = base / run_id
    report_path = None if args.no_report else run_dir / "report.json"
    from ._sequences import sequence_count, sequence_kinds

    sequences, why_no_sequences = sequence_count(args.sequences, target=target, spec=args.target,
                                                 transports=transports, faults=faults,
                                                 fixed_only=args.examples == 0)
    if why_no_sequences:
        not_applicable.append(f"generated sequences ({why_no_sequences})")
        not_run.append({"what": "generated sequences", "reason": why_no_sequences})
    if sequences and getattr(args, "shard", None) is not None and not args.shard.holds("sequences"):
        sequences = 0  # the generated sequences are one unit of work: one shard runs them all
    total = len(cases) + len(cells) * args.examples + sequences
    progress = _Progress(total, err, args.quiet or args.json)
    seen: list[CaseResult] = []

    def arrived(result: CaseResult) -> None:
        seen.append(result)
        progress(result)

    incomplete = None
    from ._runner import forget_hangs

    forget_hangs()
    timeout_s = case_timeout(args, err)
    with stop_signals():
        try:
            # Even with --jobs 1 the cases run in a worker process: a target that ends its process (os._exit)
            # costs its cases, not the run.
            memory = {"contain": True} if args.memory_limit is None else {"contain": True,
                                                                          "memory_limit": args.memory_limit}
            results = run_cases(cases, target_spec=args.target, jobs=jobs, progress=arrived,
                                invariants=args.invariants, timeout_s=timeout_s, **memory)
            if args.examples:
                from ._generate import run_generated

                results += run_generated(cells, seed=args.seed, examples=args.examples, target_spec=args.target,
                                         jobs=jobs, progress=arrived, invariants=args.invariants,
                                         timeout_s=timeout_s, profile=profile, **memory)
            if sequences:
                from ._sequences import run_sequences, shrink_budget

                results += run_sequences(sequences, seed=args.seed, target_spec=args.target, jobs=jobs,
                                         progress=arrived, invariants=args.invariants,
                                         kinds=sequence_kinds(faults), profile=profile,
                                         shrink_calls=shrink_budget(args.target), **memory)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: every worker is stopped by now
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C stops at once
            how = str(exc) if isinstance(exc, RunInterrupted) else "SIGINT"
            results = _in_run_order(seen, cases, cells)
            incomplete = {"reason": f"interrupted by {how}", "planned": total, "ran": len(results)}
            print(f"\ninterrupted by {how} after {len(results)} of {total} cases; writing the report of what "
                  "ran", file=err)
    duration = time.perf_counter() - t0
    report = build_report(results, seed=args.seed, target=args.target, command=_command_line(args),
                          faults=faults, operations=operations, transports=transports,
                          report_path=report_path, run_id=run_id, started=started, duration_s=duration,
                          jobs=jobs, fail_on=fail_on, incomplete=incomplete, profile=profile,
                          not_run=not_run)
    if getattr(args, "shard", None) is not None:
        report["shard"] = args.shard.to_json()
    index = write_outputs(report, args, report_path, results, out, err)
    summary = report["summary"]
    failing = [c for c in report["cases"] if c["fails"]]
    where = f"; report: {index}" if report_path is not None else ""
    print(f"{summary['cases']} cases, {summary['passed']} passed, {summary['violations']} with violations "
          f"({summary['contract']} contract, {summary['design']} design), {summary['errors']} errors in "
          f"{duration:.1f}s (seed {args.seed}, {jobs} jobs; {_virtual(report['cases'])}){where}", file=err)
    print(f"failing on {why_fail_on}: {summary['failing']} failing case(s); profile {profile}{why_profile}",
          file=err)
    if not_applicable:
        print(f"not applicable to {target.name}, not run: {'; '.join(not_applicable)}", file=err)
    if incomplete is not None:
        print(f"incomplete: {incomplete['reason']}; {incomplete['ran']} of {incomplete['planned']} cases ran",
              file=err)
        return EXIT_INTERRUPTED
    return EXIT_VIOLATIONS if failing else EXIT_OK


def write_outputs(report: dict[str, Any], args: argparse.Namespace, report_path: Path | None,
                  results: Sequence[CaseResult], out: TextIO, err: TextIO) -> Path | None:
    """Write the report directory (with a case file per failing generated case), the JUnit file and the
    ``--json`` output that ``args`` ask for, and list the failing cases on ``err``; return ``index.html``'s
    path (``None`` with ``--no-report``)."""
    index = None
    run_dir = None if report_path is None else report_path.parent
    saved: dict[str, Path] = {}
    if run_dir is not None:
        from ._generate import save_case
        from ._report_html import write_report_dir

        run_dir.mkdir(parents=True, exist_ok=True)
        junit = Path(args.junit_xml) if args.junit_xml else None
        index = write_report_dir(report, run_dir, junit_path=junit)
        # A shrunk generated failure is also a case file: ``replay FILE`` runs it without the report.
        for result in results:
            if result.case.origin == "generated" and result.outcome != "pass":
                saved[result.case.id] = save_case(result, run_dir / "cases", target=args.target)
    elif args.junit_xml:
        from ._junit import render_junit
        from ._report_json import write_atomic

        write_atomic(Path(args.junit_xml), render_junit(report))
    if args.json:
        from ._report_json import dumps_report

        out.write(dumps_report(report))
    failing = [c for c in report["cases"] if c["fails"]]
    if not args.quiet and not args.json:
        for case in failing[:20]:
            print(f"FAIL {case['id']}: {_findings(case)}", file=err)
            print(f"     {case['replay']}", file=err)
            if case["id"] in saved:
                print(f"     case file: {replay_command(saved[case['id']], target=args.target)}", file=err)
        if len(failing) > 20:
            print(f"... and {len(failing) - 20} more failing cases (see the report)", file=err)
    return index


def _in_run_order(results: Sequence[CaseResult], cases: Sequence[Case], cells: Sequence[Any]) -> list[CaseResult]:
    """The results of an interrupted run in the order a whole run gives them (they arrived out of order)."""
    fixed = {case.id: n for n, case in enumerate(cases)}
    cell_at = {cell: n for n, cell in enumerate(cells)}

    def key(result: CaseResult) -> tuple:
        case = result.case
        if case.id in fixed:
            return (0, fixed[case.id], 0)
        return (1, cell_at.get((case.operation, case.style, case.transport), len(cells)), case.index)

    return sorted(results, key=key)


def _findings(case: dict[str, Any]) -> str:
    """``slug [class], ...`` of a report case, or what stopped it from being judged."""
    if case["outcome"] == "error":
        return "error: " + next((d["message"] for d in case["details"] if d["class"] == "error"), "")[:200]
    classes = {d["slug"]: d["class"] for d in case["details"]}
    return ", ".join(f"{slug} [{classes.get(slug, '?')}]" for slug in case["violations"])


def _fail_on(args: argparse.Namespace) -> tuple[tuple[str, ...], str]:
    """The classes of finding that fail this run, and the words that say so (and why) in the output."""
    choice = args.fail_class
    if choice is None:
        choice = "all" if args.target in DEFAULT_TARGET_NAMES else "contract"
        why = (" (the default for faultio's own stream)" if choice == "all" else
               " (the default for a stream faultio did not write; --class all also fails on design findings)")
    else:
        why = " (--class)"
    if choice == "all":
        return ("contract", "design"), f"contract and design findings{why}"
    return ("contract",), f"contract findings{why}"


def _profile_of(args: argparse.Namespace, target: Any) -> tuple[str, str]:
    """The realism profile of this run's fds, and the words that say where it came from."""
    if args.profile is not None:
        return args.profile, " (--profile)"
    return target.default_profile, f" (the default of {target.name})"


def _virtual(cases: list) -> str:
    """The virtual time the cases covered, and how much of it time faults held connections back."""
    covered = sum(c.get("virtual_ms", 0.0) for c in cases) / 1000
    held = sum(c.get("held_ms", 0.0) for c in cases) / 1000
    return f"{covered:.1f} virtual s covered, {held:.1f} s of it held by time faults"
