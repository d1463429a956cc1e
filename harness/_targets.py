"""Targets: what the harness tests, as a factory that wraps a fake socket in a stream.

Rules for this module:
- A target is ``factory(sock, *, io_loop, transport, max_buffer_size, ssl_context) -> stream`` where the
  stream has Tornado 4's IOStream interface. The default target is faultio's own stream.
- ``--target module:attr`` loads a factory; a bad spec gets an error naming what was wrong and the shape
  that is valid. Loading never runs the factory.
- Built-in targets have a bare name (no ``:``), listed with a one-line description in ``BUILTIN_TARGETS``.
  Importing this module imports no third-party stream: a built-in target imports its library when it is
  loaded, and says what it found and how to install the right one when that fails.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
from typing import Any, Callable

from faultio import IOStream

DEFAULT_TARGET_SPEC = "faultio:IOStream"
#: The names ``load_target`` resolves to the default target (faultio's own stream) without importing anything.
DEFAULT_TARGET_NAMES = (DEFAULT_TARGET_SPEC, "faultio", "default")


class TargetError(ValueError):
    """A ``--target`` spec that cannot be loaded."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Target:
    """A named stream factory."""

    name: str
    factory: Callable[..., Any]
    #: The transports the target can be built for (a plain stream class has no TLS variant).
    transports: tuple[str, ...] = ("plain", "ssl")
    #: The realism profile the target runs under unless ``--profile`` says otherwise: ``raw`` (fd semantics
    #: as the seed's world has them) or ``cpython`` (what CPython's socket methods show since PEP 475).
    default_profile: str = "raw"
    #: The event loop the stream runs on: ``"faultio"`` (faultio's Tornado-4 ``IOLoop``) or ``"asyncio"``
    #: (``faultio.AsyncioIOLoop``: the stdlib's transports on the simulated kernel).
    loop: str = "faultio"
    #: The matrix cells the target's API cannot express, each with the reason: an operation name, ``*/style``
    #: or ``operation/style``. Their cases are not run and are listed as not applicable.
    lacks: Any = dataclasses.field(default_factory=dict)
    #: Why the target has only ``transports`` (said in the run's summary line when a transport is skipped).
    why_transports: str = ""
    #: For the ``connect`` operation: a factory like ``factory`` whose stream is not connected yet and connects
    #: when the harness calls its ``connect(address, ...)`` (``harness._connect_setup``). ``None``: ``factory``'s
    #: stream (plain) or the TLS client the harness builds from it (ssl) is that stream.
    connector: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        if self.loop not in ("faultio", "asyncio"):
            raise ValueError(f"Target.loop {self.loop!r} is not valid; valid: faultio, asyncio")
        object.__setattr__(self, "lacks", types.MappingProxyType(dict(self.lacks)))

    def lacking(self, operation: str, style: str) -> str:
        """Why the target cannot run ``operation`` in ``style`` (empty when it can)."""
        for key in (f"{operation}/{style}", operation, f"*/{style}"):
            if key in self.lacks:
                return self.lacks[key]
        return ""

    def make_loop(self, *, max_steps: int) -> Any:
        """A fresh loop of the kind the target runs on."""
        if self.loop == "asyncio":
            from faultio import AsyncioIOLoop

            return AsyncioIOLoop(max_steps=max_steps)
        from faultio import IOLoop

        return IOLoop(max_steps=max_steps, make_current=False)

    def make(self, sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int, ssl_context: Any) -> Any:
        """The stream under test over ``sock``, made by the factory."""
        return self.factory(sock, io_loop=io_loop, transport=transport, max_buffer_size=max_buffer_size,
                            ssl_context=ssl_context)


def faultio_stream(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int, ssl_context: Any) -> Any:
    """faultio's own IOStream (plain) or SSLIOStream (server side of TLS)."""
    if transport == "plain":
        return IOStream(sock, io_loop=io_loop, max_buffer_size=max_buffer_size)
    from faultio import SSLIOStream

    return SSLIOStream(sock, io_loop=io_loop, max_buffer_size=max_buffer_size, ssl_options=ssl_context,
                       server_side=True)


DEFAULT_TARGET = Target(name=DEFAULT_TARGET_SPEC, factory=faultio_stream)


def stream_class_factory(cls: type) -> Callable[..., Any]:
    """Turn an IOStream-like class (plain: ``cls(sock, ...)``; TLS: ``cls(sock, ssl_options=..., server_side=True)``)
    into a target factory."""

    def factory(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int, ssl_context: Any) -> Any:
        if transport == "plain":
            return cls(sock, io_loop=io_loop, max_buffer_size=max_buffer_size)
        return cls(sock, io_loop=io_loop, max_buffer_size=max_buffer_size, ssl_options=ssl_context,
                   server_side=True)

    factory.__qualname__ = f"factory({cls.__qualname__})"
    # The class itself, for a TLS case that needs it as the client (``harness._tls_peer.make_tls_client``).
    factory.stream_class = cls  # type: ignore[attr-defined]
    return factory


def _class_transports(cls: type) -> tuple[str, ...]:
    """A class speaks TLS when its constructor takes ``ssl_options``; a TLS-only class has no plain form."""
    import inspect

    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return ("plain", "ssl")
    if "ssl_options" not in params:
        return ("plain",)
    required = [p for p in params.values() if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD]
    return ("ssl",) if len(required) > 1 or _is_tls_only(cls) else ("plain", "ssl")


def _is_tls_only(cls: type) -> bool:
    try:
        from faultio import SSLIOStream
    except ImportError:  # pragma: no cover
        return False
    return issubclass(cls, SSLIOStream)


# --- built-in targets ----------------------------------------------------------------------------------

TORNADO4_TARGET = "tornado4"
TORNADO4_INSTALL = "pip install 'tornado>=4.5,<5'"


def _load_tornado4() -> Target:
    """Tornado 4.x's own ``tornado.iostream.IOStream`` on faultio's loop (plain only: its TLS stream wraps a
    real ``ssl`` socket, which a fake fd is not)."""
    try:
        import tornado
    except ImportError as exc:
        raise TargetError(f"--target {TORNADO4_TARGET} needs Tornado 4.x, but tornado cannot be imported "
                          f"({exc}); install it with: {TORNADO4_INSTALL}") from None
    version = getattr(tornado, "version", "unknown")
    info = getattr(tornado, "version_info", None)
    where = getattr(tornado, "__file__", None) or "an unknown location"
    if not info or info[0] != 4:
        raise TargetError(f"--target {TORNADO4_TARGET} needs Tornado 4.x, but Tornado {version} is installed "
                          f"(at {where}); its IOStream takes no io_loop, so it cannot run on faultio's loop. "
                          f"Use an environment with Tornado 4.x: {TORNADO4_INSTALL}")
    try:
        from tornado.iostream import IOStream as TornadoIOStream
    except Exception as exc:
        raise TargetError(f"--target {TORNADO4_TARGET}: Tornado {version} (at {where}) is installed but "
                          f"importing tornado.iostream raised {type(exc).__name__}: {exc}".splitlines()[0]
                          + f"; reinstall it with: {TORNADO4_INSTALL}") from None

    def tornado4_stream(sock: Any, *, io_loop: Any, transport: str, max_buffer_size: int,
                        ssl_context: Any) -> Any:
        """``tornado.iostream.IOStream(sock, io_loop=io_loop, max_buffer_size=max_buffer_size)``."""
        if transport != "plain":
            raise TargetError(f"--target {TORNADO4_TARGET} has no {transport} variant; valid: plain")
        return TornadoIOStream(sock, io_loop=io_loop, max_buffer_size=max_buffer_size)

    tornado4_stream.__qualname__ = f"tornado4_stream(tornado {version})"
    return Target(name=TORNADO4_TARGET, factory=tornado4_stream, transports=("plain",))


def _load_tornado() -> Target:
    from .targets import tornado6

    return tornado6.load()


def _load_asyncio_streams() -> Target:
    from .targets import asyncio_connect, asyncio_streams

    # The connect operation: loop.sock_connect, then the streams (targets/asyncio_connect.py).
    return dataclasses.replace(asyncio_streams.load(), connector=asyncio_connect.asyncio_connecting)


_BUILTIN_LOADERS: dict[str, Callable[[], Target]] = {TORNADO4_TARGET: _load_tornado4, "tornado": _load_tornado,
                                                     "asyncio-streams": _load_asyncio_streams}

#: Built-in targets by the name ``--target`` takes, each with a one-line description (for ``list``).
#: ``faultio`` is the default; the others import their library only when loaded.
BUILTIN_TARGETS: types.MappingProxyType[str, str] = types.MappingProxyType({
    "faultio": "faultio's own IOStream (plain) and SSLIOStream (ssl); the default "
               f"(also: {', '.join(n for n in DEFAULT_TARGET_NAMES if n != 'faultio')})",
    TORNADO4_TARGET: "Tornado 4.x's tornado.iostream.IOStream on faultio's loop; plain only; needs "
                     f"{TORNADO4_INSTALL}",
    "tornado": "Tornado >= 5's tornado.iostream.IOStream (plain) and SSLIOStream (ssl, over a simulated "
               "ssl.SSLSocket) on the simulated asyncio loop; futures only on Tornado 6; needs pip install "
               "'tornado>=5'",
    "asyncio-streams": "asyncio.StreamReader/StreamWriter over the stdlib's own socket and SSL transports on the "
                       "simulated asyncio loop; plain and ssl",
})


def load_target(spec: str) -> Target:
    """Load a built-in target by name (``BUILTIN_TARGETS``) or ``module:attr``, where ``attr`` may be a
    factory function or a stream class."""
    if spec in DEFAULT_TARGET_NAMES:
        return DEFAULT_TARGET
    if spec in _BUILTIN_LOADERS:
        return _BUILTIN_LOADERS[spec]()
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"--target {spec!r} is not valid; use module:factory (e.g. mypkg.streams:make_stream) "
                          f"or a built-in target ({', '.join(BUILTIN_TARGETS)})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"--target {spec!r}: cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:  # the module itself is broken (a SyntaxError, an error at import): a usage error
        raise TargetError(f"--target {spec!r}: importing module {module_name!r} raised "
                          f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"--target {spec!r}: module {module_name!r} has no attribute {attr!r}") from None
    if isinstance(obj, type):
        transports = _class_transports(obj)
        why = "" if "ssl" in transports else f"{obj.__qualname__}'s constructor takes no ssl_options"
        return Target(name=spec, factory=stream_class_factory(obj), transports=transports, why_transports=why)
    if not callable(obj):
        raise TargetError(f"--target {spec!r} names {type(obj).__name__}, which is neither a factory nor a class")
    return Target(name=spec, factory=obj)
