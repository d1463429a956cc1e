"""Time faults: plan steps that say *when* things happen on a connection, and the six kinds built from them.

Rules for this module:
- Steps here are data, like every plan step: frozen, keyword-only, validating, JSON round-trippable. They
  name virtual seconds (the loop's clock), never wall time; a 60 s stall costs one clock jump.
- The fake fd (``_fakefd``) honours them: it asks the step, starts the step's clock the first time the step
  applies, registers a timeout on the loop for the moment it ends (so the loop's clock jumps there when
  nothing else is ready), and shows neither readiness nor data before then. Nothing here sleeps or polls.
- The kinds (``TIME_KINDS``) are built from a seed and the exchange's sizes, as ``plan_for_kind`` builds the
  others; each builder also takes its parameters explicitly (the strategies draw them, so a failing plan
  shrinks). They are registered into ``_plan`` by importing this module (``faultio`` does), so that
  ``_plan`` never imports it back.
- ``with_timeout`` is the read-under-a-deadline helper of faultio's own loop (Tornado's ``gen.with_timeout``):
  it fails a new future at the deadline and leaves the awaited one running, never cancelling it.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any, ClassVar

from . import _plan
from ._errors import PlanError
from ._future import Future
from ._plan import (
    Chunk,
    Eof,
    FaultPlan,
    Pass,
    Reset,
    SendBrokenPipe,
    SendReset,
    TIME_KINDS,
    Step,
    _check_int,
)


#: The longest duration a time step may name (a day of virtual time; anything longer is a plan error).
MAX_SECONDS = 86_400.0

#: How a stall ends, in the order a case's seed picks from: the data resumes, the peer closes, the peer resets.
STALL_ENDINGS: tuple[str, ...] = ("resume", "eof", "reset")
#: How a ``limit-data`` peer ends the connection once its byte budget is spent.
LIMIT_ENDINGS: tuple[str, ...] = ("eof", "reset")
#: The shortest stall the kinds build: every stall case covers at least a minute of virtual time.
MIN_STALL_S = 60.0
#: The largest piece a link delivers at once (an Ethernet TCP segment's payload).
SEGMENT_BYTES = 1448
#: How many bandwidth pieces a link delivers per second at most (a slower rate gives fewer, larger pieces).
PIECES_PER_SECOND = 10


#: One line per time kind, for ``python -m harness list``.
TIME_KIND_HELP: dict[str, str] = {
    "stall": "no data and no readiness for 60-120 virtual s at a seeded offset, then the data resumes, or the "
             "peer closes or resets (seeded per case)",
    "latency": "each piece of 1-64 bytes arrives 20-50 virtual ms late (seeded jitter)",
    "bandwidth": "at most 200, 1000 or 4000 bytes per virtual second, in pieces of a tenth of that",
    "limit-data": "the peer closes (or resets) after a seeded number of bytes, in either direction",
    "slow-close": "the data arrives in pieces, the peer's FIN 5-30 virtual s after it",
    "send-stall": "the peer stops reading after some bytes: sends see EWOULDBLOCK for 60-120 virtual s",
}


def _check_seconds(step: str, name: str, value: Any) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not 0 < value <= MAX_SECONDS):
        raise PlanError(f"{step}.{name} = {value!r} is not valid; it must be a finite number of virtual seconds "
                        f"> 0 and <= {MAX_SECONDS:g}")


# --- read side -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Delay(Step):
    """Whatever comes next on the connection (bytes, the FIN, the RST) is held back ``seconds`` of virtual
    time, counted from the moment this step is reached with something waiting. Until then recv answers
    EWOULDBLOCK and no poll shows the fd readable; then the plan goes on with the next step."""

    kind: ClassVar[str] = "delay"
    side: ClassVar[str] = "read"
    seconds: float

    def __post_init__(self) -> None:
        _check_seconds("delay", "seconds", self.seconds)

    def holds(self, available: int, fin: bool) -> bool:
        """Whether the step's clock starts now: something waits to be delivered."""
        return bool(available) or fin


@dataclasses.dataclass(frozen=True, kw_only=True)
class LateFin(Step):
    """Bytes flow as usual; the peer's FIN, once every byte before it was read, is seen ``seconds`` of
    virtual time late (a slow close: the data is complete, the end of the stream is not)."""

    kind: ClassVar[str] = "late_fin"
    side: ClassVar[str] = "read"
    injects: ClassVar[bool] = True
    seconds: float

    def __post_init__(self) -> None:
        _check_seconds("late_fin", "seconds", self.seconds)

    def holds(self, available: int, fin: bool) -> bool:
        """Whether the step's clock starts now: the FIN waits and no byte is left before it."""
        return fin and not available


# --- write side ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendStall(Step):
    """The peer stops reading: from the first send that meets this step, every send answers EWOULDBLOCK and
    the fd is not writable until ``seconds`` of virtual time have passed; then the plan goes on."""

    kind: ClassVar[str] = "send_stall"
    side: ClassVar[str] = "write"
    seconds: float

    def __post_init__(self) -> None:
        _check_seconds("send_stall", "seconds", self.seconds)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendPass(Step):
    """Ordinary sends until ``nbytes`` more bytes have gone out, stopping exactly there (a send that would
    cross the line is cut short); then the plan goes on (a ``limit-data`` peer hangs up there)."""

    kind: ClassVar[str] = "send_pass"
    side: ClassVar[str] = "write"
    injects: ClassVar[bool] = False
    #: The write cursor counts this step's bytes down (``WriteCursor.limit``/``sent``).
    counts_bytes: ClassVar[bool] = True
    nbytes: int

    def __post_init__(self) -> None:
        _check_int("send_pass", "nbytes", self.nbytes, minimum=1)


#: The read steps that hold the connection back for a while (the fake fd starts their clocks).
HOLD_STEPS: tuple[type[Step], ...] = (Delay, LateFin)


# --- the kinds -------------------------------------------------------------------------------------


def stall_plan(*, at: int, seconds: float, ending: str = "resume") -> FaultPlan:
    """``at`` bytes pass, then nothing for ``seconds``; then the data resumes, the peer closes (``eof``: what it
    had not sent yet never comes) or resets (``reset``)."""
    if ending not in STALL_ENDINGS:
        raise PlanError(f"stall ending {ending!r} is not valid; valid: {', '.join(STALL_ENDINGS)}")
    tail: tuple[Step, ...] = {"resume": (), "eof": (Eof(),), "reset": (Reset(),)}[ending]
    return FaultPlan(read=(Pass(nbytes=at), Delay(seconds=seconds), *tail), name="stall")


def latency_plan(*, delays: tuple[float, ...], sizes: tuple[int, ...]) -> FaultPlan:
    """Piece ``i`` (at most ``sizes[i]`` bytes) arrives ``delays[i]`` seconds after it was waiting to."""
    if len(delays) != len(sizes) or not delays:
        raise PlanError(f"latency needs as many delays as sizes, at least one; got {len(delays)} and {len(sizes)}")
    read: list[Step] = []
    for delay, size in zip(delays, sizes):
        read += [Delay(seconds=delay), Chunk(max_bytes=size)]
    return FaultPlan(read=tuple(read), name="latency")


def bandwidth_plan(*, rate: int, total: int) -> FaultPlan:
    """At most ``rate`` bytes per virtual second for the first ``total`` bytes, in the pieces a link of that
    rate delivers (``PIECES_PER_SECOND`` pieces a second, none larger than a segment)."""
    _check_int("bandwidth", "rate", rate, minimum=1)
    _check_int("bandwidth", "total", total, minimum=0)
    piece = max(1, min(SEGMENT_BYTES, rate // PIECES_PER_SECOND))
    read: list[Step] = []
    covered = 0
    while covered < total and len(read) < 256:
        read += [Delay(seconds=piece / rate), Chunk(max_bytes=piece)]
        covered += piece
    return FaultPlan(read=tuple(read), name="bandwidth")


def limit_data_plan(*, inbound: int, outbound: int, ending: str = "eof") -> FaultPlan:
    """The peer hangs up after ``inbound`` bytes to the stream and ``outbound`` bytes from it, whichever comes
    first: it closes (``eof``: reads see EOF, a send after the limit EPIPE) or resets (``reset``)."""
    if ending not in LIMIT_ENDINGS:
        raise PlanError(f"limit-data ending {ending!r} is not valid; valid: {', '.join(LIMIT_ENDINGS)}")
    _check_int("limit-data", "inbound", inbound, minimum=0)
    _check_int("limit-data", "outbound", outbound, minimum=1)
    read_end: Step = Eof() if ending == "eof" else Reset()
    write_end: Step = SendBrokenPipe() if ending == "eof" else SendReset()
    return FaultPlan(read=(Pass(nbytes=inbound), read_end), write=(SendPass(nbytes=outbound), write_end),
                     name="limit-data")


def slow_close_plan(*, seconds: float, sizes: tuple[int, ...] = ()) -> FaultPlan:
    """The data arrives (cut into ``sizes`` pieces first, if given), the FIN ``seconds`` late."""
    return FaultPlan(read=(*(Chunk(max_bytes=s) for s in sizes), LateFin(seconds=seconds)), name="slow-close")


def send_stall_plan(*, after: int, seconds: float) -> FaultPlan:
    """``after`` bytes go out (none when 0), then the peer stops reading for ``seconds``."""
    head: tuple[Step, ...] = (SendPass(nbytes=after),) if after else ()
    return FaultPlan(write=(*head, SendStall(seconds=seconds)), name="send-stall")


def time_plan(kind: str, rng: random.Random, *, inbound_size: int, outbound_size: int,
              at: int | None = None) -> FaultPlan:
    """The seeded plan of the time kind ``kind`` (``plan_for_kind`` calls it with the kind's own ``rng``)."""
    if kind == "stall":
        offset = at if at is not None else rng.randint(1, max(1, inbound_size - 1))
        return stall_plan(at=offset, seconds=float(rng.randint(60, 120)),
                          ending=STALL_ENDINGS[rng.randrange(len(STALL_ENDINGS))])
    if kind == "latency":
        sizes: list[int] = []
        while sum(sizes) < inbound_size + 1 and len(sizes) < 64:
            sizes.append(rng.randint(1, 64))
        # 20 ms base, up to 30 ms of jitter, in whole milliseconds (exact in JSON and in reports).
        delays = tuple(round(0.02 + rng.randint(0, 30) / 1000, 3) for _ in sizes)
        return latency_plan(delays=delays, sizes=tuple(sizes))
    if kind == "bandwidth":
        return bandwidth_plan(rate=rng.choice((200, 1_000, 4_000)), total=inbound_size + 1)
    if kind == "limit-data":
        return limit_data_plan(inbound=at if at is not None else rng.randint(1, max(1, inbound_size - 1)),
                               outbound=rng.randint(1, max(1, outbound_size - 1)),
                               ending=LIMIT_ENDINGS[rng.randrange(len(LIMIT_ENDINGS))])
    if kind == "slow-close":
        sizes = []
        while sum(sizes) < inbound_size and len(sizes) < 8:
            sizes.append(rng.randint(16, 256))
        return slow_close_plan(seconds=float(rng.randint(5, 30)), sizes=tuple(sizes))
    if kind == "send-stall":
        return send_stall_plan(after=rng.randint(0, max(0, outbound_size // 2)), seconds=float(rng.randint(60, 120)))
    raise PlanError(f"unknown time kind {kind!r}; valid: {', '.join(TIME_KINDS)}")


# --- reads under a deadline ----------------------------------------------------------------------------


class DeadlineError(TimeoutError):
    """A read under ``with_timeout`` did not complete by its deadline (Tornado's ``gen.TimeoutError``)."""


def with_timeout(loop: Any, deadline: float, future: Any, *, label: str = "") -> Future:
    """A future that gets ``future``'s outcome, or ``DeadlineError`` at virtual time ``deadline`` if that comes
    first. ``future`` keeps running (Tornado's ``gen.with_timeout``: nothing is cancelled), so a caller may
    wait for it again. ``future`` is any future-like object (``add_done_callback``, ``done``, ``result``)."""
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not math.isfinite(deadline):
        raise ValueError(f"deadline must be a finite virtual time in seconds, got {deadline!r}")
    out = Future(label=f"with_timeout({label or 'future'})")
    timer = None

    def expire() -> None:
        if not out.done():
            out.set_exception(DeadlineError(f"timed out at t={deadline:g}s (virtual)"))

    def done(f: Any) -> None:
        if out.done():
            return
        if timer is not None:
            loop.remove_timeout(timer)
        exception = getattr(f, "exception", None)
        try:
            error = exception() if callable(exception) else None
            if error is not None:
                out.set_exception(error)
            else:
                out.set_result(f.result())
        except Exception as exc:  # a foreign future whose outcome cannot be read: the caller hears of it
            out.set_exception(exc)

    if future.done():
        done(future)
        return out
    timer = loop.add_timeout(deadline, expire)
    future.add_done_callback(done)
    return out


#: The injected faults that hold a connection back for a while, by the name the fake fd traces them with.
HOLD_FAULTS = ("delay", "late_fin", "send_stall")


def held_seconds(trace: Any) -> float:
    """Virtual seconds time faults held connections back in ``trace``: the sum of every hold that started."""
    return float(sum(e.get("seconds", 0.0) for e in trace.events("fd", "inject") if e.get("fault") in HOLD_FAULTS))


# --- registration into the plan module --------------------------------------------------------------

def _register() -> None:
    _plan.READ_STEPS.update({cls.kind: cls for cls in (Delay, LateFin)})
    _plan.WRITE_STEPS.update({cls.kind: cls for cls in (SendStall, SendPass)})
    _plan.KIND_BUILDERS.update({kind: time_plan for kind in TIME_KINDS})


_register()
