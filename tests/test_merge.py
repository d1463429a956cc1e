import io
import json
import xml.etree.ElementTree as ET

import pytest

from harness._cli import main
from harness._report_json import load_report

# A stream with a planted bug (EINTR closes it), so the runs have violations to compare, not only passes.
BASE = ["run", "--target", "_broken_streams:EintrCloses", "--transport", "plain", "--faults", "eintr,dribble",
        "--operations", "read_bytes,read_until,read_until_close", "--examples", "1", "--jobs", "1",
        "--case-timeout", "20", "-q"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def one_report(directory):
    (run_dir,) = directory.iterdir()
    return run_dir, load_report(run_dir / "report.json")


def comparable(case):
    """A case without its replay command (which names the report it is in)."""
    return {key: value for key, value in case.items() if key != "replay"}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    codes = {}
    for name, extra in (("whole", []), ("s0", ["--shard", "0/2"]), ("s1", ["--shard", "1/2"])):
        codes[name], _, err = run([*BASE, *extra, "--report", str(base / name)])
        assert codes[name] in (0, 1), err
    return base, codes


def test_shards_0_and_1_of_2_merged_equal_the_unsharded_run(shards):
    base, codes = shards
    _, whole = one_report(base / "whole")
    d0, r0 = one_report(base / "s0")
    d1, r1 = one_report(base / "s1")
    assert r0["shard"] == {"index": 0, "count": 2} and r1["shard"] == {"index": 1, "count": 2}
    assert r0["cases"] and r1["cases"], "both shards hold cases"
    assert not {c["id"] for c in r0["cases"]} & {c["id"] for c in r1["cases"]}
    junit = base / "merged.xml"
    code, _, err = run(["merge", str(d1), str(d0 / "report.json"), "--report", str(base / "merged"),
                        "--junit-xml", str(junit)])
    assert code == codes["whole"] == 1, err  # the planted bug fails both, with the same exit code
    merged_dir, merged = one_report(base / "merged")
    assert [c["id"] for c in merged["cases"]] == [c["id"] for c in whole["cases"]]
    assert [comparable(c) for c in merged["cases"]] == [comparable(c) for c in whole["cases"]]
    assert any(c["violations"] for c in merged["cases"])
    assert merged["summary"] == whole["summary"]
    assert merged["command"] == whole["command"] and "--shard" not in merged["command"]
    assert "shard" not in merged and merged["merged"]["shards"] == 2
    # The replay commands point at the merged report; the page and the JUnit file count the same cases.
    assert all(str(merged_dir / "report.json") in c["replay"] for c in merged["cases"])
    assert "Merged" in (merged_dir / "index.html").read_text()
    root = ET.parse(junit).getroot()
    assert int(root.get("tests")) == whole["summary"]["cases"]
    assert int(root.get("failures")) + int(root.get("errors")) == whole["summary"]["failing"]


def test_merge_refuses_shards_of_different_runs_missing_shards_and_overlaps(shards, tmp_path):
    base, _ = shards
    d0, r0 = one_report(base / "s0")
    d1, r1 = one_report(base / "s1")
    whole_dir, _ = one_report(base / "whole")

    def merge(*sources):
        code, _, err = run(["merge", *map(str, sources), "--no-report"])
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        return err

    assert "shard(s) 1/2 missing" in merge(d0)
    assert "given twice" in merge(d0, d0)
    assert "is not the report of a shard" in merge(whole_dir, d0)
    other = dict(r1, seed=5)
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "report.json").write_text(json.dumps(other))
    assert "their seed differ" in merge(d0, tmp_path / "seed")
    overlap = dict(r1, cases=r1["cases"] + [r0["cases"][0]])
    overlap["summary"] = dict(r1["summary"])
    for key, n in (("cases", 1), ("passed", r0["cases"][0]["outcome"] == "pass"),
                   ("violations", r0["cases"][0]["outcome"] == "violation"), ("failing", r0["cases"][0]["fails"])):
        overlap["summary"][key] += int(n)
    overlap["summary"]["contract"] += int("contract" in r0["cases"][0]["classes"])
    (tmp_path / "overlap").mkdir()
    (tmp_path / "overlap" / "report.json").write_text(json.dumps(overlap))
    assert "is in" in merge(d0, tmp_path / "overlap") and r0["cases"][0]["id"] in merge(d0, tmp_path / "overlap")
    assert "is not a report" in merge(d0, tmp_path / "nothing-here")


def test_a_sharded_run_says_its_shard_in_the_command_and_the_page(shards):
    base, _ = shards
    d0, r0 = one_report(base / "s0")
    assert "--shard 0/2" in r0["command"]
    assert "Shard</th>" in (d0 / "index.html").read_text()


def test_an_interrupted_shard_makes_the_merged_report_incomplete_and_exit_4(shards, tmp_path):
    base, _ = shards
    d0, _ = one_report(base / "s0")
    _, r1 = one_report(base / "s1")
    stopped = dict(r1, incomplete={"reason": "interrupted by SIGTERM", "planned": len(r1["cases"]) + 5,
                                   "ran": len(r1["cases"])})
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "report.json").write_text(json.dumps(stopped))
    code, _, err = run(["merge", str(d0), str(tmp_path / "s1"), "--report", str(tmp_path / "m")])
    assert code == 4, err
    _, merged = one_report(tmp_path / "m")
    assert merged["incomplete"]["reason"] == "shard 1/2 interrupted by SIGTERM"
    assert merged["incomplete"]["ran"] == len(merged["cases"])
    assert merged["incomplete"]["planned"] == len(merged["cases"]) + 5
