"""Workloads: what an application does with one stream, as data (the limits, the peer's bytes, the calls).

Rules for this module:
- Only frozen, keyword-only, validating values live here; nothing runs a stream, draws a value or knows
  the harness. ``faultio.strategies`` draws these values; the harness runs them (``harness._workloads``)
  and judges the results against its reference model (``harness._model``).
- A workload says *what* the peer sends (``data``) and *how* it arrives (``chunks``: the sizes of the
  peer's sends, each followed by the loop running until nothing is left to do), then how the connection
  ends (``ending``). Faults on top of that come from a ``FaultPlan``, drawn separately.
- The bytes a ``WriteOp`` sends are derived from its size and position (``write_payload``), so a
  workload stays small and round-trips through JSON.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, ClassVar, Mapping, Union

from ._errors import PlanError

#: How a workload's connection ends once every chunk is sent: the peer closes cleanly, or resets.
ENDINGS: tuple[str, ...] = ("eof", "reset")

#: The format tag of ``Workload.to_json``.
WORKLOAD_FORMAT = "faultio-workload/1"

#: Fields held as bytes, written as hex in JSON.
_BYTES_FIELDS = ("delimiter", "pattern")


def _check_int(where: str, value: Any, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        valid = f"an integer >= {minimum}" + (" or None" if allow_none else "")
        raise PlanError(f"{where} = {value!r} is not valid; it must be {valid}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class StreamLimits:
    """The limits a stream is built with (``IOStream(..., **limits.stream_kwargs())``)."""

    max_buffer_size: int
    read_chunk_size: int
    max_write_buffer_size: int | None = None

    def __post_init__(self) -> None:
        _check_int("StreamLimits.max_buffer_size", self.max_buffer_size, 1)
        _check_int("StreamLimits.read_chunk_size", self.read_chunk_size, 1)
        _check_int("StreamLimits.max_write_buffer_size", self.max_write_buffer_size, 1, allow_none=True)

    def stream_kwargs(self) -> dict[str, int | None]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReadBytesOp:
    """``read_bytes(nbytes, partial=partial)``, with a streaming callback when ``streaming``."""

    name: ClassVar[str] = "read_bytes"
    nbytes: int
    partial: bool = False
    streaming: bool = False

    def __post_init__(self) -> None:
        _check_int("ReadBytesOp.nbytes", self.nbytes, 0)
        if self.partial and self.streaming:
            raise PlanError("ReadBytesOp: partial and streaming together are not a workload we model")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReadUntilOp:
    """``read_until(delimiter, max_bytes=max_bytes)``."""

    name: ClassVar[str] = "read_until"
    delimiter: bytes
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.delimiter, bytes) or not self.delimiter:
            raise PlanError(f"ReadUntilOp.delimiter = {self.delimiter!r} is not valid; it must be non-empty bytes")
        _check_int("ReadUntilOp.max_bytes", self.max_bytes, 1, allow_none=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReadUntilRegexOp:
    """``read_until_regex(pattern, max_bytes=max_bytes)``.

    Patterns are fixed-length and unanchored (``faultio.strategies.delimiter_regexes``): their first match
    in a prefix of the data is their first match in the whole data, so the result does not depend on how
    the bytes arrived.
    """

    name: ClassVar[str] = "read_until_regex"
    pattern: bytes
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, bytes) or not self.pattern:
            raise PlanError(f"ReadUntilRegexOp.pattern = {self.pattern!r} is not valid; it must be non-empty bytes")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise PlanError(f"ReadUntilRegexOp.pattern = {self.pattern!r} does not compile: {exc}") from None
        _check_int("ReadUntilRegexOp.max_bytes", self.max_bytes, 1, allow_none=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReadUntilCloseOp:
    """``read_until_close()``, with a streaming callback when ``streaming``."""

    name: ClassVar[str] = "read_until_close"
    streaming: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class WriteOp:
    """``write(write_payload(index, nbytes))``; ``nbytes`` may be 0 or above ``max_write_buffer_size``."""

    name: ClassVar[str] = "write"
    nbytes: int

    def __post_init__(self) -> None:
        _check_int("WriteOp.nbytes", self.nbytes, 0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class IdleOp:
    """The application does nothing for ``seconds`` of virtual time while the peer's next chunk arrives: no
    read pending, the loop idles (an idle stream still listens, and may read ahead what the peer sent)."""

    name: ClassVar[str] = "idle"
    seconds: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or not self.seconds > 0:
            raise PlanError(f"IdleOp.seconds = {self.seconds!r} is not valid; it must be a number > 0")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CloseOp:
    """The application calls ``stream.close()`` (no read is pending: the ops run one after another)."""

    name: ClassVar[str] = "close"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PeerEndOp:
    """The peer ends the connection now, as the workload's ``ending`` says (a clean close or a reset); the
    chunks it has not sent yet are never sent."""

    name: ClassVar[str] = "peer_end"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SetCloseCallbackOp:
    """The application sets a close callback of its own (``set_close_callback``), replacing the one set
    before. Set before the stream closed, it must run exactly once after the stream closed."""

    name: ClassVar[str] = "set_close_callback"


Op = Union[ReadBytesOp, ReadUntilOp, ReadUntilRegexOp, ReadUntilCloseOp, WriteOp, IdleOp, CloseOp, PeerEndOp,
           SetCloseCallbackOp]
OP_TYPES: tuple[type, ...] = (ReadBytesOp, ReadUntilOp, ReadUntilRegexOp, ReadUntilCloseOp, WriteOp, IdleOp,
                              CloseOp, PeerEndOp, SetCloseCallbackOp)
#: The ops that read (and so run in a style: ``future`` or ``callback``).
READ_OP_TYPES: tuple[type, ...] = (ReadBytesOp, ReadUntilOp, ReadUntilRegexOp, ReadUntilCloseOp)


def write_payload(index: int, nbytes: int) -> bytes:
    """The bytes the ``index``-th op of a workload writes: recognisable, and different per op."""
    unit = b"w%d." % index
    return (unit * (nbytes // len(unit) + 1))[:nbytes]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Workload:
    """StreamLimits, the bytes the peer sends in ``chunks``, how it ends, and the application's ``ops`` in order."""

    limits: StreamLimits
    data: bytes
    chunks: tuple[int, ...]
    ops: tuple[Op, ...]
    ending: str = "eof"

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise PlanError(f"Workload.data must be bytes, got {type(self.data).__name__}")
        for size in self.chunks:
            _check_int("Workload.chunks[]", size, 1)
        if sum(self.chunks) != len(self.data):
            raise PlanError(f"Workload.chunks add up to {sum(self.chunks)}, not len(data) = {len(self.data)}")
        for op in self.ops:
            if not isinstance(op, OP_TYPES):
                raise PlanError(f"Workload.ops holds {op!r}, not one of {[t.__name__ for t in OP_TYPES]}")
        if self.ending not in ENDINGS:
            raise PlanError(f"Workload.ending = {self.ending!r} is not valid; valid: {', '.join(ENDINGS)}")

    def to_json(self) -> dict[str, Any]:
        """The workload as a JSON object (bytes as hex); ``from_json`` reads it back exactly."""
        return {
            "format": WORKLOAD_FORMAT,
            "limits": self.limits.stream_kwargs(),
            "data": self.data.hex(),
            "chunks": list(self.chunks),
            "ending": self.ending,
            "ops": [_op_json(op) for op in self.ops],
        }

    def dumps(self) -> str:
        """``to_json`` as a JSON string with sorted keys."""
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: Any) -> Workload:
        """The workload ``to_json`` (or ``dumps``) described; ``PlanError`` names what is wrong."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise PlanError(f"a workload must be JSON: {exc}") from None
        if not isinstance(data, Mapping) or data.get("format") != WORKLOAD_FORMAT:
            raise PlanError(f"a workload must be a JSON object with format {WORKLOAD_FORMAT!r}")
        try:
            return cls(limits=StreamLimits(**data["limits"]), data=bytes.fromhex(data["data"]),
                       chunks=tuple(data["chunks"]), ending=data["ending"],
                       ops=tuple(_op_from_json(op) for op in data["ops"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PlanError):
                raise
            raise PlanError(f"a workload's JSON is not valid: {exc!r}") from None

    def pieces(self) -> list[bytes]:
        """``data`` cut into the peer's sends."""
        out, at = [], 0
        for size in self.chunks:
            out.append(self.data[at : at + size])
            at += size
        return out

    def describe(self) -> str:
        """One line for people: the limits, the sizes, the ops."""
        ops = ", ".join(_describe_op(op) for op in self.ops)
        lim = self.limits
        return (f"limits(buf={lim.max_buffer_size}, chunk={lim.read_chunk_size}, "
                f"wbuf={lim.max_write_buffer_size}) data={len(self.data)}B in {list(self.chunks)} "
                f"then {self.ending}; ops: {ops}")


def _op_json(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {"op": op.name}
    for field in dataclasses.fields(op):
        value = getattr(op, field.name)
        out[field.name] = value.hex() if field.name in _BYTES_FIELDS else value
    return out


def _op_from_json(data: Mapping[str, Any]) -> Op:
    kinds = {t.name: t for t in OP_TYPES}
    kind = kinds.get(data.get("op"))
    if kind is None:
        raise PlanError(f"unknown workload op {data.get('op')!r}; valid: {', '.join(kinds)}")
    fields = {k: (bytes.fromhex(v) if k in _BYTES_FIELDS else v) for k, v in data.items() if k != "op"}
    return kind(**fields)


def _describe_op(op: Op) -> str:
    fields = {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}
    shown = ", ".join(f"{k}={v!r}" for k, v in fields.items()
                      if not (v is False or (v is None and k == "max_bytes")))
    return f"{op.name}({shown})"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SplitDelimiter:
    """Bytes holding ``delimiter`` (first at ``data.find(delimiter)``), cut into ``chunks`` so that a chunk
    boundary falls ``split`` bytes into that first occurrence (0: just before it)."""

    data: bytes
    chunks: tuple[int, ...]
    delimiter: bytes
    split: int

    def __post_init__(self) -> None:
        if sum(self.chunks) != len(self.data) or any(size < 1 for size in self.chunks):
            raise PlanError(f"SplitDelimiter.chunks {self.chunks!r} do not cut {len(self.data)} bytes")
        at = self.data.find(self.delimiter)
        if at < 0 or not 0 <= self.split < len(self.delimiter):
            raise PlanError(f"SplitDelimiter: {self.delimiter!r} not in data, or split {self.split} outside it")
