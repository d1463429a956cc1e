"""faultio: a simulated kernel that injects the faults real kernels and TLS stacks produce.

The public names are re-exported here; implementations live in underscore modules.
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
from ._ssl import (
    CertificateVerificationError,
    NonDrainingSSLIOStream,
    RaggedEOFError,
    SSLIOStream,
    TLSError,
    TLSHandshakeError,
)
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
from ._tlspeer import TLSPeer
from ._trace import Trace, TraceEvent

__version__ = "0.1.0"
