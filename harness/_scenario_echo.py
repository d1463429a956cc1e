"""The ``echo`` operation: the seed's length-prefixed exchange, served by its own handler over the stream.

Rules for this module:
- The server side is the seed's ``handle_connection`` reading through the driver, so every read is tracked
  and judged like a matrix read; the client side is the peer, which hangs up as a real client would when a
  reply does not come in time (virtual time: the patience costs nothing).
- Only the stream's side is judged: the peer's own failures end the exchange, nothing more.
"""

from __future__ import annotations

import inspect
from typing import Any

from faultio import Future, StreamClosedError
from faultio._seed import REPLY, frame, handle_connection, seed_messages

from ._compat import adopt
from .engine import ReadOp


class _TrackedStream:
    """What the seed's handler sees: the stream's read/write/close routed through the driver."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def read_bytes(self, n: int) -> bytes:
        outcome, value = await self.driver.read(ReadOp(f"read_bytes {n}", nbytes=n), "read_bytes", n)
        if outcome != "ok":
            raise value if isinstance(value, BaseException) else StreamClosedError()
        return value

    def write(self, data: bytes) -> Any:
        future = self.driver.stream.write(data)
        self.driver.monitor.track_future(future, "write reply")
        return adopt(future)

    def close(self) -> None:
        self.driver.close()


#: Virtual seconds the echo client waits for a reply before it hangs up, as a real client would: a server
#: still waiting for bytes that never come (a length prefix a flood made huge) sees the close.
REPLY_PATIENCE = 300.0


async def within(loop: Any, awaitable: Any, seconds: float) -> Any:
    """The result of ``awaitable`` (run on ``loop``), or None after ``seconds`` of virtual time."""
    work = loop.spawn(awaitable)
    patience = loop.sleep(seconds)
    first = Future(label="result-or-patience")
    for contender in (work, patience):
        contender.add_done_callback(lambda f: first.done() or first.set_result(f))
    if await first is patience:
        return None
    return work.result()


async def scenario_echo(run: Any, driver: Any) -> None:
    """The seed's length-prefixed exchange served by ``handle_connection``: the messages must arrive intact
    and every reply must be right."""
    peer, monitor = run.peer, run.monitor
    received: list[bytes] = []
    server = run.loop.spawn(handle_connection(_TrackedStream(driver), received))
    messages = seed_messages()
    replies = []
    try:
        await run.peer_ready()
        for payload in messages:
            await peer.send_all(frame(payload))
            reply = await within(run.loop, peer.recv_exactly(len(REPLY)), REPLY_PATIENCE)
            if reply != REPLY:  # a wrong reply, the end of the connection, or no reply in time: hang up
                break
            replies.append(reply)
        closing = peer.close()
        if inspect.isawaitable(closing):
            await closing
    except Exception:  # the peer's side failing is not judged: the stream's side is
        pass
    try:
        await server
    except Exception:
        pass  # the handler ends with StreamClosedError when a fault cuts the exchange; judged below
    await driver.closed
    if not run.flood_injected() and received != messages[: len(received)]:
        monitor.violate("data-integrity", f"the server read {received!r}, not a prefix of the messages sent")
    # All messages arrive unless the connection was cut, or the stream closed itself with an error (what
    # closed it is judged on its own, by the rule about that fault).
    if (not run.reset_injected() and not run.flood_injected() and run.stream.error is None
            and len(received) != len(messages)):
        monitor.violate("data-integrity", f"only {len(received)} of {len(messages)} messages arrived intact")
    if any(r != REPLY for r in replies):
        monitor.violate("data-integrity", "a reply differs from b'server is good'")
