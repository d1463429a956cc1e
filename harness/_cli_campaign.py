"""``python -m harness run --budget DURATION``: a campaign from the command line, with ``run``'s outputs.

Rules for this module:
- The options are ``run``'s (``_cli_run.prepare_run`` checks them); what a campaign adds is checked here
  before anything runs: ``--faults`` must stay ``all``, ``--example-db`` and ``--no-example-db`` exclude
  each other, the database must be a directory or creatable.
- The report is ``run``'s report plus its ``campaign`` block (and ``shard``), written by ``run``'s writer;
  the exit codes are ``run``'s: 0, 1 failing cases, 2 usage, 4 interrupted (the report of what ran is
  written, marked incomplete).
- Progress and the summary go to stderr; ``--json`` puts the report alone on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
from pathlib import Path
from typing import TextIO

from . import _cli_run
from ._campaign import CHUNK_EXAMPLES, Campaign, CampaignProgress
from ._cli_common import EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS, UsageError, check_report_dir, probe_write
from ._exampledb import DEFAULT_DB, ExampleStore
from ._generate import GENERATED_FAULT
from ._matrix import DEFAULT_MEMORY_LIMIT
from ._report import build_report
from ._runner import RunInterrupted, forget_hangs, stop_signals


def campaign_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``python -m harness run --budget DURATION``: the exit codes and outputs of ``run``."""
    if args.faults != "all":
        raise UsageError(f"--faults {args.faults}: a campaign generates plans that mix every fault kind, and runs "
                         "no fixed case; drop --faults (or run without --budget)")
    if args.no_example_db and args.example_db:
        raise UsageError("--example-db and --no-example-db contradict each other; give one of them")
    # The cells of the whole campaign: a campaign shards its chunks, not its cells.
    setup = _cli_run.prepare_run(argparse.Namespace(**{**vars(args), "shard": None}), err)
    db_path = None if args.no_example_db else Path(args.example_db or DEFAULT_DB)
    if db_path is not None and db_path.exists() and not db_path.is_dir():
        raise UsageError(f"--example-db {db_path}: not a directory; give a directory (created if missing), or "
                         "--no-example-db")
    if db_path is not None:
        existing = next((p for p in (db_path, *db_path.parents) if p.exists()), Path("."))
        try:  # permissions do not tell everything (root, /proc, a read-only mount): try it before the run
            if not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
                raise PermissionError(f"{existing} is not a writable directory")
            probe_write(existing)
        except OSError as exc:
            raise UsageError(f"--example-db {db_path}: cannot write there ({exc.strerror or exc}), so failures could "
                             "not be stored; give a writable directory, or --no-example-db") from None
    if not args.no_report:
        check_report_dir(args.report)
    if args.junit_xml:
        _cli_run._check_output_file(args.junit_xml, "--junit-xml")
    store = None if db_path is None else ExampleStore(db_path)
    forget_hangs()
    timeout_s = _cli_run.case_timeout(args, err)
    memory_limit = DEFAULT_MEMORY_LIMIT if args.memory_limit is None else args.memory_limit
    progress = CampaignProgress(err, args.quiet or args.json)
    campaign = Campaign(setup.cells, seed=args.seed, budget_s=args.budget, target_spec=args.target, jobs=setup.jobs,
                        profile=setup.profile, fail_on=setup.fail_on, store=store, shard=args.shard,
                        invariants=args.invariants, memory_limit=memory_limit,
                        run_options={"timeout_s": timeout_s}, progress=progress)
    started = datetime.datetime.now(datetime.timezone.utc)
    incomplete = None
    with stop_signals():
        try:
            # Said inside the try: a Ctrl-C from the moment this line shows still writes the report.
            if not (args.quiet or args.json):
                where = f"stored failures in {db_path}" if db_path is not None else "no example database"
                part = f", shard {args.shard}" if args.shard is not None else ""
                print(f"campaign of {args.budget:g} s over {len(setup.cells)} cells ({CHUNK_EXAMPLES} plans a "
                      f"chunk{part}); {where}", file=err)
            campaign.run()
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: every worker is stopped by now
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C stops at once
            how = str(exc) if isinstance(exc, RunInterrupted) else "SIGINT"
            ran = len(campaign.results())
            incomplete = {"reason": f"interrupted by {how} after {campaign.elapsed:.1f} s of a {args.budget:g} s "
                          "budget", "planned": ran, "ran": ran}
            print(f"\ninterrupted by {how}; writing the report of the {ran} cases that ran", file=err)
    progress.done(campaign)
    results = campaign.results()
    base = Path(args.report)
    run_id = _cli_run.new_run_id(args.seed, base) + "-campaign"
    report_path = None if args.no_report else base / run_id / "report.json"
    report = build_report(results, seed=args.seed, target=args.target, command=_cli_run._command_line(args),
                          faults=[GENERATED_FAULT], operations=setup.operations, transports=setup.transports,
                          report_path=report_path, run_id=run_id, started=started, duration_s=campaign.elapsed,
                          jobs=setup.jobs, fail_on=setup.fail_on, incomplete=incomplete, profile=setup.profile,
                          not_run=setup.not_run)
    report["campaign"] = campaign.figures()
    if args.shard is not None:
        report["shard"] = args.shard.to_json()
    index = _cli_run.write_outputs(report, args, report_path, results, out, err)
    figures = report["campaign"]
    if not (args.quiet or args.json):
        replay = (f"replayed {figures['replayed']} stored case(s) first: {figures['replayed_failing']} still "
                  f"failing, {figures['removed']} passing now (removed from the store); " if figures["replayed"]
                  else "")
        print(f"{replay}{figures['chunks']} chunks, {figures['found']} new failing case(s), {figures['stored']} "
              f"newly stored; stopped: {figures['stopped']}", file=err)
    where = f"; report: {index}" if index is not None else ""
    summary = report["summary"]
    print(f"{summary['cases']} cases, {summary['passed']} passed, {summary['violations']} with violations "
          f"({summary['contract']} contract, {summary['design']} design), {summary['errors']} errors in "
          f"{campaign.elapsed:.1f}s, {figures['cases_per_s']} cases/s (seed {args.seed}, {setup.jobs} jobs)"
          f"{where}", file=err)
    print(f"failing on {setup.why_fail_on}: {summary['failing']} failing case(s); profile {setup.profile}"
          f"{setup.why_profile}", file=err)
    if incomplete is not None:
        return EXIT_INTERRUPTED
    return EXIT_VIOLATIONS if summary["failing"] else EXIT_OK
