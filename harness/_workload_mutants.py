"""Mutants the fixed matrix cannot see: bugs at the edges of a stream's limits and of its chunking.

Rules for this module (those of ``harness._mutants`` apply: small ``IOStream`` subclasses, the broken line
marked ``# BUG:``, module-level classes, knowing nothing of plans or monitors):
- Each mutant here breaks the stream only where the matrix's fixed workloads never go: a line that ends
  exactly at ``max_bytes`` or ``max_buffer_size``, one byte past it, a delimiter of three or more bytes
  split across two arrivals, a recv that fills ``read_chunk_size`` exactly, bytes already buffered when a
  streaming read starts, a write that fills ``max_write_buffer_size`` exactly or one byte past it.
- ``WORKLOAD_MUTANTS`` is their catalogue. The self-check runs them after ``MUTANTS`` and, for each mutant
  the fixed matrix misses, tries generated plans and then generated sequences (``harness._selftest_stages``).
"""

from __future__ import annotations

from typing import Any

from faultio import IOLoop, IOStream, StreamBufferFullError, UnsatisfiableReadError
from faultio._future import Future
from faultio._iostream_util import gen_log

from ._mutants import Mutant, _m


class MaxBytesOneShort(IOStream):
    """``read_until(max_bytes=m)`` refuses a line that ends exactly at byte ``m``."""

    def _check_max_bytes(self, delimiter: Any, size: int) -> None:
        # BUG: ">=" where the limit is inclusive: a match ending at max_bytes is refused.
        if self._read_max_bytes is not None and size >= self._read_max_bytes:
            raise UnsatisfiableReadError(f"delimiter {delimiter!r} not found within {self._read_max_bytes} bytes")


class MaxBytesOneLong(IOStream):
    """``read_until(max_bytes=m)`` accepts a line that ends at byte ``m + 1``."""

    def _check_max_bytes(self, delimiter: Any, size: int) -> None:
        # BUG: one byte of slack: a match ending at max_bytes + 1 is accepted.
        if self._read_max_bytes is not None and size > self._read_max_bytes + 1:
            raise UnsatisfiableReadError(f"delimiter {delimiter!r} not found within {self._read_max_bytes} bytes")


class BufferFullOneEarly(IOStream):
    """The read buffer counts as overflowing when it holds exactly ``max_buffer_size`` bytes."""

    def _read_to_buffer(self) -> int:
        count = super()._read_to_buffer()
        # BUG: ">=" where the limit is inclusive: a buffer exactly full is taken for an overflow.
        if count and not self.closed() and self._rbuf.size >= self.max_buffer_size:
            exc = StreamBufferFullError(f"Reached maximum read buffer size: {self._rbuf.size} bytes buffered")
            gen_log.error("Reached maximum read buffer size")
            self._clear_read_request()
            self.close(exc_info=(StreamBufferFullError, exc, None))
            return 0
        return count


class LongDelimiterSplitMissed(IOStream):
    """A delimiter of three or more bytes is missed when its first two bytes or more arrived in an earlier
    recv than the rest: the resumed search backs up one byte, not ``len(delimiter) - 1``."""

    _scan_from = 0

    def _consume(self, loc: int) -> bytes:
        self._scan_from = 0
        return super()._consume(loc)

    def read_until(self, delimiter: bytes, callback: Any = None, max_bytes: int | None = None) -> Future | None:
        self._scan_from = 0
        return super().read_until(delimiter, callback, max_bytes)

    def _find_read_pos(self) -> int | None:
        delimiter = self._read_delimiter
        if delimiter is None or self._read_bytes is not None or not self._rbuf.size:
            return super()._find_read_pos()
        held = bytes(self._rbuf.data[self._rbuf.pos : self._rbuf.pos + self._rbuf.size])
        loc = held.find(delimiter, self._scan_from)
        if loc == -1:
            # BUG: backs up one byte (right only for delimiters of two bytes), not len(delimiter) - 1.
            self._scan_from = max(0, len(held) - 1)
            self._check_max_bytes(delimiter, len(held) + 1)
            return None
        end = loc + len(delimiter)
        self._check_max_bytes(delimiter, end)
        return end


class LosesByteOfFullChunk(IOStream):
    """A recv that fills ``read_chunk_size`` exactly loses its last byte (a buffer one byte short)."""

    def read_from_fd(self) -> bytes | None:
        chunk = super().read_from_fd()
        if chunk and len(chunk) == self.read_chunk_size and self._rbuf.size + len(chunk) < self.max_buffer_size:
            # BUG: the last byte of a full chunk is dropped.
            return chunk[:-1]
        return chunk


class LateStreamingCallback(IOStream):
    """When the bytes already buffered as a streaming read starts fill one ``read_chunk_size`` or more, they
    reach its callback only once more bytes arrive (or the stream closes), not at once."""

    def _try_inline_read(self) -> None:
        if self._streaming_callback is not None and self._rbuf.size >= self.read_chunk_size and not self.closed():
            # BUG: the buffered bytes are not handed to the streaming callback before waiting for the fd.
            self._add_io_state(IOLoop.READ)
            return
        super()._try_inline_read()


class EarlyWriteAtLimit(IOStream):
    """A write that fills ``max_write_buffer_size`` exactly completes before its bytes are sent."""

    def write(self, data: bytes, callback: Any = None) -> Future | None:
        limit = self.max_write_buffer_size
        real = super().write(data, callback)
        if limit is not None and len(data) == limit and callback is None and real is not None and not real.done():
            # BUG: the caller is told the write is done while its bytes still wait in the write buffer.
            early = Future(label="write")
            early.set_result(None)
            return early
        return real


class WriteLimitOneShort(IOStream):
    """A write that fills ``max_write_buffer_size`` exactly is refused as if it overflowed the write buffer."""

    def write(self, data: bytes, callback: Any = None) -> Future | None:
        limit = self.max_write_buffer_size
        # BUG: ">=" where the limit is inclusive: a write buffer exactly full is taken for an overflow.
        if limit is not None and data and not self.closed() and self._write_buffer_size + len(data) >= limit:
            raise StreamBufferFullError(f"Reached maximum write buffer size: {self._write_buffer_size} bytes queued")
        return super().write(data, callback)


class WriteLimitOneLong(IOStream):
    """A write one byte past ``max_write_buffer_size`` is accepted."""

    def write(self, data: bytes, callback: Any = None) -> Future | None:
        limit = self.max_write_buffer_size
        if limit is None:
            return super().write(data, callback)
        # BUG: one byte of slack on the write buffer limit.
        self.max_write_buffer_size = limit + 1
        try:
            return super().write(data, callback)
        finally:
            self.max_write_buffer_size = limit


PLAIN = ("plain",)

#: The catalogue of the mutants only generated workloads and sequences catch, in display order. What catches
#: them is the reference model (``model-contract``), and for some an invariant too.
WORKLOAD_MUTANTS: tuple[Mutant, ...] = (
    _m("max-bytes-one-short", MaxBytesOneShort, PLAIN, "model-contract"),
    _m("max-bytes-one-long", MaxBytesOneLong, PLAIN, "model-contract"),
    _m("buffer-full-one-early", BufferFullOneEarly, PLAIN, "model-contract"),
    _m("long-delimiter-split-missed", LongDelimiterSplitMissed, PLAIN, "model-contract"),
    _m("loses-byte-of-full-chunk", LosesByteOfFullChunk, PLAIN, "model-contract"),
    _m("late-streaming-callback", LateStreamingCallback, PLAIN, "model-contract"),
    _m("early-write-at-limit", EarlyWriteAtLimit, PLAIN, "model-contract"),
    _m("write-limit-one-short", WriteLimitOneShort, PLAIN, "model-contract"),
    _m("write-limit-one-long", WriteLimitOneLong, PLAIN, "model-contract"),
)
