"""Whose code raised: the harness's (and faultio's simulated kernel's), or the target's.

Rules for this module:
- A failure of harness code is ours, reported as ours, never blamed on the target; an exception raised in the
  target's code (faultio's own stream and the self-check's mutants of it count as target code) is the
  target's. The innermost frame decides, looking past the loop and futures, which only pass things on.
- An ``OSError`` from a fake fd is the simulated kernel's deliberate answer: the stream should have handled
  it, so it is the stream's.
"""

from __future__ import annotations

import traceback
from typing import Any

from .engine import harness_frame


#: Where the harness's own code and faultio's simulated kernel live (target code is everything else, plus
#: faultio's own stream and the self-check's mutants of it).
_OURS = ("/harness/", "/faultio/")
_TARGET_CODE = ("/harness/_mutants.py", "/harness/_workload_mutants.py", "/harness/_connect_mutants.py",
                "/harness/_time_mutants.py", "/faultio/_iostream", "/faultio/_ssl.py", "/faultio/_buffer.py",
                "/faultio/_cursor.py")
_NEUTRAL = ("/faultio/_future.py", "/faultio/_loop.py")


def raised_in_harness(exc: BaseException) -> str | None:
    """``file:line in function`` when ``exc`` was raised in harness or simulation code, else None.

    The innermost frame decides: an exception raised by the stream and passed up through a driver still
    ends in the stream's frame. An ``OSError`` from a fake fd is the simulated kernel's deliberate answer
    (the stream should have handled it), so it is the stream's."""
    if isinstance(exc, OSError):
        return None
    if isinstance(exc, AttributeError) and _simulated(getattr(exc, "obj", None)):
        # The stream asked faultio's loop, fd or future for something it does not have: our gap.
        return f"{type(exc.obj).__module__}.{type(exc.obj).__qualname__} (no attribute {exc.name!r})"
    frames = [f.filename.replace("\\", "/") for f in traceback.extract_tb(exc.__traceback__)]
    # A future or the loop raising (a result set twice, a handler added twice) says nothing by itself:
    # whoever called it decides.
    while len(frames) > 1 and any(n in frames[-1] for n in _NEUTRAL):
        frames.pop()
    if not frames:
        return None
    path = frames[-1]
    if any(a in path for a in _OURS) and not any(t in path for t in _TARGET_CODE):
        return harness_frame(exc.__traceback__)
    return None


def _simulated(obj: Any) -> bool:
    module = type(obj).__module__ if obj is not None else ""
    return module.startswith("faultio.") and not any(t.strip("/").replace("/", ".").removesuffix(".py") in module
                                                     for t in _TARGET_CODE)


def raised_at(exc: BaseException) -> str:
    """``path:line in function`` of the innermost frame ``exc`` was raised in (a library's path from its package
    down: ``tornado/iostream.py:552 in <lambda>``), or ``""``: a finding on someone's code says where."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    path = frame.filename.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/", "/lib/python"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python":  # the standard library: drop the version directory too
                path = path.split("/", 1)[-1]
            break
    else:
        path = path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] if path.count("/") >= 2 else path
    return f"{path}:{frame.lineno} in {frame.name}"
