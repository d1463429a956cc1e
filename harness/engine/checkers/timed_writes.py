"""Writes under a deadline: a timed-out write leaves the stream closed with an error, or usable with every
byte of every write delivered once, in order.

Rules for this module:
- The judgement is of what the peer finally received against the writes the stream accepted
  (``Monitor.write_log``, left by the ``write_deadline`` operation); the deadlines themselves are judged by
  ``deadline-on-time``.
- What the peer received is always a prefix of the writes joined in order: a byte out of place is a byte
  duplicated, reordered or taken from a later write before an earlier one was complete.
- A short prefix is accepted only where the connection ended on its own: the stream closed before its user
  closed it, or the plan cut the connection; or where the peer never got to reading (a flooding TLS peer
  stuck in its own send while the stream reads nothing: a deadlock of the scenario, not the stream's). A
  stream that stayed open owes a reading peer every byte.
"""

from __future__ import annotations

import bisect
import itertools

from ..registry import Checker, invariant

GROUP = "time"
#: How many bytes of a misplaced run are looked up among the writes to say where they came from.
PROBE = 16


def _write_at(ends: list[int], offset: int) -> int:
    """The index of the write that holds byte ``offset`` of the writes joined (``ends``: cumulative ends)."""
    return bisect.bisect_right(ends, offset)


@invariant("write-timeout-keeps-bytes", klass="contract", group=GROUP, builtin=True, observes=("stream-state",),
           explanation="After a write timed out, the stream is either closed (with an error, or by the peer's "
           "hang-up) or still usable, and then the peer receives exactly the bytes of every write, in order: "
           "none lost, none duplicated, no byte of a later write before an earlier one.")
class WriteTimeoutKeepsBytes(Checker):
    def on_finish(self) -> None:
        log = self.monitor.write_log
        if log is None:
            return
        expected = b"".join(log.writes)
        got = log.received
        ends = list(itertools.accumulate(len(w) for w in log.writes))
        after = (f" (timed out: write{'s' if len(log.timed_out) > 1 else ''} "
                 f"{', '.join(f'#{i}' for i in log.timed_out)})" if log.timed_out else " (no write timed out)")
        if expected[: len(got)] != got or len(got) > len(expected):
            at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), len(expected))
            self.violate(f"the peer received {len(got)} byte(s) that are not the writes in order{after}: "
                         f"{self._misplaced(got, expected, ends, at)}")
            return
        if len(got) == len(expected) or log.closed_itself or log.cut or not log.peer_read:
            return
        first = _write_at(ends, len(got))
        cut = "at a write boundary" if len(got) in (0, *ends) else f"inside write #{first}"
        self.violate(f"the stream stayed open, yet the peer received only {len(got)} of the {len(expected)} "
                     f"byte(s) written{after}: cut {cut}; from byte {len(got)} (write #{first}) on, nothing arrived "
                     "(a timed-out write's bytes were dropped while the stream went on)")

    @staticmethod
    def _misplaced(got: bytes, expected: bytes, ends: list[int], at: int) -> str:
        if at >= len(expected):
            return f"{len(got) - len(expected)} byte(s) more than were written arrived after the last write"
        here = _write_at(ends, at)
        probe = got[at : at + PROBE]
        found = expected.find(probe)
        if found < 0 or len(probe) < PROBE:
            return f"byte {at} (in write #{here}) differs from what was written"
        source = _write_at(ends, found)
        if found < at:
            return (f"from byte {at} (in write #{here}) the peer got bytes of write #{source} again, from its "
                    f"offset {found}: duplicated")
        return (f"at byte {at}, where write #{here} belongs, the peer got bytes of write #{source} (offset "
                f"{found}): {found - at} byte(s) skipped or a later write overtook an earlier one")
