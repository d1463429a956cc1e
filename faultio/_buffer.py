"""The read buffer of a stream: bytes received from the fd and not yet handed to a reader.

Rules for this module:
- Pure data structure. No I/O, no loop, no callbacks, no logging, no exceptions for peer behaviour: the
  stream decides *when* to read and deliver; this module only knows *where* the bytes are.
- The layout is the seed's: one ``bytearray`` (``data``), a read position (``pos``) and the number of
  unconsumed bytes (``size``); ``len(data) == pos + size`` always holds. ``consume`` shrinks with the
  seed's amortised O(1) rule and nothing else ever moves bytes.
- A search never reports a match starting before ``pos``, and always reports the *first* match. A search
  sees the unconsumed bytes only: a regex's ``^`` and look-behinds match exactly as they would on a
  fresh stream holding the same bytes, wherever ``pos`` is. The delimiter search is resumable so that a
  reader fed one byte at a time does linear work in total; the regex search is not (see
  ``ReadBuffer.search``).
"""

from __future__ import annotations

from typing import Any


class ReadBuffer:
    """Received-but-unconsumed bytes, with amortised O(1) consumption and a resumable delimiter search.

    ``examined`` counts every byte handed to a search; benchmarks and tests read it to prove that a
    dribbled ``read_until`` does linear work.
    """

    __slots__ = ("data", "pos", "size", "examined", "_search_key", "_scanned")

    def __init__(self) -> None:
        #: The storage. Bytes before ``pos`` are consumed garbage waiting for the next shrink.
        self.data = bytearray()
        #: Index in ``data`` of the first unconsumed byte.
        self.pos = 0
        #: Number of unconsumed bytes (``len(data) - pos``).
        self.size = 0
        #: Total bytes looked at by ``find``/``search`` since creation.
        self.examined = 0
        # Resumable-search memory: for the delimiter ``_search_key``, the first ``_scanned`` unconsumed
        # bytes are known not to contain the start of a match. Only meaningful while the key matches.
        self._search_key: bytes | None = None
        self._scanned = 0

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __repr__(self) -> str:
        return f"<ReadBuffer size={self.size} pos={self.pos}>"

    def append(self, chunk: Any) -> int:
        """Add received bytes at the end; return how many were added."""
        n = len(chunk)
        if n:
            self.data += chunk
            self.size += n
        return n

    def consume(self, n: int) -> bytes:
        """Remove and return the first ``n`` unconsumed bytes (``0 <= n <= size``)."""
        if n == 0:
            return b""
        if n < 0 or n > self.size:
            raise ValueError(f"cannot consume {n} bytes from a buffer holding {self.size}")
        # One copy, straight out of the bytearray: slicing a memoryview does not copy.
        with memoryview(self.data) as view:
            out = view[self.pos : self.pos + n].tobytes()
        self.pos += n
        self.size -= n
        # Amortised O(1) shrink: only delete the consumed prefix once it is larger than what is left, so
        # each byte is moved at most a constant number of times however the reads are sized.
        if self.pos > self.size:
            del self.data[: self.pos]
            self.pos = 0
        # Consumption moves the read position; what we knew about the old prefix no longer applies.
        self._search_key = None
        self._scanned = 0
        return out

    def clear(self) -> None:
        """Forget every unconsumed byte."""
        self.data = bytearray()
        self.pos = 0
        self.size = 0
        self._search_key = None
        self._scanned = 0

    def find(self, delimiter: bytes) -> int:
        """Offset (from the read position) where ``delimiter`` first starts, or -1.

        Resumable: when the same delimiter is searched again after more bytes arrived (and nothing was
        consumed), the search starts where the previous one stopped, backed up by ``len(delimiter) - 1``
        bytes so that a delimiter split across two arrivals is still found. Total work for a reader fed
        one byte at a time is therefore linear in the bytes received, not quadratic.
        """
        key = self._search_key
        pos = self.pos
        start = pos + self._scanned if key is delimiter or (key is not None and key == delimiter) else pos
        self.examined += pos + self.size - start  # ``len(data) - start``
        loc = self.data.find(delimiter, start)
        if loc == -1:
            # No match *starts* in the first size - (len - 1) bytes: a match starting later would need
            # bytes that have not arrived yet.
            if key is not delimiter:
                self._search_key = bytes(delimiter)
            scanned = self.size - len(delimiter) + 1
            self._scanned = scanned if scanned > 0 else 0
            return -1
        return loc - pos

    def search(self, regex: Any) -> int:
        """Offset (from the read position) where the first match of compiled ``regex`` ends, or -1.

        The regex sees the unconsumed bytes only: ``^`` matches at the read position and a look-behind
        never sees consumed bytes, exactly as on a fresh stream holding the same bytes.

        Not resumable, by choice: a regular expression may match arbitrarily far back (``a.*b``), may
        look behind, and ``re`` offers no partial-match API that would say how much of a failed scan is
        safe to skip. So every call rescans from the read position. The stream limits how often it calls
        this (the seed's doubling ``next_find_pos``); an unbounded ``read_until_regex`` fed one byte per
        readiness event is still quadratic, and ``max_bytes`` is the way to bound it.
        """
        self.examined += self.size
        # Search a view of the unconsumed bytes, not ``data`` from ``pos``: with ``pattern.search(data,
        # pos)`` a ``^`` never matches at pos > 0 and a look-behind sees consumed bytes, so the same
        # bytes would match or not depending on how earlier reads were sized. Slicing a memoryview
        # copies nothing; both views are released before returning so that ``data`` can be resized.
        with memoryview(self.data) as whole, whole[self.pos :] as unconsumed:
            match = regex.search(unconsumed)
            return -1 if match is None else match.end()
