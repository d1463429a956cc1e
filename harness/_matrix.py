"""The fault matrix: operations × styles × fault kinds × transports, and running it in parallel.

Rules for this module:
- Building the matrix is pure: the same arguments give the same cases in the same order.
- Running is order-free: cases are independent, so ``jobs`` only changes how fast results arrive, never
  what they are; results always come back in matrix order.
- Worker processes receive the target as its spec string and load it themselves (nothing unpicklable
  crosses a process boundary).
- A worker that dies (``os._exit`` in the target, a signal, a crash in native code) costs the cases it was
  running, never the run: those cases are retried one at a time in a one-worker pool, and the one running
  when a worker dies again becomes an ``error`` result saying so (``pool_map``).
"""

from __future__ import annotations

import concurrent.futures
import os
from typing import Any, Callable, Iterable, Sequence

from faultio import FAULT_KINDS, plan_for_kind

from ._case import TRANSPORTS, Case, CaseResult
from ._runner import derive_seed, run_case
from ._scenarios import OPERATIONS
from ._targets import load_target

#: Address space a worker process may use by default (``--memory-limit``): one case cannot take the machine.
DEFAULT_MEMORY_LIMIT = 4 << 30


#: Bytes the read scenarios receive at most (two halves), so seeded faults land inside the exchange.
_READ_INBOUND = 600
_SIZES = {
    "write": (0, 2800),
    "echo": (259, 196),
}


def plan_sizes(operation: str) -> tuple[int, int]:
    """(inbound, outbound) bytes an operation's scenario moves, for placing faults inside it."""
    return _SIZES.get(operation, (_READ_INBOUND, 0))


def parse_operations(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """The operations ``spec`` names (``None``/``"all"``, a comma list or an iterable), in matrix order.

    Raises ``ValueError`` naming the valid operations.
    """
    if spec is None or spec == "all":
        return tuple(OPERATIONS)
    names = [p.strip() for p in spec.split(",")] if isinstance(spec, str) else list(spec)
    for name in names:
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; valid: {', '.join(OPERATIONS)}, all")
    return tuple(n for n in OPERATIONS if n in names)


def parse_transports(spec: str) -> tuple[str, ...]:
    """The transports ``spec`` names (``plain``, ``ssl`` or ``all``); ``ValueError`` for anything else."""
    if spec == "all":
        return TRANSPORTS
    if spec not in TRANSPORTS:
        raise ValueError(f"unknown transport {spec!r}; valid: plain, ssl, all")
    return (spec,)


def build_cases(*, faults: Sequence[str], transports: Sequence[str], operations: Sequence[str] | None = None,
                seed: int = 0) -> list[Case]:
    """The fixed cases of the matrix, in a stable order: transport, fault, operation, style."""
    cases = []
    for transport in transports:
        for fault in faults:
            if fault not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {fault!r}; valid: {', '.join(FAULT_KINDS)}")
            for operation in operations or tuple(OPERATIONS):
                inbound, outbound = plan_sizes(operation)
                for style in OPERATIONS[operation][1]:
                    case_seed = derive_seed(seed, operation, style, fault, transport)
                    plan = plan_for_kind(fault, seed=case_seed, inbound_size=inbound, outbound_size=outbound)
                    cases.append(Case(operation=operation, style=style, fault=fault, transport=transport,
                                      plan=plan, seed=case_seed))
    return cases


def _run_chunk(args: tuple[str, list[Case], dict[str, Any]]) -> list[CaseResult]:
    spec, cases, options = args
    target = load_target(spec)
    return [run_case(case, target, **options) for case in cases]


def run_cases(cases: Sequence[Case], *, target_spec: str, jobs: int = 1,
              progress: Callable[[CaseResult], None] | None = None, invariants: Sequence[str] = (),
              memory_limit: int = DEFAULT_MEMORY_LIMIT, contain: bool = False, **options: Any) -> list[CaseResult]:
    """Run ``cases`` against the target named by ``target_spec``; results in the order of ``cases``.
    ``invariants`` are ``module[:obj]`` specs of user checkers, loaded here and in every worker. ``jobs=1``
    runs in this process, unless ``contain``: then in one worker process, so a target that ends its process
    costs only its cases (the CLI always contains)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    load_invariant_specs(invariants)
    if (jobs == 1 and not contain) or not cases:
        target = load_target(target_spec)
        results = []
        for case in cases:
            result = run_case(case, target, **options)
            results.append(result)
            if progress:
                progress(result)
        return results
    # Small chunks balance the load (TLS cases cost more than plain ones) while keeping overhead low.
    size = max(1, min(8, len(cases) // (jobs * 4) or 1))
    chunks = [list(cases[i : i + size]) for i in range(0, len(cases), size)]

    def report(chunk_results: list[CaseResult]) -> None:
        for result in chunk_results:
            if progress:
                progress(result)

    per_chunk = pool_map(_run_chunk, [(target_spec, chunk, options) for chunk in chunks], jobs=jobs,
                         invariants=invariants, memory_limit=memory_limit, on_result=report,
                         on_dead=lambda args, why: [dead_worker_result(c, why) for c in args[1]],
                         split=lambda args: [(args[0], [c], args[2]) for c in args[1]])
    return [r for chunk in per_chunk for r in chunk]


#: What a dead worker is said to have been, where the exit code is not known.
DEAD_WORKER = ("the worker process running this case died abruptly (os._exit, a signal or a crash in native "
               "code); the case could not be judged")


def dead_worker_result(case: Case, why: str = DEAD_WORKER) -> CaseResult:
    """The ``error`` result of a case whose worker process died running it."""
    return CaseResult(case=case, error=why)


def pool_map(fn: Callable[[Any], list[Any]], tasks: Sequence[Any], *, jobs: int, invariants: Sequence[str] = (),
             memory_limit: int = DEFAULT_MEMORY_LIMIT,
             on_result: Callable[[list[Any]], None] | None = None,
             on_dead: Callable[[Any, str], list[Any]],
             split: Callable[[Any], list[Any]] | None = None) -> list[list[Any]]:
    """``[fn(task) for task in tasks]`` (each a list) in up to ``jobs`` worker processes, in task order.

    When a worker dies, every task not finished is retried in a pool of one worker, one task at a time
    (``split`` may first cut a task into smaller ones, so only the culprit is blamed): with one worker the
    task running when the pool breaks is the first unfinished one, and ``on_dead(task, reason)`` stands for
    its result. Each death after the first settles a task, so this ends. ``on_result`` sees each list as it
    arrives."""
    collected: list[list[Any]] = [[] for _ in tasks]
    todo: list[tuple[int, Any]] = list(enumerate(tasks))  # (slot, task); after a split, slots repeat
    serial = False
    while todo:
        broken = False
        finished: set[int] = set()
        workers = 1 if serial else min(jobs, len(todo))
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, initializer=worker_init,
                                                      initargs=(tuple(invariants), memory_limit))
        try:
            futures = {pool.submit(fn, task): n for n, (_, task) in enumerate(todo)}
            # Each slot has one task until a split, and after it one worker runs them in order: settling on
            # arrival keeps every slot's pieces in order.
            for future in concurrent.futures.as_completed(futures):
                n = futures[future]
                try:
                    value = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    broken = True
                    continue
                finished.add(n)
                collected[todo[n][0]].extend(value)
                if on_result:
                    on_result(value)
        except BaseException:
            stop_pool(pool)  # Ctrl-C, SIGTERM, an error of ours: no worker outlives the run
            raise
        pool.shutdown(wait=True)
        left = [item for n, item in enumerate(todo) if n not in finished]
        if broken and left:
            if serial:
                slot, task = left.pop(0)
                value = on_dead(task, DEAD_WORKER)
                collected[slot].extend(value)
                if on_result:
                    on_result(value)
            elif split is not None:
                left = [(slot, piece) for slot, task in left for piece in split(task)]
            serial = True
        todo = left
    return collected


def worker_init(invariants: Sequence[str], memory_limit: int = DEFAULT_MEMORY_LIMIT) -> None:
    """Set up a worker process: Ctrl-C is the main process's to handle (it stops the workers itself, so the
    terminal gets one message, not one traceback per worker); its address space is capped at
    ``memory_limit`` bytes (0: no cap), so a memory bomb in the target fails with ``MemoryError`` in that
    worker instead of taking the machine; then load the user checkers."""
    import signal

    from . import _runner

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _runner.IN_WORKER = True
    if memory_limit:
        try:
            import resource

            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            soft = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX, or refused
            pass
    load_invariant_specs(invariants)


def stop_pool(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: cancel what has not started and end every worker process (SIGTERM, then SIGKILL
    for one that does not go), so none outlives the run."""
    processes = list(getattr(pool, "_processes", {}).values())  # the stdlib offers no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=2.0)
        if process.is_alive():
            process.kill()
            process.join(timeout=2.0)


def load_invariant_specs(specs: Sequence[str]) -> None:
    """Register the user checkers named by ``specs`` (idempotent: a worker may already have them)."""
    from .engine import load_invariants

    for spec in specs:
        load_invariants(spec)


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
