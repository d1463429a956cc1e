"""Connection faults: a connect that is refused, reset or never completes, as plan steps and as what a fake fd
does with them.

Rules for this module:
- A connect fault is a write-side plan step (``ConnectRefused``, ``ConnectReset``, ``ConnectTimeout``): it is
  data in the plan like every other fault, JSON round-trippable, and it takes effect only when the target
  calls ``connect()``. The fd's ``WriteCursor`` never sees it (``without_connect_steps``), so on a socket that
  never connects the step is inert, and on one that does the rest of the write side shapes its sends as usual.
- The outcomes copy Linux, measured on loopback sockets (``tests/test_connect_faults.py`` compares them with
  real ones): a refusal ``at-once`` is what an ``AF_UNIX`` connect to a socket nobody listens on raises
  (``ECONNREFUSED`` from ``connect()`` itself; then the fd polls writable and hung up, ``recv`` raises
  ``EINVAL``, ``send`` ``ENOTCONN``); a refusal reported through ``so-error`` is the TCP one (``EINPROGRESS``,
  then readable, writable and in error; ``SO_ERROR`` gives ``ECONNREFUSED`` once, or the first ``recv``/``send``
  raises it; afterwards ``recv`` reads EOF and ``send`` raises ``EPIPE``). A reset while ``connecting`` looks
  the same with ``ECONNRESET`` (the peer's RST met the handshake); a reset once ``established`` lets the
  connect succeed and cuts the connection at the next call or poll. A timeout never completes: the fd never
  polls writable or readable, ``recv`` and ``send`` answer ``EAGAIN``, and only the caller's own (virtual)
  deadline ends it.
- ``ConnectAttempt`` holds the state of one connect and decides; the fd asks it and applies the answer. No
  randomness here: a kind's variant is chosen by ``connect_plan`` from the caller's seeded generator.
"""

from __future__ import annotations

import dataclasses
import errno
import random
from typing import Any, ClassVar

from ._plan import CONNECT_KINDS, KIND_BUILDERS, WRITE_STEPS, FaultPlan, PlanError, Step

CONNECT_KIND_NAMES = CONNECT_KINDS

#: One line per connect kind, for ``python -m harness list``.
KIND_HELP: dict[str, str] = {
    "connect-refused": "connect() refused (ECONNREFUSED), variant seeded per case: at-once (raised by connect "
                       "itself, as for AF_UNIX) or so-error (EINPROGRESS, then SO_ERROR at the first poll, as TCP)",
    "connect-reset": "the peer resets the connection, variant seeded per case: connecting (the connect fails with "
                     "ECONNRESET through SO_ERROR) or established (it succeeds; the next send or recv is reset)",
    "connect-timeout": "connect() never completes: no readiness ever; the user gives up after 75 virtual seconds",
}

#: How a refusal is reported: by ``connect()`` itself, or later through ``SO_ERROR``.
REFUSED_REPORTS: tuple[str, ...] = ("at-once", "so-error")
#: When a reset meets the connection: during the handshake (the connect fails), or right after it succeeded.
RESET_WHEN: tuple[str, ...] = ("connecting", "established")

#: Poll bits an fd in error reports beyond the loop's ``READ``/``WRITE``: ``EPOLLERR`` and ``EPOLLHUP``.
POLLERR, POLLHUP = 0x008, 0x010


def _check_choice(step: str, name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise PlanError(f"{step}.{name} = {value!r} is not valid; valid: {', '.join(valid)}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectRefused(Step):
    """The target's ``connect()`` is refused: ``report="at-once"`` raises ``ECONNREFUSED`` from the call,
    ``"so-error"`` raises ``EINPROGRESS`` and reports the refusal at the first poll through ``SO_ERROR``."""

    kind: ClassVar[str] = "connect_refused"
    side: ClassVar[str] = "write"
    report: str = "so-error"

    def __post_init__(self) -> None:
        _check_choice("connect_refused", "report", self.report, REFUSED_REPORTS)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectReset(Step):
    """The peer resets the connection ``when="connecting"`` (the connect fails with ``ECONNRESET`` through
    ``SO_ERROR``) or ``"established"`` (the connect succeeds; the reset arrives right after)."""

    kind: ClassVar[str] = "connect_reset"
    side: ClassVar[str] = "write"
    when: str = "connecting"

    def __post_init__(self) -> None:
        _check_choice("connect_reset", "when", self.when, RESET_WHEN)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectTimeout(Step):
    """The target's ``connect()`` never completes: no readiness, ever (the caller's deadline ends it)."""

    kind: ClassVar[str] = "connect_timeout"
    side: ClassVar[str] = "write"


#: The connect steps by JSON kind. They join the plan's write steps here, so ``FaultPlan.from_json`` knows them
#: (importing ``faultio`` imports this module, through the fake fds).
CONNECT_STEPS: dict[str, type[Step]] = {cls.kind: cls for cls in (ConnectRefused, ConnectReset, ConnectTimeout)}
WRITE_STEPS.update(CONNECT_STEPS)
_CONNECT_TYPES = tuple(CONNECT_STEPS.values())


def is_connect_step(step: Any) -> bool:
    """Whether ``step`` is one of the connect steps."""
    return isinstance(step, _CONNECT_TYPES)


def without_connect_steps(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """``steps`` without the connect steps: what the fd's ``WriteCursor`` shapes its sends with."""
    return tuple(s for s in steps if not isinstance(s, _CONNECT_TYPES))


def connect_step(plan: FaultPlan) -> Step | None:
    """The connect step of ``plan`` (the first, if several), or ``None``."""
    return next((s for s in plan.write if isinstance(s, _CONNECT_TYPES)), None)


def connect_variant(plan: FaultPlan) -> str:
    """The variant ``plan``'s connect step names (``at-once``, ``so-error``, ``connecting``, ``established``), or
    ``""`` (no connect step, or a timeout)."""
    step = connect_step(plan)
    if isinstance(step, ConnectRefused):
        return step.report
    if isinstance(step, ConnectReset):
        return step.when
    return ""


def connect_plan(kind: str, rng: random.Random, **sizes: object) -> FaultPlan:
    """The plan of connect ``kind``, its variant drawn from ``rng`` and named in the plan (``kind:variant``); the
    sizes and offset ``plan_for_kind`` passes every builder do not shape a connect."""
    if kind == "connect-refused":
        step: Step = ConnectRefused(report=REFUSED_REPORTS[rng.randrange(len(REFUSED_REPORTS))])
        return FaultPlan(write=(step,), name=f"{kind}:{step.report}")
    if kind == "connect-reset":
        step = ConnectReset(when=RESET_WHEN[rng.randrange(len(RESET_WHEN))])
        return FaultPlan(write=(step,), name=f"{kind}:{step.when}")
    if kind == "connect-timeout":
        return FaultPlan(write=(ConnectTimeout(),), name=kind)
    raise PlanError(f"unknown connect kind {kind!r}; valid: {', '.join(CONNECT_KIND_NAMES)}")


KIND_BUILDERS.update({kind: connect_plan for kind in CONNECT_KINDS})


def expected_failure(plan: FaultPlan) -> tuple[bool, str]:
    """``(must_fail, errno_name)`` for a connect under ``plan``: whether a correct stream's connect fails, and
    with which error (``""`` for a timeout, which only the caller's deadline ends, or when it must succeed)."""
    step = connect_step(plan)
    if isinstance(step, ConnectRefused):
        return True, "ECONNREFUSED"
    if isinstance(step, ConnectReset):
        return step.when == "connecting", "ECONNRESET" if step.when == "connecting" else ""
    if isinstance(step, ConnectTimeout):
        return True, ""
    return False, ""


class ConnectAttempt:
    """One fd's connect: its step and where it is (``connecting``, ``connected``, ``failed``, ``refused``).

    ``refused`` is the ``at-once`` refusal: the socket was never connected (``recv`` raises ``EINVAL`` and
    ``send`` ``ENOTCONN``, as on Linux); ``failed`` is a connection that ended during its handshake (EOF for
    ``recv``, ``EPIPE`` for ``send`` once the pending error was reported).
    """

    def __init__(self, step: Step | None) -> None:
        self.step = step
        self.state = "idle"
        #: A reset left for right after the connect succeeded (``ConnectReset(when="established")``).
        self.reset_pending = False

    def start(self) -> int:
        """The errno ``connect()`` answers with: ``ECONNREFUSED`` (raised at once) or ``EINPROGRESS``."""
        if isinstance(self.step, ConnectRefused) and self.step.report == "at-once":
            self.state = "refused"
            return errno.ECONNREFUSED
        self.state = "connecting"
        return errno.EINPROGRESS

    def first_poll(self) -> int:
        """Where the connect ends at the fd's first poll: the errno it fails with (0: it succeeded, or it is
        still pending: ``state`` says which)."""
        step = self.step
        if isinstance(step, ConnectTimeout):
            return 0  # still connecting, for ever
        if isinstance(step, ConnectRefused):
            self.state = "failed"
            return errno.ECONNREFUSED
        if isinstance(step, ConnectReset) and step.when == "connecting":
            self.state = "failed"
            return errno.ECONNRESET
        self.state = "connected"
        self.reset_pending = isinstance(step, ConnectReset)
        return 0

    @property
    def pending(self) -> bool:
        """True while the connect has not completed (a timeout stays here)."""
        return self.state == "connecting"
