"""The fault matrix: operations × styles × fault kinds × transports, and running it in parallel.

Rules for this module:
- Building the matrix is pure: the same arguments give the same cases in the same order.
- Running is order-free: cases are independent, so ``jobs`` only changes how fast results arrive, never
  what they are; results always come back in matrix order.
- Worker processes receive the target as its spec string and load it themselves (nothing unpicklable
  crosses a process boundary).
- A worker that dies (``os._exit`` in the target, a signal, a crash in native code) costs the case it was
  running, never the run (``pool_map``): each task records which worker started it, so a death names the
  task in flight in the dead worker; a task of one case is that case's ``error`` result (saying the exit
  code or signal), a chunk is cut into one-case tasks run one at a time in a one-worker pool, so only the
  case that kills is blamed. Tasks interrupted in the other workers, and the ones not started, run again in
  a fresh pool of ``jobs`` workers. After ``MAX_DEAD_POOLS`` dead pools the tasks left are ``error``
  results saying why they did not run: a target that kills every worker ends too.
- A ``WorkerPool`` keeps its workers across ``pool_map`` calls (a campaign's batches): a call that finds no
  dead worker leaves the pool running for the next; one whose pool broke shuts it down and the next call
  starts a fresh one; an exception (Ctrl-C, SIGTERM) stops every worker, in a call or between calls.
- Workers take SIGTERM's default action (a worker the pool or ``stop_pool`` terminates just ends), so a
  worker that died of anything else is told apart by its exit code.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
from typing import Any, Callable, Iterable, Sequence

from faultio import plan_for_kind
from faultio._plan import ALL_KINDS, CONNECT_KINDS, KIND_TRANSPORTS, TIME_KINDS, TLS_KINDS
from faultio._shaped import check_profile

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
    "connect": (0, 1500),
    "write_deadline": (0, 4000),
}

#: The operations that open the connection themselves: the only ones a connect kind can fault, and ones the TLS
#: kinds (faults of a stream serving an accepted connection) do not apply to.
CONNECT_OPERATIONS = ("connect",)


def applies(fault: str, operation: str) -> bool:
    """Whether fault kind ``fault`` makes a case of ``operation``: a connect kind only where the stream connects,
    a TLS kind only where it serves an accepted connection, a time kind only on an accepted connection too (the
    connect operation judges whether a connect is decided and how: a hold of a minute or two on the handshake's
    bytes would make the outcome a matter of the user's patience, not of the stream); every core kind everywhere."""
    if fault in CONNECT_KINDS:
        return operation in CONNECT_OPERATIONS
    if fault in TLS_KINDS or fault in TIME_KINDS:
        return operation not in CONNECT_OPERATIONS
    return True


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
                seed: int = 0, profile: str = "raw") -> list[Case]:
    """The fixed cases of the matrix, in a stable order: transport, fault, operation, style; each runs its
    fds under ``profile`` (``faultio.PROFILES``), which changes no case's id, seed or plan.

    A TLS kind (``faultio._plan.TLS_KINDS``) makes cases on the ``ssl`` transport only: on ``plain`` there is
    no TLS layer to fault, so that pair is no cell of the matrix (``parse_kinds(..., transports=...)`` refuses
    a TLS kind when only ``plain`` is asked for). A connect kind makes cases of the ``connect`` operation only, and
    a TLS kind none of it (``applies``)."""
    check_profile(profile)
    cases = []
    for fault in faults:
        if fault not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {fault!r}; valid: {', '.join(ALL_KINDS)}")
    for transport in transports:
        for fault in faults:
            if transport not in KIND_TRANSPORTS[fault]:
                continue
            for operation in operations or tuple(OPERATIONS):
                if not applies(fault, operation):
                    continue
                inbound, outbound = plan_sizes(operation)
                for style in OPERATIONS[operation][1]:
                    case_seed = derive_seed(seed, operation, style, fault, transport)
                    plan = plan_for_kind(fault, seed=case_seed, inbound_size=inbound, outbound_size=outbound)
                    cases.append(Case(operation=operation, style=style, fault=fault, transport=transport,
                                      plan=plan, seed=case_seed, profile=profile))
    return cases


def _run_chunk(args: tuple[str, list[Case], dict[str, Any]]) -> list[CaseResult]:
    spec, cases, options = args
    target = load_target(spec)
    return [_run_contained(case, target, options) for case in cases]


def _run_contained(case: Case, target: Any, options: dict[str, Any]) -> CaseResult:
    """``run_case`` in a worker, where nothing but a real stop may leave it: a non-``Exception`` that got past
    ``run_case``'s containment is this case's ``error`` instead of the end of the chunk (or of the run)."""
    from ._runner import RunInterrupted, _contained

    try:
        return run_case(case, target, **options)
    except Exception:
        raise  # a harness bug: the run reports it (exit 3)
    except RunInterrupted:
        raise
    except BaseException as exc:
        return CaseResult(case=case, error=f"{_contained(exc)} escaped the case; the case could not be judged")


def run_cases(cases: Sequence[Case], *, target_spec: str, jobs: int = 1,
              progress: Callable[[CaseResult], None] | None = None, invariants: Sequence[str] = (),
              memory_limit: int = DEFAULT_MEMORY_LIMIT, contain: bool = False, pool: WorkerPool | None = None,
              **options: Any) -> list[CaseResult]:
    """Run ``cases`` against the target named by ``target_spec``; results in the order of ``cases``.
    ``invariants`` are ``module[:obj]`` specs of user checkers, loaded here and in every worker. ``jobs=1``
    runs in this process, unless ``contain``: then in one worker process, so a target that ends its process
    costs only its cases (the CLI always contains). ``pool``: run in its kept workers (``pool_map``)."""
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
                         split=lambda args: [(args[0], [c], args[2]) for c in args[1]], pool=pool)
    return [r for chunk in per_chunk for r in chunk]


#: What a dead worker is said to have been, where the exit code is not known.
DEAD_WORKER = ("the worker process running this case died abruptly (os._exit, a signal or a crash in native "
               "code); the case could not be judged")
#: After this many dead worker pools in one ``pool_map``, the tasks left are not run (each death costs a
#: fresh pool; a target that kills every worker would otherwise cost one per case).
MAX_DEAD_POOLS = 100
#: What the tasks left then are said to be.
TOO_MANY_DEATHS = ("not run: {n} worker pools died in this run (the target keeps ending its worker process, or "
                   "something kills the workers); the cases left are not run")


def death_reason(exitcode: int | None) -> str:
    """What a case whose worker died with ``exitcode`` (``multiprocessing``'s: negative for a signal) is
    said to have met."""
    if exitcode is None:
        return DEAD_WORKER
    if exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return DEAD_WORKER.replace("(os._exit,", f"({how}: os._exit,")


def dead_worker_result(case: Case, why: str = DEAD_WORKER) -> CaseResult:
    """The ``error`` result of a case whose worker process died running it."""
    return CaseResult(case=case, error=why)


#: In a worker of ``pool_map``: one slot per task of its pool, where a task writes the pid that started it.
_STARTED: Any = None


def _tracked(fn: Callable[[Any], list[Any]], n: int, task: Any) -> list[Any]:
    """Run task ``n`` in a worker, first recording that this worker started it."""
    if _STARTED is not None:
        _STARTED[n] = os.getpid()
    try:
        return fn(task)
    except Exception:
        raise
    except BaseException as exc:  # a SystemExit must not cross into the main process and end the run there
        raise RuntimeError(f"the worker's task raised {exc!r}") from None


Item = tuple[tuple[int, ...], Any, bool]  # (key: slot, then piece numbers; task; suspect)


def pool_map(fn: Callable[[Any], list[Any]], tasks: Sequence[Any], *, jobs: int, invariants: Sequence[str] = (),
             memory_limit: int = DEFAULT_MEMORY_LIMIT,
             on_result: Callable[[list[Any]], None] | None = None,
             on_dead: Callable[[Any, str], list[Any]],
             split: Callable[[Any], list[Any]] | None = None,
             max_dead_pools: int = MAX_DEAD_POOLS, pool: WorkerPool | None = None) -> list[list[Any]]:
    """``[fn(task) for task in tasks]`` (each a list) in up to ``jobs`` worker processes, in task order.

    When a worker dies, the task it was running is the culprit: ``on_dead(task, reason)`` (the reason names
    the exit code or signal) stands for its result, unless ``split`` cuts it into several smaller tasks;
    those are *suspects*, run one at a time in a one-worker pool before anything else, so only the one that
    kills is blamed. A death no exit code explains (a worker SIGTERMed from outside) makes every task in
    flight a suspect. Every other task runs again, in parallel. After ``max_dead_pools`` dead pools,
    ``on_dead(task, TOO_MANY_DEATHS...)`` stands for every task left. ``on_result`` sees each list as it
    arrives (in any order). With ``pool``, the parallel rounds run in its kept workers (``jobs`` is then the
    pool's); suspects still run in a one-worker pool of their own."""
    results: dict[tuple[int, ...], list[Any]] = {}

    def settle(key: tuple[int, ...], value: list[Any]) -> None:
        results[key] = value
        if on_result:
            on_result(value)

    def pieces(item: Item) -> list[Item]:
        key, task, _ = item
        cut = split(task) if split is not None else [task]
        return [(key + (i,), piece, True) for i, piece in enumerate(cut)] if len(cut) > 1 else [(key, task, True)]

    todo: list[Item] = [((slot,), task, False) for slot, task in enumerate(tasks)]
    dead_pools = 0
    while todo:
        if dead_pools >= max_dead_pools:
            for key, task, _ in todo:
                settle(key, on_dead(task, TOO_MANY_DEATHS.format(n=dead_pools)))
            break
        suspects = [item for item in todo if item[2]]
        batch = suspects or todo
        waiting = [item for item in todo if not item[2]] if suspects else []
        kept = pool if pool is not None and not suspects and len(batch) <= pool.capacity else None
        finished, broken, started, exitcodes = _run_pool(fn, batch, 1 if suspects else min(jobs, len(batch)),
                                                         invariants, memory_limit, settle, kept)
        left = [n for n in range(len(batch)) if n not in finished]
        if broken and left:
            dead_pools += 1
        # The task each worker was running when the pool broke: the last one it started and did not finish.
        running: dict[int, int] = {}  # pid -> n
        for n in left:
            if started.get(n):
                running[started[n]] = max(n, running.get(started[n], -1))
        if suspects:  # one worker: whatever it was running killed it
            culprits = {n: exitcodes.get(pid) for pid, n in running.items()}
            unexplained: set[int] = set()
        else:
            culprits = {n: exitcodes[pid] for pid, n in running.items()
                        if exitcodes.get(pid) not in (None, -signal.SIGTERM)}
            unexplained = set() if culprits or not broken else set(running.values())
        again: list[Item] = []
        for n in left:
            item = batch[n]
            if n in culprits:
                cut = pieces(item)
                if len(cut) > 1:
                    again += cut
                else:
                    settle(item[0], on_dead(item[1], death_reason(culprits[n])))
            elif n in unexplained:
                again += pieces(item)
            else:
                again.append(item)
        todo = sorted(waiting + again, key=lambda item: item[0])
    collected: list[list[Any]] = [[] for _ in tasks]
    for key in sorted(results):
        collected[key[0]].extend(results[key])
    return collected


def _run_pool(fn: Callable[[Any], list[Any]], batch: Sequence[Item], workers: int, invariants: Sequence[str],
              memory_limit: int, settle: Callable[[tuple[int, ...], list[Any]], None],
              kept: WorkerPool | None = None) -> tuple[set[int], bool, dict[int, int], dict[int, int | None]]:
    """Run ``batch`` in one pool of ``workers`` (or in ``kept``'s workers); ``settle`` each result as it
    arrives. Returns the indices finished, whether the pool broke, the pid that started each task (of those
    started) and each worker's exit code. A fresh pool is shut down at the end; ``kept`` only if it broke."""
    import multiprocessing

    if kept is not None:
        pool, started, processes = kept.executor()
        started[:] = [0] * len(started)
    else:
        started = multiprocessing.RawArray("q", len(batch))
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, initializer=worker_init,
                                                      initargs=(tuple(invariants), memory_limit, started))
        processes = {}
    finished: set[int] = set()
    broken = False
    try:
        futures = {}
        for n, (_, task, _) in enumerate(batch):
            try:
                futures[pool.submit(_tracked, fn, n, task)] = n
            except concurrent.futures.process.BrokenProcessPool:  # a worker died already
                broken = True
                break
            finally:
                processes.update(getattr(pool, "_processes", None) or {})
        for future in concurrent.futures.as_completed(futures):
            n = futures[future]
            try:
                value = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                broken = True
                continue
            finished.add(n)
            settle(batch[n][0], value)
    except BaseException:
        if kept is not None:
            kept.stop()
        else:
            stop_pool(pool)  # Ctrl-C, SIGTERM, an error of ours: no worker outlives the run
        raise
    if kept is not None and not broken:
        return finished, broken, {n: pid for n, pid in enumerate(started[:len(batch)]) if pid}, {}
    pool.shutdown(wait=True)
    if kept is not None:
        kept.forget()  # the next call starts fresh workers
    exitcodes = {pid: process.exitcode for pid, process in processes.items()}
    return finished, broken, {n: pid for n, pid in enumerate(started[:len(batch)]) if pid}, exitcodes


class WorkerPool:
    """``jobs`` worker processes kept for several ``pool_map(..., pool=...)`` calls, started at the first
    one; a call of more than ``capacity`` tasks runs in a pool of its own. Use it as a context manager: on
    leaving, the workers are shut down (stopped at once if an exception, such as Ctrl-C, is leaving)."""

    def __init__(self, jobs: int, *, invariants: Sequence[str] = (), memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 capacity: int = 256) -> None:
        if jobs < 1 or capacity < 1:
            raise ValueError(f"jobs and capacity must be at least 1, got {jobs} and {capacity}")
        self.jobs, self.invariants, self.memory_limit, self.capacity = jobs, tuple(invariants), memory_limit, capacity
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._started: Any = None
        self._processes: dict[int, Any] = {}
        #: Worker pools started so far (a fresh one after each that broke).
        self.pools_started = 0

    def executor(self) -> tuple[concurrent.futures.ProcessPoolExecutor, Any, dict[int, Any]]:
        """The running pool (started now if none is), its task-start record and its processes by pid."""
        if self._pool is None:
            import multiprocessing

            self._started = multiprocessing.RawArray("q", self.capacity)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.jobs, initializer=worker_init,
                initargs=(self.invariants, self.memory_limit, self._started))
            self._processes = {}
            self.pools_started += 1
        return self._pool, self._started, self._processes

    def forget(self) -> None:
        """Drop the pool (already shut down): the next call starts a fresh one."""
        self._pool, self._started, self._processes = None, None, {}

    def stop(self) -> None:
        """End every worker now (``stop_pool``)."""
        if self._pool is not None:
            stop_pool(self._pool)
        self.forget()

    def close(self) -> None:
        """Let the workers finish and end (nothing is in flight between calls)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.forget()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.stop()


def worker_init(invariants: Sequence[str], memory_limit: int = DEFAULT_MEMORY_LIMIT, started: Any = None) -> None:
    """Set up a worker process: Ctrl-C is the main process's to handle (it stops the workers itself, so the
    terminal gets one message, not one traceback per worker); SIGTERM just ends it (a handler the main
    process had when it forked this one is not the worker's); its address space is capped at
    ``memory_limit`` bytes (0: no cap), so a memory bomb in the target fails with ``MemoryError`` in that
    worker instead of taking the machine; then load the user checkers. ``started`` is ``pool_map``'s
    record of which worker started which task."""
    global _STARTED

    from . import _runner

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _runner.IN_WORKER = True
    _STARTED = started
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
