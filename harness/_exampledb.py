"""The example database of campaigns: failing cases kept on disk, replayed first by the next campaign.

Rules for this module:
- The store is Hypothesis' own directory format (``hypothesis.database.DirectoryBasedExampleDatabase``):
  a directory per key, a file per value, both named by hash. A key is one cell of one target under one
  profile (``key_of``), so a target never replays another target's plans; a value is the case's JSON
  (plan, seed, index, profile) in canonical form, so the same case stored twice is one file.
- Only what a campaign judged failing is stored, as found (the minimal plan after shrinking); a stored case
  that passes when replayed is deleted (the bug it showed is gone), one that errors is kept.
- Loading never trusts the files: a value that is not a case of this cell is skipped and counted, never run
  as something else, and never imported from (a case names no module).
- Hypothesis is imported when a store is opened, not before (``python -m harness list`` stays light).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

from ._case import Case, CaseResult

#: Where campaigns keep their failing cases unless told otherwise (relative to the working directory).
DEFAULT_DB = ".faultio/examples"
#: The version of the keys and values below; a new layout gets a new tag and so new keys.
KEY_FORMAT = "faultio-examples/1"

Cell = tuple[str, str, str]


def key_of(target: str, profile: str, cell: Cell) -> bytes:
    """The database key of ``cell`` (operation, style, transport) of ``target`` under ``profile``."""
    operation, style, transport = cell
    return f"{KEY_FORMAT} {target} {profile} {operation}/{style}/{transport}".encode("utf-8")


def value_of(case: Case) -> bytes:
    """The stored form of ``case``: its JSON, keys sorted, so equal cases give equal bytes."""
    return json.dumps({"format": KEY_FORMAT, "case": case.to_json()}, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Stored:
    """A case loaded from the store, with the key and value that hold it (to delete it)."""

    case: Case
    key: bytes
    value: bytes


class ExampleStore:
    """The failing cases of campaigns, in a Hypothesis directory database at ``path``."""

    def __init__(self, path: str | Path) -> None:
        from hypothesis.database import DirectoryBasedExampleDatabase

        self.path = Path(path)
        self._db = DirectoryBasedExampleDatabase(self.path)
        #: Values found in the store that are not a case of their cell (skipped, left in place).
        self.skipped = 0

    def load(self, target: str, profile: str, cells: Sequence[Cell]) -> list[Stored]:
        """The stored cases of ``cells`` of ``target`` under ``profile``, in cell order, then index."""
        found: list[tuple[int, int, bytes, Stored]] = []
        for n, cell in enumerate(cells):
            key = key_of(target, profile, cell)
            for value in self._db.fetch(key):
                case = _parse(value, cell, profile)
                if case is None:
                    self.skipped += 1
                    continue
                found.append((n, case.index, value, Stored(case=case, key=key, value=value)))
        found.sort(key=lambda item: item[:3])
        return [item[3] for item in found]

    def save(self, result: CaseResult, target: str) -> bool:
        """Store ``result``'s case under its cell's key; whether it was new."""
        case = result.case
        key = key_of(target, case.profile, (case.operation, case.style, case.transport))
        value = value_of(case)
        known = set(self._db.fetch(key))
        if value in known:
            return False
        self._db.save(key, value)
        return True

    def delete(self, stored: Stored) -> None:
        """Forget ``stored`` (its case passes now)."""
        self._db.delete(stored.key, stored.value)


def _parse(value: bytes, cell: Cell, profile: str) -> Case | None:
    """The case ``value`` holds, when it is one of ``cell`` under ``profile``; else ``None``."""
    try:
        data: Any = json.loads(value.decode("utf-8"))
        if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
            return None
        case = Case.from_json(data["case"])
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeDecodeError):
        return None
    except Exception:  # a malformed plan raises its own errors (PlanError is a ValueError, but be safe)
        return None
    if (case.operation, case.style, case.transport) != tuple(cell) or case.profile != profile:
        return None
    if case.origin != "generated":
        return None
    return case

