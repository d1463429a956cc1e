"""The built-in checkers, one module per family; importing this package registers them all, in the order
``python -m harness list`` shows them.

Rules for this package:
- One ``Checker`` subclass per invariant, registered with ``@invariant``; a checker reads shared facts from
  its monitor and never changes the stream.
- A checker needing a stream attribute names it in ``requires`` instead of guessing a default.
"""

from . import close, pending, listener, integrity, liveness, faults, buffer, io, tls, connect, timing, timed_writes  # noqa: F401  (registration)
