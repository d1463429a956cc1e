import io
import json
import os
import subprocess
import sys

import pytest

from harness._cli import main
from harness._report_json import load_report, validate_report


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


FAST = ["--examples", "0", "--jobs", "1", "--operations", "read_bytes,read_until,write"]


def test_run_writes_a_valid_report_and_exits_zero_against_the_reference(tmp_path):
    code, out, err = run(["run", "--faults", "eintr,dribble", "--report", str(tmp_path), *FAST])
    assert code == 0, err
    assert out == ""
    (run_dir,) = tmp_path.iterdir()
    report = load_report(run_dir / "report.json")
    validate_report(report)
    assert report["summary"]["cases"] == 2 * 2 * 3 * 2  # faults x transports x operations x styles
    assert report["summary"]["violations"] == 0
    assert (run_dir / "index.html").read_text().startswith("<!DOCTYPE html>")
    assert "cases, " in err and "report:" in err


def test_json_mode_prints_only_the_report_on_stdout(tmp_path):
    code, out, err = run(["run", "--faults", "flood", "--transport", "plain", "--json", "--no-report", *FAST])
    assert code == 0
    report = json.loads(out)
    validate_report(report)
    assert {c["fault"] for c in report["cases"]} == {"flood"}
    assert all({"id", "operation", "fault", "transport", "outcome", "violations"} <= set(c) for c in report["cases"])


def test_same_seed_gives_identical_cases(tmp_path):
    args = ["run", "--faults", "econnreset,ewouldblock", "--transport", "plain", "--json", "--no-report",
            "--seed", "7", "--examples", "1", "--operations", "read_until,echo"]
    first = json.loads(run([*args, "--jobs", "1"])[1])
    second = json.loads(run([*args, "--jobs", "2"])[1])
    assert first["cases"] == second["cases"]
    assert first["run"]["jobs"] == 1 and second["run"]["jobs"] == 2
    other_args = [a if a != "7" else "8" for a in args]
    other = json.loads(run([*other_args, "--jobs", "1"])[1])
    assert [c["plan"] for c in other["cases"]] != [c["plan"] for c in first["cases"]]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "--faults", "bogus"], "valid kinds for transport plain,ssl: eintr, econnreset, ewouldblock, dribble, flood, ragged-eof"),
        (["run", "--transport", "carrier-pigeon"], "valid: plain, ssl, all"),
        (["run", "--operations", "read_everything"], "valid: read_bytes"),
        (["run", "--target", "nocolon"], "use module:factory"),
        (["run", "--target", "no_such_module_xyz:f"], "cannot import"),
        (["run", "--examples", "-1"], "negative"),
        (["run", "--faults", "connect-reset", "--operations", "read_bytes"], "the connect kinds fault the connect "
         "operation only"),
        (["run", "--faults", "ragged-eof", "--transport", "ssl", "--operations", "connect"], "the TLS kinds every "
         "operation but connect"),
        (["frobnicate"], "invalid choice"),
        (["replay", "/no/such/file.json"], "does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line_naming_the_valid_values(argv, needle):
    code, out, err = run(argv)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


@pytest.mark.parametrize("source, error", [
    ("raise RuntimeError('no config file')\n", "RuntimeError: no config file"),
    ("def broken(:\n", "SyntaxError: "),
])
def test_a_target_module_that_fails_to_import_is_a_usage_error_naming_module_and_error(tmp_path, monkeypatch,
                                                                                       source, error):
    (tmp_path / "target_fails_at_import.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run(["run", "--target", "target_fails_at_import:make", "--no-report", *FAST])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "importing module 'target_fails_at_import' raised" in err and error in err
    assert "bug in faultio" not in err


REPLAY_CASE = {"operation": "read_bytes", "style": "future", "fault": "eintr", "transport": "plain", "seed": 1,
               "plan": {"read": [{"kind": "eintr"}]}}


@pytest.mark.parametrize("data, needle", [
    ({"cases": 5}, "'cases' must be a list of case objects"),
    ({"cases": [5]}, "'cases' must be a list of case objects"),
    ({"case": 5}, "a case must be a JSON object"),
    ({"case": {**REPLAY_CASE, "operation": "read_everything"}}, "operation 'read_everything' is not valid; valid: "
                                                                "read_bytes"),
    ({"case": {**REPLAY_CASE, "operation": ["read_bytes"]}}, "is not valid; valid: read_bytes"),
    ({"case": {**REPLAY_CASE, "style": "sideways"}}, "style 'sideways' is not valid; valid: callback, future, "
                                                     "scenario"),
    ({"case": {**REPLAY_CASE, "style": "scenario"}}, "does not run in style 'scenario'; valid: callback, future"),
    ({"case": {**REPLAY_CASE, "fault": ""}}, "fault '' is not valid"),
    ({"case": {**REPLAY_CASE, "seed": None}}, "wrong types"),
    ({"case": {**REPLAY_CASE, "plan": {"read": [{"kind": ["eintr"]}]}}}, "valid read step kinds: chunk"),
    ({"case": REPLAY_CASE, "target": 5}, "not a 'module:factory' string"),
])
def test_replay_of_malformed_input_is_a_usage_error_in_one_line(tmp_path, data, needle):
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"format": "faultio-report/2" if "cases" in data else "faultio-case/1", **data}))
    code, out, err = run(["replay", str(path), *(["--case", "x"] if "cases" in data else [])])
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1


def test_replay_of_a_directory_is_a_usage_error_in_one_line(tmp_path):
    code, out, err = run(["replay", str(tmp_path)])
    assert code == 2 and "is a directory; give a report.json or a saved case file" in err
    assert len(err.strip().splitlines()) == 1


def test_unwritable_output_paths_are_refused_before_the_matrix_runs(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for argv, needle in [
        (["--report", str(a_file)], f"--report {a_file}: not a directory"),
        (["--report", str(a_file / "sub")], f"--report {a_file / 'sub'}: {a_file} is not a directory"),
        (["--no-report", "--junit-xml", str(tmp_path / "missing" / "x.xml")],
         f"the directory {tmp_path / 'missing'} does not exist"),
        (["--report", str(tmp_path / "reports"), "--junit-xml", str(tmp_path / "missing" / "x.xml")],
         "give a file path in an existing, writable directory"),
        (["--no-report", "--junit-xml", str(tmp_path)], "is a directory"),
    ]:
        code, out, err = run(["run", *argv, *FAST])
        assert code == 2, err
        assert needle in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing ran, nothing was written


def test_an_unknown_operation_is_reported_against_operations_even_when_named_like_a_transport():
    code, out, err = run(["run", "--operations", "transport"])
    assert code == 2
    assert err.startswith("--operations: unknown operation 'transport'")


@pytest.mark.parametrize("command", ["run", "selftest"])
@pytest.mark.parametrize("jobs", ["0", "-1", "many"])
def test_jobs_must_be_at_least_one(command, jobs):
    code, out, err = run([command, "--jobs", jobs])
    assert code == 2
    assert f"--jobs: {jobs!r} is not valid; give a whole number >= 1" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["replay", "-h"]])
def test_help_is_printed_on_the_given_stdout_and_exits_zero(argv, capsys):
    code, out, err = run(argv)
    assert code == 0
    assert out.startswith("usage: python -m harness") and err == ""
    assert capsys.readouterr() == ("", "")


def test_list_names_every_kind_operation_and_invariant():
    from harness.engine import INVARIANTS

    code, out, _ = run(["list"])
    assert code == 0
    for word in ["eintr", "flood", "read_until_regex", "echo", *INVARIANTS]:
        assert word in out
    for slug, spec in INVARIANTS.items():
        (line,) = [x for x in out.splitlines() if x.split()[:1] == [slug]]
        assert line.split()[1] == spec.klass


def test_class_chooses_what_fails_the_run_and_says_so(tmp_path):
    args = ["run", "--faults", "eintr", "--transport", "plain", "--operations", "write", "--no-report",
            "--examples", "0", "--jobs", "1", "--target", "_broken_targets:EintrClosesOnWrite"]
    code, _, err = run(args)  # its only finding is a design one: reported, not failing by default
    assert code == 0 and "design" in err
    assert "failing on contract findings (the default for a stream faultio did not write" in err
    code, _, err = run([*args, "--class", "all"])
    assert code == 1 and "FAIL write/" in err and "eintr-write-retried [design]" in err
    assert "failing on contract and design findings (--class)" in err
    code, _, err = run([*args, "--class", "none"])
    assert code == 2 and "invalid choice: 'none'" in err


def test_a_broken_target_exits_1_and_replay_reproduces_the_violation(tmp_path):
    code, out, err = run(["run", "--faults", "eintr", "--transport", "plain", "--report", str(tmp_path),
                          "--target", "_broken_targets:EintrClosesOnRead", *FAST])
    assert code == 1
    assert "FAIL read_bytes/" in err and "eintr-invisible [contract]" in err
    assert "failing on contract findings (the default for a stream faultio did not write" in err
    (run_dir,) = tmp_path.iterdir()
    report = load_report(run_dir / "report.json")
    failing = [c for c in report["cases"] if c["outcome"] == "violation"]
    assert failing and all(c["trace"] for c in failing)
    case = failing[0]
    assert "--target _broken_targets:EintrClosesOnRead" in case["replay"]
    code, out, err = run(["replay", str(run_dir / "report.json"), "--case", case["id"], "--target",
                          "_broken_targets:EintrClosesOnRead"])
    assert code == 1
    assert f"VIOLATION {case['violations'][0]}" in out
    assert "injected=True" in out
    # Without --target, replay never imports the module the file names: it runs the default and says how to
    # run the named one.
    code, out, err = run(["replay", str(run_dir / "report.json"), "--case", case["id"]])
    assert code == 0 and "outcome: pass" in out
    assert "add --target _broken_targets:EintrClosesOnRead" in out


def test_replay_never_imports_a_module_named_in_the_file(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_target.py").write_text(f"open({str(marker)!r}, 'w').close()\nmake = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, _ = run(["run", "--faults", "eintr", "--transport", "plain", "--operations", "read_bytes",
                      "--report", str(tmp_path / "r"), *FAST])
    (run_dir,) = (tmp_path / "r").iterdir()
    report = load_report(run_dir / "report.json")
    report["target"] = "evil_target:make"
    (tmp_path / "evil.json").write_text(json.dumps(report))
    code, out, _ = run(["replay", str(tmp_path / "evil.json"), "--case", report["cases"][0]["id"]])
    assert not marker.exists()
    assert "the file names target 'evil_target:make'" in out and "--target evil_target:make" in out


def test_a_shrunk_generated_failure_is_saved_as_a_case_file_that_replays_without_case(tmp_path):
    code, out, err = run(["run", "--faults", "eintr", "--transport", "plain", "--operations", "read_bytes,echo",
                          "--examples", "4", "--jobs", "1", "--report", str(tmp_path),
                          "--target", "_broken_targets:EintrClosesOnRead"])
    assert code == 1
    (run_dir,) = tmp_path.iterdir()
    report = load_report(run_dir / "report.json")
    generated = [c for c in report["cases"] if c["origin"] == "generated" and c["outcome"] != "pass"]
    files = sorted((run_dir / "cases").iterdir())
    assert generated and len(files) == len(generated)
    for path in files:
        flag = "--target _broken_targets:EintrClosesOnRead"
        assert f"     case file: python -m harness replay {path} {flag}\n" in err
        data = json.loads(path.read_text())
        assert data["target"] == "_broken_targets:EintrClosesOnRead"
        case = next(c for c in generated if c["id"] == data["case"]["id"])
        code, out, _ = run(["replay", str(path), *flag.split()])
        assert code == 1
        assert f"VIOLATION {case['violations'][0]}" in out


def test_replay_of_a_report_without_case_lists_failing_ids(tmp_path):
    run(["run", "--faults", "eintr", "--transport", "plain", "--report", str(tmp_path),
         "--target", "_broken_targets:EintrClosesOnRead", *FAST])
    (run_dir,) = tmp_path.iterdir()
    code, out, err = run(["replay", str(run_dir / "report.json")])
    assert code == 2 and "failing cases: read_bytes/" in err


def test_a_crashing_target_factory_is_an_error_case_not_a_crash(tmp_path):
    code, out, err = run(["run", "--faults", "eintr", "--transport", "plain", "--json", "--no-report",
                          "--target", "_broken_targets:explode", *FAST])
    assert code == 1
    report = json.loads(out)
    assert {c["outcome"] for c in report["cases"]} == {"error"}
    assert "boom" in report["cases"][0]["details"][0]["message"]


def test_python_dash_m_harness_runs_as_a_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--faults", "bogus"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown fault kind 'bogus'" in proc.stderr


def test_replay_refuses_other_format_versions_and_hostile_nesting(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": "faultio-report/1", "cases": [], "target": "faultio:IOStream"}))
    code, _, err = run(["replay", str(old), "--case", "x"])
    assert code == 2 and "is a report of format 'faultio-report/1'" in err and "'faultio-report/2'" in err
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps({"format": "faultio-case/9", "case": {}}))
    code, _, err = run(["replay", str(case_file)])
    assert code == 2 and "is a case file of format 'faultio-case/9'" in err
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    code, _, err = run(["replay", str(deep)])
    assert code == 2 and "nests JSON too deeply" in err and len(err.splitlines()) == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where permissions say yes "
                    "but nothing can be created")
@pytest.mark.parametrize("option", [["--report", "/proc/faultio-report"], ["--no-report", "--junit-xml",
                                                                           "/proc/faultio.xml"]])
def test_an_output_path_that_cannot_be_written_is_refused_before_the_run(option):
    code, out, err = run(["run", *option, *FAST])
    assert code == 2 and out == "" and "cannot write" in err and len(err.strip().splitlines()) == 1


def test_list_shows_each_time_kind_on_a_line_of_its_own():
    code, out, _ = run(["list"])
    assert code == 0
    lines = out.splitlines()
    for kind in ("stall", "latency", "bandwidth", "limit-data", "slow-close", "send-stall"):
        assert sum(1 for line in lines if line.split()[:1] == [kind]) == 1, kind
    assert "read_deadline" in out and "deadline-on-time" in out
