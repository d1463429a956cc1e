"""The trace: compact records, events made when read, equal to events made by hand."""

import dataclasses
import pickle

import pytest

from faultio import Trace
from faultio._trace import TraceEvent


def _recorded() -> Trace:
    trace = Trace()
    trace.step, trace.time = 3, 0.25
    trace.record("fd", "recv", fd=3, role="target", result="data", nbytes=1)
    trace.record("loop", "callback", name="f")
    trace.record("fd", "inject", fd=3, fault="reset")
    trace.record("fd", "recv", fd=3, role="target", result="EAGAIN")
    return trace


def test_an_event_made_from_a_record_equals_the_event_made_by_hand():
    made = _recorded()[0]
    by_hand = TraceEvent(index=0, step=3, time=0.25, source="fd", kind="recv",
                         detail=(("fd", 3), ("role", "target"), ("result", "data"), ("nbytes", 1)))
    assert type(made) is TraceEvent
    assert made == by_hand and hash(made) == hash(by_hand) and repr(made) == repr(by_hand)
    assert made.detail == by_hand.detail
    assert made.to_json() == by_hand.to_json() and made.describe() == by_hand.describe()
    assert pickle.loads(pickle.dumps(made)) == by_hand


def test_an_event_made_from_a_record_stays_frozen_and_has_no_other_attributes():
    made = _recorded()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.kind = "send"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        made.nope


def test_events_filters_the_records_and_gives_the_same_events_as_reading_all():
    trace, again = _recorded(), _recorded()
    everything = list(again)
    for source, kind in [("fd", None), ("fd", "recv"), (None, "inject"), ("harness", None), (None, None)]:
        expected = [e for e in everything if (source is None or e.source == source)
                    and (kind is None or e.kind == kind)]
        assert trace.events(source, kind) == expected
    # Events made by a filtered read are the ones a later full read returns.
    first = trace.events("fd", "inject")[0]
    assert list(trace)[2] is first
    assert trace.fingerprint() == again.fingerprint()


def test_listeners_hear_every_event_in_order_also_one_added_while_an_event_is_heard():
    trace = Trace(enabled=False)
    heard = []

    def late(source, kind, detail):
        heard.append(("late", kind))

    def first(source, kind, detail):
        heard.append(("first", kind))
        if kind == "b":
            trace.add_listener(late, raw=True)

    trace.add_listener(first, raw=True)
    trace.record("x", "a")
    trace.record("x", "b")
    trace.add_listener(lambda event: heard.append(("event", event.kind, event.get("n"))))
    trace.record("x", "c", n=1)
    assert heard == [("first", "a"), ("first", "b"), ("late", "b"), ("first", "c"), ("late", "c"),
                     ("event", "c", 1)]


def _emitted(trace: Trace) -> Trace:
    """What ``_recorded`` records, through ``emit`` (the payload given as bytes)."""
    trace.step, trace.time = 3, 0.25
    trace.emit("fd", "recv", ("fd", "role", "result", "nbytes", "data_hex"), (3, "target", "data", 1, b"\x00x"))
    trace.emit("loop", "callback", ("name",), ("f",))
    trace.record("fd", "inject", fd=3, fault="reset")
    trace.emit("fd", "recv", ("fd", "role", "result"), (3, "target", "EAGAIN"))
    return trace


def _recorded_by_hand(trace: Trace) -> Trace:
    trace.step, trace.time = 3, 0.25
    trace.record("fd", "recv", fd=3, role="target", result="data", nbytes=1, data_hex="0078")
    trace.record("loop", "callback", name="f")
    trace.record("fd", "inject", fd=3, fault="reset")
    trace.record("fd", "recv", fd=3, role="target", result="EAGAIN")
    return trace


@pytest.mark.parametrize("read", ["all", "filtered", "last"])
def test_an_emitted_event_reads_as_the_recorded_one_packed_or_heard(read):
    heard: list = []
    plain, packed, listened = Trace(), _emitted(Trace()), Trace()
    listened.add_listener(heard.append)
    _recorded_by_hand(plain)
    _emitted(listened)
    assert packed.count == plain.count == listened.count == 4
    if read == "last":
        assert packed.last_event() == plain.last_event() == listened.last_event()
        assert packed.last_event().detail == (("fd", 3), ("role", "target"), ("result", "EAGAIN"))
    if read == "filtered":
        (first, last) = packed.events("fd", "recv")
        assert first.get("data_hex") == "0078" and first.get("nbytes") == 1 and last.get("result") == "EAGAIN"
        assert packed.events("fd", "recv") == plain.events("fd", "recv")
    assert list(packed) == list(plain) == list(listened) == heard
    assert packed.to_json() == plain.to_json() and packed.fingerprint() == plain.fingerprint()
    assert [e.describe() for e in packed] == [e.describe() for e in plain]


def test_an_emitted_payload_keeps_at_most_the_prefix_and_a_disabled_trace_only_counts():
    from faultio._trace import PAYLOAD_PREFIX

    trace = Trace()
    data = bytes(range(200))
    trace.emit("fd", "send", ("nbytes", "data_hex"), (200, data[:PAYLOAD_PREFIX]))
    assert trace[0].get("data_hex") == data[:PAYLOAD_PREFIX].hex()
    off = Trace(enabled=False)
    off.emit("fd", "send", ("nbytes",), (1,))
    assert off.count == 1 and len(off) == 0


def test_a_listener_hears_only_what_it_says_it_hears_and_is_asked_once_per_pair():
    trace = Trace(enabled=False)
    asked, heard = [], []

    def hears(source, kind):
        asked.append((source, kind))
        return source == "fd"

    trace.add_listener(lambda s, k, d: heard.append((s, k, d.get("n"))), raw=True, hears=hears)
    for n in range(3):
        trace.record("fd", "recv", n=n)
        trace.record("loop", "callback", n=n)
    trace.record("fd", "send", n=9)
    assert heard == [("fd", "recv", 0), ("fd", "recv", 1), ("fd", "recv", 2), ("fd", "send", 9)]
    assert asked == [("fd", "recv"), ("loop", "callback"), ("fd", "send")]
    assert trace.count == 7


def test_a_compact_listener_gets_the_record_and_event_of_gives_the_stored_event():
    trace = Trace()
    trace.step, trace.time = 5, 0.5
    got = []
    trace.add_listener(got.append, compact=True, hears=lambda source, kind: kind != "callback")
    trace.record("loop", "callback", name="f")
    trace.record("fd", "recv", fd=3, result="data")
    (record,) = got
    assert record == (1, 5, 0.5, "fd", "recv", {"fd": 3, "result": "data"})
    event = trace.event_of(record)
    assert event is trace[1] and event.detail == (("fd", 3), ("result", "data"))
    # A record that is no longer the latest gets an equal event made apart.
    trace.record("fd", "recv", fd=3, result="EAGAIN")
    assert trace.event_of(record) == trace[1]


def test_listeners_of_every_form_hear_in_the_order_they_were_added_also_a_late_one():
    trace = Trace(enabled=False)
    heard = []

    def compact(record):
        heard.append(("compact", record[4]))
        if record[4] == "b":
            trace.add_listener(lambda s, k, d: heard.append(("late", k)), raw=True, hears=lambda s, k: k != "c")

    trace.add_listener(lambda event: heard.append(("event", event.kind)), hears=lambda s, k: k != "a")
    trace.add_listener(compact, compact=True)
    trace.add_listener(lambda s, k, d: heard.append(("raw", k)), raw=True)
    for kind in "abcd":
        trace.record("x", kind)
    assert heard == [("compact", "a"), ("raw", "a"),
                     ("event", "b"), ("compact", "b"), ("raw", "b"), ("late", "b"),
                     ("event", "c"), ("compact", "c"), ("raw", "c"),
                     ("event", "d"), ("compact", "d"), ("raw", "d"), ("late", "d")]


def test_add_listener_says_what_is_wrong():
    trace = Trace()
    with pytest.raises(ValueError, match="raw .* or compact .*, not both"):
        trace.add_listener(print, raw=True, compact=True)
    with pytest.raises(TypeError, match="hears must be a function"):
        trace.add_listener(print, hears="fd")


def test_packing_is_on_while_events_are_kept_and_nobody_listens():
    trace = Trace()
    assert trace.packing and trace.active
    trace.enabled = False
    assert not trace.packing and not trace.active
    trace.enabled = True
    trace.add_listener(lambda event: None, hears=lambda source, kind: False)
    assert not trace.packing and trace.active


@pytest.mark.parametrize("plan_kind", ["dribble", "eintr", "ewouldblock", "econnreset", "flood", "latency"])
def test_a_run_traced_packed_reads_the_same_as_one_recorded_for_a_listener(plan_kind):
    from faultio import IOLoop, IOStream, socketpair
    from faultio._plan import plan_for_kind

    def run(listen: bool) -> list:
        loop = IOLoop(make_current=False)
        if listen:  # a listener that hears nothing: the hot paths record instead of packing
            loop.trace.add_listener(lambda event: None, hears=lambda source, kind: False)
        assert loop.trace.packing is not listen
        plan = plan_for_kind(plan_kind, seed=7, inbound_size=300)
        target, peer = socketpair(loop, plan)
        stream = IOStream(target, io_loop=loop)
        peer.send(bytes(range(256)) + b"line\r\n" + b"z" * 37)
        peer.close()
        try:
            loop.run_sync(lambda: stream.read_until(b"\r\n"))
        except Exception:
            pass
        stream.close()
        loop.run_until_quiescent()
        return loop.trace.to_json()

    packed, recorded = run(False), run(True)
    assert packed == recorded and len(packed) > 5
    assert any(e["kind"] == "recv" and e["detail"].get("data_hex") for e in packed)
