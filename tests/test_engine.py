"""harness/engine: the registry, one checker per invariant, classes, user checkers, containment."""

import json
import sys
import textwrap

import pytest

from harness import engine
from harness._cli import main
from harness._generate import run_generated
from harness._matrix import build_cases
from harness._runner import raised_in_harness, run_case
from harness._targets import DEFAULT_TARGET
from harness.engine import CHECKERS, INVARIANTS, Checker, InvariantError, invariant, load_invariants

#: The seed design's stricter rules; everything else is the reader contract.
DESIGN = {"close-cb-counter", "pending-nonnegative", "pending-zero-at-rest", "pending-scoped",
          "listen-when-idle", "no-read-when-buffered", "error-always-registered", "error-event-deferred-close",
          "no-already-reading", "eintr-write-retried", "overflow-error", "bounded-read"}


@pytest.fixture
def registered():
    """Forget the user invariants a test registers."""
    before = set(INVARIANTS)
    yield
    for slug in set(INVARIANTS) - before:
        engine.unregister(slug)


def test_every_invariant_has_a_class_and_a_checker_or_a_judging_driver():
    assert {s for s, i in INVARIANTS.items() if i.klass == "design"} == DESIGN
    for slug, spec in INVARIANTS.items():
        assert spec.builtin and spec.klass in engine.CLASSES and spec.explanation
        checker = CHECKERS[slug]
        assert checker is None or checker.invariant is spec or checker.invariant.slug == slug
    # Judged by the drivers or the runner rather than a checker class:
    assert {s for s, c in CHECKERS.items() if c is None} == {"pending-exactly-once", "target-crashed", "model-contract"}


def test_a_violation_carries_the_class_of_its_invariant():
    v = engine.Violation(slug="no-already-reading", message="m", step=1)
    assert v.klass == "design" and v.to_json()["class"] == "design"
    with pytest.raises(ValueError, match="unknown invariant slug 'nope'"):
        engine.Violation(slug="nope", message="m", step=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"klass": "style"}, "class 'style' is not valid; valid: contract, design"),
     ({"explanation": " "}, "give a one-line explanation"),
     ({"observes": ("vibes",)}, "observes \\['vibes'\\] unknown")],
)
def test_a_bad_declaration_says_what_is_valid(kwargs, match):
    options = {"klass": "contract", "explanation": "x holds.", **kwargs}
    with pytest.raises(InvariantError, match=match):
        invariant("my-rule", **options)


def test_slugs_are_checked_and_unique(registered):
    with pytest.raises(InvariantError, match="lower-case words"):
        invariant("My Rule", klass="contract", explanation="x.")
    with pytest.raises(InvariantError, match="already registered"):
        invariant("data-integrity", klass="contract", explanation="x.")(type("Other", (Checker,), {}))
    with pytest.raises(InvariantError, match="not a Checker subclass"):
        invariant("my-rule", klass="contract", explanation="x.")(object)
    with pytest.raises(InvariantError, match="built in"):
        engine.unregister("data-integrity")


@pytest.mark.parametrize(
    ("spec", "match"),
    [("", "is not valid; use module or module:Checker"),
     ("no_such_module_here:X", "cannot import module 'no_such_module_here'"),
     ("json", "registers no invariant"),
     ("json:dumps", "is not a Checker registered with")],
)
def test_load_invariants_errors_teach(spec, match):
    with pytest.raises(InvariantError, match=match):
        load_invariants(spec)


def _user_module(tmp_path, monkeypatch, name="user_checks", body=""):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return name


EINTR_SEEN = """
from harness import Checker, invariant

@invariant("no-eintr-at-all", klass="contract", observes=("trace",),
           explanation="The kernel never interrupts a call (a deliberately impossible rule).")
class NoEintrAtAll(Checker):
    def on_fd(self, event):
        if event.get("result") == "EINTR":
            self.violate(f"{event.kind} was interrupted", event.index)
"""


def test_a_user_checker_fires_is_reported_with_its_class_and_shrinks(tmp_path, monkeypatch, registered):
    module = _user_module(tmp_path, monkeypatch, body=EINTR_SEEN)
    (spec,) = load_invariants(f"{module}:NoEintrAtAll")
    assert spec.slug == "no-eintr-at-all" and not spec.builtin and engine.user_invariants() == [spec]
    (case,) = build_cases(faults=["eintr"], transports=["plain"], operations=["read_bytes"])[:1]
    result = run_case(case)
    assert result.slugs == ["no-eintr-at-all"] and result.violations[0].klass == "contract"
    # Generated plans that break it shrink like any other: to a plan with a single interruption.
    (failure,) = [r for r in run_generated([("read_bytes", "future", "plain")], seed=0, examples=3,
                                           target_spec="faultio:IOStream", invariants=[f"{module}:NoEintrAtAll"])
                  if r.outcome != "pass"]
    assert failure.slugs == ["no-eintr-at-all"] and failure.shrunk is not None
    steps = [s for s in (*failure.shrunk.read, *failure.shrunk.write) if "intr" in type(s).__name__.lower()]
    assert len(steps) == 1


def test_the_cli_runs_lists_and_reports_a_user_checker(tmp_path, monkeypatch, registered, capsys):
    module = _user_module(tmp_path, monkeypatch, body=EINTR_SEEN)
    code = main(["run", "--faults", "eintr", "--transport", "plain", "--operations", "read_bytes", "--examples",
                 "0", "--jobs", "2", "--json", "--invariants", module])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1
    assert all(c["violations"] == ["no-eintr-at-all"] and c["classes"] == ["contract"] for c in report["cases"])
    assert main(["list", "--invariants", module]) == 0
    out, _ = capsys.readouterr()
    assert "no-eintr-at-all" in out and "(user)" in out
    assert main(["run", "--invariants", "json", "--no-report"]) == 2
    assert "registers no invariant" in capsys.readouterr().err


def test_a_checker_that_raises_is_an_error_naming_it_not_a_finding(tmp_path, monkeypatch, registered):
    module = _user_module(tmp_path, monkeypatch, name="raising_checks", body="""
        from harness import Checker, invariant

        @invariant("explodes", klass="contract", explanation="Never checked: the checker raises.")
        class Explodes(Checker):
            def on_step(self):
                raise KeyError("oops")
        """)
    load_invariants(module)
    (case,) = build_cases(faults=["dribble"], transports=["plain"], operations=["read_bytes"])[:1]
    result = run_case(case)
    assert result.outcome == "error" and not result.violations
    assert "the explodes checker raised KeyError" in result.error and "raising_checks.py" in result.error
    assert "not a finding about the target" in result.error


def test_a_checker_requiring_what_the_stream_lacks_is_not_applicable(registered):
    @invariant("needs-a-gizmo", klass="design", explanation="The stream's gizmo stays polished.",
               requires=("_gizmo",))
    class NeedsGizmo(Checker):
        def on_step(self):
            raise AssertionError("never run on a stream without _gizmo")

    (case,) = build_cases(faults=["eintr"], transports=["plain"], operations=["read_bytes"])[:1]
    result = run_case(case, DEFAULT_TARGET)
    assert result.outcome == "pass"
    assert ("needs-a-gizmo", "the stream has no _gizmo") in result.not_applicable


def test_an_exception_is_blamed_on_the_frame_that_raised_it():
    def boom_in_test_code():
        raise ValueError("a stream's bug")

    try:
        boom_in_test_code()
    except ValueError as exc:
        assert raised_in_harness(exc) is None
    try:
        engine.invariant_named("no-such-slug")
    except ValueError as exc:
        assert raised_in_harness(exc).startswith("harness/engine/registry.py:")
    assert raised_in_harness(ConnectionResetError()) is None  # the simulated kernel's deliberate answer


def test_the_target_s_log_records_go_to_the_case_not_the_terminal(capfd):
    from harness._targets import load_target

    (case,) = build_cases(faults=["eintr"], transports=["plain"], operations=["read_bytes"])[:1]
    result = run_case(case, load_target("harness._mutants:EintrLogsRetry"))
    captured = capfd.readouterr()
    assert "EINTR on read" not in captured.err + captured.out
    assert any(r["message"].startswith("EINTR on read, retrying") and r["level"] == "INFO" for r in result.logs)
    assert "eintr-invisible" in result.slugs


def test_the_stream_s_own_package_logger_is_captured_too(tmp_path, monkeypatch, capfd):
    module = _user_module(tmp_path, monkeypatch, name="noisy_stream", body="""
        import logging

        from faultio import IOStream

        log = logging.getLogger("noisy_stream.reader")


        class NoisyStream(IOStream):
            def read_from_fd(self):
                log.warning("reading from the fd")
                return super().read_from_fd()
        """)
    from harness._targets import load_target

    (case,) = build_cases(faults=["dribble"], transports=["plain"], operations=["read_bytes"])[:1]
    result = run_case(case, load_target(f"{module}:NoisyStream"))
    assert "reading from the fd" not in "".join(capfd.readouterr())
    assert any(r["logger"] == "noisy_stream.reader" and r["level"] == "WARNING" for r in result.logs)


def _watched(*checkers, plan=None, stream_class=None):
    """A faultio stream on a socketpair under ``plan`` reading 4 bytes the peer sends (taken one per read), watched by a
    monitor running only ``checkers`` (registered by the caller); returns the monitor after the read."""
    from faultio import Dribble, FaultPlan, IOLoop, IOStream, socketpair
    from harness.engine import Monitor

    loop = IOLoop(make_current=False)
    target, peer = socketpair(loop, plan or FaultPlan(read=(Dribble(nbytes=None),), name="dribble"))
    stream = (stream_class or IOStream)(target, io_loop=loop)
    monitor = Monitor(loop=loop, stream=stream, fd=target, truth=lambda: target.received,
                      held_len=lambda: 0, only={c.invariant.slug for c in checkers})
    future = stream.read_bytes(4)
    peer.send(b"abcd")
    loop.run_until(future.done)  # (the read may fail: the stream under test may be broken)
    monitor.finish()
    return monitor


def test_record_hooks_get_the_trace_s_records_for_the_results_and_kinds_they_look_at(registered):
    seen: dict[str, list] = {"fd": [], "loop": [], "events": []}

    @invariant("sees-records", klass="contract", explanation="Records what it is shown.")
    class SeesRecords(Checker):
        FD_RESULTS = frozenset({"EAGAIN"})
        LOOP_KINDS = frozenset({"handler"})

        def on_fd_record(self, record):
            seen["fd"].append(record)

        def on_loop_record(self, record):
            seen["loop"].append(record)

    @invariant("sees-events", klass="contract", explanation="Records the events it is shown.")
    class SeesEvents(Checker):
        FD_RESULTS = frozenset({"data"})

        def on_fd(self, event):
            seen["events"].append(event)

    monitor = _watched(SeesRecords, SeesEvents)
    trace, number = monitor.loop.trace, monitor.fd_number
    fd_events = [e for e in trace.events("fd") if e.get("fd") == number and e.get("role") == "target"]
    assert [r[0] for r in seen["fd"]] == [e.index for e in fd_events if e.get("result") == "EAGAIN"] != []
    assert [e.index for e in seen["events"]] == [e.index for e in fd_events if e.get("result") == "data"] != []
    handlers = [e for e in trace.events("loop", "handler") if e.get("fd") == number]
    assert [r[0] for r in seen["loop"]] == [e.index for e in handlers] != []
    for record in seen["fd"] + seen["loop"]:
        index, step, time, source, kind, detail = record
        assert type(record) is tuple and trace[index] == trace.event_of(record)
        assert (step, time, source, kind, tuple(detail.items())) == (lambda e: (e.step, e.time, e.source, e.kind,
                                                                              e.detail))(trace[index])
    # The event form is given the trace's own event.
    assert all(event is trace[event.index] for event in seen["events"])


def test_a_record_hook_that_raises_is_switched_off_and_named(registered):
    calls = []

    @invariant("record-explodes", klass="contract", explanation="Never checked: the checker raises.")
    class RecordExplodes(Checker):
        def on_fd_record(self, record):
            calls.append(record[0])
            raise KeyError("oops")

    monitor = _watched(RecordExplodes, CHECKERS["no-io-after-close"])
    assert len(calls) == 1 and not monitor.violations
    (error,) = monitor.harness_errors
    assert "the record-explodes checker raised KeyError" in error and "in on_fd_record" in error
    assert [type(c).__name__ for c in monitor.checkers] == ["NoIoAfterClose"]


def test_the_built_in_record_hooks_still_find_what_they_look_for():
    from faultio import FaultPlan, IOStream

    class ReadsAfterClosing(IOStream):
        """Closes its fd at the first readiness event, then reads it anyway."""

        def _handle_events(self, fd, events):
            self.socket.close()
            try:
                self.socket.recv(1)
            except OSError:
                pass
            return IOStream._handle_events(self, fd, events)

    monitor = _watched(CHECKERS["no-io-after-close"], plan=FaultPlan(name="clean"), stream_class=ReadsAfterClosing)
    violation = monitor.violations["no-io-after-close"]
    event = monitor.loop.trace[violation.event]
    assert "after it was closed" in violation.message and (event.source, event.kind) == ("fd", "recv")


def test_the_monitor_asks_faultio_s_stream_directly_and_any_other_through_the_safe_readers():
    from faultio import IOLoop, IOStream, socketpair
    from harness.engine import Monitor

    class CannotSay(IOStream):
        def closed(self):
            raise RuntimeError("no idea")

    direct = _watched(CHECKERS["buffer-bound"])
    assert direct.closed() is False
    direct.stream.close()
    assert direct.closed() is True and direct.reading() is False and direct.writing() is False
    loop = IOLoop(make_current=False)
    target, _ = socketpair(loop)
    wrapped = Monitor(loop=loop, stream=CannotSay(target, io_loop=loop), fd=target, truth=lambda: b"",
                      held_len=lambda: 0, only=())
    assert wrapped.closed() is False  # what the safe reader answers for a stream that cannot say
    wrapped.detach()
