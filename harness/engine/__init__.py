"""The invariant engine: the registry of invariants, one checker per invariant, and the monitor that feeds
them what a stream does.

Rules for this package:
- Imports go one way: ``registry`` and ``verdict`` know nothing of checkers; ``checkers`` know the registry
  and the monitor's facts; ``hooks`` (which hooks run for which events) knows the registry; the monitor knows
  both. Nothing here imports the rest of the harness.
- Importing ``harness.engine`` registers every built-in checker.
- The public surface for projects writing their own checkers is ``Checker``, ``invariant`` and
  ``load_invariants`` (see ``docs/invariants.md``).
"""

from __future__ import annotations

from . import checkers as _checkers  # noqa: F401  (registers the built-ins)
from .monitor import Monitor, harness_frame
from .registry import (
    CHECKERS,
    CLASSES,
    INVARIANTS,
    Checker,
    Invariant,
    InvariantError,
    explain,
    invariant,
    invariant_named,
    load_invariants,
    unregister,
    user_invariants,
)
from .verdict import ReadOp, Violation

__all__ = [
    "CHECKERS", "CLASSES", "INVARIANTS", "Checker", "Invariant", "InvariantError", "Monitor", "ReadOp",
    "Violation", "explain", "harness_frame", "invariant", "invariant_named", "load_invariants", "unregister",
    "user_invariants",
]
