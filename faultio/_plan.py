"""Fault plans: immutable data saying what the kernel does, step by step, on one fd.

Rules for this module:
- Every fault decision is made here, as data. Fake fds only *ask* the plan (through a cursor they own);
  they never invent a fault.
- Steps and plans are frozen values with keyword-only, validating constructors. A bad value raises
  ``PlanError`` naming the value and the valid ones; nothing is coerced silently.
- Plans round-trip through JSON exactly (``FaultPlan.from_json(plan.to_json()) == plan``).
- Randomness only through ``random.Random`` seeded from the caller's seed and the kind's name.
- ``describe`` is for people, JSON is the record: ``describe`` run-length encodes repeated groups of
  steps (``60 × (eintr(), chunk(max_bytes=8))``) and caps its length (``describe(full=True)`` does
  not cap); it is deterministic but lossy only when capped, and nothing ever parses it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any, Callable, ClassVar, Iterable, Mapping

from ._errors import PlanError

PLAN_FORMAT = "faultio-plan/1"

#: The five named fault kinds, in their canonical order: the kernel faults, valid on every transport.
FAULT_KINDS: tuple[str, ...] = ("eintr", "econnreset", "ewouldblock", "dribble", "flood")

#: The TLS-layer fault kinds, valid on the ``ssl`` transport only. Each is a plan (kernel faults, as for
#: the others) plus a peer behaviour the harness derives from the kind (and, for ``handshake-fail``, from
#: the variant in the plan's name): how the peer shapes its records and how it ends the connection.
#:
#: - ``ragged-eof``: the peer closes its socket without ``close_notify`` once its data is sent (seeded
#:   ``Chunk`` steps cut the ciphertext reads).
#: - ``eof-mid-record``: ``Pass(k), Eof()``: the peer cuts the connection in the middle of the record that
#:   carries plaintext byte ``k`` (on the ssl transport the offset is plaintext, as a flood's is).
#: - ``record-split``: every record carries 1..16 plaintext bytes, each its own fd write; seeded ``Chunk``
#:   steps cut the ciphertext reads across record boundaries.
#: - ``records-coalesced``: records of 1..48 plaintext bytes, all of one send in a single fd write, so
#:   plaintext waits inside the target's TLS object while the fd shows nothing (the drain rule).
#: - ``handshake-fail``: the handshake fails; the variant is seeded per case and named in the plan
#:   (``handshake-fail:peer-rejects``, ``handshake-fail:untrusted-cert``, ``handshake-fail:wrong-hostname``;
#:   the last two make the stream under test the TLS client, which verifies).
#: - ``tls-flood``: ``Pass(k), Flood(n)`` like ``flood``, the flood sent as small records coalesced into
#:   large writes, so the TLS object holds far more plaintext than one read takes.
TLS_KINDS: tuple[str, ...] = ("ragged-eof", "eof-mid-record", "record-split", "records-coalesced",
                              "handshake-fail", "tls-flood")

#: The time fault kinds, valid on both transports (steps and builders in ``faultio._time_faults``, which
#: registers them here when ``faultio`` is imported): ``stall``, ``latency``, ``bandwidth``, ``limit-data``,
#: ``slow-close``, ``send-stall``. On ``ssl`` they act on the ciphertext the fd carries.
TIME_KINDS: tuple[str, ...] = ("stall", "latency", "bandwidth", "limit-data", "slow-close", "send-stall")

#: The connect kinds, valid on every transport (a connect fails before any TLS handshake): the target's
#: ``connect()`` is refused (a variant seeded per case: ``at-once``, raised by the call, or ``so-error``,
#: reported at the first poll through ``SO_ERROR``), reset (``connecting``: the connect fails; ``established``:
#: it succeeds and the reset arrives right after) or never completes. The steps and what the fd does with them
#: are in ``faultio._connect_faults``; a case of these kinds runs the ``connect`` operation only.
CONNECT_KINDS: tuple[str, ...] = ("connect-refused", "connect-reset", "connect-timeout")

#: Every fault kind: core first, then the TLS, time and connect kinds.
ALL_KINDS: tuple[str, ...] = FAULT_KINDS + TLS_KINDS + TIME_KINDS + CONNECT_KINDS

#: The variants of ``handshake-fail``, in the order a case's seed picks from.
HANDSHAKE_VARIANTS: tuple[str, ...] = ("peer-rejects", "untrusted-cert", "wrong-hostname")

#: The transports each kind is valid on.
KIND_TRANSPORTS: dict[str, tuple[str, ...]] = {
    **{kind: ("plain", "ssl") for kind in FAULT_KINDS},
    **{kind: ("ssl",) for kind in TLS_KINDS},
    **{kind: ("plain", "ssl") for kind in TIME_KINDS},
    **{kind: ("plain", "ssl") for kind in CONNECT_KINDS},
}

#: The default flood: far beyond the default ``max_buffer_size`` (100 MiB), and never materialised.
DEFAULT_FLOOD_BYTES = 1 << 30

#: ``FaultPlan.describe()`` stops near this many characters (a very long plan name can push it past).
DESCRIBE_CHARS = 300

#: The longest group of steps ``describe`` looks for repeats of.
DESCRIBE_MAX_PERIOD = 8


def _check_int(step: str, name: str, value: Any, *, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        valid = f"an integer >= {minimum}" + (" or null" if allow_none else "")
        raise PlanError(f"{step}.{name} = {value!r} is not valid; it must be {valid}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Step:
    """Base of all fault steps. ``kind`` is the JSON tag; ``side`` is ``read`` or ``write``."""

    kind: ClassVar[str] = ""
    side: ClassVar[str] = ""
    #: True when the step makes the fd raise or lie (counts towards "faults injected").
    injects: ClassVar[bool] = True

    def to_json(self) -> dict[str, Any]:
        """The step as a JSON object: its ``kind`` and every field."""
        data: dict[str, Any] = {"kind": self.kind}
        for field in dataclasses.fields(self):
            data[field.name] = getattr(self, field.name)
        return data

    def describe(self) -> str:
        """``kind(field=value, ...)``, for messages and reports."""
        args = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.kind}({args})"


# --- read side -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Chunk(Step):
    """The next recv that finds data delivers at most ``max_bytes``."""

    kind: ClassVar[str] = "chunk"
    side: ClassVar[str] = "read"
    injects: ClassVar[bool] = False
    max_bytes: int

    def __post_init__(self) -> None:
        _check_int("chunk", "max_bytes", self.max_bytes, minimum=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pass(Step):
    """Ordinary delivery until ``nbytes`` more bytes have been delivered, stopping exactly there."""

    kind: ClassVar[str] = "pass"
    side: ClassVar[str] = "read"
    injects: ClassVar[bool] = False
    nbytes: int

    def __post_init__(self) -> None:
        _check_int("pass", "nbytes", self.nbytes, minimum=0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dribble(Step):
    """One byte per recv until ``nbytes`` bytes have been delivered (``None``: for ever)."""

    kind: ClassVar[str] = "dribble"
    side: ClassVar[str] = "read"
    nbytes: int | None = None

    def __post_init__(self) -> None:
        _check_int("dribble", "nbytes", self.nbytes, minimum=1, allow_none=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Eintr(Step):
    """The next recv raises ``InterruptedError`` (a signal arrived)."""

    kind: ClassVar[str] = "eintr"
    side: ClassVar[str] = "read"


@dataclasses.dataclass(frozen=True, kw_only=True)
class WouldBlock(Step):
    """The next ``count`` recvs raise ``BlockingIOError`` even when data is waiting (spurious wakeups)."""

    kind: ClassVar[str] = "wouldblock"
    side: ClassVar[str] = "read"
    count: int = 1

    def __post_init__(self) -> None:
        _check_int("wouldblock", "count", self.count, minimum=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Reset(Step):
    """The peer's RST arrives here: the next recv raises ``ConnectionResetError``; unread bytes are lost."""

    kind: ClassVar[str] = "reset"
    side: ClassVar[str] = "read"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Eof(Step):
    """The peer's FIN arrives here: recv returns ``b""``; anything the peer sends later is discarded."""

    kind: ClassVar[str] = "eof"
    side: ClassVar[str] = "read"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Flood(Step):
    """``nbytes`` generated bytes join the inbound stream at this point; they are never materialised."""

    kind: ClassVar[str] = "flood"
    side: ClassVar[str] = "read"
    nbytes: int = DEFAULT_FLOOD_BYTES
    pattern_seed: int = 0

    def __post_init__(self) -> None:
        _check_int("flood", "nbytes", self.nbytes, minimum=1)
        _check_int("flood", "pattern_seed", self.pattern_seed, minimum=0)


# --- write side ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendPartial(Step):
    """The next ``count`` sends accept at most ``max_bytes`` each (a short write)."""

    kind: ClassVar[str] = "send_partial"
    side: ClassVar[str] = "write"
    max_bytes: int
    count: int = 1

    def __post_init__(self) -> None:
        _check_int("send_partial", "max_bytes", self.max_bytes, minimum=1)
        _check_int("send_partial", "count", self.count, minimum=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendEintr(Step):
    """The next send raises ``InterruptedError``."""

    kind: ClassVar[str] = "send_eintr"
    side: ClassVar[str] = "write"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendWouldBlock(Step):
    """The next ``count`` sends raise ``BlockingIOError`` (the send buffer is full)."""

    kind: ClassVar[str] = "send_wouldblock"
    side: ClassVar[str] = "write"
    count: int = 1

    def __post_init__(self) -> None:
        _check_int("send_wouldblock", "count", self.count, minimum=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendReset(Step):
    """The next send raises ``ConnectionResetError``; the connection is reset in both directions."""

    kind: ClassVar[str] = "send_reset"
    side: ClassVar[str] = "write"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendBrokenPipe(Step):
    """The next send raises ``BrokenPipeError`` (EPIPE: the peer is gone)."""

    kind: ClassVar[str] = "send_broken_pipe"
    side: ClassVar[str] = "write"


READ_STEPS: dict[str, type[Step]] = {
    cls.kind: cls for cls in (Chunk, Pass, Dribble, Eintr, WouldBlock, Reset, Eof, Flood)
}
WRITE_STEPS: dict[str, type[Step]] = {
    cls.kind: cls for cls in (SendPartial, SendEintr, SendWouldBlock, SendReset, SendBrokenPipe)
}


def step_from_json(data: Any, *, side: str) -> Step:
    """Build one step from its JSON form, with an error naming the bad value and the valid ones."""
    table = READ_STEPS if side == "read" else WRITE_STEPS
    if not isinstance(data, Mapping) or "kind" not in data:
        raise PlanError(f"a {side} step must be an object with a 'kind', got {data!r}")
    kind = data["kind"]
    cls = table.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise PlanError(
            f"unknown {side} step kind {kind!r}; valid {side} step kinds: {', '.join(sorted(table))}"
        )
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(data) - names - {"kind"}
    if extra:
        raise PlanError(
            f"{kind} step has unknown field(s) {sorted(extra)}; valid fields: {sorted(names) or 'none'}"
        )
    try:
        return cls(**{k: v for k, v in data.items() if k != "kind"})
    except TypeError as exc:
        raise PlanError(f"{kind} step {dict(data)!r} is malformed: {exc}") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class FaultPlan:
    """What the kernel does on one fd: ``read`` steps for recv, ``write`` steps for send, in order.

    When a side's steps are used up the fd behaves like an ordinary non-blocking socket.
    """

    read: tuple[Step, ...] = ()
    write: tuple[Step, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        for side, steps, table in (("read", self.read, READ_STEPS), ("write", self.write, WRITE_STEPS)):
            if not isinstance(steps, tuple):
                raise PlanError(f"FaultPlan.{side} must be a tuple of steps, got {type(steps).__name__}")
            for step in steps:
                if not isinstance(step, Step) or step.side != side:
                    raise PlanError(
                        f"FaultPlan.{side} holds {step!r}, which is not a {side} step; "
                        f"valid {side} steps: {', '.join(sorted(table))}"
                    )
        if not isinstance(self.name, str):
            raise PlanError(f"FaultPlan.name must be a string, got {self.name!r}")

    # -- composition ---------------------------------------------------------------------------------
    def then(self, other: FaultPlan) -> FaultPlan:
        """This plan's steps followed by ``other``'s, on each side."""
        name = "+".join(n for n in (self.name, other.name) if n)
        return FaultPlan(read=self.read + other.read, write=self.write + other.write, name=name)

    def with_name(self, name: str) -> FaultPlan:
        """A copy of this plan called ``name``."""
        return dataclasses.replace(self, name=name)

    @property
    def is_clean(self) -> bool:
        """True when the plan has no steps (the fd behaves like an ordinary socket)."""
        return not self.read and not self.write

    # -- JSON ----------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The plan as a JSON object (``format``, ``name``, ``read``, ``write``); ``from_json`` reads it back."""
        return {
            "format": PLAN_FORMAT,
            "name": self.name,
            "read": [s.to_json() for s in self.read],
            "write": [s.to_json() for s in self.write],
        }

    def dumps(self) -> str:
        """``to_json`` as a JSON string with sorted keys."""
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: Any) -> FaultPlan:
        """The plan ``to_json`` (or ``dumps``) described: ``data`` is a mapping, or JSON text as ``str``/``bytes``.

        Raises ``PlanError`` naming what is wrong: not JSON, an unsupported format, an unknown key or step.
        """
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise PlanError(f"a fault plan must be JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise PlanError(f"a fault plan must be a JSON object, got {type(data).__name__}")
        fmt = data.get("format", PLAN_FORMAT)
        if fmt != PLAN_FORMAT:
            raise PlanError(f"fault plan format {fmt!r} is not supported; this faultio reads {PLAN_FORMAT!r}")
        extra = set(data) - {"format", "name", "read", "write"}
        if extra:
            raise PlanError(f"fault plan has unknown key(s) {sorted(extra)}; valid: format, name, read, write")
        out = {}
        for side in ("read", "write"):
            steps = data.get(side, [])
            if not isinstance(steps, list):
                raise PlanError(f"fault plan '{side}' must be a list of steps, got {steps!r}")
            out[side] = tuple(step_from_json(s, side=side) for s in steps)
        return cls(read=out["read"], write=out["write"], name=data.get("name", ""))

    def describe(self, *, full: bool = False) -> str:
        """One line for people: ``name: read[steps] write[steps]``, repeats run-length encoded.

        A repeated group of steps reads ``N × (a, b)`` (``N × a`` for one step; see ``runs``). The line
        is cut at a group boundary to about ``DESCRIBE_CHARS`` characters, each cut side ending in
        ``…`` and the line in ``(+N more steps; describe(full=True) for all)``; ``full=True`` never cuts.
        """
        name = self.name or "plan"
        grouped = (runs(self.read), runs(self.write))
        texts = [", ".join(r.describe() for r in side) or "-" for side in grouped]
        line = f"{name}: read[{texts[0]}] write[{texts[1]}]"
        if full or len(line) <= DESCRIBE_CHARS:
            return line
        total = len(self.read) + len(self.write)
        suffix_room = len(f" (+{total} more steps; describe(full=True) for all)")
        room = max(0, DESCRIBE_CHARS - len(f"{name}: read[] write[]") - suffix_room)
        # Fair shares: a side that fits in half the room keeps it all and the other side gets the rest.
        short, long_ = sorted((0, 1), key=lambda i: len(texts[i]))
        budgets = [0, 0]
        budgets[short] = min(len(texts[short]), room // 2)
        budgets[long_] = room - budgets[short]
        omitted = 0
        for i, side in enumerate(grouped):
            if len(texts[i]) <= budgets[i]:
                continue
            kept: list[str] = []
            for run in side:
                if len(", ".join([*kept, run.describe(), "…"])) > budgets[i]:
                    break
                kept.append(run.describe())
            texts[i] = ", ".join([*kept, "…"])
            omitted += sum(r.size for r in side[len(kept):])
        return (f"{name}: read[{texts[0]}] write[{texts[1]}]"
                f" (+{omitted} more steps; describe(full=True) for all)")


CLEAN = FaultPlan(name="clean")


# --- describing runs of steps ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Run:
    """``count`` back-to-back copies of the group ``steps`` (what ``describe`` prints as one item)."""

    steps: tuple[Step, ...]
    count: int = 1

    def __post_init__(self) -> None:
        if not self.steps or not all(isinstance(s, Step) for s in self.steps):
            raise PlanError(f"Run.steps = {self.steps!r} is not valid; it must be a non-empty tuple of steps")
        _check_int("run", "count", self.count, minimum=1)

    @property
    def size(self) -> int:
        """How many plan steps the run stands for."""
        return self.count * len(self.steps)

    def describe(self) -> str:
        """``a``, ``N × a`` or ``N × (a, b)``."""
        group = ", ".join(s.describe() for s in self.steps)
        if self.count == 1:
            return group
        return f"{self.count} × {group}" if len(self.steps) == 1 else f"{self.count} × ({group})"


def runs(steps: tuple[Step, ...], *, max_period: int = DESCRIBE_MAX_PERIOD) -> tuple[Run, ...]:
    """``steps`` as run-length groups, chosen greedily from the left.

    At each position the group of 1..``max_period`` steps whose back-to-back repeats (two or more) cover
    the most steps wins, the shorter group on a tie; with no repeat there the step stands alone. Groups
    are not nested. Expanding the runs in order gives ``steps`` back.
    """
    out: list[Run] = []
    i, n = 0, len(steps)
    while i < n:
        best = Run(steps=(steps[i],))
        for period in range(1, min(max_period, (n - i) // 2) + 1):
            group = steps[i : i + period]
            count = 1
            while steps[i + count * period : i + (count + 1) * period] == group:
                count += 1
            if count > 1 and count * period > best.size:
                best = Run(steps=group, count=count)
        out.append(best)
        i += best.size
    return tuple(out)


# --- fault kinds -----------------------------------------------------------------------------------


def kinds_for(transports: Iterable[str]) -> tuple[str, ...]:
    """The fault kinds valid on at least one of ``transports``, in canonical order (``all`` means these)."""
    chosen = set(transports)
    return tuple(k for k in ALL_KINDS if chosen & set(KIND_TRANSPORTS[k]))


def parse_kinds(spec: str | Iterable[str], *, transports: Iterable[str] | None = None) -> tuple[str, ...]:
    """Turn ``"all"``, ``"eintr,dribble"`` or an iterable of names into canonical, de-duplicated kinds.

    Without ``transports`` only the core kinds (``FAULT_KINDS``) are known, as before the TLS kinds existed.
    With ``transports`` (e.g. ``("plain", "ssl")``) the TLS kinds are known too, ``all`` names every kind valid
    on at least one of them, and a kind valid on none of them (``ragged-eof`` with only ``plain``) raises
    ``PlanError`` naming the kinds that are valid there.
    """
    valid = FAULT_KINDS if transports is None else kinds_for(transports)
    where = "" if transports is None else f" for transport {','.join(transports)}"
    names = [p.strip() for p in spec.split(",")] if isinstance(spec, str) else [str(p) for p in spec]
    names = [n for n in names if n]
    if not names:
        raise PlanError(f"no fault kind given; valid kinds{where}: {', '.join(valid)}, all")
    chosen: set[str] = set()
    for name in names:
        if name == "all":
            chosen.update(valid)
        elif name in valid:
            chosen.add(name)
        elif transports is not None and name in ALL_KINDS:
            raise PlanError(f"fault kind {name!r} applies to the {'/'.join(KIND_TRANSPORTS[name])} transport only; "
                            f"valid kinds{where}: {', '.join(valid)}, all")
        else:
            raise PlanError(f"unknown fault kind {name!r}; valid kinds{where}: {', '.join(valid)}, all")
    return tuple(k for k in valid if k in chosen)


def tls_variant(plan: FaultPlan) -> str:
    """The ``handshake-fail`` variant a plan names (``handshake-fail:<variant>``), or ``""``."""
    head, _, variant = plan.name.partition(":")
    return variant if head == "handshake-fail" and variant in HANDSHAKE_VARIANTS else ""


#: Plan builders of kinds whose steps live in their own module (``faultio._time_faults`` and
#: ``faultio._connect_faults`` register theirs when imported, which importing ``faultio`` does):
#: ``builder(kind, rng, *, inbound_size, outbound_size, at) -> FaultPlan``.
KIND_BUILDERS: dict[str, Callable[..., FaultPlan]] = {}


def _rng(kind: str, seed: int) -> random.Random:
    return random.Random(f"faultio:{kind}:{seed}")


def plan_for_kind(
    kind: str,
    *,
    seed: int = 0,
    inbound_size: int = 256,
    outbound_size: int = 256,
    at: int | None = None,
    flood_bytes: int = DEFAULT_FLOOD_BYTES,
) -> FaultPlan:
    """The canonical plan of one fault kind, derived from ``seed``.

    ``inbound_size``/``outbound_size`` are how many bytes the scenario expects to read/write, so the
    faults land inside the exchange. ``at`` places a reset or a flood at that inbound byte offset
    (default: a seeded offset inside the exchange).
    """
    if kind == "all":
        raise PlanError("plan_for_kind takes one fault kind; 'all' names several (use parse_kinds)")
    (kind,) = parse_kinds([kind], transports=("plain", "ssl"))
    _check_int("plan", "inbound_size", inbound_size, minimum=0)
    _check_int("plan", "outbound_size", outbound_size, minimum=0)
    rng = _rng(kind, seed)
    read: list[Step] = []
    write: list[Step] = []
    if kind == "eintr":
        covered = 0
        while covered < inbound_size + 1 and len(read) < 1024:
            size = rng.randint(1, 8)
            read += [Eintr(), Chunk(max_bytes=size)]
            covered += size
        read.append(Eintr())
        covered = 0
        while covered < outbound_size + 1 and len(write) < 1024:
            size = rng.randint(1, 16)
            write += [SendEintr(), SendPartial(max_bytes=size)]
            covered += size
        write.append(SendEintr())
    elif kind == "ewouldblock":
        covered = 0
        while covered < inbound_size + 1 and len(read) < 1024:
            size = rng.randint(1, 16)
            read += [WouldBlock(count=rng.randint(1, 4)), Chunk(max_bytes=size)]
            covered += size
        covered = 0
        while covered < outbound_size + 1 and len(write) < 1024:
            size = rng.randint(1, 16)
            write += [SendWouldBlock(count=rng.randint(1, 3)), SendPartial(max_bytes=size)]
            covered += size
    elif kind == "dribble":
        read.append(Dribble(nbytes=None))
        if outbound_size:
            write.append(SendPartial(max_bytes=1, count=outbound_size))
    elif kind == "econnreset":
        offset = at if at is not None else rng.randint(1, max(1, inbound_size - 1))
        _check_int("plan", "at", offset, minimum=0)
        read += [Pass(nbytes=offset), Reset()]
        if outbound_size:
            # A reset can also meet a send first: after some bytes have gone out, the next send fails.
            write += [SendPartial(max_bytes=rng.randint(1, outbound_size)), SendReset()]
    elif kind in ("flood", "tls-flood"):
        offset = at if at is not None else rng.randint(0, inbound_size)
        _check_int("plan", "at", offset, minimum=0)
        read += [Pass(nbytes=offset), Flood(nbytes=flood_bytes, pattern_seed=rng.randrange(1 << 16))]
    elif kind in KIND_BUILDERS:
        return KIND_BUILDERS[kind](kind, rng, inbound_size=inbound_size, outbound_size=outbound_size, at=at)
    return FaultPlan(read=tuple(read), write=tuple(write), name=kind)
