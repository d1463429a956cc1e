"""What a verdict is made of: the read being judged, the bytes delivered, a violation.

Rules for this module:
- Value objects only; nothing here watches a stream or runs anything.
- A violation names its invariant by slug; its class (contract or design) and explanation come from the
  registry, so they are never stored twice.
- Stream errors are recognised by class name (``StreamClosedError``, ``StreamBufferFullError``,
  ``UnsatisfiableReadError``) along the exception's MRO: faultio's, Tornado 4's and Tornado 6's classes
  share those names, and a verdict about a foreign stream must not depend on which module defined them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .registry import invariant_named

#: Errors a reset of the connection surfaces as (and a ragged TLS EOF, as faultio's stream reports it).
RESET_FAMILY = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError)


def is_stream_error(exc: object, name: str) -> bool:
    """Whether ``exc`` is an instance of a class called ``name`` (faultio's, Tornado's or a look-alike)."""
    return exc is not None and any(c.__name__ == name for c in type(exc).__mro__)


def is_closed_error(exc: object) -> bool:
    """``StreamClosedError`` of any stream library."""
    return is_stream_error(exc, "StreamClosedError")


def is_buffer_full(exc: object) -> bool:
    """``StreamBufferFullError`` of any stream library."""
    return is_stream_error(exc, "StreamBufferFullError")


def is_unsatisfiable(exc: object) -> bool:
    """``UnsatisfiableReadError`` of any stream library."""
    return is_stream_error(exc, "UnsatisfiableReadError")


def already_reading(exc: object) -> bool:
    """The "Already reading" refusal Tornado 4.x raises after a failed read left its read state set."""
    return "lready reading" in str(exc)


def future_exception(future: Any) -> BaseException | None:
    """The exception a *done* future holds, through public API only (faultio's, Tornado 4's ``exc_info()``,
    asyncio's and Tornado 6's ``exception()``); None for a result or a cancelled future."""
    exc_info = getattr(future, "exc_info", None)
    if callable(exc_info):  # Tornado 4: exc_info() -> (type, value, tb) or None
        info = exc_info()
        return info[1] if info else None
    cancelled = getattr(future, "cancelled", None)
    if callable(cancelled) and cancelled():
        return None
    return future.exception()


#: How far into the held bytes an unbounded delimiter or regex read is looked for.
SCAN_LIMIT = 16 * 1024 * 1024


class ReadOp:
    """The read the harness is waiting for: what it asked, and when received data would satisfy it."""

    def __init__(self, name: str, *, nbytes: int | None = None, partial: bool = False,
                 delimiter: bytes | None = None, regex: Any = None, max_bytes: int | None = None) -> None:
        self.name = name
        self.nbytes = nbytes
        self.partial = partial
        self.delimiter = delimiter
        self.regex = regex
        self.max_bytes = max_bytes
        #: Bytes delivered to the caller before this read started (set by the monitor).
        self.started_at = 0
        #: Bytes buffered when the read started that an unbounded read just before it read ahead (set by the
        #: monitor: the stream pulled them for that read, not for this one).
        self.carried = 0
        #: Whether the read hands its bytes to a streaming callback (set by the driver).
        self.streaming = False

    def satisfiable(self, held: bytes) -> bool:
        """Would a correct stream complete this read from ``held`` (bytes received, not yet delivered)?"""
        if self.nbytes is not None:
            return len(held) >= self.nbytes or (self.partial and len(held) > 0)
        if self.delimiter is not None:
            end = held.find(self.delimiter)
            return end >= 0 and (self.max_bytes is None or end + len(self.delimiter) <= self.max_bytes)
        if self.regex is not None:
            match = self.regex.search(held)
            return match is not None and (self.max_bytes is None or match.end() <= self.max_bytes)
        return False  # read_until_close completes only at close

    def overlong(self, held: bytes) -> bool:
        """True when ``max_bytes`` already proves this read unsatisfiable."""
        if self.max_bytes is None or len(held) < self.max_bytes:
            return False
        return not self.satisfiable(held[: self.max_bytes + 64])

    @property
    def decisive(self) -> int:
        """How many held bytes can decide ``satisfiable`` and ``overlong``: a checker passes
        ``monitor.held(op.decisive)``, so a stream holding a 1 GiB flood costs the check no 1 GiB copy."""
        if self.nbytes is not None:
            return self.nbytes
        if self.max_bytes is not None:
            return self.max_bytes + 64
        return SCAN_LIMIT

    @property
    def bound(self) -> int | None:
        """How many bytes this read may make the stream buffer, or None when unbounded."""
        if self.nbytes is not None:
            return self.nbytes
        return self.max_bytes


class Delivered:
    """What reached the caller: its length, and its first ``keep`` bytes for the report. The bytes themselves
    are checked against the peer's as they arrive, so a reader that consumes a 1 GiB flood costs nothing."""

    __slots__ = ("head", "keep", "_size")

    def __init__(self, keep: int = 4096) -> None:
        self.head = bytearray()
        self.keep = keep
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __iadd__(self, data: bytes) -> Delivered:
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
        self._size += len(data)
        return self

    def __getitem__(self, key: slice) -> bytes:
        start, stop, _ = key.indices(self._size)
        if stop > len(self.head):
            raise IndexError(f"only the first {self.keep} delivered bytes are kept")
        return bytes(self.head[start:stop])


@dataclasses.dataclass(frozen=True, kw_only=True)
class Violation:
    """An invariant broken at a loop step; ``event`` is the trace index it points at (or -1)."""

    slug: str
    message: str
    step: int
    event: int = -1

    def __post_init__(self) -> None:
        invariant_named(self.slug)  # a ValueError naming the known slugs

    @property
    def explanation(self) -> str:
        """The broken invariant's one-line explanation."""
        return invariant_named(self.slug).explanation

    @property
    def klass(self) -> str:
        """``"contract"`` or ``"design"``: the class of the broken invariant."""
        return invariant_named(self.slug).klass

    def to_json(self) -> dict[str, Any]:
        """The violation as a JSON object, explanation and class included."""
        return {
            "slug": self.slug,
            "class": self.klass,
            "explanation": self.explanation,
            "message": self.message,
            "step": self.step,
            "event": self.event,
        }
