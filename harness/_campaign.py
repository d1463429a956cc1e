"""Campaigns (``run --budget``): replay the stored failures, then generate fault plans until the time is spent.

Rules for this module:
- The work is cut into *chunks*: ``CHUNK_EXAMPLES`` generated plans of one cell, drawn by Hypothesis from a
  seed derived from the run's seed, the chunk's number and the cell (``_generate._Cell`` does the drawing
  and the shrinking, as for ``run --examples``). A chunk's result depends on nothing else: the clock only
  decides how many chunks run, never what one of them gives. Chunks go round the cells: chunk 0 of every
  cell, then chunk 1 of every cell, and so on, across batches (a batch smaller than a round ends it where
  the next batch goes on), so the chunks run are a prefix of one order that ``jobs`` does not change.
- The clock is read between batches of chunks, never inside a case: a batch is sized from the chunks seen
  so far to last a few seconds at most, so the campaign ends within about one batch of its budget (a chunk
  that shrinks a failure takes longer). Every loop is bounded: ``MAX_CHUNKS`` chunks per cell at most.
- A cell that fails is done: its minimal failing case is stored and the time goes to the cells still
  passing. Stored failures of the run's cells are replayed first, whatever the budget; one that still fails
  retires its cell at once, one that passes now is deleted from the store.
- Cases run only through ``pool_map`` worker processes (``contain``): a target that kills its worker costs
  its chunk, and Ctrl-C or SIGTERM stop every worker; the caller (``_cli_campaign``) writes the report of
  what ran. Nothing here prints or writes a report.
- The replayed cases and the generated chunks of a whole campaign run in one ``WorkerPool`` (a worker's
  start-up, its imports and its TLS keys are paid once, not per batch); a worker that dies costs a fresh
  pool, as in ``pool_map``.
  Nothing a chunk leaves in its worker changes the next: the per-process count of hangs is reset per chunk.
- ``--shard i/n`` splits the chunks by ``_shard.chunk_unit``; a stored case belongs to the chunk of its index.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence, TextIO

from ._case import CaseResult
from ._generate import MAX_SHRINK_CALLS, _Cell
from ._matrix import DEFAULT_MEMORY_LIMIT, WorkerPool, dead_worker_result, pool_map, run_cases
from ._runner import derive_seed, forget_hangs
from ._shard import Shard, cell_unit, chunk_unit
from ._targets import load_target

#: Generated plans per chunk: small enough that a batch of chunks ends soon after the budget.
CHUNK_EXAMPLES = 8
#: Chunks per cell at most (a bound no real budget reaches: 8 million cases per cell).
MAX_CHUNKS = 1_000_000
#: A batch of chunks is sized to last about this long, at most (less when less time is left).
BATCH_SECONDS = 4.0
#: Chunks per batch and worker, at most.
MAX_BATCH_PER_JOB = 32

Cell = tuple[str, str, str]


class _ChunkCell(_Cell):
    """Chunk ``number`` of a cell: its own Hypothesis seed, its examples numbered from ``number * examples``."""

    def __init__(self, cell: Cell, *, number: int, seed: int, examples: int, **kwargs: Any) -> None:
        super().__init__(cell, seed=seed, examples=examples, **kwargs)
        self.hypothesis_seed = derive_seed(seed, "campaign", number, self.operation, self.style, self.transport)
        self.first_index = number * examples


def _run_chunk(args: tuple[str, Cell, int, int, int, int, dict[str, Any], str]) -> list[CaseResult]:
    """In a worker: the results of one chunk (its passing cases, then its shrunk failure if any)."""
    spec, cell, number, seed, examples, shrink_calls, run_options, profile = args
    forget_hangs()  # a chunk's result must not depend on the chunks its worker ran before
    return _ChunkCell(cell, number=number, seed=seed, examples=examples, target=load_target(spec),
                      shrink_calls=shrink_calls, run_options=run_options, profile=profile).run()


def chunk_of(index: int, examples: int = CHUNK_EXAMPLES) -> int:
    """The chunk a generated case of example ``index`` comes from."""
    return index // examples


class Campaign:
    """One campaign's state; ``run()`` fills it, and what it holds is valid even after an interrupt."""

    def __init__(self, cells: Sequence[Cell], *, seed: int, budget_s: float, target_spec: str, jobs: int,
                 profile: str, fail_on: Sequence[str], store: Any = None, shard: Shard | None = None,
                 invariants: Sequence[str] = (), memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 run_options: dict[str, Any] | None = None, examples: int = CHUNK_EXAMPLES,
                 shrink_calls: int = MAX_SHRINK_CALLS,
                 progress: Callable[[Campaign], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if budget_s <= 0:
            raise ValueError(f"budget_s must be more than 0, got {budget_s!r}")
        if jobs < 1 or examples < 1:
            raise ValueError(f"jobs and examples must be at least 1, got {jobs} and {examples}")
        self.cells = list(cells)
        self.seed, self.budget_s, self.target_spec, self.jobs = seed, budget_s, target_spec, jobs
        self.profile, self.fail_on, self.store, self.shard = profile, tuple(fail_on), store, shard
        self.invariants, self.memory_limit = tuple(invariants), memory_limit
        self.run_options = dict(run_options or {})
        self.examples, self.shrink_calls = examples, shrink_calls
        self.progress, self.clock = progress, clock
        #: Results of the stored cases replayed first, in store order.
        self.replayed: list[CaseResult] = []
        #: Results of the generated chunks, in the order they arrived.
        self.generated: list[CaseResult] = []
        self.chunks = 0
        self.stored = 0
        self.removed = 0
        #: The cells that failed (no more chunks are drawn for them).
        self.retired: set[Cell] = set()
        self.started = clock()
        self.stopped = ""
        self._pool: WorkerPool | None = None

    # --- figures ----------------------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    @property
    def cases(self) -> int:
        return len(self.replayed) + len(self.generated)

    @property
    def failing(self) -> int:
        return sum(r.fails(self.fail_on) for r in (*self.replayed, *self.generated))

    def figures(self) -> dict[str, Any]:
        """The campaign's figures for its report (``campaign`` in ``docs/report-format.md``)."""
        elapsed = max(self.elapsed, 1e-9)
        return {
            "budget_s": round(self.budget_s, 3),
            "elapsed_s": round(elapsed, 3),
            "examples_per_chunk": self.examples,
            "chunks": self.chunks,
            "cases": self.cases,
            "cases_per_s": round(self.cases / elapsed, 1),
            "replayed": len(self.replayed),
            "replayed_failing": sum(r.fails(self.fail_on) for r in self.replayed),
            "removed": self.removed,
            "found": sum(r.fails(self.fail_on) for r in self.generated),
            "stored": self.stored,
            "cells": len(self.cells),
            "cells_failing": len(self.retired),
            "database": None if self.store is None else str(self.store.path),
            "stopped": self.stopped or "interrupted",
        }

    # --- running ----------------------------------------------------------------------------------------

    def run(self) -> None:
        """Replay, then generate until the budget is spent or every cell failed."""
        self.started = self.clock()
        with WorkerPool(self.jobs, invariants=self.invariants, memory_limit=self.memory_limit,
                        capacity=self.jobs * MAX_BATCH_PER_JOB) as pool:
            self._pool = pool
            try:
                self._replay()
                self._generate()
            finally:
                self._pool = None

    def _replay(self) -> None:
        if self.store is None:
            return
        stored = [s for s in self.store.load(self.target_spec, self.profile, self.cells)
                  if self.shard is None or self.shard.holds(self._unit(s.case.operation, s.case.style,
                                                                       s.case.transport, s.case.index))]
        if not stored:
            return
        by_id = {s.case.id: s for s in stored}

        def arrived(result: CaseResult) -> None:
            self.replayed.append(result)
            case = result.case
            if result.outcome == "pass":
                self.store.delete(by_id[case.id])
                self.removed += 1
            else:
                self.retired.add((case.operation, case.style, case.transport))
            self._tick()

        # Stored cases of one cell may share an id (two stores merged by hand): the first is kept.
        run_cases(list(by_id[i].case for i in by_id), target_spec=self.target_spec, jobs=self.jobs,
                  progress=arrived, invariants=self.invariants, memory_limit=self.memory_limit, contain=True,
                  pool=self._pool, **self.run_options)

    def _unit(self, operation: str, style: str, transport: str, index: int) -> str:
        return chunk_unit(cell_unit(operation, style, transport), chunk_of(index, self.examples))

    def _next_chunk(self, cell: Cell, after: int) -> int | None:
        """The number of ``cell``'s first chunk from ``after`` on that belongs to this shard (``None``: none
        left below ``MAX_CHUNKS``; a shard holds about one chunk in ``count``, so the search is short)."""
        for number in range(after, MAX_CHUNKS):
            if self.shard is None or self.shard.holds(chunk_unit(cell_unit(*cell), number)):
                return number
        return None

    def _batch(self, size: int, upto: dict[Cell, int]) -> list[tuple[Cell, int]]:
        """The next ``size`` chunks at most, round the cells still passing: always the lowest chunk number not
        yet taken (the cell order breaks ties), so the rounds go on from batch to batch, whatever a batch's
        size (which the clock sets), and the chunks run are a prefix of one order that ``jobs`` does not change.
        More than one chunk of a cell only when fewer cells than workers are left (a cell's failure retires it
        when its chunk comes back, so a batch holds few chunks of a cell that is about to fail)."""
        live = [cell for cell in self.cells if cell not in self.retired and upto.get(cell) is not None]
        per_cell = max(1, -(-self.jobs // max(1, len(live))))
        nexts: dict[Cell, int] = {}
        for cell in live:  # each cell's next chunk held by this shard
            number = self._next_chunk(cell, upto[cell])
            if number is None:
                upto[cell] = None
            else:
                nexts[cell] = number
        taken = dict.fromkeys(nexts, 0)
        batch: list[tuple[Cell, int]] = []
        for _ in range(size):  # bounded by size; each turn takes a chunk or ends the batch
            open_cells = [cell for cell in nexts if taken[cell] < per_cell]
            if not open_cells:
                break
            cell = min(open_cells, key=lambda c: nexts[c])  # min keeps the first of equals: the cell order
            number = nexts[cell]
            batch.append((cell, number))
            taken[cell] += 1
            following = self._next_chunk(cell, number + 1)
            upto[cell] = following
            if following is None:
                del nexts[cell]
            else:
                nexts[cell] = following
        return batch

    def _generate(self) -> None:
        upto: dict[Cell, Any] = {cell: 0 for cell in self.cells}  # the next chunk number to look at, per cell
        per_chunk_s: float | None = None  # wall seconds a chunk costs, per worker, as measured so far
        for _ in range(MAX_CHUNKS):  # batches; each takes at least one chunk, so this bounds the loop
            left = self.budget_s - self.elapsed
            if left <= 0:
                self.stopped = "budget spent"
                return
            if per_chunk_s is None:
                size = self.jobs
            else:
                size = int(self.jobs * min(BATCH_SECONDS, left) / max(per_chunk_s, 1e-6))
                size = max(1, min(size, self.jobs * MAX_BATCH_PER_JOB))
            batch = self._batch(size, upto)
            if not batch:
                self.stopped = "every cell failed" if len(self.retired) >= len(self.cells) else "no chunk left"
                return
            began = self.clock()
            self._run_batch(batch)
            per_chunk_s = (self.clock() - began) * min(self.jobs, len(batch)) / len(batch)
        self.stopped = "no chunk left"

    def _run_batch(self, batch: list[tuple[Cell, int]]) -> None:
        tasks = [(self.target_spec, cell, number, self.seed, self.examples, self.shrink_calls, self.run_options,
                  self.profile) for cell, number in batch]

        def arrived(results: list[CaseResult]) -> None:
            self.chunks += 1
            for result in results:
                self.generated.append(result)
                if result.outcome != "pass":
                    case = result.case
                    self.retired.add((case.operation, case.style, case.transport))
                    if self.store is not None and result.fails(self.fail_on) and not _harness_error(result):
                        self.stored += self.store.save(result, self.target_spec)
            self._tick()

        def dead(task: tuple, why: str) -> list[CaseResult]:
            _, cell, number, *_ = task
            stand_in = _ChunkCell(cell, number=number, seed=self.seed, examples=self.examples, target=None,
                                  shrink_calls=0, run_options={}, profile=self.profile)
            from faultio import FaultPlan

            case = stand_in.case(FaultPlan(name="generated"), stand_in.first_index)
            return [dead_worker_result(case, why.replace("this case", "this chunk's generated cases"))]

        pool_map(_run_chunk, tasks, jobs=min(self.jobs, len(tasks)), invariants=self.invariants,
                 memory_limit=self.memory_limit, on_result=arrived, on_dead=dead, pool=self._pool)

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self)

    def results(self) -> list[CaseResult]:
        """Every result for the report: the replayed cases, then the generated ones in campaign order
        (chunk number, cell, index); a generated case with the id of a replayed one is left out (the same
        seed met the stored failure again)."""
        order = {cell: n for n, cell in enumerate(self.cells)}

        def key(result: CaseResult) -> tuple:
            case = result.case
            cell = (case.operation, case.style, case.transport)
            return (chunk_of(case.index, self.examples), order.get(cell, len(order)), case.index)

        seen = {r.case.id for r in self.replayed}
        generated = []
        for result in sorted(self.generated, key=key):
            if result.case.id not in seen:
                seen.add(result.case.id)
                generated.append(result)
        return [*self.replayed, *generated]


def _harness_error(result: CaseResult) -> bool:
    """A dead worker's stand-in (its plan is empty): nothing to replay."""
    return bool(result.error) and not result.case.plan.read and not result.case.plan.write


class CampaignProgress:
    """The campaign's progress line: rewritten in place on a terminal (at most 4 times a second), a plain
    line every ``every`` seconds otherwise; nothing when quiet. Called as results arrive, never polled."""

    def __init__(self, stream: TextIO, quiet: bool, *, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.quiet, self.clock = stream, quiet, clock
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.every = 0.25 if self.tty else every
        self.last = clock()
        self.shown = False

    @staticmethod
    def line(campaign: Campaign) -> str:
        elapsed = max(campaign.elapsed, 1e-9)
        stored = f", {campaign.stored} stored" if campaign.store is not None else ""
        return (f"campaign {elapsed:.0f}/{campaign.budget_s:g} s: {campaign.cases} cases, "
                f"{campaign.cases / elapsed:.1f} cases/s, {campaign.failing} failing{stored}; "
                f"{len(campaign.retired)} of {len(campaign.cells)} cells failing")

    def __call__(self, campaign: Campaign) -> None:
        now = self.clock()
        if self.quiet or now - self.last < self.every:
            return
        self.last = now
        self._show(campaign)

    def _show(self, campaign: Campaign) -> None:
        if self.tty:
            self.stream.write("\r" + self.line(campaign) + "\x1b[K")
            self.stream.flush()
        else:
            print(self.line(campaign), file=self.stream)
        self.shown = True

    def done(self, campaign: Campaign) -> None:
        if self.quiet:
            return
        self._show(campaign)
        if self.tty:
            self.stream.write("\n")
