"""Shards: one run split into ``n`` parts, each part the same cases on whatever machine runs it.

Rules for this module:
- A case's shard is a pure function of its *unit*, a string, through a stable hash (SHA-256, not Python's
  ``hash``, which changes with every process): the same unit goes to the same shard on every machine and
  in every Python version, whatever order or number of cases the run builds around it.
- The unit of a fixed case is its id; of a generated case in ``run``, its cell (``operation/style/mixed/
  transport``: a cell's examples come from one Hypothesis run and cannot be split); of a campaign's work,
  its chunk (the cell and the chunk's number). So the shards of a run together hold exactly its cases.
- Nothing here runs anything or imports the runner; ``ShardError`` says what was wrong and what is valid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

__all__ = ["Shard", "ShardError", "parse_shard", "shard_of"]

#: More shards than this is a typo, not a plan (each shard must hold something to be worth a machine).
MAX_SHARDS = 10_000

#: The ``fault`` of a generated case (``harness._generate.GENERATED_FAULT``; not imported, to keep this light).
GENERATED = "mixed"

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ShardError(ValueError):
    """A ``--shard`` spec that is not ``i/n`` with ``0 <= i < n``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Shard:
    """Part ``index`` of ``count`` (counted from 0): the cases whose unit hashes to ``index``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ShardError(f"a shard count of {self.count} is not valid; give 1 to {MAX_SHARDS} shards")
        if not 0 <= self.index < self.count:
            raise ShardError(f"shard {self.index}/{self.count} does not exist; shards are counted from 0, so "
                             f"valid indexes are 0 to {self.count - 1}")

    def holds(self, unit: str) -> bool:
        """Whether the work named ``unit`` belongs to this shard."""
        return shard_of(unit, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def to_json(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


def parse_shard(text: str) -> Shard:
    """``"i/n"`` as a ``Shard``; ``ShardError`` naming the valid form otherwise."""
    match = _SPEC.fullmatch(text or "")
    if match is None:
        raise ShardError(f"{text!r} is not a shard; give i/n, the shard's index counted from 0 and the number "
                         "of shards (e.g. 0/2 and 1/2)")
    return Shard(index=int(match.group(1)), count=int(match.group(2)))


def shard_of(unit: str, count: int) -> int:
    """The shard (``0 <= s < count``) the work named ``unit`` belongs to: its SHA-256, modulo ``count``."""
    digest = hashlib.sha256(unit.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def case_unit(case_id: str, origin: str) -> str:
    """The unit of a case of ``run``: a fixed case's id, a generated case's cell (its id without ``#n``)."""
    return case_id.split("#", 1)[0] if origin == "generated" else case_id


def cell_unit(operation: str, style: str, transport: str) -> str:
    """The unit of a generated cell: the id its cases share before ``#n`` (their fault is ``mixed``)."""
    return f"{operation}/{style}/{GENERATED}/{transport}"


def chunk_unit(cell_id: str, chunk: int) -> str:
    """The unit of a campaign's chunk ``chunk`` of the cell ``cell_id``."""
    return f"{cell_id}@{chunk}"
