"""Sequences: a stateful run of one stream, as data (a workload, the style of each read, and a fault plan).

Rules for this module:
- Only a frozen, keyword-only, validating value lives here; nothing runs a stream or draws a value.
  ``faultio.strategies.sequences`` draws it; the harness runs it (``harness._sequences``) and judges it by
  its invariants and its reference model.
- A sequence is *one* value: the ops (in a ``Workload``, with its limits, the peer's bytes and how the
  connection ends), how each read is issued (``styles``: ``"future"`` or ``"callback"``, one per op; ignored
  for the ops that do not read), and the ``FaultPlan`` the stream's fd obeys. Shrinking it shrinks all of
  them together, and saving it saves all of them: ``to_json``/``from_json`` round-trip exactly
  (format ``faultio-sequence/1``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

from ._errors import PlanError
from ._plan import FaultPlan
from ._workload import READ_OP_TYPES, Workload

#: The format tag of ``Sequence.to_json``.
SEQUENCE_FORMAT = "faultio-sequence/1"
#: How a read is issued: a returned future, or a callback.
READ_STYLES: tuple[str, ...] = ("future", "callback")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sequence:
    """A workload's ops on one stream, each read in its own style, under ``plan``."""

    workload: Workload
    styles: tuple[str, ...]
    plan: FaultPlan = dataclasses.field(default_factory=FaultPlan)

    def __post_init__(self) -> None:
        if not isinstance(self.workload, Workload):
            raise PlanError(f"Sequence.workload must be a Workload, got {type(self.workload).__name__}")
        if not isinstance(self.plan, FaultPlan):
            raise PlanError(f"Sequence.plan must be a FaultPlan, got {type(self.plan).__name__}")
        if not isinstance(self.styles, tuple) or len(self.styles) != len(self.workload.ops):
            raise PlanError(f"Sequence.styles must be a tuple of one style per op ({len(self.workload.ops)}), "
                            f"got {self.styles!r}")
        bad = [s for s in self.styles if s not in READ_STYLES]
        if bad:
            raise PlanError(f"Sequence.styles holds {bad[0]!r}; valid: {', '.join(READ_STYLES)}")

    @property
    def ops(self) -> tuple[Any, ...]:
        return self.workload.ops

    @property
    def size(self) -> int:
        """Ops plus plan steps: how big a reproducer this is."""
        return len(self.workload.ops) + len(self.plan.read) + len(self.plan.write)

    def to_json(self) -> dict[str, Any]:
        """The sequence as a JSON object (workload and plan in their own formats); ``from_json`` reads it back."""
        return {"format": SEQUENCE_FORMAT, "workload": self.workload.to_json(), "styles": list(self.styles),
                "plan": self.plan.to_json()}

    def dumps(self) -> str:
        """``to_json`` as a JSON string with sorted keys."""
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: Any) -> Sequence:
        """The sequence ``to_json`` (or ``dumps``) described; ``PlanError`` names what is wrong."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise PlanError(f"a sequence must be JSON: {exc}") from None
        if not isinstance(data, Mapping) or data.get("format") != SEQUENCE_FORMAT:
            raise PlanError(f"a sequence must be a JSON object with format {SEQUENCE_FORMAT!r}")
        for key in ("workload", "styles", "plan"):
            if key not in data:
                raise PlanError(f"a sequence's JSON needs the key {key!r}; got {sorted(data)}")
        if not isinstance(data["styles"], list):
            raise PlanError(f"a sequence's styles must be a list, got {data['styles']!r:.60}")
        return cls(workload=Workload.from_json(data["workload"]), styles=tuple(data["styles"]),
                   plan=FaultPlan.from_json(data["plan"]))

    def describe(self) -> str:
        """One line for people: the workload, with each read's style, and the plan."""
        from ._workload import _describe_op

        ops = ", ".join(_describe_op(op) + (f"[{style}]" if isinstance(op, READ_OP_TYPES) else "")
                        for op, style in zip(self.workload.ops, self.styles))
        lim = self.workload.limits
        return (f"limits(buf={lim.max_buffer_size}, chunk={lim.read_chunk_size}, "
                f"wbuf={lim.max_write_buffer_size}) data={len(self.workload.data)}B in "
                f"{list(self.workload.chunks)} then {self.workload.ending}; ops: {ops}; plan: "
                f"{self.plan.describe()}")
