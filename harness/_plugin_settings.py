"""The pytest plugin's settings and cells: what the plugin's modules share (``pytest_plugin`` re-exports them).

Rules for this module:
- Only the stdlib and pytest are imported here, as in ``pytest_plugin``: loading the plugin stays cheap.
- It imports nothing else of the plugin, so the plugin's modules import it, and each other, one way.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import pytest

#: The transports a test can ask for, and the fault kinds' label for generated (mixed) plans.
TRANSPORTS = ("plain", "ssl")
GENERATED = "mixed"
@dataclasses.dataclass(frozen=True)
class Settings:
    """The session's faultio options, resolved from the command line and the ini file."""

    seed: int
    faults: tuple[str, ...] | None  # None: what each test's marker says
    report: str | None
    examples: int
    target: str | None
    #: ``module[:obj]`` specs of the user checkers loaded for this session.
    invariants: tuple[str, ...] = ()
    #: "contract", "all", or None: all for faultio's own stream, contract for a stream faultio did not write.
    fail_class: str | None = None

    def fail_on(self, target: str) -> tuple[str, ...]:
        """The classes of finding that fail a test whose stream comes from ``target``."""
        from ._targets import DEFAULT_TARGET_NAMES

        choice = self.fail_class or ("all" if target in DEFAULT_TARGET_NAMES else "contract")
        return ("contract", "design") if choice == "all" else ("contract",)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One parametrisation of a marked test: a fault kind (or a generated plan) over a transport."""

    kind: str
    transport: str = "plain"
    inbound_size: int = 256
    outbound_size: int = 256
    #: The drawn plan of a generated cell (``kind == "mixed"``), its number among the test's examples.
    plan: Any = None
    index: int = 0
    #: The fds' realism profile (``faultio.PROFILES``), from the marker's ``profile=``; not part of the id.
    profile: str = "raw"

    @property
    def id(self) -> str:
        """The test-id suffix: the kind (``genN`` for a generated plan), ``-ssl`` added on ssl."""
        base = f"gen{self.index}" if self.kind == GENERATED else self.kind
        return base if self.transport == "plain" else f"{base}-{self.transport}"


SETTINGS_KEY = pytest.StashKey[Settings]()


def replay_command(item: pytest.Item) -> str:
    """The command that re-runs exactly this test id under the same plan."""
    settings = item.config.stash[SETTINGS_KEY]
    parts = ["python", "-m", "pytest", item.nodeid, "--fault-seed", str(settings.seed)]
    if "[gen" in item.nodeid:
        parts += ["--fault-examples", str(settings.examples)]
    if settings.target:
        parts += ["--fault-target", settings.target]
    return shlex.join(parts)
