"""The trace: one ordered record of everything the simulated kernel, the loop and the stream did.

Rules for this module:
- Events are frozen values; the trace only appends. Nothing here interprets events (monitors do that).
- Byte payloads are never stored raw in an event: ``hexdump_bytes`` keeps a bounded hex prefix so a flood
  cannot blow up memory and a report can always show exactly what was seen.
- A trace can be switched off (``enabled=False``) for benchmarks; counting still works. Recording must cost
  little when nobody reads it: ``active`` says whether an event would be kept or heard, and the hot paths
  (the loop, the fake fds) build an event's detail only then (``skip()`` counts one that is not built).
  Their events go through ``emit``: an event nobody hears is kept packed (its keys and values, the payload as
  bytes) and its detail dict, the payload's hex, is made when the trace is read. Packed or not, an event
  reads the same.
- A listener hears only the sources and kinds it says it hears (``hears``, asked once per pair), in the order
  listeners were added; one added while an event is heard hears that event too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

#: How many payload bytes an event keeps (as hex). Longer payloads keep the prefix and their length.
PAYLOAD_PREFIX = 64


def hexdump_bytes(data: bytes | bytearray | memoryview, limit: int = PAYLOAD_PREFIX) -> str:
    """Hex of the first ``limit`` bytes of ``data`` (the length is recorded separately by callers)."""
    return bytes(data[:limit]).hex()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TraceEvent:
    """One thing that happened, at one loop step and one virtual time.

    ``source`` is who did it (``fd``, ``loop``, ``stream``, ``harness``); ``kind`` what (``recv``,
    ``inject``, ``callback``...); ``detail`` a tuple of ``(key, value)`` pairs with JSON-scalar values.
    """

    index: int
    step: int
    time: float
    source: str
    kind: str
    detail: tuple[tuple[str, Any], ...] = ()
    #: ``detail`` as a dict, made at the first ``get`` (or given by ``Trace.record``): the monitors ask an
    #: event for a few keys many times. Not part of the value (no init, repr, comparison or hash).
    _map: dict[str, Any] | None = dataclasses.field(default=None, init=False, repr=False, compare=False,
                                                    hash=False)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` in ``detail`` (its first occurrence), or ``default``."""
        found = self._map
        if found is None:
            found = {}
            for k, v in self.detail:
                found.setdefault(k, v)
            object.__setattr__(self, "_map", found)
        return found.get(key, default)

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute that is not set: the ``detail`` of an event made from a compact record
        # (``_event``), built from its map at the first read. Most events made are only asked for a few keys
        # (``get``), so most never build it. Any other missing name is the usual AttributeError.
        if name == "detail":
            found = self._map
            if found is not None:
                detail = tuple(found.items())
                _SET_DETAIL(self, detail)
                return detail
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object (``detail`` as a dict)."""
        return {
            "index": self.index,
            "step": self.step,
            "time": self.time,
            "source": self.source,
            "kind": self.kind,
            "detail": dict(self.detail),
        }

    def describe(self) -> str:
        """A one-line human rendering: ``#12 step 4 t=0.000 fd recv fd=3 nbytes=1``."""
        parts = " ".join(f"{k}={v}" for k, v in self.detail)
        return f"#{self.index} step {self.step} t={self.time:.3f} {self.source} {self.kind} {parts}".rstrip()


# ``detail``'s own setter: ``TraceEvent.__getattr__`` fills it in on an event made by ``_event``.
_SET_DETAIL = TraceEvent.__dict__["detail"].__set__


class _Filling:
    """A ``TraceEvent`` being filled: the same slots in the same order (so the same layout), but not frozen,
    so ``_event`` fills them with plain attribute stores and then makes the object the ``TraceEvent`` it is
    meant to be (``__class__`` assignment between classes of one layout). That takes about half the time of
    setting each slot through its descriptor, and a third of the frozen dataclass's ``__init__``: the
    monitors make one of these for most fd events of a run. Same fields, same values."""

    __slots__ = TraceEvent.__slots__

    def __init__(self, index: int, step: int, time: float, source: str, kind: str, detail: dict[str, Any]) -> None:
        self.index = index
        self.step = step
        self.time = time
        self.source = source
        self.kind = kind
        # The record's detail dict is its own (the kwargs of one ``record`` call): it serves ``get`` as it is,
        # and ``detail`` (its items, in order) is made from it when first read (``TraceEvent.__getattr__``).
        self._map = detail


def _unpack(keys: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """The detail of a packed record (``Trace.emit``): ``keys`` paired with ``values``, a payload given as bytes
    under ``data_hex`` turned into its hex (``hexdump_bytes``)."""
    detail = dict(zip(keys, values))
    data = detail.get("data_hex")
    if data is not None and type(data) is not str:
        detail["data_hex"] = hexdump_bytes(data)
    return detail


def _event(record: tuple[Any, ...]) -> TraceEvent:
    """The ``TraceEvent`` of a compact record ``(index, step, time, source, kind, detail)``, or of a packed one
    ``(index, step, time, source, kind, None, keys, values)`` (``Trace.emit``)."""
    if len(record) == 8:
        record = (record[0], record[1], record[2], record[3], record[4], _unpack(record[6], record[7]))
    event: Any = _Filling(*record)
    event.__class__ = TraceEvent
    return event


class Trace:
    """An append-only list of ``TraceEvent`` whose clock and step counter are supplied by the loop.

    Recording keeps a compact tuple per event; the ``TraceEvent`` is made when someone reads the trace (or a
    listener asks for it), once."""

    def __init__(self, *, enabled: bool = True) -> None:
        # Compact records ``(index, step, time, source, kind, detail)`` (or packed ones, ``emit``), each replaced
        # by its TraceEvent once made; the first ``_built`` are all TraceEvents.
        self._records: list[Any] = []
        self._built = 0
        self._count = 0
        #: ``(fn, form, hears)`` per listener (``form``: ``"event"``, ``"raw"`` or ``"compact"``), in the order
        #: they were added.
        self._listeners: list[tuple[Any, str, Any]] = []
        #: source -> kind -> the listeners that hear such an event, each a function of the compact record
        #: (``_route``). None while nobody listens.
        self._routes: dict[str, dict[str, tuple[Any, ...]]] | None = None
        #: How many listeners ``_routes`` were made for (a new dict is made when one is added).
        self._routed = 0
        self._last: Any = None
        self._enabled = bool(enabled)
        #: Whether a recorded event is kept or heard by a listener (else ``record`` only counts it).
        self.active = self._enabled
        #: Whether events are kept and nobody listens: then the hot paths ``emit`` them packed (else ``record``).
        self.packing = self._enabled
        # The loop sets these two so every event carries the step and time it happened at.
        self.step = 0
        self.time = 0.0

    @property
    def enabled(self) -> bool:
        """Whether events are kept (``False``: only counted, and heard by listeners)."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = bool(value)
        self.active = self._enabled or bool(self._listeners)
        self.packing = self._enabled and not self._listeners

    def record(self, source: str, kind: str, **detail: Any) -> None:
        """Append an event (if enabled); the listeners that hear its source and kind hear it, even when
        disabled."""
        index = self._count
        self._count = index + 1
        if not self.active:
            return
        record = self._last = (index, self.step, self.time, source, kind, detail)
        if self._enabled:
            self._records.append(record)
        routes = self._routes
        if routes is None:
            return
        known = self._routed
        try:
            heard = routes[source][kind]
        except KeyError:
            heard = self._route(source, kind)
        for listener in heard:
            listener(record)
        if self._routes is not routes:  # a listener was added while this event was heard (``add_listener``)
            self._hear_late(known, record)

    def _route(self, source: str, kind: str) -> tuple[Any, ...]:
        """The listeners that hear events of ``source`` and ``kind``, each as a function of the compact record
        (asked once per pair, then kept)."""
        heard = tuple(self._hearer(fn, form) for fn, form, hears in self._listeners
                      if hears is None or hears(source, kind))
        if self._routes is not None:
            self._routes.setdefault(source, {})[kind] = heard
        return heard

    def _hearer(self, fn: Any, form: str) -> Any:
        """``fn`` as a function of the compact record, in the form it asked for."""
        if form == "compact":
            return fn
        if form == "raw":
            return lambda record: fn(record[3], record[4], record[5])

        return lambda record: fn(self.event_of(record))

    def _hear_late(self, known: int, record: tuple[Any, ...]) -> None:
        """Listeners added while ``record``'s event was heard hear it too, in the order they were added."""
        source, kind = record[3], record[4]
        while known < len(self._listeners):  # bounded: each pass moves on by one listener
            fn, form, hears = self._listeners[known]
            known += 1
            if hears is None or hears(source, kind):
                self._hearer(fn, form)(record)

    def emit(self, source: str, kind: str, keys: tuple[str, ...], values: tuple[Any, ...]) -> None:
        """``record(source, kind, **dict(zip(keys, values)))``, for the hot paths: an event no listener hears is
        kept packed, as its keys and values, and its detail is made only when the trace is read (a report, a
        failure). A payload may be given under ``data_hex`` as the bytes themselves (a bounded slice, as
        ``data[:PAYLOAD_PREFIX]``): the detail holds their hex, as ``hexdump_bytes`` makes it."""
        index = self._count
        self._count = index + 1
        if not self.active:
            return
        routes = self._routes
        if routes is not None:
            try:
                heard = routes[source][kind]
            except KeyError:
                heard = self._route(source, kind)
            if heard:  # heard: the detail is made now (``_unpack``), and the rest is what ``record`` does
                detail = dict(zip(keys, values))
                data = detail.get("data_hex")
                if data is not None and type(data) is not str:
                    detail["data_hex"] = hexdump_bytes(data)
                record = self._last = (index, self.step, self.time, source, kind, detail)
                if self._enabled:
                    self._records.append(record)
                known = self._routed
                for listener in heard:
                    listener(record)
                if self._routes is not routes:  # a listener was added while this event was heard
                    self._hear_late(known, record)
                return
        record = self._last = (index, self.step, self.time, source, kind, None, keys, values)
        if self._enabled:
            self._records.append(record)

    def skip(self) -> None:
        """Count an event that is not recorded because the trace is not ``active`` (what ``record`` does
        then, without building the event's detail)."""
        self._count += 1

    def last_event(self) -> TraceEvent:
        """The ``TraceEvent`` of the latest ``record`` call (made once). A raw listener asks for it before it
        records anything itself."""
        last = self._last
        if type(last) is TraceEvent:
            return last
        if last is None:
            raise LookupError("nothing was recorded yet")
        event = self._last = _event(last)
        records = self._records
        if records and records[-1] is last:
            records[-1] = event
        return event

    def event_of(self, record: tuple[Any, ...]) -> TraceEvent:
        """The ``TraceEvent`` of a compact record a listener heard: the stored one (made once) when it is the
        latest, else an equal one made apart (a listener before may have recorded an event of its own)."""
        if self._last is record:
            return self.last_event()
        return _event(record)

    def add_listener(self, fn: Any, *, raw: bool = False, compact: bool = False, hears: Any = None) -> None:
        """Call ``fn(event)`` for every event recorded from now on. Two forms cost no ``TraceEvent`` for what
        the listener ignores (``last_event()`` makes the event): with ``raw``, ``fn(source, kind, detail)``
        (``detail`` a dict not to be changed); with ``compact``, ``fn(record)``, the compact record
        ``(index, step, time, source, kind, detail)`` itself.

        ``hears(source, kind) -> bool``, when given, says which events ``fn`` hears at all: it is asked once
        per pair of source and kind (so it must answer from those two alone, the same every time), and an
        event it declines costs the listener nothing, not even a call."""
        if raw and compact:
            raise ValueError("a listener is raw (fn(source, kind, detail)) or compact (fn(record)), not both")
        if hears is not None and not callable(hears):
            raise TypeError(f"hears must be a function (source, kind) -> bool, or None; got {hears!r}")
        self._listeners.append((fn, "raw" if raw else "compact" if compact else "event", hears))
        self._routes = {}  # worked out again as events come
        self._routed = len(self._listeners)
        self.active = True
        self.packing = False

    @property
    def count(self) -> int:
        """How many events were recorded, including those not kept because the trace is disabled."""
        return self._count

    def _materialize(self) -> list[TraceEvent]:
        records = self._records
        for i in range(self._built, len(records)):
            if type(records[i]) is tuple:
                records[i] = _event(records[i])
        self._built = len(records)
        return records

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self._materialize())

    def __getitem__(self, index: int) -> TraceEvent:
        return self._materialize()[index]

    def events(self, source: str | None = None, kind: str | None = None) -> list[TraceEvent]:
        """The kept events from ``source`` and of ``kind`` (``None`` matches any), in order."""
        if source is None and kind is None:
            return list(self._materialize())
        # Filter on the compact records and make a TraceEvent only for those that match (each kept in place of
        # its record, as ``_materialize`` keeps them): asking for the few ``inject`` events of a long run does
        # not build an event for every recv.
        records = self._records
        found = []
        for i in range(len(records)):
            record = records[i]
            if type(record) is tuple:
                if (source is None or record[3] == source) and (kind is None or record[4] == kind):
                    record = records[i] = _event(record)
                    found.append(record)
            elif (source is None or record.source == source) and (kind is None or record.kind == kind):
                found.append(record)
        return found

    def to_json(self) -> list[dict[str, Any]]:
        """Every kept event as a JSON object, in order."""
        return [e.to_json() for e in self._materialize()]

    def fingerprint(self) -> list[tuple[Any, ...]]:
        """A comparable form of the whole trace (for determinism checks)."""
        return [(e.step, e.time, e.source, e.kind, e.detail) for e in self._materialize()]
