"""Value objects of a harness run: a case and a case's result (a violation is the engine's).

Rules for this module:
- Frozen dataclasses with keyword-only, validating constructors; nothing here runs anything.
- A case is fully described by its fields: the same case run twice gives the same result.
- ``to_json`` produces exactly the shape ``docs/report-format.md`` documents for one item of ``cases``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from faultio import PROFILES, FaultPlan

from .engine import CLASSES, Violation

STYLES = ("callback", "future", "scenario")
#: The ``operation`` of a generated sequence (``harness._sequences``): its ops are in ``Case.sequence``.
SEQUENCE_OPERATION = "sequence"
TRANSPORTS = ("plain", "ssl")
OUTCOMES = ("pass", "violation", "error")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Case:
    """One cell run: an operation in a style, under a fault plan, over a transport."""

    operation: str
    style: str
    fault: str
    transport: str
    plan: FaultPlan
    seed: int
    origin: str = "fixed"
    #: Distinguishes several generated cases of the same cell.
    index: int = 0
    #: The fds' realism profile (``faultio.PROFILES``): what an interruption the plan injects looks like to the
    #: stream. Not part of ``id``: the same cell under another profile is the same case in another world.
    profile: str = "raw"
    #: A generated sequence's ops, styles and plan (``faultio.Sequence``; ``plan`` is its plan); None otherwise.
    sequence: Any = None

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style {self.style!r} is not valid; valid: {', '.join(STYLES)}")
        self._check_operation()
        if not isinstance(self.fault, str) or not self.fault:
            raise ValueError(f"fault {self.fault!r} is not valid; it must be a non-empty string (the fault kind "
                             "that made the plan, or 'mixed' for a generated plan)")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport {self.transport!r} is not valid; valid: {', '.join(TRANSPORTS)}")
        if self.origin not in ("fixed", "generated", "replay"):
            raise ValueError(f"origin {self.origin!r} is not valid; valid: fixed, generated, replay")
        if self.profile not in PROFILES:
            raise ValueError(f"profile {self.profile!r} is not valid; valid: {', '.join(PROFILES)}")

    def _check_operation(self) -> None:
        if self.operation == SEQUENCE_OPERATION or self.sequence is not None:
            from faultio import Sequence

            if self.operation != SEQUENCE_OPERATION or not isinstance(self.sequence, Sequence):
                raise ValueError(f"operation {SEQUENCE_OPERATION!r} goes with a faultio.Sequence in 'sequence' and "
                                 f"only with it; got operation {self.operation!r}, sequence {self.sequence!r:.60}")
            if self.plan != self.sequence.plan or self.style != "scenario":
                raise ValueError("a sequence case's plan is its sequence's plan, and its style is 'scenario'")
            return
        # Imported here: the scenarios import the monitors, which import this module.
        from ._scenarios import OPERATIONS

        if not isinstance(self.operation, str) or self.operation not in OPERATIONS:
            raise ValueError(f"operation {self.operation!r} is not valid; valid: {', '.join(OPERATIONS)}")
        styles = OPERATIONS[self.operation][1]
        if self.style not in styles:
            raise ValueError(f"operation {self.operation!r} does not run in style {self.style!r}; valid: "
                             f"{', '.join(styles)}")

    @property
    def id(self) -> str:
        """``operation/style/fault/transport``, with ``#index`` for a generated case."""
        base = f"{self.operation}/{self.style}/{self.fault}/{self.transport}"
        return f"{base}#{self.index}" if self.origin == "generated" else base

    def to_json(self) -> dict[str, Any]:
        """The case as a JSON object, plan included (``from_json`` reads it back)."""
        return {
            "id": self.id,
            "operation": self.operation,
            "style": self.style,
            "fault": self.fault,
            "transport": self.transport,
            "origin": self.origin,
            "seed": self.seed,
            "index": self.index,
            "profile": self.profile,
            "plan": self.plan.to_json(),
            **({"sequence": self.sequence.to_json()} if self.sequence is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        """The case ``to_json`` gave; a malformed one is a ``ValueError`` (or ``PlanError``) naming what. A case
        written before profiles existed (no ``profile``) ran under ``raw`` and loads as such."""
        if not isinstance(data, dict):
            raise ValueError(f"a case must be a JSON object, got {type(data).__name__} {data!r:.60}")
        sequence = None
        if data.get("sequence") is not None:
            from faultio import Sequence

            sequence = Sequence.from_json(data["sequence"])
        try:
            return cls(
                operation=data["operation"],
                style=data["style"],
                fault=data["fault"],
                transport=data["transport"],
                plan=FaultPlan.from_json(data["plan"]),
                seed=int(data["seed"]),
                origin=data.get("origin", "fixed"),
                index=int(data.get("index", 0)),
                profile=data.get("profile", "raw"),
                sequence=sequence,
            )
        except KeyError as exc:
            raise ValueError(f"a case needs the key {exc.args[0]!r}; got keys {sorted(data)}") from None
        except TypeError as exc:  # e.g. "seed": null
            raise ValueError(f"a case's fields have the wrong types ({exc})") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CaseResult:
    """What running a case showed: the violations (empty when every invariant held) and the evidence."""

    case: Case
    violations: tuple[Violation, ...] = ()
    error: str = ""
    steps: int = 0
    trace: tuple[dict[str, Any], ...] = ()
    sent: bytes = b""
    received: bytes = b""
    #: The plan shrunk to a minimal reproducer, for a failing generated case.
    shrunk: FaultPlan | None = None
    #: ``(slug, reason)`` of each invariant that could not be checked on this stream (it lacks what the
    #: checker reads): listed, never counted as held.
    not_applicable: tuple[tuple[str, str], ...] = ()
    #: The target's log records captured during the run: ``{"logger", "level", "message"}``.
    logs: tuple[dict[str, Any], ...] = ()
    #: What the stream's user saw, in order (``Monitor.story``: ``read ok 12``, ``close-callback``, ...,
    #: ending with ``delivered N crc32:...``); empty for a case that never ran its scenario.
    story: tuple[str, ...] = ()
    #: The virtual time the case covered (the loop's clock at its end), in seconds.
    virtual_s: float = 0.0
    #: How long time faults held the connection back (stalls, delays, a late FIN, a send stall), in virtual
    #: seconds, summed over every hold that started.
    held_s: float = 0.0

    @property
    def outcome(self) -> str:
        """``"error"`` (the case could not be judged), ``"violation"`` or ``"pass"``."""
        if self.error:
            return "error"
        return "violation" if self.violations else "pass"

    @property
    def slugs(self) -> list[str]:
        """The broken invariants' slugs, sorted, each once."""
        return sorted({v.slug for v in self.violations})

    def slugs_of(self, klass: str) -> list[str]:
        """The broken invariants of class ``klass`` (``"contract"`` or ``"design"``), sorted."""
        return sorted({v.slug for v in self.violations if v.klass == klass})

    def fails(self, classes: tuple[str, ...] = CLASSES) -> bool:
        """Whether this result fails a run that counts findings of ``classes``: an error always does."""
        return bool(self.error) or any(v.klass in classes for v in self.violations)
