"""The speed work changes no result: the matrix of seeds 0 and 1 gives what it gave before it.

``tests/data/results_seed{0,1}.json`` hold, per case of ``python -m harness run --faults all --seed N``
(default target, fixed and generated cases), what must not change: the outcome, the violation slugs, the
loop steps, a digest of the plan, and digests of the story and of the whole trace. They were written before
the work on per-event cost (issue 10), from the CLI's ``--json --no-report`` output (id, outcome, slugs,
steps, plan) and an in-process run of the same cases (the story and trace digests, which the JSON does
not carry). Rewrite them only for a change that is meant to change results:
``python tests/test_results_unchanged.py --write`` (it checks the in-process run against the CLI).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
SEEDS = (0, 1)
EXAMPLES = 2  # the CLI's default --examples


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _row(case_id: str, outcome: str, slugs: list[str], steps: int, plan: dict[str, Any]) -> dict[str, Any]:
    return {"id": case_id, "outcome": outcome, "slugs": sorted(slugs), "steps": steps, "plan": _digest(plan)}


def run_in_process(seed: int) -> list[dict[str, Any]]:
    """Every case of ``run --faults all --seed`` (defaults), run in this process with ``jobs=1``, as rows."""
    from faultio._plan import ALL_KINDS
    from harness._case import TRANSPORTS
    from harness._generate import run_generated
    from harness._matrix import build_cases, run_cases
    from harness._scenarios import OPERATIONS
    from harness._targets import DEFAULT_TARGET_SPEC

    operations = tuple(OPERATIONS)
    cases = build_cases(faults=ALL_KINDS, transports=TRANSPORTS, operations=operations, seed=seed)
    options = {"full_trace": True}
    results = run_cases(cases, target_spec=DEFAULT_TARGET_SPEC, jobs=1, **options)
    cells = [(op, style, tr) for tr in TRANSPORTS for op in operations for style in OPERATIONS[op][1]]
    results += run_generated(cells, seed=seed, examples=EXAMPLES, target_spec=DEFAULT_TARGET_SPEC, jobs=1,
                             **options)
    rows = []
    for result in results:
        row = _row(result.case.id, result.outcome, [v.slug for v in result.violations], result.steps,
                   result.case.plan.to_json())
        row["story"] = _digest(list(result.story))
        row["trace"] = _digest([[e["step"], e["time"], e["source"], e["kind"], e["detail"]] for e in result.trace])
        rows.append(row)
    return rows


def from_cli(seed: int) -> list[dict[str, Any]]:
    """The rows of ``python -m harness run --faults all --sequences 0 --json --no-report --seed`` (the fixed and
    generated cases; the generated sequences are guarded by their own tests)."""
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--faults", "all", "--sequences", "0", "--json",
                           "--no-report", "--seed", str(seed)], capture_output=True, text=True, check=False)
    report = json.loads(proc.stdout)
    return [_row(c["id"], c["outcome"], [v["slug"] for v in c["violations"]], c["steps"], c["plan"])
            for c in report["cases"]]


def saved(seed: int) -> list[dict[str, Any]]:
    return json.loads((DATA / f"results_seed{seed}.json").read_text())["cases"]


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_matrix_results_are_those_saved_before_the_speed_work(seed):
    expected = {row["id"]: row for row in saved(seed)}
    got = {row["id"]: row for row in run_in_process(seed)}
    assert list(got) == list(expected), "the matrix has other cases than the saved run"
    changed = [(case_id, {k: (expected[case_id][k], row[k]) for k in row if row[k] != expected[case_id][k]})
               for case_id, row in got.items() if row != expected[case_id]]
    assert not changed, f"{len(changed)} case(s) changed (saved, now): {changed[:5]}"


def write() -> None:  # pragma: no cover - run by hand
    DATA.mkdir(exist_ok=True)
    for seed in SEEDS:
        cli = from_cli(seed)
        rows = run_in_process(seed)
        mismatch = [(a, b) for a, b in zip(cli, rows) if a != {k: b[k] for k in a}]
        if len(cli) != len(rows) or mismatch:
            raise SystemExit(f"seed {seed}: the in-process run differs from the CLI: {mismatch[:3]}")
        text = json.dumps({"seed": seed, "command": f"python -m harness run --faults all --json --no-report "
                           f"--seed {seed}", "cases": rows}, indent=0, sort_keys=True)
        (DATA / f"results_seed{seed}.json").write_text(text + "\n")
        print(f"seed {seed}: {len(rows)} cases written")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_results_unchanged.py --write")
    write()
