"""A target that tries to end the process, kills its worker or floods its messages never takes the run down."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness._cli import main

SMALL = ["--faults", "eintr,dribble", "--transport", "plain", "--operations", "read_bytes,read_until",
         "--examples", "0"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _report(tmp_path):
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return run_dir, json.loads((run_dir / "report.json").read_text())


def _check_contained(tmp_path, target, jobs, needle):
    code, _, err = run(["run", *SMALL, "--jobs", str(jobs), "--report", str(tmp_path), "--target", target])
    run_dir, report = _report(tmp_path)
    by_op = {}
    for case in report["cases"]:
        by_op.setdefault(case["operation"], set()).add(case["outcome"])
    assert by_op["read_bytes"] == {"error"}  # exactly those cases
    assert "error" not in by_op["read_until"]  # every other case ran and was judged
    assert all(needle in c["details"][-1]["message"] for c in report["cases"] if c["operation"] == "read_bytes")
    assert code == 1 and report["summary"]["errors"] == sum(c["operation"] == "read_bytes" for c in report["cases"])
    return err


def test_sys_exit_in_the_target_is_an_error_case_and_the_run_goes_on(tmp_path):
    _check_contained(tmp_path, "_broken_targets:ExitsInReadBytes", 1, "the target raised SystemExit(3)")


def test_sys_exit_0_in_the_target_cannot_turn_a_run_green(tmp_path):
    _check_contained(tmp_path, "_broken_targets:ExitsZeroInReadBytes", 2, "the target raised SystemExit(0)")


def test_a_worker_killed_by_the_target_costs_its_cases_not_the_run(tmp_path):
    _check_contained(tmp_path, "_broken_targets:KillsItsProcessInReadBytes", 2,
                     "the worker process running this case died abruptly")


def test_a_1_mib_exception_message_leaves_every_output_small(tmp_path):
    junit = tmp_path / "junit.xml"
    reports = tmp_path / "reports"
    code, _, _ = run(["run", "--faults", "all", "--transport", "plain", "--operations", "read_bytes,read_bytes_partial",
                      "--examples", "0", "--jobs", "2", "--report", str(reports), "--junit-xml", str(junit),
                      "--target", "_broken_targets:HugeMessageInReadBytes"])
    run_dir, report = _report(reports)
    assert code == 1 and len(report["cases"]) == 44  # 2 operations x 2 styles x 11 kinds (5 kernel, 6 time)
    flooded = [d["message"] for c in report["cases"] for d in c["details"] if "xxxxxxxx" in d["message"]]
    assert flooded and all("characters]" in m and len(m) < 3000 for m in flooded)
    for path in (run_dir / "report.json", run_dir / "index.html", junit):
        assert path.stat().st_size < 2_000_000, path


def _processes(field, value):
    """Live processes whose /proc stat ``field`` (1: parent pid, 2: process group) is ``value``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[field]) == value and fields[0] != "Z":
                found.append(int(entry))
    return found


def _processes_in_group(pgid):
    return _processes(2, pgid)


def _reap(proc: subprocess.Popen) -> None:
    """Kill what is left of ``proc``'s process group, wait for it and close its pipe: nothing of it is left
    for the collector to warn about during a later test."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process groups from Linux's /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_worker_and_leaves_a_report_marked_incomplete(tmp_path, signum):
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--faults", "all", "--jobs", "2",
                             # a run long enough (tens of seconds) that a loaded machine cannot finish it
                             # between the first progress line and the signal
                             "--examples", "60", "--report", str(reports)],
                            cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and " cases run" not in line:  # wait for the first progress line
            line = proc.stderr.readline()
        assert " cases run" in line, "the run never reported progress"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        _reap(proc)
    assert proc.returncode == 4, err[-2000:]
    for _ in range(50):  # workers exit within moments of the main process
        if not _processes_in_group(proc.pid):
            break
        time.sleep(0.1)
    assert _processes_in_group(proc.pid) == []
    (run_dir,) = reports.iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
    assert report["incomplete"]["reason"] == f"interrupted by {name}"
    assert 0 < report["incomplete"]["ran"] == len(report["cases"]) < report["incomplete"]["planned"]
    assert "Incomplete run" in (run_dir / "index.html").read_text()
    assert "incomplete: interrupted by" in err


def test_a_target_that_hangs_in_one_operation_costs_seconds_not_hours(tmp_path):
    code, _, err = run(["run", "--faults", "eintr,dribble", "--transport", "plain", "--examples", "0",
                        "--operations", "read_bytes,read_until", "--jobs", "1", "--case-timeout", "0.5",
                        "--report", str(tmp_path), "--target", "_broken_targets:SpinsInReadBytes"])
    _, report = _report(tmp_path)
    read_bytes = [c for c in report["cases"] if c["operation"] == "read_bytes"]
    hung = [c for c in read_bytes if "no-busy-loop" in c["violations"]]
    skipped = [c for c in read_bytes if c["outcome"] == "error" and "not run: the target already hung" in
               c["details"][-1]["message"]]
    assert len(hung) == 2 and len(skipped) == len(read_bytes) - 2  # after two hangs, the rest is not run
    assert all(c["outcome"] != "error" for c in report["cases"] if c["operation"] == "read_until")
    assert code == 1 and "a reference case took" not in err  # given, not calibrated


def test_case_timeout_is_checked():
    code, _, err = run(["run", "--case-timeout", "soon", "--no-report"])
    assert code == 2 and "'soon' is not valid; give seconds" in err


def test_a_memory_bomb_fails_in_its_capped_worker_not_the_machine(tmp_path):
    code, _, _ = run(["run", *SMALL, "--jobs", "2", "--memory-limit", "1G", "--report", str(tmp_path),
                      "--target", "_broken_targets:MemoryBombInReadBytes"])
    _, report = _report(tmp_path)
    bombed = [c for c in report["cases"] if c["operation"] == "read_bytes"]
    assert bombed and all("MemoryError" in " ".join(d["message"] for d in c["details"]) for c in bombed)
    assert all(c["outcome"] != "error" for c in report["cases"] if c["operation"] == "read_until")
    assert code == 1


def test_memory_limit_is_checked():
    code, _, err = run(["run", "--memory-limit", "lots", "--no-report"])
    assert code == 2 and "give a size such as 2G or 512M" in err


def _children(pid):
    return _processes(1, pid)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds worker processes through Linux's /proc")
def test_workers_killed_at_random_cost_no_case(tmp_path):
    import random

    from faultio import parse_kinds
    from harness._matrix import build_cases

    reports = tmp_path / "reports"
    # The TLS cases: slow enough (a handshake each) that the run is still going when the workers are killed.
    planned = len(build_cases(faults=parse_kinds("all", transports=("ssl",)), transports=("ssl",)))
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--faults", "all", "--transport", "ssl",
                             "--examples", "0", "--jobs", "2", "--report", str(reports)],
                            cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    rng = random.Random(0)
    kills = 0
    try:
        line = ""
        while " cases run" not in line and proc.poll() is None:
            line = proc.stderr.readline()
        deadline = time.monotonic() + 30
        while kills < 3 and proc.poll() is None and time.monotonic() < deadline:
            children = _children(proc.pid)
            if children:
                try:
                    os.kill(rng.choice(children), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        _, err = proc.communicate(timeout=120)
    finally:
        _reap(proc)
    assert kills, "no worker was killed (the run ended first)"
    assert proc.returncode in (0, 1), err[-2000:]
    (run_dir,) = reports.iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    assert len(report["cases"]) == planned and "incomplete" not in report  # every case accounted for
    for case in report["cases"]:
        # faultio's own stream passes every case; a case can only fail by its worker being killed under it.
        assert case["outcome"] == "pass" or "worker process running this case died" in case["details"][-1]["message"]


def test_with_jobs_1_a_target_that_ends_its_process_still_costs_only_its_cases(tmp_path):
    _check_contained(tmp_path, "_broken_targets:KillsItsProcessInReadBytes", 1,
                     "the worker process running this case died abruptly")
