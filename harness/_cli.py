"""``python -m harness``: run the fault matrix, list what it knows, replay a case, check itself.

Rules for this module:
- ``main(argv) -> int`` never calls ``sys.exit``. Exit codes: 0 every invariant held, 1 violations found,
  2 usage error (one line naming the bad value and the valid ones), 3 internal error.
- Machine output (``--json``) goes to stdout and nothing else does; people and progress go to stderr.
- The report directory is written atomically, file by file; a run that fails half-way leaves no half file.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence, TextIO

from faultio import FAULT_KINDS, PlanError, parse_kinds

from ._case import Case, CaseResult
from ._invariants import INVARIANTS
from ._matrix import build_cases, default_jobs, parse_operations, parse_transports, run_cases
from ._report import build_report
from ._scenarios import OPERATION_HELP, OPERATIONS
from ._targets import DEFAULT_TARGET_SPEC, TargetError, load_target

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
#: Generated examples per cell by default (each cell is an operation in a style over a transport).
DEFAULT_EXAMPLES = 2

FAULT_HELP = {
    "eintr": "recv/send interrupted by a signal (InterruptedError), between small chunks",
    "econnreset": "connection reset (ConnectionResetError) at a seeded byte offset; sends cut too",
    "ewouldblock": "bursts of spurious EWOULDBLOCK (BlockingIOError) and short sends",
    "dribble": "data arriving one byte per recv; sends accepting one byte at a time",
    "flood": "1 GiB of generated data from the peer (never materialised), far past max_buffer_size",
}


class UsageError(Exception):
    """A bad command line: the message is one line naming the bad value and the valid ones."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; give a whole number >= 1 (worker processes)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m harness", description="Run stream readers through every fault.")
    sub = parser.add_subparsers(dest="command", metavar="{run,list,replay,selftest}", parser_class=_Parser)
    sub.required = True
    run = sub.add_parser("run", help="run the fault matrix and write a report")
    run.add_argument("--faults", default="all", help="fault kinds: all, or a comma list of "
                     + ", ".join(FAULT_KINDS) + " (default: all)")
    run.add_argument("--transport", default="all", help="plain, ssl or all (default: all)")
    run.add_argument("--operations", default="all", help="operations: all, or a comma list (see `list`)")
    run.add_argument("--target", default=DEFAULT_TARGET_SPEC, help="module:factory of the stream under test")
    run.add_argument("--seed", type=_positive_int, default=0, help="the seed everything derives from")
    run.add_argument("--examples", type=_positive_int, default=DEFAULT_EXAMPLES,
                     help=f"generated fault plans per cell (default {DEFAULT_EXAMPLES}; 0 for fixed cases only)")
    run.add_argument("--report", default="reports", metavar="DIR", help="where run directories go (default reports/)")
    run.add_argument("--no-report", action="store_true", help="write no report files")
    run.add_argument("--json", action="store_true", help="print the report as JSON on stdout, nothing else")
    run.add_argument("--junit-xml", metavar="PATH", help="also write JUnit XML here")
    run.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    run.add_argument("--jobs", type=_jobs, default=None, help="worker processes, 1 or more (default: one per core)")
    sub.add_parser("list", help="fault kinds, operations, transports and invariants")
    replay = sub.add_parser("replay", help="re-run one case and print its trace")
    replay.add_argument("source", help="a report.json (with --case) or a saved case file")
    replay.add_argument("--case", help="the case id inside a report")
    replay.add_argument("--target", help="override the target recorded in the report")
    replay.add_argument("--limit", type=_positive_int, default=400, help="trace events to print (0: all)")
    selftest = sub.add_parser("selftest", help="prove the harness catches deliberately broken streams")
    selftest.add_argument("--seed", type=_positive_int, default=0)
    selftest.add_argument("--jobs", type=_jobs, default=None,
                          help="worker processes, 1 or more (default: one per core)")
    selftest.add_argument("--report", default="reports", metavar="DIR",
                          help="where the shrunk case of each mutant is saved for replay (default reports/)")
    selftest.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return its exit code; never exits.

    Output goes to ``stdout``/``stderr`` (default the process's). Exit codes: 0 clean, 1 violations,
    2 usage error, 3 internal error.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        try:
            # argparse prints --help (and its own errors) on sys.stdout / sys.stderr: point them at ours.
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as exc:  # --help: argparse has printed it and wants to exit
            return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
        if args.command == "run":
            return _run(args, out, err)
        if args.command == "list":
            return _list(out)
        if args.command == "replay":
            return _replay(args, out, err)
        return _selftest(args, out, err)
    except UsageError as exc:
        print(str(exc).splitlines()[0], file=err)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of our output went away (``| head``): nothing more to say, and nothing went wrong.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep interpreter shutdown quiet
        except OSError:  # pragma: no cover
            pass
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return EXIT_INTERNAL
    except Exception:
        print("harness: internal error (this is a bug in faultio, not in the stream under test):", file=err)
        traceback.print_exc(file=err)
        return EXIT_INTERNAL


# --- run -----------------------------------------------------------------------------------------------


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


def _run_id(seed: int, base: Path) -> str:
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
    parts += ["--seed", str(args.seed), "--examples", str(args.examples)]
    return " ".join(shlex.quote(p) for p in parts)


def _check_report_dir(text: str) -> None:
    """``--report DIR`` must be a directory, or creatable as one, and writable: checked before the run."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--report {text}: not a directory; give a directory to put run directories in "
                         "(created if missing), or --no-report")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UsageError(f"--report {text}: {existing} is not a directory, so {text} cannot be created; "
                         "give a directory path, or --no-report")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--report {text}: {existing} is not writable; give a writable directory, or --no-report")


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


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        faults = parse_kinds(args.faults)
    except PlanError as exc:
        raise UsageError(f"--faults: {exc}") from None
    try:
        transports = parse_transports(args.transport)
    except ValueError as exc:
        raise UsageError(f"--transport: {exc}") from None
    try:
        operations = parse_operations(args.operations)
    except ValueError as exc:
        raise UsageError(f"--operations: {exc}") from None
    try:
        target = load_target(args.target)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    unsupported = [t for t in transports if t not in target.transports]
    if unsupported and args.transport != "all":
        raise UsageError(f"--transport {args.transport}: the target {args.target} cannot be built for it; "
                         f"valid for this target: {', '.join(target.transports)}")
    if unsupported:
        transports = tuple(t for t in transports if t in target.transports)
        if not args.json:
            print(f"note: {args.target} has no {'/'.join(unsupported)} variant; running "
                  f"{', '.join(transports)} only", file=err)
    if not args.no_report:
        _check_report_dir(args.report)
    if args.junit_xml:
        _check_output_file(args.junit_xml, "--junit-xml")
    jobs = args.jobs or default_jobs()
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    base = Path(args.report)
    run_id = _run_id(args.seed, base)
    run_dir = base / run_id
    report_path = None if args.no_report else run_dir / "report.json"
    cases = build_cases(faults=faults, transports=transports, operations=operations, seed=args.seed)
    cells = [(op, style, tr) for tr in transports for op in operations for style in OPERATIONS[op][1]]
    total = len(cases) + len(cells) * args.examples
    progress = _Progress(total, err, args.quiet or args.json)
    results = run_cases(cases, target_spec=args.target, jobs=jobs, progress=progress)
    if args.examples:
        from ._generate import run_generated

        results += run_generated(cells, seed=args.seed, examples=args.examples, target_spec=args.target,
                                 jobs=jobs, progress=progress)
    duration = time.perf_counter() - t0
    report = build_report(results, seed=args.seed, target=args.target, command=_command_line(args),
                          faults=faults, operations=operations, transports=transports,
                          report_path=report_path, run_id=run_id, started=started, duration_s=duration,
                          jobs=jobs)
    saved: dict[str, Path] = {}
    if report_path is not None:
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
    summary = report["summary"]
    failing = [c for c in report["cases"] if c["outcome"] != "pass"]
    if not args.quiet and not args.json:
        for case in failing[:20]:
            print(f"FAIL {case['id']}: {', '.join(case['violations']) or 'error'}", file=err)
            print(f"     {case['replay']}", file=err)
            if case["id"] in saved:
                print(f"     case file: python -m harness replay {shlex.quote(str(saved[case['id']]))}", file=err)
        if len(failing) > 20:
            print(f"... and {len(failing) - 20} more failing cases (see the report)", file=err)
    where = f"; report: {index}" if report_path is not None else ""
    print(f"{summary['cases']} cases, {summary['passed']} passed, {summary['violations']} with violations, "
          f"{summary['errors']} errors in {duration:.1f}s (seed {args.seed}, {jobs} jobs){where}", file=err)
    return EXIT_VIOLATIONS if failing else EXIT_OK


# --- list ----------------------------------------------------------------------------------------------


def _list(out: TextIO) -> int:
    print("fault kinds (--faults; 'all' = every one):", file=out)
    for kind in FAULT_KINDS:
        print(f"  {kind:<12} {FAULT_HELP[kind]}", file=out)
    print("\ntransports (--transport): plain, ssl, all", file=out)
    print("\noperations (--operations):", file=out)
    for name, (_, styles) in OPERATIONS.items():
        print(f"  {name:<22} [{', '.join(styles)}] {OPERATION_HELP[name]}", file=out)
    print("\ninvariants:", file=out)
    for slug, inv in INVARIANTS.items():
        print(f"  {slug:<27} {inv.explanation}", file=out)
    return EXIT_OK


# --- replay --------------------------------------------------------------------------------------------


def _load_case(source: str, case_id: str | None) -> tuple[Case, Any]:
    path = Path(source)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"replay: {source!r} does not exist; give a report.json or a saved case file") from None
    except IsADirectoryError:
        raise UsageError(f"replay: {source!r} is a directory; give a report.json or a saved case file") from None
    except OSError as exc:
        raise UsageError(f"replay: cannot read {source!r} ({exc.strerror or exc}); give a report.json or a "
                         "saved case file") from None
    except ValueError as exc:
        raise UsageError(f"replay: {source!r} is not JSON ({exc})") from None
    if isinstance(data, dict) and "cases" in data:
        target = data.get("target", DEFAULT_TARGET_SPEC)
        cases = data["cases"]
        if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
            raise UsageError(f"replay: {source} is not a valid report: 'cases' must be a list of case objects")
        ids = [c.get("id") for c in cases]
        if case_id is None:
            failing = [str(c.get("id")) for c in cases if c.get("outcome") != "pass"]
            hint = f"; failing cases: {', '.join(failing[:5])}" if failing else ""
            raise UsageError(f"replay: {source} is a report; choose a case with --case ID{hint}")
        for c in cases:
            if c.get("id") == case_id:
                return Case.from_json(c), target
        raise UsageError(f"replay: no case {case_id!r} in {source}; it has {len(ids)} cases, e.g. {ids[:3]}")
    if isinstance(data, dict) and "case" in data:
        return Case.from_json(data["case"]), data.get("target", DEFAULT_TARGET_SPEC)
    raise UsageError(f"replay: {source} is neither a report (with 'cases') nor a case file (with 'case')")


def _replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._runner import run_case

    try:
        case, target_spec = _load_case(args.source, args.case)
    except (ValueError, PlanError) as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"replay: the case in {args.source} is malformed: {exc}") from None
    if not args.target and not isinstance(target_spec, str):
        raise UsageError(f"replay: the target in {args.source} is {target_spec!r}, not a 'module:factory' "
                         "string; give one with --target")
    try:
        target = load_target(args.target or target_spec)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    result = run_case(case, target, keep_trace=True, full_trace=True)
    print(f"case {case.id} (seed {case.seed}) against {target.name}", file=out)
    print(f"plan: {case.plan.describe()}", file=out)
    events = list(result.trace)
    limit = args.limit or len(events)
    if len(events) > limit:
        print(f"trace: last {limit} of {len(events)} events", file=out)
    for event in events[-limit:]:
        detail = " ".join(f"{k}={v}" for k, v in event["detail"].items())
        print(f"  #{event['index']:<5} step {event['step']:<5} {event['source']:<7} {event['kind']:<14} {detail}",
              file=out)
    if result.error:
        print(f"ERROR {result.error}", file=out)
    for v in result.violations:
        print(f"VIOLATION {v.slug} at step {v.step} (event #{v.event}): {v.message}", file=out)
        print(f"          {v.explanation}", file=out)
    print(f"outcome: {result.outcome}", file=out)
    return EXIT_OK if result.outcome == "pass" else EXIT_VIOLATIONS


# --- selftest ------------------------------------------------------------------------------------------


def _selftest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._selftest import run_selftest, selftest

    base = Path(args.report)
    save_dir = base / f"selftest-{_run_id(args.seed, base)}"
    jobs = args.jobs or default_jobs()
    if args.json:
        result = selftest(seed=args.seed, jobs=jobs, save_dir=save_dir)
        out.write(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
        return result.exit_code
    # The self-check's verdict is its main output, but it is for people: stderr, like run's progress.
    code = run_selftest(seed=args.seed, jobs=jobs, out=err, save_dir=save_dir)
    print(f"shrunk cases saved in {save_dir}/ (replay one with: python -m harness replay {save_dir}/<mutant>.json)",
          file=err)
    return code


def console_main() -> None:  # pragma: no cover - the console entry point
    """Exit the process with ``main()``'s code (for a console-script entry point)."""
    raise SystemExit(main())
