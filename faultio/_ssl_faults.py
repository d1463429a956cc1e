"""TLS-layer faults: a catalogue (``TLS_FAULTS``) and the scenario that runs one against an SSL stream.

Rules for this module:
- A TLS fault is *data plus two recipes*: a builder of the target fd's ``FaultPlan`` (kernel faults
  placed relative to the TLS record layout) and a named peer behaviour (``TLSPeer`` shapes: coalesced
  records, ragged EOF, a flood of application data). Kernel faults still come only from the plan; the
  peer never fakes an fd fault.
- Faults land *inside* the TLS traffic because offsets come from a measured layout (``tls_layout``):
  one clean exchange per protocol version, cached per process. TLS record sizes are deterministic for a
  given version and cipher, so the offsets are too.
- The scenario is the seed's exchange (``faultio._seed``) with the SSL stream as the server, unless a
  fault says the stream must be the client (handshake checks happen on the verifying side).
- Everything here composes with the core fault kinds: ``core_fault_plan`` builds ``plan_for_kind`` plans
  sized for the TLS exchange, and ``bytewise`` turns any plan into byte-at-a-time delivery.

Use: ``for fault in TLS_FAULTS.values(): run = run_tls_fault(fault, "tls13", delivery="bytewise")``, then
compare ``run`` with ``fault.messages``/``fault.error``. Faults with ``strands_plaintext`` are the ones the
deliberately broken ``NonDrainingSSLIOStream`` must hang on (``run.stalled``) when delivered all at once.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from typing import Any, Callable, Mapping

from . import _certs
from ._errors import StreamBufferFullError
from ._fakefd import socketpair
from ._future import Future
from ._loop import IOLoop
from ._plan import Chunk, Dribble, Eintr, Eof, FaultPlan, Pass, Reset, Step, WouldBlock, plan_for_kind
from ._seed import REPLY, frame, handle_connection, seed_messages
from ._ssl import CertificateVerificationError, RaggedEOFError, SSLIOStream, TLSHandshakeError
from ._tlspeer import TLSPeer

#: How the peer delivers the exchange: request/reply with every target recv cut to one byte, or every
#: message as its own record, all in one write.
DELIVERIES: tuple[str, ...] = ("bytewise", "all_at_once")

#: What the server writes before its handshake has completed (the ``early_server_write`` fault).
GREETING = b"hello from a server that wrote before its handshake completed"

#: The application data a TLS flood sends, and the read buffer it must overflow.
FLOOD_BYTES = 1 << 20
FLOOD_MAX_BUFFER = 64 * 1024

#: A step budget that ends any spin in well under a second.
MAX_STEPS = 200_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class TLSLayout:
    """Where the bytes of one clean seed exchange fall on the wire, as the target server receives them.

    ``handshake``: ciphertext before the first application record; ``records``: the size of each
    message's record (one ``frame(payload)`` per record); ``outbound``: ciphertext the server sends.
    """

    version: str
    handshake: int
    records: tuple[int, ...]
    outbound: int

    @property
    def inbound(self) -> int:
        """All the ciphertext the target receives: the handshake and every record."""
        return self.handshake + sum(self.records)

    def record_start(self, index: int) -> int:
        """Offset of the first byte of message ``index``'s record."""
        return self.handshake + sum(self.records[:index])

    def inside_record(self, index: int, into: int) -> int:
        """An offset ``into`` bytes inside message ``index``'s record (clamped to stay inside it)."""
        return self.record_start(index) + max(1, min(into, self.records[index] - 1))


@functools.lru_cache(maxsize=None)
def tls_layout(version: str) -> TLSLayout:
    """Measure the wire layout of the seed exchange for ``version`` (``"tls12"``/``"tls13"``), once."""
    loop = IOLoop(make_current=False, max_steps=MAX_STEPS)
    target, sock = socketpair(loop)
    stream = SSLIOStream(target, _certs.server_context(version), server_side=True, io_loop=loop)
    peer = TLSPeer(loop, sock, _certs.client_context(version), server_hostname="localhost")
    marks: list[int] = []

    async def client() -> None:
        await peer.handshake()
        marks.append(peer.ciphertext_sent)
        for payload in seed_messages():
            await peer.send_all(frame(payload))
            marks.append(peer.ciphertext_sent)
            await peer.recv_exactly(len(REPLY))

    loop.spawn(handle_connection(stream))
    done = loop.spawn(client())
    loop.run_until_quiescent()
    done.result()
    records = tuple(b - a for a, b in zip(marks, marks[1:]))
    return TLSLayout(version=version, handshake=marks[0], records=records, outbound=target.bytes_sent)


def bytewise(plan: FaultPlan, *, nbytes: int | None = None) -> FaultPlan:
    """``plan`` with every delivery cut to one byte per recv, the faults at the same byte offsets.

    ``nbytes`` limits the one-byte deliveries to the first ``nbytes`` bytes after the plan's own steps
    (``None``: for ever); a flood that follows is then delivered normally instead of costing one recv
    per byte.
    """
    read: list[Step] = []
    for step in plan.read:
        if isinstance(step, (Pass, Chunk)):
            size = step.nbytes if isinstance(step, Pass) else step.max_bytes
            if size:
                read.append(Dribble(nbytes=size))
        else:
            read.append(step)
    if not (read and isinstance(read[-1], Dribble) and read[-1].nbytes is None):
        read.append(Dribble(nbytes=nbytes))
    return FaultPlan(read=tuple(read), write=plan.write, name="+".join(n for n in (plan.name, "bytewise") if n))


def core_fault_plan(kind: str, version: str, *, seed: int = 0, at_message: int = 3) -> FaultPlan:
    """The core fault ``kind`` (``faultio.FAULT_KINDS``) sized for the TLS exchange of ``version``.

    A reset or flood lands inside message ``at_message``'s record (so the messages before it must arrive
    intact); the other kinds cover the whole exchange, handshake included, in both directions.
    """
    layout = tls_layout(version)
    rng = random.Random(f"faultio:tls:{kind}:{seed}")
    at = layout.inside_record(at_message, rng.randint(1, layout.records[at_message] - 1))
    return plan_for_kind(
        kind,
        seed=seed,
        inbound_size=layout.inbound,
        outbound_size=layout.outbound,
        at=at,
        flood_bytes=FLOOD_BYTES,
    )


# -- the catalogue -----------------------------------------------------------------------------------


def _clean(layout: TLSLayout, seed: int) -> FaultPlan:
    return FaultPlan(name="clean")


def _mid_record(*steps: Step, index: int = 3) -> Callable[[TLSLayout, int], FaultPlan]:
    """Deliver up to a seeded offset inside message ``index``'s record, then ``steps``."""

    def build(layout: TLSLayout, seed: int) -> FaultPlan:
        rng = random.Random(f"faultio:tls-mid-record:{seed}")
        into = rng.randint(1, layout.records[index] - 1)
        return FaultPlan(read=(Pass(nbytes=layout.inside_record(index, into)),) + steps)

    return build


def _dribble(layout: TLSLayout, seed: int) -> FaultPlan:
    return FaultPlan(read=(Dribble(nbytes=None),))


@dataclasses.dataclass(frozen=True, kw_only=True)
class TLSFault:
    """One TLS-layer fault: how to set it up and what a correct SSL stream does under it.

    - ``plan(layout, seed)`` builds the target fd's ``FaultPlan``.
    - ``peer`` names the peer behaviour: ``exchange`` (the seed client), ``records`` (every message
      as its own record, all in one write), ``one_record`` (all messages in a single record),
      ``ragged`` / ``close_notify`` / ``flood`` (``after`` messages, then close without or with
      ``close_notify``, or flood application data), ``handshake`` (only a handshake).
    - ``target_side``: the SSL stream's role; ``peer_trust``/``target_trust``: which CA the client
      context trusts; ``server_hostname``: the name the client asks for.
    - ``stream_kwargs``: extra arguments for the stream (a small ``max_buffer_size`` for the flood).
    - ``early_write``: bytes the target server writes before its handshake completes.
    - ``strands_plaintext``: with ``all_at_once`` delivery the fault leaves plaintext inside the SSL
      object while the fd shows nothing, so a stream that breaks the drain rule hangs on it.
    - Expected outcome: ``messages`` (how many messages the server receives intact when the peer waits
      for each reply; ``None`` = all. With all messages sent at once the server may receive fewer: a
      reset can meet its reply first) and ``error`` (the type of the stream's ``error``; ``None`` = no
      error).
    """

    name: str
    summary: str
    plan: Callable[[TLSLayout, int], FaultPlan] = _clean
    peer: str = "exchange"
    after: int = 3
    target_side: str = "server"
    peer_trust: str = "faultio"
    target_trust: str = "faultio"
    server_hostname: str = "localhost"
    stream_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    early_write: bytes | None = None
    strands_plaintext: bool = False
    messages: int | None = None
    error: type[BaseException] | None = None

    @property
    def handshake_fails(self) -> bool:
        """True when the peer only handshakes: the fault makes the handshake fail."""
        return self.peer == "handshake"


_FAULTS = [
    TLSFault(name="dribble", summary="ciphertext dribbled to the target one byte per recv", plan=_dribble),
    TLSFault(
        name="coalesced_records",
        summary="every message its own record, all records in one fd write: plaintext stranded in the SSL "
        "object while the fd shows nothing",
        peer="records",
        strands_plaintext=True,
    ),
    TLSFault(
        name="record_larger_than_read",
        summary="all messages in one record larger than read_chunk_size: plaintext left pending in the SSL "
        "object after a read",
        peer="one_record",
        strands_plaintext=True,
        stream_kwargs={"read_chunk_size": 16},
        # The peer reads the greeting before it sends: the record then arrives in an fd read of its
        # own, after the handshake, and the stream starts decrypting it (a TLS 1.3 client's first
        # record would otherwise ride along with its Finished message).
        early_write=GREETING,
    ),
    TLSFault(name="eintr_mid_record", summary="EINTR twice inside a record", plan=_mid_record(Eintr(), Eintr())),
    TLSFault(
        name="ewouldblock_mid_record",
        summary="a burst of spurious EWOULDBLOCK inside a record",
        plan=_mid_record(WouldBlock(count=3)),
    ),
    TLSFault(
        name="econnreset_mid_record",
        summary="ECONNRESET inside a record: the partial record is lost",
        plan=_mid_record(Reset()),
        messages=3,
        error=ConnectionResetError,
    ),
    TLSFault(
        name="eof_mid_record",
        summary="the fd reports EOF inside a record: a ragged EOF that truncates a record",
        plan=_mid_record(Eof()),
        messages=3,
        error=RaggedEOFError,
    ),
    TLSFault(
        name="ragged_eof",
        summary="the peer closes its socket without close_notify between records",
        peer="ragged",
        messages=3,
        error=RaggedEOFError,
    ),
    TLSFault(
        name="close_notify",
        summary="the peer sends close_notify between records: a clean EOF",
        peer="close_notify",
        messages=3,
    ),
    TLSFault(
        name="flood",
        summary=f"{FLOOD_BYTES} bytes of application data through TLS into a {FLOOD_MAX_BUFFER}-byte buffer",
        peer="flood",
        stream_kwargs={"max_buffer_size": FLOOD_MAX_BUFFER},
        messages=3,
        error=StreamBufferFullError,
    ),
    TLSFault(
        name="early_server_write",
        summary="the server writes before its handshake completes (4.x spins here)",
        early_write=GREETING,
    ),
    TLSFault(
        name="untrusted_cert",
        summary="the target client trusts another CA: certificate verification fails",
        peer="handshake",
        target_side="client",
        target_trust="untrusted",
        messages=0,
        error=CertificateVerificationError,
    ),
    TLSFault(
        name="peer_rejects_cert",
        summary="the peer client trusts another CA and aborts the handshake with an alert",
        peer="handshake",
        peer_trust="untrusted",
        messages=0,
        error=TLSHandshakeError,
    ),
    TLSFault(
        name="wrong_hostname",
        summary="the target client asks for a name the certificate does not cover",
        peer="handshake",
        target_side="client",
        server_hostname=_certs.WRONG_HOSTNAME,
        messages=0,
        error=CertificateVerificationError,
    ),
]

#: The TLS-layer faults by name, in a stable order.
TLS_FAULTS: dict[str, TLSFault] = {fault.name: fault for fault in _FAULTS}

#: No TLS-layer fault: the plain seed exchange over TLS, to compose with a core fault kind's plan.
CLEAN_TLS = TLSFault(name="clean", summary="the seed exchange over TLS, no TLS-layer fault")


# -- the scenario --------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class TLSRun:
    """What happened when one fault ran: the world after the loop went quiet, and the exchange's results.

    ``received``: payloads the target server read; ``replies``: replies the peer read; ``greeting``:
    what the peer read before the exchange (``early_server_write``); ``target``/``client``: the futures
    of both sides (a pending one at quiescence is a hang).
    """

    loop: IOLoop
    stream: SSLIOStream
    peer: TLSPeer
    sock: Any
    received: list[bytes]
    replies: list[bytes]
    greeting: bytes
    target: Future
    client: Future

    @property
    def stalled(self) -> bool:
        """True if the target never finished: the loop went quiet with the stream still waiting."""
        return not self.target.done()


async def _client_script(run: TLSRun, fault: TLSFault, delivery: str) -> None:
    peer = run.peer
    messages = seed_messages()
    try:
        await peer.handshake()
    except Exception:
        if fault.handshake_fails:
            return
        raise
    if fault.handshake_fails:
        return
    if fault.early_write:
        run.greeting = await peer.recv_exactly(len(fault.early_write))
    ending = fault.peer in ("ragged", "close_notify", "flood")
    if ending:
        messages = messages[: fault.after]
    try:
        if fault.peer == "one_record":
            await peer.send_all(b"".join(frame(m) for m in messages))
        elif fault.peer == "records" or delivery == "all_at_once":
            await peer.send_records([frame(m) for m in messages], coalesce=True)
        else:
            for payload in messages:
                await peer.send_all(frame(payload))
                reply = await peer.recv_exactly(len(REPLY))
                if not reply:
                    return
                run.replies.append(reply)
        while len(run.replies) < len(messages):
            reply = await peer.recv_exactly(len(REPLY))
            if not reply:
                return
            run.replies.append(reply)
        if fault.peer == "flood":
            await peer.flood(FLOOD_BYTES)
        elif fault.peer in ("ragged", "close_notify"):
            await peer.close(notify=fault.peer == "close_notify")
    except OSError:
        return  # the target went away mid-exchange: what it received is what the test checks


async def _target_client(stream: SSLIOStream) -> None:
    await stream.wait_for_handshake()


def run_tls_fault(
    fault: TLSFault | str | None = None,
    version: str = "tls13",
    *,
    delivery: str = "all_at_once",
    seed: int = 0,
    plan: FaultPlan | None = None,
    stream_cls: type[SSLIOStream] = SSLIOStream,
    max_steps: int = MAX_STEPS,
) -> TLSRun:
    """Run ``fault`` (``None``: no TLS fault) against ``stream_cls`` until the loop is quiescent.

    ``delivery`` is ``"bytewise"`` (request/reply; the target fd delivers one byte per recv) or
    ``"all_at_once"`` (all messages as records in one write). ``plan`` replaces the fault's own plan
    (to compose a core fault kind with a TLS peer behaviour). Never raises for what the stream does;
    a livelock raises ``LoopBudgetExceeded``.
    """
    if fault is None:
        fault = CLEAN_TLS
    elif isinstance(fault, str):
        try:
            fault = TLS_FAULTS[fault]
        except KeyError:
            raise ValueError(f"unknown TLS fault {fault!r}; valid: {', '.join(TLS_FAULTS)}") from None
    if delivery not in DELIVERIES:
        raise ValueError(f"unknown delivery {delivery!r}; valid: {', '.join(DELIVERIES)}")
    layout = tls_layout(version)
    fd_plan = plan if plan is not None else fault.plan(layout, seed)
    if delivery == "bytewise":
        # The whole exchange and its closing alerts arrive byte by byte; only a flood beyond it does not.
        fd_plan = bytewise(fd_plan, nbytes=layout.inbound + 1024)
    loop = IOLoop(make_current=False, max_steps=max_steps)
    target, sock = socketpair(loop, fd_plan)
    server_ctx = _certs.server_context(version)
    if fault.target_side == "server":
        stream = stream_cls(target, server_ctx, server_side=True, io_loop=loop, **fault.stream_kwargs)
        peer = TLSPeer(
            loop, sock, _certs.client_context(version, trust=fault.peer_trust), server_hostname=fault.server_hostname
        )
    else:
        client_ctx = _certs.client_context(version, trust=fault.target_trust)
        stream = stream_cls(
            target, client_ctx, server_hostname=fault.server_hostname, io_loop=loop, **fault.stream_kwargs
        )
        peer = TLSPeer(loop, sock, server_ctx, server_side=True)
    run = TLSRun(
        loop=loop, stream=stream, peer=peer, sock=target, received=[], replies=[], greeting=b"",
        target=Future(), client=Future(),
    )
    if fault.target_side == "server":
        if fault.early_write:
            stream.write(fault.early_write)
        run.target = loop.spawn(handle_connection(stream, run.received))
    else:
        run.target = loop.spawn(_target_client(stream))
    run.client = loop.spawn(_client_script(run, fault, delivery))
    loop.run_until_quiescent()
    return run
