"""harness: run stream readers through every fault faultio can inject, and judge them by named invariants.

Rules for this package:
- Implementations live in underscore modules; this namespace only re-exports the public names, each
  imported on first use. Importing ``harness`` imports nothing else: the pytest plugin
  (``harness.pytest_plugin``) loads this module first and must stay free to load, so no faultio, no
  pyOpenSSL, no Hypothesis here.
- The entry points people use directly stay modules of their own: ``python -m harness`` (``harness._cli``),
  ``harness.conformance`` and the ``faultio`` pytest plugin (``harness.pytest_plugin``).
- faultio never imports harness; harness knows faultio.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Where each public name is implemented (imported from there on first use).
_LAZY = {
    "INVARIANTS": ".engine",
    "Checker": ".engine",
    "Case": "._case",
    "CaseResult": "._case",
    "ConformanceError": ".conformance",
    "ConformanceResult": ".conformance",
    "Invariant": ".engine",
    "Target": "._targets",
    "TargetError": "._targets",
    "Violation": ".engine",
    "build_cases": "._matrix",
    "check_stream": ".conformance",
    "invariant": ".engine",
    "load_target": "._targets",
    "run_case": "._runner",
    "run_cases": "._matrix",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "INVARIANTS",
    "Case",
    "CaseResult",
    "Checker",
    "ConformanceError",
    "ConformanceResult",
    "Invariant",
    "Target",
    "TargetError",
    "Violation",
    "build_cases",
    "check_stream",
    "invariant",
    "load_target",
    "run_case",
    "run_cases",
]
