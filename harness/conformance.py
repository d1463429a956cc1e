"""Conformance checking without pytest: prove a stream class survives the whole fault matrix.

Rules for this module:
- Usable from any test runner, a script or a REPL: it never imports pytest and never relies on ``assert``
  (which ``python -O`` strips). A failure is a ``ConformanceError`` carrying every failing case.
- It runs the harness's own matrix (``harness._matrix.build_cases``) through the harness's own runner
  (``harness._runner.run_case``) and monitors; it adds no check of its own.
- Every failing case comes with a command that replays exactly that case.

Example::

    from harness.conformance import check_stream
    check_stream(mypkg.streams.MyIOStream)             # raises ConformanceError naming each broken slug
    result = check_stream("mypkg.streams:make_stream", faults="eintr,dribble", raise_on_violation=False)
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import shlex
import sys
from typing import Any, Callable, Iterable, Sequence

from faultio import PlanError, parse_kinds

from ._case import TRANSPORTS, CaseResult
from ._matrix import build_cases, parse_operations
from ._runner import run_case
from ._targets import Target, TargetError, load_target, stream_class_factory

__all__ = ["ConformanceError", "ConformanceResult", "check_stream", "main"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConformanceResult:
    """What ``check_stream`` found: one ``CaseResult`` per case of the matrix, in matrix order."""

    target: str
    seed: int
    results: tuple[CaseResult, ...]
    #: How to re-run one case, by case id (a shell command, or a Python call when the factory has no
    #: importable name).
    replays: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        """The cases that broke an invariant or could not be judged."""
        return tuple(r for r in self.results if r.outcome != "pass")

    @property
    def ok(self) -> bool:
        """True when every case passed."""
        return not self.failures

    @property
    def slugs(self) -> list[str]:
        """Every invariant slug broken in any case, sorted."""
        return sorted({slug for r in self.results for slug in r.slugs})

    def describe(self) -> str:
        """A human summary: counts, then one block per failing case (slugs, messages, replay)."""
        lines = [f"{self.target}: {len(self.results)} case(s), {len(self.results) - len(self.failures)} passed, "
                 f"{len(self.failures)} failed (seed {self.seed})"]
        for result in self.failures:
            lines.append(f"- {result.case.id}: {', '.join(result.slugs) or 'error'}")
            for v in result.violations:
                lines.append(f"    [{v.slug}] {v.message} (loop step {v.step})")
            if result.error:
                lines.append(f"    [error] {result.error}")
            lines.append(f"    replay: {self.replays.get(result.case.id, '')}")
        return "\n".join(lines)


class ConformanceError(Exception):
    """The stream broke at least one invariant. ``result`` holds every case; the message lists each failing
    case id with its slugs, messages and replay command."""

    def __init__(self, result: ConformanceResult) -> None:
        super().__init__(result.describe())
        self.result = result


def _importable_spec(obj: Any) -> str | None:
    """``module:qualname`` when importing that gives back ``obj`` itself, else None."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return f"{module}:{qualname}" if found is obj else None


def _target(factory: Any) -> tuple[Target, str | None]:
    if isinstance(factory, str):
        return load_target(factory), factory
    if not callable(factory):
        raise TypeError(f"check_stream() takes a stream class, a factory or a 'module:factory' spec, "
                        f"got {factory!r}")
    spec = _importable_spec(factory)
    name = spec or getattr(factory, "__qualname__", repr(factory))
    made: Callable[..., Any] = stream_class_factory(factory) if isinstance(factory, type) else factory
    return Target(name=name, factory=made), spec


def _transports(transports: str | Iterable[str]) -> tuple[str, ...]:
    chosen = (transports,) if isinstance(transports, str) else tuple(transports)
    if chosen == ("all",):
        return TRANSPORTS
    for transport in chosen:
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; valid: {', '.join(TRANSPORTS)}, all")
    return chosen


def _replay(spec: str | None, name: str, result: CaseResult, seed: int) -> str:
    case = result.case
    if spec is not None:
        # The matrix narrowed to this case's cell, so that ``--case`` finds it whatever its transport.
        return shlex.join([sys.executable, "-m", "harness.conformance", spec, "--faults", case.fault,
                           "--transports", case.transport, "--operations", case.operation, "--seed", str(seed),
                           "--case", case.id])
    return (f"check_stream({name}, faults={case.fault!r}, transports=({case.transport!r},), "
            f"operations=({case.operation!r},), seed={seed}, cases=({case.id!r},))  # the factory has no "
            "importable name")


def check_stream(factory: Any, *, faults: str | Iterable[str] = "all",
                 transports: str | Iterable[str] = ("plain",), seed: int = 0,
                 operations: str | Sequence[str] | None = None, cases: Iterable[str] | None = None,
                 raise_on_violation: bool = True) -> ConformanceResult:
    """Run the fault matrix against a stream and judge every case with the harness's monitors.

    ``factory`` is an IOStream-like class (``cls(sock, io_loop=..., max_buffer_size=...)``; for TLS also
    ``ssl_options=..., server_side=True``), a factory ``factory(sock, *, io_loop, transport, max_buffer_size,
    ssl_context)``, or a ``"module:factory"`` spec. ``faults`` is ``"all"`` or kinds; ``transports`` is
    ``("plain",)``, ``("plain", "ssl")`` or ``"all"``; ``operations`` narrows the matrix (default: every
    operation); ``cases`` keeps only those case ids. The same arguments always give the same result.

    Raises ``ConformanceError`` when any case fails (unless ``raise_on_violation`` is false) and
    ``ValueError`` for a bad argument, naming the valid values.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} is not valid; it must be an integer >= 0")
    chosen = _transports(transports)
    try:  # the TLS kinds count on the ssl transport ("all" includes them there), as for the CLI's run
        kinds = parse_kinds(faults, transports=chosen)
    except PlanError as exc:
        raise ValueError(str(exc)) from None
    target, spec = _target(factory)
    matrix = build_cases(faults=kinds, transports=chosen, seed=seed, operations=parse_operations(operations))
    if cases is not None:
        wanted = set(cases)
        unknown = wanted - {c.id for c in matrix}
        if unknown:
            raise ValueError(f"unknown case id(s) {sorted(unknown)}; ids look like "
                             f"{matrix[0].id if matrix else 'read_bytes/future/eintr/plain'}")
        matrix = [c for c in matrix if c.id in wanted]
    results = tuple(run_case(case, target) for case in matrix)
    replays = {r.case.id: _replay(spec, target.name, r, seed) for r in results if r.outcome != "pass"}
    result = ConformanceResult(target=target.name, seed=seed, results=results, replays=replays)
    if raise_on_violation and not result.ok:
        raise ConformanceError(result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.conformance module:factory [--faults K] [--transports T] [--seed N] [--case ID]``.

    Prints the summary (and, for ``--case``, each failing case's trace tail) to stdout. Exit status 0 when
    every case passed, 1 when some failed, 2 for a bad argument. Never calls ``sys.exit``.
    """
    parser = argparse.ArgumentParser(prog="python -m harness.conformance",
                                     description="Check a stream against the faultio fault matrix.")
    parser.add_argument("target", help="module:factory or module:StreamClass")
    parser.add_argument("--faults", default="all", help="fault kinds, a comma list or 'all' (default all)")
    parser.add_argument("--transports", default="plain", help="plain, ssl or all (default plain)")
    parser.add_argument("--operations", default=None, help="operations, a comma list (default all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", action="append", default=None, help="run only this case id (repeatable)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        result = check_stream(args.target, faults=args.faults, transports=args.transports.split(","),
                              seed=args.seed, operations=args.operations, cases=args.case,
                              raise_on_violation=False)
    except (ValueError, TargetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.describe())
    if args.case:
        for failure in result.failures:
            print(f"\ntrace of {failure.case.id} (last 40 events):")
            for event in failure.trace[-40:]:
                detail = " ".join(f"{k}={v}" for k, v in event["detail"].items() if not k.endswith("_hex"))
                print(f"  #{event['index']} step {event['step']} {event['source']} {event['kind']} {detail}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
