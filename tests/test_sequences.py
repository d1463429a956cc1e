"""harness._sequences and the sequence ops of harness._workloads: faultio's stream agrees with the model on
generated sequences; a broken one fails, shrinks to a handful of ops and plan steps, and replays byte for byte."""

import io
import json

import pytest

from faultio import (
    CloseOp,
    FaultPlan,
    IdleOp,
    IOStream,
    PeerEndOp,
    ReadBytesOp,
    ReadUntilCloseOp,
    Sequence,
    SetCloseCallbackOp,
    StreamLimits,
    Workload,
    WriteOp,
)
from harness._cli import main
from harness._sequences import BATCH, run_sequence_case, run_sequences, sequence_case, sequence_count
from harness._targets import Target, load_target

LIMITS = StreamLimits(max_buffer_size=16, read_chunk_size=4, max_write_buffer_size=8)
STYLES = ("future", "callback")


def judge(ops, data=b"abcdefghij", chunks=(10,), ending="eof", style="future", target="faultio"):
    seq = Sequence(workload=Workload(limits=LIMITS, data=data, chunks=chunks, ops=ops, ending=ending),
                   styles=(style,) * len(ops))
    return run_sequence_case(sequence_case(seq, seed=0, index=0), load_target(target)
                             if isinstance(target, str) else target)


@pytest.mark.parametrize("style", STYLES)
def test_reads_after_the_application_closed_are_served_from_what_the_stream_held(style):
    result = judge((ReadBytesOp(nbytes=2), IdleOp(), CloseOp(), ReadBytesOp(nbytes=2), ReadUntilCloseOp()),
                   style=style)
    assert result.outcome == "pass", result.violations


@pytest.mark.parametrize("ending", ["eof", "reset"])
@pytest.mark.parametrize("style", STYLES)
def test_writes_and_reads_after_the_peer_ended_early(style, ending):
    ops = (SetCloseCallbackOp(), ReadBytesOp(nbytes=3), PeerEndOp(), WriteOp(nbytes=4), IdleOp(seconds=3600.0),
           ReadBytesOp(nbytes=5), SetCloseCallbackOp())
    result = judge(ops, chunks=(3, 7), ending=ending, style=style)
    assert result.outcome == "pass", result.violations


class RunsReplacedCloseCallback(IOStream):
    """Keeps every close callback ever set and runs them all (a replaced one too)."""

    def set_close_callback(self, callback):
        previous = self._close_callback
        if previous is None or callback is None:
            return super().set_close_callback(callback)

        def both():
            previous()
            callback()

        return super().set_close_callback(both)


def test_a_close_callback_that_runs_after_it_was_replaced_breaks_the_model_contract():
    target = Target(name="replaced-cb", factory=lambda sock, *, io_loop, transport, max_buffer_size, ssl_context:
                    RunsReplacedCloseCallback(sock, io_loop=io_loop, max_buffer_size=max_buffer_size))
    result = judge((SetCloseCallbackOp(), SetCloseCallbackOp(), CloseOp()), target=target)
    messages = [v.message for v in result.violations if v.slug == "model-contract"]
    assert messages == ["op 0: the close callback set here ran after set_close_callback replaced it"]
    assert judge((SetCloseCallbackOp(), SetCloseCallbackOp(), CloseOp())).outcome == "pass"


def test_faultio_stream_is_clean_under_generated_sequences():
    results = run_sequences(6 * BATCH, seed=0, target_spec="faultio")
    bad = [(r.case.sequence.describe(), [v.message for v in r.violations]) for r in results if r.outcome != "pass"]
    assert len(results) == 6 * BATCH and not bad, bad


def test_the_same_seed_gives_the_same_sequences_and_results_for_any_jobs():
    def key(results):
        return [(r.case.id, r.outcome, r.slugs, r.case.sequence.dumps()) for r in results]

    spec = "harness._workload_mutants:WriteLimitOneShort"
    one = run_sequences(3 * BATCH, seed=0, target_spec=spec, jobs=1)
    two = run_sequences(3 * BATCH, seed=0, target_spec=spec, jobs=2)
    assert key(one) == key(two) and any(r.outcome != "pass" for r in one)
    assert key(run_sequences(2 * BATCH, seed=2, target_spec="faultio")) != key(run_sequences(
        2 * BATCH, seed=3, target_spec="faultio"))


def test_a_failing_sequence_is_saved_shrunk_and_replays_byte_for_byte(tmp_path):
    spec = "harness._workload_mutants:WriteLimitOneLong"
    err = io.StringIO()
    code = main(["run", "--faults", "eintr", "--transport", "plain", "--operations", "write", "--examples", "0",
                 "--sequences", "200", "--target", spec, "--report", str(tmp_path), "--jobs", "1"],
                stdout=io.StringIO(), stderr=err)
    assert code == 1, err.getvalue()
    case_files = sorted(tmp_path.glob("*/cases/sequence.*.json"))
    assert case_files
    for case_file in case_files:  # one per batch that failed, each shrunk on its own
        data = json.loads(case_file.read_text())
        seq = Sequence.from_json(data["case"]["sequence"])
        # A handful: the ops and plan steps the bug needs, and at most a couple more.
        assert len(seq.ops) <= 4 and len(seq.plan.read) + len(seq.plan.write) <= 3, seq.describe()
        assert data["violations"][0]["slug"] == "model-contract"
    case_file = case_files[0]
    data = json.loads(case_file.read_text())
    seq = Sequence.from_json(data["case"]["sequence"])
    outputs = []
    for _ in range(2):
        out = io.StringIO()
        assert main(["replay", str(case_file), "--target", spec], stdout=out, stderr=io.StringIO()) == 1
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert f"sequence: {seq.describe()}" in outputs[0] and "VIOLATION model-contract" in outputs[0]
    report = json.loads(next(tmp_path.glob("*/report.json")).read_text())
    failing = [c for c in report["cases"] if c["outcome"] != "pass"]
    assert len(failing) == len(case_files) and data["case"]["id"] in [c["id"] for c in failing]
    assert next(c for c in failing if c["id"] == data["case"]["id"])["sequence"] == data["case"]["sequence"]
    assert report["summary"]["cases"] == len(report["cases"]) and report["summary"]["violations"] == len(failing)
    html = next(tmp_path.glob("*/index.html")).read_text()
    assert "<dt>sequence</dt><dd>limits(" in html and data["case"]["id"] in html


def test_run_says_when_sequences_cannot_run():
    assert sequence_count(None, target=load_target("faultio"), spec="faultio", transports=("plain",)) == (50, "")
    assert sequence_count(None, target=load_target("tornado"), spec="tornado", transports=("plain",)) == (25, "")
    futures_only = Target(name="m:f", factory=load_target("faultio").factory, lacks={"*/future": "no futures"})
    assert sequence_count(5, target=futures_only, spec="m:f", transports=("plain",)) == (5, "")
    none = Target(name="m:f", factory=load_target("faultio").factory, lacks={"*/future": "none", "*/callback": "none"})
    count, why = sequence_count(5, target=none, spec="m:f", transports=("plain",))
    assert count == 0 and "none of the reads" in why
    count, why = sequence_count(5, target=load_target("faultio"), spec="faultio", transports=("ssl",))
    assert count == 0 and "plain transport only" in why


def test_a_clean_plan_and_an_empty_sequence_pass():
    seq = Sequence(workload=Workload(limits=LIMITS, data=b"", chunks=(), ops=(IdleOp(),)), styles=("future",),
                   plan=FaultPlan())
    assert run_sequence_case(sequence_case(seq, seed=0, index=3), load_target("faultio")).outcome == "pass"


def test_sequences_take_their_plans_from_the_runs_fault_kinds():
    target = load_target("faultio")
    count, why = sequence_count(None, target=target, spec="faultio", transports=("plain",), faults=("econnreset",))
    assert count == 0 and "eintr, ewouldblock, dribble" in why
    assert sequence_count(None, target=target, spec="faultio", transports=("plain",), fixed_only=True) == (0, "")
    assert sequence_count(7, target=target, spec="faultio", transports=("plain",), fixed_only=True) == (7, "")
    results = run_sequences(BATCH, seed=0, target_spec="faultio", kinds=("dribble",))
    kinds = {type(step).__name__ for r in results for step in (*r.case.plan.read, *r.case.plan.write)}
    assert kinds and kinds <= {"Dribble", "SendPartial"}, kinds
    with pytest.raises(ValueError, match="not valid for sequences"):
        run_sequences(1, seed=0, target_spec="faultio", kinds=("econnreset",))


def test_first_failure_finds_the_same_shrunk_sequence_with_one_job_and_with_two():
    from harness._sequences import first_failure

    spec = "harness._workload_mutants:WriteLimitOneShort"
    one = first_failure(3 * BATCH, seed=0, spec=spec, jobs=1)
    two = first_failure(3 * BATCH, seed=0, spec=spec, jobs=2)
    assert one[1] is not None and one[0] == two[0]
    assert one[1].case.sequence == two[1].case.sequence and one[1].slugs == two[1].slugs
    assert first_failure(BATCH, seed=0, spec="faultio", jobs=2) == (BATCH, None)


class HangsInARead(IOStream):
    """A stream whose read_bytes never returns (no loop step ends: only the wall clock sees it)."""

    def read_bytes(self, *args, **kwargs):
        while True:
            pass


def test_a_target_that_hangs_inside_a_step_is_stopped_by_the_wall_clock(monkeypatch):
    import harness._sequences as sequences_module

    monkeypatch.setattr(sequences_module, "SEQUENCE_TIMEOUT", 0.5)
    target = Target(name="hangs", factory=lambda sock, *, io_loop, transport, max_buffer_size, ssl_context:
                    HangsInARead(sock, io_loop=io_loop, max_buffer_size=max_buffer_size))
    result = judge((ReadBytesOp(nbytes=1),), target=target)
    assert result.slugs == ["no-busy-loop"] and "wall-clock" in result.violations[0].message


# Regressions: two false positives of the monitors that generated sequences found on faultio's own stream.


def test_bytes_queued_for_a_streaming_callback_are_not_taken_for_an_overflow():
    # overflow-error counted 59 streamed bytes, still queued for their callbacks at EOF, as held by the stream.
    limits = StreamLimits(max_buffer_size=55, read_chunk_size=1)
    seq = Sequence(workload=Workload(limits=limits, data=b"a" * 60, chunks=(60,),
                                     ops=(IdleOp(seconds=0.01), PeerEndOp(), ReadUntilCloseOp(streaming=True),
                                          ReadBytesOp(nbytes=1, partial=True))),
                   styles=("future",) * 4)
    assert run_sequence_case(sequence_case(seq, seed=0, index=0), load_target("faultio")).outcome == "pass"


@pytest.mark.parametrize("style", STYLES)
def test_a_read_served_from_what_an_unbounded_read_before_it_read_ahead_is_not_an_unbounded_read(style):
    # bounded-read blamed read_bytes(1) for the 3 bytes read_until(b"\r\n") (no max_bytes) had read ahead.
    from faultio import ReadUntilOp

    limits = StreamLimits(max_buffer_size=10, read_chunk_size=1)
    ops = (ReadBytesOp(nbytes=1), ReadUntilOp(delimiter=b"\r\n"), ReadBytesOp(nbytes=1), ReadUntilOp(delimiter=b"\n"))
    seq = Sequence(workload=Workload(limits=limits, data=b"aaaaa\r\naaaaaaaaaa\n", chunks=(5, 12, 1), ops=ops),
                   styles=("future", "future", style, "future"))
    assert run_sequence_case(sequence_case(seq, seed=0, index=0), load_target("faultio")).outcome == "pass"
