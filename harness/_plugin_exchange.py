"""What every monitored exchange of a faulted test shares (``fault_streams``' pairs, ``fault_event_loop``).

Rules for this module:
- Judging only: what the test's code read against what the peer sent, and whether the plan cut the
  exchange short. It imports nothing of the plugin, so the plugin's worlds import it one way.
"""

from __future__ import annotations

from typing import Any

#: Injected faults that cut a connection: after one, only a prefix of what was sent can be expected.
CUTTING_FAULTS = ("reset", "send_reset", "peer_reset", "eof")


class Exchange:
    """What every monitored exchange of a faulted test shares: judging what the test's code read against what
    the peer sent. A subclass sets ``fd`` (the faulty end, whose loop holds the trace), ``peer`` and
    ``monitor``, and says how the exchange ends (``end``) and what the report shows of it (``report_bytes``)."""

    fd: Any
    peer: Any
    monitor: Any
    #: What the test last handed to ``check_received`` (bytes, or a list of messages).
    checked: Any = None
    #: How the ssl transport was set up (``harness._tls_peer.TLSSetup``); None on plain and under asyncio.
    tls: Any = None
    finished = False

    @property
    def flooded(self) -> bool:
        """Whether bytes the peer never wrote (a flood) joined the stream: what was read is not judged."""
        return bool(getattr(self.peer, "flooded", 0)) or any(
            e.get("fault") == "flood" and e.get("fd") == self.fd.fd for e in self.fd.loop.trace.events("fd", "inject"))

    @property
    def disrupted(self) -> bool:
        """Whether the plan cut the exchange short (a reset, an early EOF, a flood, a failed TLS handshake, a
        TLS record the peer cut):
        then only a prefix of what was sent can be expected to arrive."""
        if self.flooded or getattr(self.peer, "eof", None) in ("error", "reset", "cut"):
            return True
        if self.tls is not None and self.tls.handshake_must_fail:  # known from the start, before the peer sees it fail
            return True
        return any(e.get("fault") in CUTTING_FAULTS and e.get("fd") == self.fd.fd
                   for e in self.fd.loop.trace.events("fd", "inject"))

    def check_received(self, received: Any, sent: Any) -> None:
        """Judge what your code read (``received``: bytes, or a list of messages) against what the test
        sent (``sent``, the same kind): it must be a prefix of ``sent``, and all of it unless the plan cut
        the exchange short. A flood makes the check moot (its bytes were never sent). A mismatch is a
        ``data-integrity`` violation, reported when the test ends."""
        as_bytes = isinstance(sent, (bytes, bytearray, memoryview))
        got = bytes(received) if as_bytes else list(received)
        self.checked = got
        if self.flooded:
            return
        want = bytes(sent) if as_bytes else list(sent)
        unit = "byte" if as_bytes else "item"
        if got != want[: len(got)]:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            read = got[at: at + 16] if as_bytes else (got[at] if at < len(got) else "nothing")
            expected = want[at: at + 16] if as_bytes else (want[at] if at < len(want) else "nothing")
            self.monitor.violate("data-integrity", f"your code read {len(got)} {unit}(s) that are not a prefix "
                                 f"of the {len(want)} sent: at {unit} {at} it read {read!r}, the peer sent "
                                 f"{expected!r}")
        elif len(got) != len(want) and not self.disrupted:
            self.monitor.violate("data-integrity", f"your code read {len(got)} of the {len(want)} {unit}(s) "
                                 "sent, and the plan did not cut the connection")
