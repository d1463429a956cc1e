"""One READ event of a stream, written out: the hot path of every readiness event of a read.

Rules for this module:
- ``FusedReadEvent._fused_read_event`` does exactly what ``BaseIOStream._handle_events`` does for a READ
  event (``_handle_read``, ``_read_to_buffer_loop``, ``_read_to_buffer``, the search, the new event mask),
  in the same order, with the same calls to everything a subclass may change, the same trace events and the
  same errors. Only the calls to the methods in ``FUSED_READ_METHODS`` are written out (or skipped when their
  first check says there is nothing to do), so it is taken only by a class that overrides none of them;
  ``fuses_read`` decides that for each stream when it is made, from its class. Anything else (the SSL
  stream, the self-check's broken streams) takes the general path, which stays as it is.
- Nothing here is a second read path: no new state, no new trace events, no decision the general path
  does not make. The one difference is a search left out whose answer is known (see ``_fused_read_event``):
  only ``ReadBuffer.examined`` shows it. A change to the read machinery is made in
  ``faultio._iostream_read`` and ``faultio._iostream_base`` first, then here (``tests/test_iostream_fused.py``
  compares both paths: traces, trace counts, results, errors, log records, stream state and fd counters).
"""

from __future__ import annotations

from typing import Any

from ._errors import UnsatisfiableReadError
from ._events import ERROR, READ, WRITE
from ._iostream_util import gen_log, is_eintr

_ERROR_READ = ERROR | READ
_ERROR_WRITE = ERROR | WRITE
_ERROR_READ_WRITE = ERROR | READ | WRITE

#: The methods ``_fused_read_event`` writes out (or skips a call to, when their first check says there is
#: nothing to do). A class that overrides none of them takes that path for a READ event; one that overrides
#: any takes the general one.
FUSED_READ_METHODS = ("closed", "reading", "writing", "_handle_read", "_read_to_buffer_loop", "_read_to_buffer",
                      "_run_streaming_callback", "_find_read_pos", "_check_max_bytes", "_maybe_run_close_callback")


def fuses_read(cls: type, base: type) -> bool:
    """Whether ``cls`` keeps every method of ``FUSED_READ_METHODS`` as ``base`` (``BaseIOStream``) has it."""
    return all(getattr(cls, name) is getattr(base, name) for name in FUSED_READ_METHODS)


class FusedReadEvent:
    """The written-out READ event of ``BaseIOStream`` (a base class of it; never used alone)."""

    _rbuf: Any
    _state: int | None
    io_loop: Any

    def _fused_read_event(self) -> None:
        """A READ event, on a stream whose class keeps the base read machinery (``FUSED_READ_METHODS``).

        ``_handle_events`` calls this (inside its own ``try``) instead of its general steps for an event that
        is READ alone on an open stream that is not connecting. It does what those steps do, in the same
        order, with ``_handle_read``, ``_read_to_buffer_loop``, ``_read_to_buffer``, ``_find_read_pos`` (for
        a delimiter), ``_check_max_bytes``, ``closed``, ``reading``, ``writing`` and the checks opening
        ``_run_streaming_callback`` and ``_maybe_run_close_callback`` written out: one readiness event of a
        dribble is a few dozen Python calls fewer. ``read_from_fd`` is still called as a method (subclasses
        count and shape reads there), and so is everything that is not the common case.

        One call is left out by construction: the search that ``_read_to_buffer_loop`` makes after the loop
        ends is skipped when a search of this loop found nothing and, since then, no byte was added and the
        stream is still open (``read_from_fd`` returned nothing): the request and the bytes are as they were,
        so it would find nothing again.
        """
        rbuf = self._rbuf
        # _handle_read -> _read_to_buffer_loop: how far to read.
        if self._read_bytes is not None:
            target_bytes: int | None = self._read_bytes
        elif self._read_max_bytes is not None:
            target_bytes = self._read_max_bytes
        elif self._read_callback is not None or self._read_future is not None:
            target_bytes = None
        else:
            target_bytes = 0
        next_find_pos = 0
        pos: int | None = None
        searched = False  # the last bytes added were searched, and nothing was found
        self._pending_callbacks += 1  # the pretend pending callback of _read_to_buffer_loop
        try:
            try:
                while not self._closed:
                    # _read_to_buffer
                    while True:
                        try:
                            chunk = self.read_from_fd()
                        except OSError as exc:
                            if is_eintr(exc):
                                continue
                            self._read_failed(exc)
                            chunk = None
                        except Exception:
                            self.close(exc_info=True)
                            raise
                        break
                    if not chunk:
                        break
                    rbuf.append(chunk)
                    size = rbuf.size
                    if size > self.max_buffer_size:
                        self._overflowed()
                        searched = False
                        break
                    if self._streaming_callback is not None:
                        self._run_streaming_callback()
                        size = rbuf.size
                    if target_bytes is not None and size >= target_bytes:
                        searched = False
                        break
                    if size < next_find_pos:
                        searched = False  # these bytes were not searched
                    else:
                        delimiter = self._read_delimiter
                        if delimiter is not None and self._read_bytes is None and size:
                            # _find_read_pos for read_until, with _check_max_bytes
                            loc = rbuf.find(delimiter)
                            if loc != -1:
                                pos = loc + len(delimiter)
                                if self._read_max_bytes is not None and pos > self._read_max_bytes:
                                    self._check_max_bytes(delimiter, pos)
                                break
                            if self._read_max_bytes is not None and size + 1 > self._read_max_bytes:
                                self._check_max_bytes(delimiter, size + 1)
                        else:
                            pos = self._find_read_pos()
                            if pos is not None:
                                break
                        searched = True
                        next_find_pos = size + size  # min(size * 2, self.max_buffer_size)
                        if next_find_pos > self.max_buffer_size:
                            next_find_pos = self.max_buffer_size
                if pos is None and (not searched or self._closed):
                    pos = self._find_read_pos()
            finally:
                self._pending_callbacks -= 1
        except UnsatisfiableReadError:
            raise
        except Exception as exc:
            # _handle_read's treatment of a failure inside the read loop
            gen_log.warning("error on read: %s", exc)
            self.close(exc_info=True)
            self._maybe_run_close_callback()
        else:
            if pos is not None:
                self._read_from_buffer(pos)
            elif self._closed and self._pending_callbacks == 0:
                self._maybe_run_close_callback()
        if self._closed:
            return
        # _handle_events after the READ: listen for exactly what is pending now (ERROR always; READ while
        # reading, or idle with an empty buffer; WRITE while writing).
        reading = self._read_callback is not None or self._read_future is not None
        if self._write_buffer_size:
            state = _ERROR_READ_WRITE if reading else _ERROR_WRITE
        else:
            state = _ERROR_READ if reading or not rbuf.size else ERROR
        if state != self._state:
            if self._state is None:
                raise RuntimeError("_handle_events ran for a stream that is not registered")
            self._state = state
            self.io_loop.update_handler(self.fileno(), self._state)
