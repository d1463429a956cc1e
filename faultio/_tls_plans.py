"""The fd plans of the TLS kinds: what the ciphertext's arrival looks like under each one.

Rules for this module:
- The plan shapes only the fd (chunks, a cut); how the TLS peer behaves (a ragged EOF, a failed handshake and
  its variant) is the harness's, derived from the plan's name. ``tls-flood`` is built with ``flood``.
- The builders register in ``faultio._plan.KIND_BUILDERS`` when this module is imported (importing ``faultio``
  does), as the time and connect kinds do; the same seed gives the same plan.
"""

from __future__ import annotations

import random
from typing import Any

from ._plan import HANDSHAKE_VARIANTS, KIND_BUILDERS, TLS_KINDS, Chunk, Eof, FaultPlan, Pass, Step, _check_int


def _chunks(rng: random.Random, total: int, largest: int, *, limit: int = 64) -> list[Step]:
    """Seeded ``Chunk`` steps of 1..``largest`` bytes covering about ``total`` bytes (at most ``limit``)."""
    steps: list[Step] = []
    covered = 0
    while covered < total and len(steps) < limit:
        size = rng.randint(1, largest)
        steps.append(Chunk(max_bytes=size))
        covered += size
    return steps


def tls_plan(kind: str, rng: random.Random, *, inbound_size: int, at: int | None = None, **_sizes: Any) -> FaultPlan:
    """The fd plan of a TLS kind (see ``TLS_KINDS``); the peer behaviour is the harness's, from the name."""
    # Ciphertext is larger than the plaintext it carries (the handshake, a header and a tag per record):
    # the chunk steps cover about twice the plaintext so they cut records everywhere, not only at the start.
    if kind == "ragged-eof":
        return FaultPlan(read=tuple(_chunks(rng, 2 * inbound_size, 512, limit=12)), name=kind)
    if kind == "eof-mid-record":
        offset = at if at is not None else rng.randint(1, max(1, inbound_size - 1))
        _check_int("plan", "at", offset, minimum=0)
        return FaultPlan(read=(Pass(nbytes=offset), Eof()), name=kind)
    if kind == "record-split":
        return FaultPlan(read=tuple(_chunks(rng, 2 * inbound_size, 64, limit=48)), name=kind)
    if kind == "records-coalesced":
        return FaultPlan(name=kind)
    # handshake-fail: the alert and the handshake flights arrive cut into a few seeded reads.
    variant = HANDSHAKE_VARIANTS[rng.randrange(len(HANDSHAKE_VARIANTS))]
    return FaultPlan(read=tuple(_chunks(rng, 512, 200, limit=4)), name=f"{kind}:{variant}")


KIND_BUILDERS.update({kind: tls_plan for kind in TLS_KINDS if kind != "tls-flood"})
