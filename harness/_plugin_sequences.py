"""The ``fault_sequences`` fixture's object: generated sequences against the stream a test's project provides.

Rules for this module:
- The stream is the one ``fault_stream_factory`` gives (the user's class or factory, or ``--fault-target``),
  built fresh for every sequence on its own loop and fake fds; nothing is shared with the test's
  ``fault_streams`` world. Sequences run in the test's process, one after another.
- ``check`` draws them exactly as ``python -m harness run --sequences`` does (the same batches, seeded from
  ``--fault-seed``), so a failure is the same failure there; it fails the test with the shrunk sequence, its
  JSON and a line that replays it. ``run`` judges one ``faultio.Sequence`` of the user's own (from their own
  Hypothesis test).
- Only the plain transport (as for ``harness._sequences``).
"""

from __future__ import annotations

from typing import Any

from faultio import Sequence

from ._case import CaseResult
from ._sequences import BATCH, MAX_SHRINK_CALLS, batch_sizes, run_batch, run_sequence_case, sequence_case


class SequenceError(AssertionError):
    """A generated sequence broke an invariant or the reference model on the stream under test."""


class FaultSequences:
    """Generated sequences for the stream of ``factory`` (see the module's rules)."""

    def __init__(self, factory: Any, *, seed: int) -> None:
        from .conformance import _target

        self.target, self.spec = _target(factory)
        self.seed = seed

    def run(self, sequence: Sequence) -> CaseResult:
        """Run one sequence on a fresh stream and judge it; the result says what broke (``outcome``)."""
        if not isinstance(sequence, Sequence):
            raise TypeError(f"run() takes a faultio.Sequence (from faultio.strategies.sequences()), got "
                            f"{type(sequence).__name__}")
        return run_sequence_case(sequence_case(sequence, seed=self.seed, index=0), self.target)

    def check(self, count: int = 100, *, shrink_calls: int = MAX_SHRINK_CALLS) -> list[CaseResult]:
        """Run ``count`` generated sequences; raise ``SequenceError`` (failing the test) with the first shrunk
        failure, else return every result."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count={count!r} is not valid; it must be an integer >= 1")
        results: list[CaseResult] = []
        for number, size in enumerate(batch_sizes(count)):
            batch = run_batch(number, seed=self.seed, count=size, target=self.target, shrink_calls=shrink_calls)
            results += batch
            failing = [r for r in batch if r.outcome != "pass"]
            if failing:
                raise SequenceError(self.explain(failing[0], judged=number * BATCH + len(batch) - 1))
        return results

    def explain(self, result: CaseResult, *, judged: int) -> str:
        """What failed, the shrunk sequence (one line and JSON), and how to run it again."""
        seq = result.case.sequence
        lines = [f"faultio: generated sequence #{result.case.index} of those run on {self.target.name} failed "
                 f"(after {judged} passed; seed {self.seed}), shrunk to {len(seq.ops)} op(s) and "
                 f"{len(seq.plan.read) + len(seq.plan.write)} plan step(s):",
                 f"  {seq.describe()}"]
        lines += [f"[{v.slug}] {v.message}" for v in result.violations]
        if result.error:
            lines.append(f"error: {result.error}")
        lines.append(f"sequence JSON: {seq.dumps()}")
        lines.append("run it again: fault_sequences.run(faultio.Sequence.from_json(<the JSON above>))"
                     + (f", or save the case and: python -m harness replay FILE --target {self.spec}"
                        if self.spec else ""))
        return "\n".join(lines)
