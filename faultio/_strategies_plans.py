"""Hypothesis strategies for fault plans: kernel steps (``read_steps``, ``write_steps``, ``fault_plans``) and the
plans of the TLS, connect and time kinds. Public through ``faultio.strategies``.

Rules for this module:
- Every public function returns a Hypothesis strategy; nothing here draws a value by itself, runs a stream or
  touches global randomness. The only randomness is the Hypothesis draw, so Hypothesis' seed, database and
  shrinking cover it.
- Every plan produced is valid (``FaultPlan`` validates it) and round-trips through JSON.
- Shrinking is part of the design: the simplest step of each kind comes first, every count and size shrinks
  towards 1, every offset towards 0, and a plan shrinks towards the clean plan, so a minimal failing plan
  holds only the steps the failure needs, each as small as it can be.
- Faults that end a connection (a reset, a flood, an endless dribble) are only ever the last steps of their
  side: nothing after them could be reached in a meaningful way.
- Imports only faultio's plan values and Hypothesis.
"""

from __future__ import annotations

from typing import Iterable

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from . import _time_faults as _tf
from ._errors import PlanError
from ._plan import (
    CONNECT_KINDS,
    DEFAULT_FLOOD_BYTES,
    FAULT_KINDS,
    TIME_KINDS,
    TLS_KINDS,
    Chunk,
    Dribble,
    Eintr,
    FaultPlan,
    Flood,
    Pass,
    Reset,
    SendEintr,
    SendPartial,
    SendReset,
    SendWouldBlock,
    Step,
    WouldBlock,
    parse_kinds,
    plan_for_kind,
)

#: Defaults: small plans find bugs as well as large ones here, and shrink much faster.
DEFAULT_MAX_READ_STEPS = 6
DEFAULT_MAX_WRITE_STEPS = 4
#: The largest ``WouldBlock``/``SendWouldBlock`` count drawn: more spurious EAGAINs in a row show nothing new.
MAX_WOULDBLOCK = 4
#: The largest ``Chunk``/``SendPartial`` size and ``Dribble`` length drawn (the interesting sizes are small).
MAX_CHUNK = 64
MAX_DRIBBLE = 32
#: How many sends one ``SendPartial`` step shapes at most (``dribble`` is capped by ``outbound_size``).
MAX_PARTIAL_COUNT = 4


# --- argument checks ---------------------------------------------------------------------------------


def _kinds(kinds: str | Iterable[str]) -> tuple[str, ...]:
    try:
        return parse_kinds(kinds)
    except PlanError as exc:
        raise InvalidArgument(str(exc)) from None


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{name}={value!r} is not valid; it must be an integer >= {minimum}")
    return value


# --- building blocks ---------------------------------------------------------------------------------



def _family(kinds: str | Iterable[str], family: tuple[str, ...], what: str, *,
            transports: tuple[str, ...]) -> tuple[str, ...]:
    """The kinds of ``family`` that ``kinds`` names (``"all"``, a comma list or an iterable), in order;
    ``InvalidArgument`` naming the family's kinds for one outside it, or none at all."""
    if isinstance(kinds, str):
        try:
            chosen = tuple(k for k in parse_kinds(kinds, transports=transports) if k in family)
        except PlanError as exc:
            raise InvalidArgument(str(exc)) from None
    else:
        chosen = tuple(kinds)
    if not chosen or any(k not in family for k in chosen):
        raise InvalidArgument(f"kinds={kinds!r} is not valid; valid {what} kinds: {', '.join(family)}")
    return chosen

def _read_body(kinds: tuple[str, ...]) -> list[st.SearchStrategy[Step]]:
    """Single read steps that leave the connection usable, simplest first."""
    out: list[st.SearchStrategy[Step]] = []
    if "eintr" in kinds:
        out.append(st.just(Eintr()))
    if "ewouldblock" in kinds:
        out.append(st.builds(WouldBlock, count=st.integers(1, MAX_WOULDBLOCK)))
        # A short read is the other face of a non-blocking fd: the data comes in pieces.
        out.append(st.builds(Chunk, max_bytes=st.integers(1, MAX_CHUNK)))
    if "dribble" in kinds:
        out.append(st.builds(Dribble, nbytes=st.integers(1, MAX_DRIBBLE)))
    return out


def _read_ends(kinds: tuple[str, ...], inbound_size: int, flood_bytes: int,
               room: int) -> list[st.SearchStrategy[tuple[Step, ...]]]:
    """Read steps that end the interesting part of a connection, each placed at an offset.

    The offset is a ``Pass`` first, drawn from 0 so it shrinks towards "at once".
    """
    out: list[st.SearchStrategy[tuple[Step, ...]]] = []
    offset = st.integers(0, inbound_size)
    if room >= 2 and "econnreset" in kinds:
        out.append(offset.map(lambda n: (Pass(nbytes=n), Reset())))
    if room >= 2 and "flood" in kinds:
        out.append(st.tuples(offset, st.integers(0, 255)).map(
            lambda a: (Pass(nbytes=a[0]), Flood(nbytes=flood_bytes, pattern_seed=a[1]))))
    if room >= 1 and "dribble" in kinds:
        # The canonical dribble: one byte per recv for the rest of the connection.
        out.append(st.just((Dribble(nbytes=None),)))
    return out


def _write_body(kinds: tuple[str, ...], outbound_size: int) -> list[st.SearchStrategy[Step]]:
    """Single write steps that leave the connection usable, simplest first."""
    out: list[st.SearchStrategy[Step]] = []
    if "eintr" in kinds:
        out.append(st.just(SendEintr()))
    if "ewouldblock" in kinds:
        out.append(st.builds(SendWouldBlock, count=st.integers(1, MAX_WOULDBLOCK)))
        out.append(st.builds(SendPartial, max_bytes=st.integers(1, MAX_CHUNK),
                             count=st.integers(1, MAX_PARTIAL_COUNT)))
    if "dribble" in kinds:
        out.append(st.builds(SendPartial, max_bytes=st.just(1), count=st.integers(1, max(1, outbound_size))))
    return out


def _write_ends(kinds: tuple[str, ...], outbound_size: int, room: int) -> list[st.SearchStrategy[tuple[Step, ...]]]:
    out: list[st.SearchStrategy[tuple[Step, ...]]] = []
    if room >= 2 and "econnreset" in kinds:
        # After ``n`` bytes have gone out the next send meets the reset; n = 0 shrinks to "the first send".
        def reset_after(n: int) -> tuple[Step, ...]:
            return (SendPartial(max_bytes=n), SendReset()) if n else (SendReset(),)

        out.append(st.integers(0, max(1, outbound_size)).map(reset_after))
    return out


def _side(body: list[st.SearchStrategy[Step]], ends: list[st.SearchStrategy[tuple[Step, ...]]],
          max_steps: int) -> st.SearchStrategy[tuple[Step, ...]]:
    """Up to ``max_steps`` steps: any of ``body``, then optionally one of ``ends`` (which shrinks away)."""
    if max_steps == 0 or (not body and not ends):
        return st.just(())
    end = st.one_of(st.just(()), *ends) if ends else st.just(())
    # One list strategy per room left after the ending (built once, not on every draw).
    step = st.one_of(*body) if body else None
    lists = {room: st.lists(step, max_size=room) if step is not None and room else st.just([])
             for room in range(max(0, max_steps - 2), max_steps + 1)}

    @st.composite
    def side(draw: st.DrawFn) -> tuple[Step, ...]:
        last = draw(end)
        return tuple(draw(lists[max_steps - len(last)])) + last

    return side()


# --- public strategies -------------------------------------------------------------------------------


def read_steps(
    *,
    kinds: str | Iterable[str] = FAULT_KINDS,
    max_steps: int = DEFAULT_MAX_READ_STEPS,
    inbound_size: int = 256,
    flood_bytes: int = DEFAULT_FLOOD_BYTES,
) -> st.SearchStrategy[tuple[Step, ...]]:
    """A strategy for the ``read`` side of a plan: a tuple of at most ``max_steps`` read steps.

    ``kinds`` (names from ``FAULT_KINDS``, or ``"all"``, or ``"eintr,dribble"``) chooses the steps:
    eintr → ``Eintr``; ewouldblock → ``WouldBlock``, ``Chunk``; dribble → ``Dribble(nbytes=k)`` anywhere or
    an endless ``Dribble()`` last; econnreset → ``Pass(nbytes=k), Reset()`` last; flood →
    ``Pass(nbytes=k), Flood(nbytes=flood_bytes)`` last. ``inbound_size`` is how many bytes the reader is
    expected to receive, so ``k`` lands inside the exchange.
    """
    chosen = _kinds(kinds)
    _check_int("max_steps", max_steps, 0)
    _check_int("inbound_size", inbound_size, 0)
    _check_int("flood_bytes", flood_bytes, 1)
    return _side(_read_body(chosen), _read_ends(chosen, inbound_size, flood_bytes, max_steps), max_steps)


def write_steps(
    *,
    kinds: str | Iterable[str] = FAULT_KINDS,
    max_steps: int = DEFAULT_MAX_WRITE_STEPS,
    outbound_size: int = 256,
) -> st.SearchStrategy[tuple[Step, ...]]:
    """A strategy for the ``write`` side of a plan: a tuple of at most ``max_steps`` write steps.

    eintr → ``SendEintr``; ewouldblock → ``SendWouldBlock``, ``SendPartial``; dribble →
    ``SendPartial(max_bytes=1, count=k)`` (``k`` up to ``outbound_size``); econnreset → ``SendReset()``
    last, after a ``SendPartial(max_bytes=k)`` when ``k > 0``; flood has no write steps.
    """
    chosen = _kinds(kinds)
    _check_int("max_steps", max_steps, 0)
    _check_int("outbound_size", outbound_size, 0)
    return _side(_write_body(chosen, outbound_size), _write_ends(chosen, outbound_size, max_steps), max_steps)


def fault_plans(
    *,
    kinds: str | Iterable[str] = FAULT_KINDS,
    max_read_steps: int = DEFAULT_MAX_READ_STEPS,
    max_write_steps: int = DEFAULT_MAX_WRITE_STEPS,
    inbound_size: int = 256,
    outbound_size: int = 256,
    flood_bytes: int = DEFAULT_FLOOD_BYTES,
    name: str = "mixed",
) -> st.SearchStrategy[FaultPlan]:
    """A strategy for ``FaultPlan``s mixing steps of the chosen fault ``kinds`` on both sides.

    The read side comes from ``read_steps``, the write side from ``write_steps`` (see them for what each
    kind contributes). ``max_write_steps=0`` leaves the write side clean, useful when the code under test
    never sends. Plans are named ``name`` and shrink towards the clean plan.

    Example, for a test of your own stream::

        @given(plan=faultio.strategies.fault_plans(kinds="eintr,econnreset"))
        def test_my_reader(plan):
            ...
    """
    if not isinstance(name, str):
        raise InvalidArgument(f"name={name!r} is not valid; it must be a string")
    read = read_steps(kinds=kinds, max_steps=max_read_steps, inbound_size=inbound_size, flood_bytes=flood_bytes)
    write = write_steps(kinds=kinds, max_steps=max_write_steps, outbound_size=outbound_size)
    return st.builds(FaultPlan, read=read, write=write, name=st.just(name))


def tls_fault_plans(
    *,
    kinds: str | Iterable[str] = TLS_KINDS,
    inbound_size: int = 600,
    flood_bytes: int = DEFAULT_FLOOD_BYTES,
) -> st.SearchStrategy[FaultPlan]:
    """A strategy for plans of the TLS fault kinds (``faultio._plan.TLS_KINDS``; ``"all"`` or a comma list).

    Each plan is ``plan_for_kind(kind, seed=...)``: named after its kind (``handshake-fail:<variant>`` for a
    failed handshake), so the harness derives the TLS peer's behaviour from it. It shrinks towards the first
    kind and seed 0. These plans are for the ssl transport only: on a plain socket there is no TLS layer.
    """
    chosen = _family(kinds, TLS_KINDS, "TLS", transports=("ssl",))
    _check_int("inbound_size", inbound_size, 0)
    _check_int("flood_bytes", flood_bytes, 1)
    return st.builds(lambda kind, seed: plan_for_kind(kind, seed=seed, inbound_size=inbound_size,
                                                      flood_bytes=flood_bytes),
                     st.sampled_from(chosen), st.integers(min_value=0, max_value=2**32 - 1))


def connect_fault_plans(
    *, kinds: str | Iterable[str] = CONNECT_KINDS, write_kinds: str | Iterable[str] = (), outbound_size: int = 256
) -> st.SearchStrategy[FaultPlan]:
    """A strategy for plans of the connect kinds (``faultio._plan.CONNECT_KINDS``; ``"all"`` or a comma list).

    Each plan holds one connect step (``ConnectRefused`` with its ``report``, ``ConnectReset`` with its
    ``when``, ``ConnectTimeout``; ``faultio._connect_faults``), named ``kind:variant`` as ``plan_for_kind``
    names it, followed by the write steps of ``write_kinds`` (``write_steps``; none by default) that shape the
    sends once connected. It shrinks towards the first kind and variant. The step acts when the code under test
    calls the fake fd's ``connect()``; on an fd that never connects it does nothing.
    """
    from ._connect_faults import REFUSED_REPORTS, RESET_WHEN, ConnectRefused, ConnectReset, ConnectTimeout

    chosen = _family(kinds, CONNECT_KINDS, "connect", transports=("plain", "ssl"))
    _check_int("outbound_size", outbound_size, 0)
    steps = {
        "connect-refused": st.sampled_from(REFUSED_REPORTS).map(lambda r: (ConnectRefused(report=r), r)),
        "connect-reset": st.sampled_from(RESET_WHEN).map(lambda w: (ConnectReset(when=w), w)),
        "connect-timeout": st.just((ConnectTimeout(), "")),
    }
    after = write_steps(kinds=write_kinds, outbound_size=outbound_size) if write_kinds else st.just(())

    def build(kind: str, drawn: tuple[Step, str], rest: tuple[Step, ...]) -> FaultPlan:
        step, variant = drawn
        return FaultPlan(write=(step, *rest), name=f"{kind}:{variant}" if variant else kind)

    return st.sampled_from(chosen).flatmap(lambda kind: st.builds(build, st.just(kind), steps[kind], after))


def time_fault_plans(
    *,
    kinds: str | Iterable[str] = TIME_KINDS,
    inbound_size: int = 600,
    outbound_size: int = 600,
) -> st.SearchStrategy[FaultPlan]:
    """A strategy for plans of the time kinds (``faultio.TIME_KINDS``; ``"all"`` or a comma list): stalls,
    latency, bandwidth limits, data limits, slow closes and send stalls, in virtual seconds.

    Each parameter is drawn (the offset of a stall, its length and how it ends, each piece's delay and size, a
    rate, a byte budget, ...) and the plan built from them by the kind's builder in ``faultio._time_faults``,
    so a failing plan shrinks: towards the first kind, the earliest offsets, the smallest sizes and the
    shortest times (a stall shrinks to 60 s, the shortest the matrix uses; pass ``stall_plan`` your own).
    They need the simulated kernel (``faultio.socketpair``): a real socket has no virtual clock.
    """
    chosen = _family(kinds, TIME_KINDS, "time", transports=("plain", "ssl"))
    _check_int("inbound_size", inbound_size, 0)
    _check_int("outbound_size", outbound_size, 0)
    seconds = st.integers(60, 120).map(float)
    ms = st.integers(1, 50).map(lambda n: n / 1000)
    builders = {
        "stall": st.builds(_tf.stall_plan, at=st.integers(0, inbound_size), seconds=seconds,
                           ending=st.sampled_from(_tf.STALL_ENDINGS)),
        "latency": st.lists(st.tuples(ms, st.integers(1, MAX_CHUNK)), min_size=1, max_size=16).map(
            lambda pieces: _tf.latency_plan(delays=tuple(d for d, _ in pieces), sizes=tuple(n for _, n in pieces))),
        "bandwidth": st.integers(100, 16_000).map(lambda rate: _tf.bandwidth_plan(rate=rate, total=inbound_size + 1)),
        "limit-data": st.builds(_tf.limit_data_plan, inbound=st.integers(0, inbound_size),
                                outbound=st.integers(1, max(1, outbound_size)),
                                ending=st.sampled_from(_tf.LIMIT_ENDINGS)),
        "slow-close": st.builds(_tf.slow_close_plan, seconds=st.integers(1, 30).map(float),
                                sizes=st.lists(st.integers(1, 256), max_size=8).map(tuple)),
        "send-stall": st.builds(_tf.send_stall_plan, after=st.integers(0, outbound_size), seconds=seconds),
    }
    return st.one_of(*(builders[k] for k in chosen))
