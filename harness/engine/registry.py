"""The invariant registry: every checked property, by slug, with its class and the checker that checks it.

Rules for this module:
- Slugs are a public contract (reports, JSON, plugin failures point at them); never rename one.
- One checker class per invariant. A checker declares what it observes and which stream attributes it
  needs (``requires``); on a stream without them it is *not applicable*, never silently passed.
- The class says what kind of finding a violation is: ``contract`` (a bug for any stream reader's user)
  or ``design`` (the seed design's stricter Tornado 4 rules, which faultio's own stream follows).
- Registering is the only way in: ``@invariant(...)`` on a ``Checker`` subclass, for built-ins and user
  checkers alike. Nothing here imports the checkers; ``harness.engine`` does, so the built-ins are always
  registered once the engine is imported.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any, Callable, ClassVar, Iterable

CLASSES = ("contract", "design")
#: What a checker may observe (documentation and ``list``; the monitor feeds every checker the same hooks).
OBSERVES = ("trace", "stream-state", "delivered", "futures", "callbacks", "logs", "frames")
_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class InvariantError(ValueError):
    """A checker or an ``--invariants`` spec that cannot be registered or loaded."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Invariant:
    """One checked property: ``slug`` (stable), its class, a group, a one-line ``explanation``, what it
    ``observes`` and the stream attributes it ``requires``."""

    slug: str
    klass: str
    group: str
    explanation: str
    observes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    number: int = 0
    builtin: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.slug, str) or not _SLUG.match(self.slug):
            raise InvariantError(f"invariant slug {self.slug!r} is not valid; use lower-case words joined by "
                                 "'-' (e.g. 'no-double-reply')")
        if self.klass not in CLASSES:
            raise InvariantError(f"invariant {self.slug}: class {self.klass!r} is not valid; valid: "
                                 f"{', '.join(CLASSES)}")
        if not isinstance(self.explanation, str) or not self.explanation.strip():
            raise InvariantError(f"invariant {self.slug}: give a one-line explanation of what must hold")
        unknown = [o for o in self.observes if o not in OBSERVES]
        if unknown:
            raise InvariantError(f"invariant {self.slug}: observes {unknown} unknown; valid: {', '.join(OBSERVES)}")

    def to_json(self) -> dict[str, Any]:
        """The invariant as a JSON object (for ``list --json`` and reports)."""
        return {"slug": self.slug, "class": self.klass, "group": self.group, "explanation": self.explanation,
                "observes": list(self.observes), "requires": list(self.requires)}


class Checker:
    """Checks one invariant on one stream during one run.

    Subclasses override only the hooks they need (the monitor calls only overridden ones) and report with
    ``self.violate(message)``. ``self.monitor`` gives the shared facts: the stream, its fd, the loop, what
    was delivered, the read pending, the futures, and safe readers of the stream's state."""

    invariant: ClassVar[Invariant]
    HOOKS: ClassVar[tuple[str, ...]] = (
        "on_fd", "on_fd_record", "on_loop", "on_loop_record", "on_callback_scheduled", "on_step", "on_idle",
        "on_quiescent", "on_close",
        "on_deliver", "on_result", "on_read_failed", "on_read_raised", "on_close_callback",
        "on_data_callback", "on_future_done", "on_log", "on_finish", "on_deadline", "on_timeout",
        "on_deadline_cleared",
    )

    #: The ``result`` values of the fd events its ``on_fd`` (or ``on_fd_record``) looks at (``None``: every fd
    #: event): the monitor calls it for those only. A checker whose ``on_fd`` reads any other event leaves it
    #: ``None``.
    FD_RESULTS: ClassVar[frozenset[Any] | None] = None

    #: The ``kind`` values of the loop events its ``on_loop`` (or ``on_loop_record``) looks at (``None``: every
    #: loop event about the stream's fd): the monitor calls it for those only.
    LOOP_KINDS: ClassVar[frozenset[str] | None] = None

    #: False when the checker has nothing to judge in this run (a TLS rule on a plain stream): it stays
    #: applicable, but the monitor calls none of its hooks (set it in ``__init__``).
    watching: bool = True

    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor

    @property
    def slug(self) -> str:
        """The invariant this checker checks."""
        return self.invariant.slug

    def violate(self, message: str, event: int = -1) -> None:
        """Report a violation of this checker's invariant at trace ``event`` (default: the latest)."""
        self.monitor.violate(self.slug, message, event)

    # Hooks (see harness.engine.monitor for when each is called). The defaults do nothing.
    def on_fd(self, event: Any) -> None: ...
    def on_loop(self, event: Any) -> None: ...
    # The same two as the trace's compact record ``(index, step, time, source, kind, detail)`` (``detail`` a dict
    # not to be changed): no ``TraceEvent`` is made for them. A checker overrides one form or the other.
    def on_fd_record(self, record: tuple[Any, ...]) -> None: ...
    def on_loop_record(self, record: tuple[Any, ...]) -> None: ...
    def on_callback_scheduled(self, event: Any) -> None: ...
    def on_step(self) -> None: ...
    def on_idle(self) -> None: ...
    def on_quiescent(self) -> None: ...
    def on_close(self) -> None: ...
    def on_deliver(self, data: bytes, via: str, offset: int, expected: bytes) -> None: ...
    def on_result(self, op: Any, method: str, data: bytes, streaming: bool) -> None: ...
    def on_read_failed(self, op: Any, exc: BaseException | None, how: str, after_close: bool) -> None: ...
    def on_read_raised(self, op: Any, method: str, exc: BaseException, after_close: bool) -> None: ...
    def on_close_callback(self) -> None: ...
    def on_data_callback(self, kind: str) -> None: ...
    def on_future_done(self, future: Any, label: str, exc: BaseException | None) -> None: ...
    def on_log(self, record: Any) -> None: ...
    def on_finish(self) -> None: ...
    def on_deadline(self, op: Any, method: str, deadline: float) -> None: ...
    def on_timeout(self, op: Any, method: str, deadline: float) -> None: ...
    def on_deadline_cleared(self, op: Any) -> None: ...


#: slug → Invariant, in registration order (built-ins first). Read it; add to it with ``@invariant``.
INVARIANTS: dict[str, Invariant] = {}
#: slug → the checker class that checks it (None: judged by the harness's drivers and runner directly).
CHECKERS: dict[str, type[Checker] | None] = {}


def _register(spec: Invariant, checker: type[Checker] | None) -> None:
    known = INVARIANTS.get(spec.slug)
    if known is not None:
        if CHECKERS.get(spec.slug) is checker or (checker is not None and CHECKERS.get(spec.slug) is not None
                                                  and _same_checker(CHECKERS[spec.slug], checker)):
            return  # the same checker imported twice (a module reloaded, a worker re-importing): idempotent
        raise InvariantError(f"invariant slug {spec.slug!r} is already registered "
                             f"(by {_where(CHECKERS.get(spec.slug))}); choose another slug")
    INVARIANTS[spec.slug] = dataclasses.replace(spec, number=len(INVARIANTS) + 1)
    CHECKERS[spec.slug] = checker


def _same_checker(a: type, b: type) -> bool:
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _where(checker: type | None) -> str:
    return "the harness" if checker is None else f"{checker.__module__}.{checker.__qualname__}"


def invariant(slug: str, *, klass: str, explanation: str, group: str = "user", observes: Iterable[str] = (),
              requires: Iterable[str] = (), builtin: bool = False) -> Callable[[type[Checker]], type[Checker]]:
    """Register the decorated ``Checker`` subclass as the checker of invariant ``slug``.

    ``klass`` is ``"contract"`` (a bug for any stream reader) or ``"design"`` (a stricter design rule);
    ``requires`` names stream attributes the checker reads (the invariant is not applicable to a stream
    without them). Example::

        @invariant("no-empty-line", klass="contract", explanation="read_until never returns just b'\\r\\n'.",
                   observes=("delivered",))
        class NoEmptyLine(Checker):
            def on_result(self, op, method, data, streaming):
                if data == b"\\r\\n":
                    self.violate(f"{method} returned an empty line")
    """
    spec = Invariant(slug=slug, klass=klass, group=group, explanation=explanation, observes=tuple(observes),
                     requires=tuple(requires), builtin=builtin)

    def register(cls: type[Checker]) -> type[Checker]:
        if not (isinstance(cls, type) and issubclass(cls, Checker)):
            raise InvariantError(f"@invariant({slug!r}) decorates {cls!r}, which is not a Checker subclass; "
                                 "subclass harness.engine.Checker")
        cls.invariant = spec
        _register(spec, cls)
        cls.invariant = INVARIANTS[slug]  # numbered by the registry
        return cls

    return register


def declare(slug: str, *, klass: str, explanation: str, group: str, observes: Iterable[str] = ()) -> None:
    """Register an invariant judged by the harness's drivers or runner rather than by a checker class
    (``target-crashed``: only the runner sees what escaped the stream)."""
    _register(Invariant(slug=slug, klass=klass, group=group, explanation=explanation, observes=tuple(observes),
                        builtin=True), None)


def invariant_named(slug: str) -> Invariant:
    """The registered invariant ``slug``; a ``ValueError`` names the valid slugs."""
    try:
        return INVARIANTS[slug]
    except (KeyError, TypeError):
        raise ValueError(f"unknown invariant slug {slug!r}; valid: {', '.join(INVARIANTS)}") from None


def explain(slug: str) -> str:
    """The one-line explanation of ``slug``."""
    return invariant_named(slug).explanation


def unregister(slug: str) -> None:
    """Remove the user invariant ``slug`` (a built-in cannot be removed; an unknown slug is a no-op)."""
    spec = INVARIANTS.get(slug)
    if spec is None:
        return
    if spec.builtin:
        raise InvariantError(f"invariant {slug!r} is built in and cannot be unregistered")
    del INVARIANTS[slug]
    del CHECKERS[slug]


def user_invariants() -> list[Invariant]:
    """The registered invariants that are not built in."""
    return [spec for spec in INVARIANTS.values() if not spec.builtin]


def load_invariants(spec: str) -> list[Invariant]:
    """Import ``module`` or ``module:attr`` so its checkers register; returns the invariants it added.

    ``attr`` may name a Checker subclass (registered with ``@invariant``) or a list of them. A bad spec
    raises ``InvariantError`` saying what was wrong and the shape that is valid."""
    module_name, _, attr = spec.partition(":")
    if not module_name or spec.endswith(":"):
        raise InvariantError(f"--invariants {spec!r} is not valid; use module or module:Checker "
                             "(e.g. myproject.invariants:NoDoubleReply)")
    before = set(INVARIANTS)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvariantError(f"--invariants {spec!r}: cannot import module {module_name!r} ({exc})") from None
    except InvariantError:
        raise
    except Exception as exc:
        raise InvariantError(f"--invariants {spec!r}: importing {module_name!r} raised "
                             f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    if attr:
        try:
            obj = getattr(module, attr)
        except AttributeError:
            raise InvariantError(f"--invariants {spec!r}: module {module_name!r} has no attribute {attr!r}") from None
        items = obj if isinstance(obj, (list, tuple)) else [obj]
        for item in items:
            if not (isinstance(item, type) and issubclass(item, Checker) and hasattr(item, "invariant")):
                raise InvariantError(f"--invariants {spec!r}: {item!r} is not a Checker registered with "
                                     "@harness.engine.invariant(...)")
        return [item.invariant for item in items]
    added = [INVARIANTS[s] for s in INVARIANTS if s not in before]
    if not added and not any(isinstance(v, type) and issubclass(v, Checker) and v is not Checker
                             for v in vars(module).values()):
        raise InvariantError(f"--invariants {spec!r}: module {module_name!r} registers no invariant; decorate "
                             "a Checker subclass with @harness.engine.invariant(...)")
    return added
