"""Benchmark campaigns: cases per second of ``run --budget`` beside a plain ``run --faults all``.

Runs both as a user would (a fresh interpreter each, no report, no example database) with ``--jobs 1`` and
``--jobs 2``, alternating plain run and campaign within each round so a shared machine's load falls on both
alike, and prints each run's cases/s (the campaign's from its own summary line; the plain run's as its cases
over the duration its summary line gives) and cases per CPU second (user and system time of the run and its
workers, which the load of a shared machine disturbs far less than the wall clock), then per ``--jobs`` the
median of the rounds and the ratios campaign / plain measured in this one invocation. ``--source DIR`` runs
the harness of another source tree (for a before/after comparison in one machine window). It asserts
nothing about speed.
Run: ``python benchmarks/bench_campaign.py [--budget 15] [--rounds 1] [--jobs 1,2] [--source DIR]``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: "2784 cases, ... in 20.3s, 137.4 cases/s" (a campaign) or "666 cases, ... in 4.6s (seed" (a plain run).
_SUMMARY = re.compile(r"^(\d+) cases, .* in ([\d.]+)s(?:, ([\d.]+) cases/s)?")


def _children_cpu() -> float:
    """CPU seconds (user and system) of this process's finished children, and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(argv: list[str], source: Path) -> tuple[float, float, int, str]:
    """(cases/s, cases per CPU second, exit code, summary line) of ``python -m harness ARGV`` run from
    ``source``."""
    cpu_start = _children_cpu()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True, text=True, timeout=900,
                          cwd=source, env=env)
    cpu = _children_cpu() - cpu_start
    summary = next((line for line in reversed(proc.stderr.splitlines()) if _SUMMARY.match(line)), "")
    match = _SUMMARY.match(summary)
    if match is None:
        raise SystemExit(f"no summary line from `harness {' '.join(argv)}` (exit {proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    cases, seconds, per_s = match.groups()
    rate = float(per_s) if per_s is not None else int(cases) / max(float(seconds), 1e-9)
    return rate, int(cases) / max(cpu, 1e-9), proc.returncode, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=15.0, help="campaign budget in seconds (default 15)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of (plain, campaign) per --jobs (default 1)")
    parser.add_argument("--jobs", default="1,2", help="comma list of --jobs values (default 1,2)")
    parser.add_argument("--source", type=Path, default=ROOT, help="source tree whose harness runs (default: this one)")
    args = parser.parse_args(argv)
    if args.budget <= 0 or args.rounds < 1:
        parser.error(f"--budget must be more than 0 and --rounds at least 1, got {args.budget:g} and {args.rounds}")
    try:
        jobs_list = [int(j) for j in args.jobs.split(",")]
    except ValueError:
        parser.error(f"--jobs {args.jobs}: give a comma list of whole numbers, such as 1,2")
    if not (args.source / "harness" / "__main__.py").is_file():
        parser.error(f"--source {args.source}: no harness/__main__.py there; give the root of a faultio tree")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}; source "
          f"{args.source}; campaign budget {args.budget:g} s")
    plain_argv = ["run", "--faults", "all", "--no-report"]
    campaign_argv = ["run", "--budget", f"{args.budget:g}s", "--no-example-db", "--no-report"]
    medians = {}
    for jobs in jobs_list:
        figures: dict[str, list[tuple[float, float]]] = {"plain": [], "campaign": []}
        for _ in range(args.rounds):
            for kind, base in (("plain", plain_argv), ("campaign", campaign_argv)):
                rate, per_cpu, code, summary = one_run([*base, "--jobs", str(jobs)], args.source)
                figures[kind].append((rate, per_cpu))
                print(f"  --jobs {jobs} {kind:8s}: {rate:7.1f} cases/s, {per_cpu:6.1f} cases/CPU-s  exit {code}  "
                      f"[{summary}]", flush=True)
        medians[jobs] = {kind: (statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs))
                         for kind, runs in figures.items()}
    for jobs, m in medians.items():
        (plain, plain_cpu), (campaign, campaign_cpu) = m["plain"], m["campaign"]
        print(f"--jobs {jobs}: plain run {plain:.1f} cases/s ({plain_cpu:.1f}/CPU-s), campaign {campaign:.1f} cases/s "
              f"({campaign_cpu:.1f}/CPU-s); ratio campaign/plain = {campaign / plain:.2f} wall, "
              f"{campaign_cpu / plain_cpu:.2f} CPU (median of {args.rounds} round(s))")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
