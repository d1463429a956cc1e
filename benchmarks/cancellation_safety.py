"""Measure which read methods of a target survive a timeout: ``read_deadline`` cases under every fault kind.

Runs the matrix's ``read_deadline`` operation (``read_bytes``, ``read_until`` and a partial ``read_bytes`` in
turn, each under a seeded deadline: ``asyncio.wait_for`` on the asyncio loop targets) against ``--target`` for
``--seeds`` seeds on both transports, and prints, per method, how many reads timed out, how many of those had
bytes taken in (received by the stream, not yet delivered) when they timed out, and the cases where
``timeout-no-byte-lost`` or ``timeout-stream-usable`` broke. It asserts nothing.
Run: ``python benchmarks/cancellation_safety.py --target asyncio-streams --seeds 5``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses

from faultio._plan import ALL_KINDS
from harness._matrix import build_cases
from harness._runner import run_case
from harness._targets import load_target

CONTRACTS = ("timeout-no-byte-lost", "timeout-stream-usable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="asyncio-streams")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    target = load_target(args.target)
    timeouts: collections.Counter = collections.Counter()
    holding: collections.Counter = collections.Counter()
    broken: dict[str, list[str]] = collections.defaultdict(list)
    cases = 0
    for seed in range(args.seeds):
        for case in build_cases(faults=ALL_KINDS, transports=("plain", "ssl"), operations=["read_deadline"],
                                seed=seed):
            case = dataclasses.replace(case, profile=target.default_profile or case.profile)
            result = run_case(case, target, full_trace=True)
            cases += 1
            for event in result.trace:
                if event["source"] == "harness" and event["kind"] == "timed_out":
                    method = event["detail"]["op"].split(" ")[0] + (" (partial)" if "partial" in event["detail"]["op"]
                                                                    else "")
                    timeouts[method] += 1
                    holding[method] += event["detail"].get("held", 0) > 0
            for slug in CONTRACTS:
                if slug in result.slugs:
                    broken[slug].append(f"{case.id} seed {seed}")
    print(f"target {args.target}: {cases} read_deadline cases (seeds 0..{args.seeds - 1}, both transports, "
          f"{len(ALL_KINDS)} kinds)")
    for method in sorted(timeouts):
        print(f"  {method:<22} {timeouts[method]:5d} timed out, {holding[method]:5d} of them with bytes taken in")
    for slug in CONTRACTS:
        print(f"  {slug}: {len(broken[slug])} case(s)" + (f": {', '.join(broken[slug][:6])}" if broken[slug] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
