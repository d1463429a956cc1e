"""The benchmark scripts run and report what they promise (a smoke run at tiny sizes; no figure is judged)."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sim_vs_real_json_has_every_scenario_by_wall_clock_and_cpu_time(capsys):
    pytest.importorskip("tornado")
    bench = _load("bench_sim_vs_real")
    assert bench.main(["--rounds", "2", "--size", "64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    scenarios = {"sim", "sim+trace", "sim+monitors", "tornado6", "floor"}
    assert len(report["rounds"]) == len(report["cpu_rounds"]) == 2
    assert set(report["best"]) == set(report["best_cpu"]) == scenarios
    assert all(value > 0 for value in report["best"].values())
    assert set(report["ratios"]) == set(report["cpu_ratios"]) == {"tornado6/sim", "tornado6/sim+trace",
                                                                   "tornado6/sim+monitors", "tornado6/floor"}
    assert report["goals"] == {"tornado6/sim": 10, "tornado6/sim+monitors": 5}


def test_the_dribble_gives_one_byte_per_readiness_event_and_linear_search_work():
    bench = _load("bench_core")
    _, examined, reads, cpu = bench.dribbled_read_until(256)
    # One data read and one EWOULDBLOCK per byte (and the two of the delimiter's two bytes); each byte looked
    # at a constant number of times by the delimiter search.
    assert reads == 2 * 256 + 2
    assert examined <= 3 * 258 and cpu >= 0


def test_the_campaign_benchmark_prints_both_rates_and_their_ratio(capsys):
    bench = _load("bench_campaign")
    assert bench.main(["--budget", "1", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "--jobs 1 plain" in out and "--jobs 1 campaign" in out
    (last,) = [line for line in out.splitlines() if line.startswith("--jobs 1: ")]
    assert "ratio campaign/plain = " in last and " CPU (median of 1 round(s))" in last


def test_the_campaign_benchmark_refuses_a_tree_without_the_harness(tmp_path, capsys):
    bench = _load("bench_campaign")
    with pytest.raises(SystemExit):
        bench.main(["--source", str(tmp_path)])
    assert "no harness/__main__.py there" in capsys.readouterr().err
