"""Deliberately broken streams, for tests that must see the harness catch a bug.

Rules for this module:
- Each class breaks exactly one documented rule, the way a real stream once did, and nothing else.
- Importable as ``_broken_streams`` (pytest puts ``tests/`` on ``sys.path``), so a ``--target`` spec such
  as ``_broken_streams:EintrCloses`` loads in worker processes too. Plain transport only.
"""

from __future__ import annotations

from typing import Any

from faultio import IOStream


class EintrCloses(IOStream):
    """Treats EINTR on recv as fatal and closes the stream (the retry-on-EINTR rule broken)."""

    def read_from_fd(self) -> bytes | None:
        try:
            return super().read_from_fd()
        except InterruptedError:
            self.close(exc_info=True)
            return None


class FirstEintrCloses(IOStream):
    """Closes on the first EINTR this *process* sees, then never again: a target whose outcome depends on
    the cases run before it (state kept in a class attribute)."""

    tripped = False

    def read_from_fd(self) -> bytes | None:
        try:
            return super().read_from_fd()
        except InterruptedError:
            if FirstEintrCloses.tripped:
                raise
            FirstEintrCloses.tripped = True
            self.close(exc_info=True)
            return None


def reset_state(*_: Any) -> None:
    """Forget the state ``FirstEintrCloses`` keeps (call before each test that uses it)."""
    FirstEintrCloses.tripped = False
