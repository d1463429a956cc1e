import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from faultio import FaultPlan
from harness._campaign import Campaign, CampaignProgress, chunk_of
from harness._case import Case, CaseResult
from harness._cli import main
from harness._cli_common import budget
from harness._exampledb import ExampleStore, key_of, value_of
from harness._report_json import load_report

PLANTED = "_broken_streams:EintrCloses"  # EINTR on recv closes the stream: a bug any generated plan can hit
SMALL = ["--transport", "plain", "--operations", "read_bytes,read_until", "--jobs", "1", "--case-timeout", "20"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def latest_report(directory):
    run_dir = sorted(directory.iterdir())[-1]
    return run_dir, load_report(run_dir / "report.json")


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("10m", 600), ("1.5h", 5400), (" 2M ", 120)])
def test_a_budget_takes_seconds_minutes_or_hours(text, seconds):
    assert budget(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-3s", "10x", "m", "8d", "1e9"])
def test_a_bad_budget_is_a_usage_error_naming_the_valid_forms(text):
    code, _, err = run(["run", f"--budget={text}", "--no-report"])
    assert code == 2 and "give a number of seconds, minutes or hours with s, m or h" in err
    assert len(err.strip().splitlines()) == 1


def test_a_campaign_finds_a_planted_bug_stores_it_and_the_next_campaign_replays_it_first(tmp_path):
    db, reports = tmp_path / "db", tmp_path / "reports"
    args = ["run", "--budget", "3s", "--target", PLANTED, *SMALL, "--example-db", str(db), "--report", str(reports)]
    code, _, err = run(args)
    assert code == 1, err
    _, first = latest_report(reports)
    figures = first["campaign"]
    assert figures["found"] >= 1 and figures["stored"] >= 1 and figures["replayed"] == 0
    assert any("eintr-invisible" in c["violations"] for c in first["cases"])
    assert "--budget 3s" in first["command"] and "cases/s" in err
    assert "Example database</th>" in (latest_report(reports)[0] / "index.html").read_text()
    stored_ids = sorted(c["id"] for c in first["cases"] if c["fails"])
    assert len(list(p for p in db.rglob("*") if p.is_file())) >= figures["stored"]

    code, _, err = run(args)
    assert code == 1, err
    _, second = latest_report(reports)
    again = second["campaign"]
    assert again["replayed"] == figures["stored"] and again["replayed_failing"] == figures["stored"]
    assert again["removed"] == 0
    replayed = second["cases"][:again["replayed"]]  # the replayed cases come first
    assert sorted(c["id"] for c in replayed) == stored_ids
    assert all(c["fails"] and "eintr-invisible" in c["violations"] for c in replayed)
    assert "replayed " in err and "still failing" in err


def test_a_stored_case_of_one_target_is_not_replayed_for_another(tmp_path):
    store = ExampleStore(tmp_path / "db")
    case = Case(operation="read_bytes", style="future", fault="mixed", transport="plain", plan=FaultPlan(name="g"),
                seed=3, origin="generated", index=2)
    assert store.save(CaseResult(case=case, error="x"), "a:A") is True
    assert store.save(CaseResult(case=case, error="x"), "a:A") is False  # the same case is stored once
    cell = ("read_bytes", "future", "plain")
    assert [s.case for s in store.load("a:A", "raw", [cell])] == [case]
    assert store.load("b:B", "raw", [cell]) == []
    assert store.load("a:A", "cpython", [cell]) == []
    assert key_of("a:A", "raw", cell) != key_of("b:B", "raw", cell)
    # A value that is not a case of its cell is skipped, not run.
    store._db.save(key_of("a:A", "raw", cell), b"not json")
    store._db.save(key_of("a:A", "raw", cell), value_of(Case(operation="read_until", style="future", fault="mixed",
                                                             transport="plain", plan=FaultPlan(name="g"), seed=3,
                                                             origin="generated", index=0)))
    assert [s.case for s in store.load("a:A", "raw", [cell])] == [case]
    assert store.skipped == 2


def test_a_stored_case_that_passes_now_is_removed_from_the_store(tmp_path):
    store = ExampleStore(tmp_path / "db")
    cell = ("read_bytes", "future", "plain")
    case = Case(operation="read_bytes", style="future", fault="mixed", transport="plain",
                plan=FaultPlan.from_json({"read": [{"kind": "eintr"}], "write": []}), seed=3, origin="generated",
                index=5)
    store.save(CaseResult(case=case, error="stored by hand"), "faultio:IOStream")
    campaign = Campaign([cell], seed=0, budget_s=0.01, target_spec="faultio:IOStream", jobs=1, profile="raw",
                        fail_on=("contract", "design"), store=store, run_options={"timeout_s": 20})
    campaign.run()
    assert [r.case.id for r in campaign.replayed] == [case.id]
    assert campaign.replayed[0].outcome == "pass" and campaign.removed == 1
    assert store.load("faultio:IOStream", "raw", [cell]) == []
    assert campaign.results()[0].case.id == case.id


def test_without_an_example_database_a_campaign_stores_nothing(tmp_path):
    code, _, err = run(["run", "--budget", "1s", "--target", PLANTED, *SMALL, "--no-example-db", "--report",
                        str(tmp_path / "r")])
    assert code == 1, err
    _, report = latest_report(tmp_path / "r")
    assert report["campaign"]["database"] is None and report["campaign"]["stored"] == 0
    assert not (tmp_path / ".faultio").exists()


def test_campaign_options_that_contradict_are_usage_errors(tmp_path):
    code, _, err = run(["run", "--budget", "1s", "--faults", "eintr", "--no-report"])
    assert code == 2 and "a campaign generates plans that mix every fault kind" in err
    code, _, err = run(["run", "--budget", "1s", "--example-db", str(tmp_path), "--no-example-db", "--no-report"])
    assert code == 2 and "contradict" in err
    (tmp_path / "file").write_text("")
    code, _, err = run(["run", "--budget", "1s", "--example-db", str(tmp_path / "file"), "--no-report"])
    assert code == 2 and "not a directory" in err


def test_a_sharded_campaign_runs_only_its_chunks(tmp_path):
    code, _, err = run(["run", "--budget", "1s", *SMALL, "--shard", "1/3", "--no-example-db", "--report",
                        str(tmp_path)])
    assert code == 0, err
    _, report = latest_report(tmp_path)
    from harness._shard import Shard, cell_unit, chunk_unit

    shard = Shard(index=1, count=3)
    assert report["shard"] == {"index": 1, "count": 3} and report["cases"]
    for case in report["cases"]:
        unit = chunk_unit(cell_unit(case["operation"], case["style"], case["transport"]), chunk_of(case["index"]))
        assert shard.holds(unit), case["id"]


class _FakeCampaign:
    budget_s, store, cases, failing, stored = 60.0, None, 120, 2, 0
    retired, cells = {1}, [1, 2, 3]
    elapsed = 12.0


def test_the_progress_line_shows_cases_per_second_and_failures_and_is_rate_limited():
    stream = io.StringIO()
    now = [100.0]
    progress = CampaignProgress(stream, quiet=False, every=10.0, clock=lambda: now[0])
    progress(_FakeCampaign())
    assert stream.getvalue() == ""  # not yet: less than 10 s since the start
    now[0] += 10.5
    progress(_FakeCampaign())
    progress(_FakeCampaign())
    (line,) = stream.getvalue().splitlines()
    assert line == "campaign 12/60 s: 120 cases, 10.0 cases/s, 2 failing; 1 of 3 cells failing"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process groups from Linux's /proc")
def test_sigint_stops_a_campaign_and_its_workers_and_leaves_a_report_marked_incomplete(tmp_path):
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--budget", "10m", "--jobs", "2",
                             "--no-example-db", "--case-timeout", "20", "--report", str(reports)],
                            cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        line = ""
        for _ in range(100):  # the campaign announces itself before its first batch
            line = proc.stderr.readline()
            if "campaign of" in line or not line:
                break
        assert "campaign of 600 s" in line, line
        time.sleep(1.0)  # let a batch start (the outcome below holds whether or not one has)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == 4, err[-2000:]
    for _ in range(50):  # workers exit within moments of the main process
        if not _group(proc.pid):
            break
        time.sleep(0.1)
    assert _group(proc.pid) == []
    (run_dir,) = reports.iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["incomplete"]["reason"].startswith("interrupted by SIGINT after")
    assert report["campaign"]["stopped"] == "interrupted"


def _group(pgid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry))
    return pids


def test_example_db_options_without_a_budget_are_usage_errors(tmp_path):
    code, _, err = run(["run", "--example-db", str(tmp_path), "--no-report"])
    assert code == 2 and "are for campaigns: add --budget" in err


def test_the_shards_of_a_campaign_merge_into_one_report_with_their_figures_summed(tmp_path):
    for i in (0, 1):
        code, _, err = run(["run", "--budget", "1s", *SMALL, "--shard", f"{i}/2", "--no-example-db", "--report",
                            str(tmp_path / f"s{i}")])
        assert code == 0, err
    parts = [latest_report(tmp_path / f"s{i}")[1] for i in (0, 1)]
    code, _, err = run(["merge", *(str(latest_report(tmp_path / f"s{i}")[0]) for i in (0, 1)), "--report",
                        str(tmp_path / "m")])
    assert code == 0, err
    _, merged = latest_report(tmp_path / "m")
    assert merged["campaign"]["cases"] == sum(p["campaign"]["cases"] for p in parts) == merged["summary"]["cases"]
    assert merged["campaign"]["chunks"] == sum(p["campaign"]["chunks"] for p in parts)
    assert "--shard" not in merged["command"] and "--budget 1s" in merged["command"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="uses Linux's /proc as a place nobody can write")
def test_an_example_db_that_cannot_be_written_is_refused_before_the_campaign():
    code, _, err = run(["run", "--budget", "1s", "--example-db", "/proc/faultio-examples", "--no-report"])
    assert code == 2 and "--example-db /proc/faultio-examples: cannot write there" in err


def _campaign_of(chunks, *, jobs, target, cells, examples=3):
    """A campaign whose clock stands still until ``chunks`` chunks came back, then says the budget is spent:
    it runs at least ``chunks`` chunks whatever the machine's speed (more when a batch overshoots)."""
    holder = []

    def clock():
        return 0.0 if not holder or holder[0].chunks < chunks else 1e9

    campaign = Campaign(cells, seed=3, budget_s=60.0, target_spec=target, jobs=jobs, profile="raw",
                        fail_on=("contract", "design"), examples=examples, clock=clock)
    holder.append(campaign)
    campaign.run()
    assert campaign.stopped in ("budget spent", "every cell failed")
    return campaign


def _case_view(result):
    return (result.case.id, result.case.plan, result.outcome, result.shrunk)


def test_the_first_chunks_of_a_campaign_give_the_same_cases_with_jobs_1_and_2():
    from harness._generate import generated_cells

    # Every cell (more than a --jobs 1 batch holds): the rounds must go on from batch to batch.
    cells = generated_cells()
    chunks = len(cells) + 3  # a round of the cells, and part of the next
    first = {}
    for jobs in (1, 2):
        campaign = _campaign_of(chunks, jobs=jobs, target="faultio:IOStream", cells=cells, examples=2)
        # results() is in campaign order (chunk number, cell, index): the first chunks are the same chunks.
        ran = campaign.results()[: chunks * 2]
        assert {chunk_of(r.case.index, 2) for r in ran} == {0, 1}
        assert {(r.case.operation, r.case.style, r.case.transport) for r in ran} == set(cells)
        first[jobs] = [_case_view(r) for r in ran]
    assert len(first[1]) == chunks * 2 and len({view[0] for view in first[1]}) == chunks * 2
    assert first[1] == first[2]


def test_a_planted_bug_gives_the_same_shrunk_failures_with_jobs_1_and_2():
    from harness._generate import generated_cells

    cells = generated_cells(operations=["read_bytes", "read_until"], transports=("plain",))
    failures = {}
    for jobs in (1, 2):
        campaign = _campaign_of(len(cells), jobs=jobs, target=PLANTED, cells=cells)
        failures[jobs] = sorted((_case_view(r) for r in campaign.generated if r.outcome != "pass"), key=repr)
        assert campaign.retired  # the planted bug was found
    assert failures[1] == failures[2] and all(view[3] is not None for view in failures[1])


def test_a_worker_killed_in_a_campaign_costs_its_chunk_and_a_fresh_pool_runs_the_rest():
    from harness._generate import generated_cells

    cells = generated_cells(operations=["read_bytes", "read_until"], transports=("plain",))
    campaign = _campaign_of(2 * len(cells), jobs=2, target="_broken_targets:KillsItsProcessInReadBytes",
                            cells=cells)
    by_op = {}
    for result in campaign.generated:
        by_op.setdefault(result.case.operation, set()).add(result.outcome)
    assert by_op["read_bytes"] == {"error"}  # each read_bytes cell's first chunk died, and retired its cell
    assert by_op["read_until"] == {"pass"}  # the other cells ran on, in fresh workers
    assert all("died abruptly" in r.error for r in campaign.generated if r.case.operation == "read_bytes")
    assert {cell for cell in campaign.retired} == {cell for cell in cells if cell[0] == "read_bytes"}
