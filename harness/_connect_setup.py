"""The ``connect`` operation's world: the stream under test built unconnected, and the case's expectation.

Rules for this module:
- The stream is the target's: its ``Target.connector`` when it has one (a library whose stream cannot exist
  before its connection, as asyncio's), else the target's own factory (plain) or the TLS client the harness
  builds from it (ssl: the stream connects, then handshakes as the client; the harness's TLS peer serves).
- The expectation is derived from the case's plan alone (its connect step, ``faultio._connect_faults``) and
  recorded once in the trace (``harness`` event ``connect_fault``), as the TLS kinds record theirs: the connect
  checkers read it there.
"""

from __future__ import annotations

from typing import Any

from faultio._connect_faults import connect_step, connect_variant, expected_failure

from ._scenario_connect import HOSTNAME


def make_connecting_stream(target: Any, fd: Any, *, io_loop: Any, transport: str, max_buffer_size: int,
                           server_context: Any) -> Any:
    """The target's stream over the not yet connected ``fd``, ready for ``connect(address, ...)``."""
    if target.connector is not None:
        from faultio._certs import client_context

        return target.connector(fd, io_loop=io_loop, transport=transport, max_buffer_size=max_buffer_size,
                                ssl_context=client_context() if transport == "ssl" else None)
    if transport == "ssl":
        from ._tls_peer import make_tls_client

        return make_tls_client(target, fd, io_loop=io_loop, max_buffer_size=max_buffer_size, trust="faultio",
                               server_hostname=HOSTNAME)
    return target.make(fd, io_loop=io_loop, transport=transport, max_buffer_size=max_buffer_size,
                       ssl_context=server_context)


def announce(loop: Any, case: Any) -> None:
    """Record the connect case's expectation: ``step`` (the plan's connect step, ``""`` for none), its
    ``variant``, whether the connect ``must_fail`` and with which ``error`` (errno name; ``""`` for a timeout,
    which only the user's deadline ends), and whether it is a ``timeout``."""
    step = connect_step(case.plan)
    must_fail, error = expected_failure(case.plan)
    loop.trace.record("harness", "connect_fault", step=step.kind if step is not None else "",
                      variant=connect_variant(case.plan), must_fail=must_fail, error=error,
                      timeout=step is not None and step.kind == "connect_timeout")
