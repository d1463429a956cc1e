"""Built-in target ``tornado``: Tornado >= 5's own ``tornado.iostream.IOStream`` on the simulated asyncio loop.

Rules for this module:
- The stream is Tornado's, unwrapped: built over the fake fd while the simulated asyncio loop is the running
  loop, so Tornado's ``IOLoop.current()`` wraps that loop and every handler it adds is polled there.
- Tornado 6 dropped the callback arguments (and with them streaming reads); those cells are declared lacking.
- TLS is declared lacking: Tornado's ``SSLIOStream`` wraps a real ``ssl.SSLSocket``, which needs a kernel
  socket, and the point of the simulation is that there is none.
"""

from __future__ import annotations

import functools
from typing import Any

from .._targets import Target, TargetError

NAME = "tornado"
INSTALL = "pip install 'tornado>=5'"
#: What Tornado >= 6's IOStream lacks of the matrix, and why.
LACKS = {
    "*/callback": "Tornado 6 read and write methods take no callback (removed in 6.0); futures only",
    "read_bytes_streaming": "Tornado 6 read_bytes takes no streaming_callback (removed in 6.0)",
}


def load() -> Target:
    try:
        import tornado
    except ImportError as exc:
        raise TargetError(f"--target {NAME} needs Tornado >= 5, but tornado cannot be imported ({exc}); install "
                          f"it with: {INSTALL}") from None
    version = getattr(tornado, "version", "unknown")
    info = getattr(tornado, "version_info", None) or (0,)
    if info[0] < 5:
        raise TargetError(f"--target {NAME} needs Tornado >= 5, but Tornado {version} is installed (at "
                          f"{tornado.__file__}); for Tornado 4.x use --target tornado4")
    from tornado.iostream import IOStream

    lacks = dict(LACKS)
    if info[0] == 5:  # Tornado 5 still had callbacks and streaming reads
        lacks = {}

    def tornado_stream(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int, ssl_context: Any) -> Any:
        """``tornado.iostream.IOStream(sock, max_buffer_size=...)`` with the simulated loop running."""
        if transport != "plain":
            raise TargetError(f"--target {NAME} has no {transport} variant; valid: plain")
        with io_loop.asyncio_loop.running():
            stream = IOStream(sock, max_buffer_size=max_buffer_size)
        io_loop.mask_sources.append(functools.partial(_tornado_mask, stream.io_loop))
        return stream

    tornado_stream.__qualname__ = f"tornado_stream(tornado {version})"
    return Target(name=NAME, factory=tornado_stream, transports=("plain",), loop="asyncio",
                  default_profile="cpython", lacks=lacks,
                  why_transports="Tornado's SSLIOStream wraps a kernel ssl.SSLSocket, which a fake fd is not")


def _tornado_mask(tornado_loop: Any, fd: int) -> int | None:
    """What Tornado's asyncio ``IOLoop`` has registered for ``fd``, as a Tornado mask: READ and WRITE from its
    reader and writer sets (what asyncio polls), ERROR whenever a handler is registered (Tornado keeps an
    ERROR-only registration in its own table, with nothing in asyncio's); ``None`` when none is."""
    if fd not in getattr(tornado_loop, "handlers", {}):
        return None
    return (0x001 if fd in tornado_loop.readers else 0) | (0x004 if fd in tornado_loop.writers else 0) | 0x018
