"""What the commands of ``python -m harness`` share: exit codes, the usage error, loading user checkers.

Rules for this module:
- Nothing here runs anything; it imports only the engine's loader, when asked to load.
"""

from __future__ import annotations

from typing import Sequence

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4
#: Generated examples per cell by default (each cell is an operation in a style over a transport).
DEFAULT_EXAMPLES = 2


class UsageError(Exception):
    """A bad command line: the message is one line naming the bad value and the valid ones."""


def load_user_invariants(specs: Sequence[str]) -> None:
    from .engine import InvariantError, load_invariants

    for spec in specs:
        try:
            load_invariants(spec)
        except InvariantError as exc:
            raise UsageError(str(exc).splitlines()[0]) from None
