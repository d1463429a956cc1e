"""faultio: a simulated kernel that injects the faults real kernels and TLS stacks produce.

The public names are re-exported here; implementations live in underscore modules. The TLS names
(``SSLIOStream``, ``TLSPeer`` and the TLS errors) load pyOpenSSL, so they are imported on first use.
"""

from ._errors import (
    BusyLoopError,
    FaultioError,
    InvalidStateError,
    LoopBudgetExceeded,
    PlanError,
    StalledError,
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
)
from ._fakefd import FakeSocket, socketpair
from ._future import Future
from ._iostream import BaseIOStream, IOStream
from ._loop import IOLoop
from ._peer import Peer
from ._plan import (
    FAULT_KINDS,
    Chunk,
    Dribble,
    Eintr,
    Eof,
    FaultPlan,
    Flood,
    Pass,
    Reset,
    SendBrokenPipe,
    SendEintr,
    SendPartial,
    SendReset,
    SendWouldBlock,
    Step,
    WouldBlock,
    parse_kinds,
    plan_for_kind,
)
from ._shaped import PROFILES
from ._time_faults import TIME_KINDS, DeadlineError, Delay, LateFin, SendPass, SendStall, with_timeout
from . import _tls_plans  # noqa: F401  (registers the TLS kinds' plan builders)
from ._trace import Trace, TraceEvent
from ._sequence import Sequence
from ._workload import (
    CloseOp,
    IdleOp,
    ReadBytesOp,
    ReadUntilCloseOp,
    ReadUntilOp,
    ReadUntilRegexOp,
    PeerEndOp,
    SetCloseCallbackOp,
    SplitDelimiter,
    StreamLimits,
    Workload,
    WriteOp,
    write_payload,
)

__version__ = "0.1.0"

_LAZY = {
    "AsyncioIOLoop": "._aioloop",
    "CertificateVerificationError": "._ssl",
    "NonDrainingSSLIOStream": "._ssl",
    "RaggedEOFError": "._ssl",
    "SSLIOStream": "._ssl",
    "SimEventLoop": "._aioloop",
    "TLSError": "._ssl",
    "TLSHandshakeError": "._ssl",
    "TLSPeer": "._tlspeer",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faultio' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "FAULT_KINDS",
    "PROFILES",
    "TIME_KINDS",
    "AsyncioIOLoop",
    "BaseIOStream",
    "BusyLoopError",
    "CertificateVerificationError",
    "Chunk",
    "CloseOp",
    "DeadlineError",
    "Delay",
    "Dribble",
    "Eintr",
    "Eof",
    "FakeSocket",
    "FaultPlan",
    "FaultioError",
    "Flood",
    "Future",
    "IOLoop",
    "IOStream",
    "IdleOp",
    "InvalidStateError",
    "LateFin",
    "LoopBudgetExceeded",
    "NonDrainingSSLIOStream",
    "Pass",
    "Peer",
    "PeerEndOp",
    "PlanError",
    "RaggedEOFError",
    "ReadBytesOp",
    "ReadUntilCloseOp",
    "ReadUntilOp",
    "ReadUntilRegexOp",
    "Reset",
    "SSLIOStream",
    "SendBrokenPipe",
    "SendEintr",
    "SendPartial",
    "SendPass",
    "SendReset",
    "SendStall",
    "SendWouldBlock",
    "Sequence",
    "SetCloseCallbackOp",
    "SimEventLoop",
    "SplitDelimiter",
    "StalledError",
    "Step",
    "StreamBufferFullError",
    "StreamClosedError",
    "StreamLimits",
    "TLSError",
    "TLSHandshakeError",
    "TLSPeer",
    "Trace",
    "TraceEvent",
    "UnsatisfiableReadError",
    "Workload",
    "WouldBlock",
    "WriteOp",
    "parse_kinds",
    "plan_for_kind",
    "socketpair",
    "with_timeout",
    "write_payload",
]
