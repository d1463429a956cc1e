"""Benchmark startup: what faultio adds to a bare interpreter and to a bare pytest session.

Measures, as a user runs them (a fresh process each time, wall time):

- ``python -m harness list`` against ``python -c pass``;
- a pytest session of one trivial test with the faultio plugin loaded against the same session with
  ``-p no:faultio`` (the plugin switched off).

The pairs are interleaved (A, B, A, B, ...) so a change in the machine's load hits both, and the best of
``--repeat`` runs of each is kept. It prints each best, the difference, and whether it is under the goal
(0.3 s more than the bare command). It asserts nothing about speed.
Run: ``python benchmarks/bench_startup.py [--repeat N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Issue 10's goal: at most this many seconds more than the bare command.
GOAL_S = 0.3


def wall(cmd: list[str], cwd: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def best_pair(with_: list[str], bare: list[str], repeat: int, cwd: str) -> tuple[float, float]:
    wall(with_, cwd), wall(bare, cwd)  # warm the file cache for both; not counted
    times_with, times_bare = [], []
    for _ in range(repeat):
        times_with.append(wall(with_, cwd))
        times_bare.append(wall(bare, cwd))
    return min(times_with), min(times_bare)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command (best is kept)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    py = sys.executable
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_one.py").write_text("def test_one():\n    pass\n")
        # -p no:cacheprovider keeps both sessions from writing .pytest_cache; the rest is pytest's defaults.
        session = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"]
        pairs = {
            "harness list": ([py, "-m", "harness", "list"], [py, "-c", "pass"]),
            "pytest + plugin": (session, [*session[:3], "-p", "no:faultio", *session[3:]]),
        }
        for name, (with_, bare) in pairs.items():
            a, b = best_pair(with_, bare, args.repeat, tmp)
            results[name] = {"with_s": round(a, 4), "bare_s": round(b, 4), "extra_s": round(a - b, 4),
                             "goal_s": GOAL_S, "met": a - b < GOAL_S}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; best of {args.repeat}, interleaved")
    for name, r in results.items():
        bare = "python -c pass" if name == "harness list" else "pytest -p no:faultio"
        print(f"  {name:<16} {r['with_s']:.3f} s   {bare:<21} {r['bare_s']:.3f} s   extra {r['extra_s']:+.3f} s "
              f"({'under' if r['met'] else 'OVER'} the {GOAL_S} s goal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
