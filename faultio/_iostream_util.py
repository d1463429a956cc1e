"""Small shared pieces of the stream modules: loggers, errno classification, argument checks.

Rules for this module:
- Only stateless functions and module constants used by more than one ``_iostream*`` module live here.
- No stream state, no I/O, no loop: a function here decides what an exception *means*, never what to do.
"""

from __future__ import annotations

import errno
import logging
import numbers
from typing import Any

from ._future import Future

#: Tornado's ``gen_log``: the stream's own diagnostics.
gen_log = logging.getLogger("faultio.iostream")
#: Tornado's ``app_log``: exceptions escaping user callbacks.
app_log = logging.getLogger("faultio.application")

#: "Nothing to do right now": the non-blocking call would have blocked.
ERRNO_WOULDBLOCK = frozenset({errno.EWOULDBLOCK, errno.EAGAIN})
#: "The connection is gone": the stream closes quietly and keeps the exception on ``error``.
ERRNO_CONNRESET = frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT})
#: A non-blocking ``connect`` that is under way. EINTR belongs here too: an interrupted non-blocking
#: connect carries on asynchronously (POSIX), exactly like EINPROGRESS.
ERRNO_INPROGRESS = frozenset({errno.EINPROGRESS, errno.EALREADY, errno.EINTR})


def errno_from_exception(exc: BaseException) -> Any:
    """The errno of an OS-level exception (``exc.errno``, else ``exc.args[0]``), or ``None``."""
    code = getattr(exc, "errno", None)
    if code is not None:
        return code
    args = getattr(exc, "args", ())
    return args[0] if args else None


def is_eintr(exc: BaseException) -> bool:
    """A signal interrupted the call before anything happened: retry it."""
    return isinstance(exc, InterruptedError) or errno_from_exception(exc) == errno.EINTR


def is_wouldblock(exc: BaseException) -> bool:
    """The fd has nothing for us (read) or no room (write) right now."""
    return isinstance(exc, BlockingIOError) or errno_from_exception(exc) in ERRNO_WOULDBLOCK


def is_connreset(exc: BaseException) -> bool:
    """Reset, abort, broken pipe or timeout: the connection is gone, not an error worth logging."""
    return isinstance(exc, OSError) and errno_from_exception(exc) in ERRNO_CONNRESET


def mark_examined(future: Future) -> None:
    """Done-callback that looks at a future's exception so nobody reports it as never examined.

    Used where the failure is reported another way: a write failure also reaches the close callback
    and the next read; a read that raised synchronously already told its caller.
    """
    future.exception()


def check_int_arg(
    what: str, value: Any, *, minimum: int, allow_none: bool, type_error: bool = True
) -> int | None:
    """``value`` as an ``int`` (or ``None`` where allowed), else a clear exception naming ``what``.

    ``bool`` is rejected (``True`` is not a size). A value that is not an integer raises ``TypeError``
    (``ValueError`` with ``type_error=False``); an integer below ``minimum`` raises ``ValueError``. The
    message names the argument, the value given and the valid range.
    """
    if value is None and allow_none:
        return None
    valid = {0: "a non-negative integer (0 or more)", 1: "a positive integer (1 or more)"}.get(
        minimum, f"an integer >= {minimum}")
    if allow_none:
        valid = "None or " + valid
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        error = TypeError if type_error else ValueError
        raise error(f"{what} must be {valid}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be {valid}, got {value!r}")
    return int(value)
