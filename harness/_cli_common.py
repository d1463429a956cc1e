"""What the commands of ``python -m harness`` share: exit codes, the usage error, loading user checkers.

Rules for this module:
- Nothing here runs anything; it imports only the engine's loader, when asked to load.
- Argument types raise ``argparse.ArgumentTypeError`` saying what was wrong and what is valid; the checks of
  output places raise ``UsageError`` before anything runs, and create nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Sequence

from faultio import PROFILES

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


# --- argument types ---------------------------------------------------------------------------------


def whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more")
    return value


def byte_size(text: str) -> int:
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    body, unit = (text[:-1], text[-1].upper()) if text[-1:].upper() in "KMG" and text[-1:].isalpha() else (text, "")
    try:
        value = int(body) * units[unit]
    except (ValueError, KeyError):
        value = -1
    if value < 0 or (0 < value < 64 << 20):
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; give a size such as 2G or 512M (at least 64M), "
                                         "or 0 for no limit")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; give seconds, more than 0 (e.g. 10 or 2.5)")
    return value


def budget(text: str) -> float:
    """A campaign's wall time: seconds, or a number with ``s``, ``m`` or ``h`` (``90``, ``90s``, ``10m``, ``1.5h``)."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    body = text.strip().lower()
    unit = body[-1:] if body[-1:] in units else "s"
    try:
        value = float(body[:-1] if body[-1:] in units else body) * units[unit]
    except ValueError:
        value = -1.0
    if not (value > 0 and value <= 7 * 86400):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; give a number of seconds, minutes or hours "
                                         "with s, m or h (e.g. 30s, 10m, 1.5h), more than 0 and at most a week")
    return value


def shard_spec(text: str) -> object:
    """``--shard i/n`` as a ``harness._shard.Shard``."""
    from ._shard import ShardError, parse_shard

    try:
        return parse_shard(text)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def worker_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; give a whole number >= 1 (worker processes)")
    return value


def profile_name(text: str) -> str:
    if text not in PROFILES:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; valid: {', '.join(PROFILES)}")
    return text


# --- output places ----------------------------------------------------------------------------------


def check_report_dir(text: str) -> None:
    """``--report DIR`` must be a directory, or creatable as one, and writable: checked before the run."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--report {text}: not a directory; give a directory to put run directories in "
                         "(created if missing), or --no-report")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UsageError(f"--report {text}: {existing} is not a directory, so {text} cannot be created; "
                         "give a directory path, or --no-report")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--report {text}: {existing} is not writable; give a writable directory, or --no-report")
    # Permissions do not tell everything (/proc, a read-only mount, a full disk): try it before the run.
    try:
        probe_write(existing)  # nothing is created where the run will not go
    except OSError as exc:
        raise UsageError(f"--report {text}: cannot write there ({exc.strerror or exc}); give a writable "
                         "directory, or --no-report") from None


def probe_write(directory: Path) -> None:
    """Create and remove a temporary file in ``directory`` (raises ``OSError`` when that is not possible)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".faultio-probe-")
    os.close(fd)
    os.unlink(name)
