"""The trace: one ordered record of everything the simulated kernel, the loop and the stream did.

Rules for this module:
- Events are frozen values; the trace only appends. Nothing here interprets events (monitors do that).
- Byte payloads are never stored raw in an event: ``hexdump_bytes`` keeps a bounded hex prefix so a flood
  cannot blow up memory and a report can always show exactly what was seen.
- A trace can be switched off (``enabled=False``) for benchmarks; counting still works.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

#: How many payload bytes an event keeps (as hex). Longer payloads keep the prefix and their length.
PAYLOAD_PREFIX = 64


def hexdump_bytes(data: bytes | bytearray | memoryview, limit: int = PAYLOAD_PREFIX) -> str:
    """Hex of the first ``limit`` bytes of ``data`` (the length is recorded separately by callers)."""
    return bytes(data[:limit]).hex()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TraceEvent:
    """One thing that happened, at one loop step and one virtual time.

    ``source`` is who did it (``fd``, ``loop``, ``stream``, ``harness``); ``kind`` what (``recv``,
    ``inject``, ``callback``...); ``detail`` a tuple of ``(key, value)`` pairs with JSON-scalar values.
    """

    index: int
    step: int
    time: float
    source: str
    kind: str
    detail: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` in ``detail``, or ``default``."""
        for k, v in self.detail:
            if k == key:
                return v
        return default

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object (``detail`` as a dict)."""
        return {
            "index": self.index,
            "step": self.step,
            "time": self.time,
            "source": self.source,
            "kind": self.kind,
            "detail": dict(self.detail),
        }

    def describe(self) -> str:
        """A one-line human rendering: ``#12 step 4 t=0.000 fd recv fd=3 nbytes=1``."""
        parts = " ".join(f"{k}={v}" for k, v in self.detail)
        return f"#{self.index} step {self.step} t={self.time:.3f} {self.source} {self.kind} {parts}".rstrip()


class Trace:
    """An append-only list of ``TraceEvent`` whose clock and step counter are supplied by the loop."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._events: list[TraceEvent] = []
        self._count = 0
        self._listeners: list[Any] = []
        # The loop sets these two so every event carries the step and time it happened at.
        self.step = 0
        self.time = 0.0

    def record(self, source: str, kind: str, **detail: Any) -> TraceEvent | None:
        """Append an event (if enabled) and return it; listeners see every event even when disabled."""
        self._count += 1
        if not self.enabled and not self._listeners:
            return None
        event = TraceEvent(
            index=self._count - 1,
            step=self.step,
            time=self.time,
            source=source,
            kind=kind,
            detail=tuple(detail.items()),
        )
        if self.enabled:
            self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def add_listener(self, fn: Any) -> None:
        """Call ``fn(event)`` for every event recorded from now on."""
        self._listeners.append(fn)

    @property
    def count(self) -> int:
        """How many events were recorded, including those not kept because the trace is disabled."""
        return self._count

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self._events)

    def __getitem__(self, index: int) -> TraceEvent:
        return self._events[index]

    def events(self, source: str | None = None, kind: str | None = None) -> list[TraceEvent]:
        """The kept events from ``source`` and of ``kind`` (``None`` matches any), in order."""
        return [
            e
            for e in self._events
            if (source is None or e.source == source) and (kind is None or e.kind == kind)
        ]

    def to_json(self) -> list[dict[str, Any]]:
        """Every kept event as a JSON object, in order."""
        return [e.to_json() for e in self._events]

    def fingerprint(self) -> list[tuple[Any, ...]]:
        """A comparable form of the whole trace (for determinism checks)."""
        return [(e.step, e.time, e.source, e.kind, e.detail) for e in self._events]
