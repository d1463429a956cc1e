"""Benchmark the harness's main job: wall time of ``python -m harness run --faults all`` with defaults.

Runs the command as a user would (a fresh interpreter each time, the report written to a temporary
directory) with ``--jobs 1`` and ``--jobs 2``, ``--repeat`` times each, and prints the times, the best of
each, and the ratio jobs1/jobs2 measured in this one invocation, with the CPU time (user and system) all
processes of each run took, which the load of a shared machine disturbs far less than the wall clock. It
asserts nothing about speed.
Run: ``python benchmarks/bench_harness.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

#: Issue 10's target for ``run --faults all --jobs 2`` (defaults, report written), best of 3, in seconds.
TARGET_JOBS2_S = 3.0


def _children_cpu() -> float:
    """CPU seconds (user and system) of this process's finished children, and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(jobs: int, extra: list[str]) -> tuple[float, int, str, float]:
    """(wall seconds, exit code, summary line, CPU seconds of the run and its workers) of one run."""
    with tempfile.TemporaryDirectory() as reports:
        cmd = [sys.executable, "-m", "harness", "run", "--faults", "all", "--jobs", str(jobs), "-q",
               "--report", reports, *extra]
        cpu_start = _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - start
        cpu = _children_cpu() - cpu_start
    # The run's summary line ("N cases, ... in Xs"), not the verdict line after it.
    lines = proc.stderr.strip().splitlines()
    summary = next((line for line in reversed(lines) if " cases, " in line), lines[-1] if lines else "")
    return elapsed, proc.returncode, summary, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="extra arguments for `harness run` (after --)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; command: python -m harness run --faults all "
          f"{' '.join(args.extra)}")
    best, best_cpu = {}, {}
    for jobs in (1, 2):
        times, cpus = [], []
        for _ in range(args.repeat):
            elapsed, code, summary, cpu = one_run(jobs, args.extra)
            times.append(elapsed)
            cpus.append(cpu)
            print(f"  --jobs {jobs}: {elapsed:6.2f} s (CPU {cpu:5.2f} s)  exit {code}  [{summary}]")
        best[jobs], best_cpu[jobs] = min(times), min(cpus)
    print(f"best --jobs 1: {best[1]:.2f} s; best --jobs 2: {best[2]:.2f} s; ratio jobs1/jobs2 = "
          f"{best[1] / best[2]:.2f}; least CPU (all processes of a run): {best_cpu[1]:.2f} s and {best_cpu[2]:.2f} s")
    verdict = "met" if best[2] <= TARGET_JOBS2_S else "NOT met"
    print(f"issue 10's target: run --faults all --jobs 2 in <= {TARGET_JOBS2_S:g} s; best of {args.repeat}: "
          f"{best[2]:.2f} s ({verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
