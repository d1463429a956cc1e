"""Hypothesis strategies for fault plans and workloads, for anyone testing a stream reader.

Fault plans (``fault_plans``, ``read_steps``, ``write_steps``, ``tls_fault_plans``, ``connect_fault_plans``,
``time_fault_plans``) say what the kernel does;
workloads (``workloads`` and its parts: ``sizes_around``, ``stream_limits``, ``chunkings``, ``delimiters``,
``split_delimiters``, ``delimiter_regexes``, ``write_sizes``, ``partial_read_sizes``) and ``sequences`` say
what the peer sends and what the application asks of the stream. Sizes are drawn around every limit a stream has: exactly at it,
one below, one above, and far from it (docs/workloads.md).

Rules for this module:
- Every public function returns a Hypothesis strategy (like ``hypothesis.strategies``); nothing here
  draws a value by itself, runs a stream or touches global randomness. The only randomness is the
  Hypothesis draw, so Hypothesis' seed, database and shrinking cover it.
- Every plan produced is valid (``FaultPlan`` validates it) and round-trips through JSON.
- Shrinking is part of the design: lists shrink to shorter, integers to smaller, ``one_of`` to its first
  branch. So the simplest step of each kind comes first, every count and size shrinks towards 1, every
  offset towards 0, and a plan shrinks towards the clean plan. A minimal failing plan therefore holds only
  the steps the failure needs, each as small as it can be.
- Faults that end a connection (a reset, a flood, an endless dribble) are only ever the last steps of
  their side: nothing after them could be reached in a meaningful way.
- The strategies live in `_strategies_plans` (fault plans) and `_strategies_workload` (workloads and
  sequences); this module is their public namespace. Nothing here needs the harness.
"""

from __future__ import annotations

from ._strategies_plans import (
    DEFAULT_MAX_READ_STEPS,  # noqa: F401  (the defaults, public for callers)
    DEFAULT_MAX_WRITE_STEPS,  # noqa: F401  (the defaults, public for callers)
    MAX_CHUNK,  # noqa: F401  (the defaults, public for callers)
    MAX_DRIBBLE,  # noqa: F401  (the defaults, public for callers)
    MAX_PARTIAL_COUNT,  # noqa: F401  (the defaults, public for callers)
    MAX_WOULDBLOCK,  # noqa: F401  (the defaults, public for callers)
    connect_fault_plans,
    fault_plans,
    read_steps,
    time_fault_plans,
    tls_fault_plans,
    write_steps,
)
from ._strategies_workload import (
    COMMON_DELIMITERS,  # noqa: F401  (the defaults, public for callers)
    FILLER_ALPHABET,  # noqa: F401  (the defaults, public for callers)
    IDLE_SECONDS,  # noqa: F401  (the defaults, public for callers)
    MAX_DELIMITER,  # noqa: F401  (the defaults, public for callers)
    chunkings,
    delimiter_regexes,
    delimiters,
    partial_read_sizes,
    sequences,
    sizes_around,
    split_delimiters,
    stream_limits,
    workloads,
    write_sizes,
)

__all__ = [
    "chunkings",
    "connect_fault_plans",
    "delimiter_regexes",
    "delimiters",
    "fault_plans",
    "partial_read_sizes",
    "read_steps",
    "sequences",
    "sizes_around",
    "split_delimiters",
    "stream_limits",
    "time_fault_plans",
    "tls_fault_plans",
    "workloads",
    "write_sizes",
    "write_steps",
]
