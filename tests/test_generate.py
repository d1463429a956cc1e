"""harness._generate: generated mixed-fault cases, shrunk failures, determinism, bounds, replay files."""

from __future__ import annotations

import importlib
import json
import sys

import pytest
from hypothesis import configuration

import _broken_streams
import harness._generate as generate
from faultio import Eintr, FaultPlan
from harness._case import Case
from harness._generate import (
    CASE_FILE_FORMAT,
    GENERATED_FAULT,
    explain,
    generated_cells,
    run_generated,
    save_case,
    signature,
)
from harness._runner import derive_seed, run_case
from harness._scenarios import OPERATIONS
from harness._targets import TargetError, load_target

DEFAULT = "faultio:IOStream"
EINTR_CLOSES = "_broken_streams:EintrCloses"
#: Cells faultio's own stream passes for the seeds used here (see the findings below for one it does not).
GOOD_CELLS = [
    ("read_bytes", "future", "plain"),
    ("read_until", "callback", "plain"),
    ("write", "future", "plain"),
    ("echo", "scenario", "ssl"),
    ("read_bytes_partial", "callback", "ssl"),
]
BROKEN_CELLS = [("read_bytes", "future", "plain"), ("read_until", "callback", "plain")]


def fingerprint(results):
    return [(r.case.id, r.case.seed, r.case.plan.dumps(), r.outcome, r.slugs, r.shrunk and r.shrunk.dumps())
            for r in results]


@pytest.fixture(scope="module")
def broken_results():
    return run_generated(BROKEN_CELLS, seed=0, examples=6, target_spec=EINTR_CLOSES)


# --- cells ---------------------------------------------------------------------------------------------


def test_generated_cells_are_every_operation_style_and_transport_in_matrix_order():
    cells = generated_cells()
    per_transport = sum(len(styles) for _, styles in OPERATIONS.values())
    assert per_transport == 21  # 8 operations in two styles, echo, read_deadline and write_deadline in one, connect in two
    assert len(cells) == len(set(cells)) == 2 * per_transport
    assert [c[2] for c in cells] == ["plain"] * per_transport + ["ssl"] * per_transport
    assert generated_cells(["echo"], ["ssl"]) == [("echo", "scenario", "ssl")]


@pytest.mark.parametrize("cell", [("nope", "future", "plain"), ("echo", "future", "plain"),
                                  ("read_bytes", "future", "tcp"), ("read_bytes", "future")],
                         ids=["operation", "style", "transport", "shape"])
def test_a_bad_cell_is_refused_naming_the_valid_values(cell):
    with pytest.raises(ValueError, match="valid|operation, style, transport"):
        run_generated([cell], seed=0, examples=1, target_spec=DEFAULT)


@pytest.mark.parametrize("kwargs", [{"examples": -1}, {"jobs": 0}, {"shrink_calls": -1}, {"examples": 1.5}],
                         ids=["examples", "jobs", "shrink_calls", "float"])
def test_bad_counts_are_refused(kwargs):
    options = {"seed": 0, "examples": 1, "target_spec": DEFAULT, **kwargs}
    with pytest.raises(ValueError):
        run_generated(GOOD_CELLS[:1], **options)


def test_a_bad_target_spec_is_refused_before_any_case_runs():
    with pytest.raises(TargetError):
        run_generated(GOOD_CELLS[:2], seed=0, examples=1, target_spec="no_such_module:Stream", jobs=2)


def test_zero_examples_run_nothing():
    assert run_generated(GOOD_CELLS, seed=0, examples=0, target_spec=DEFAULT) == []


# --- faultio's own stream ------------------------------------------------------------------------------


def test_faultio_stream_passes_generated_mixed_fault_cases():
    seen = []
    results = run_generated(GOOD_CELLS, seed=0, examples=3, target_spec=DEFAULT, progress=seen.append)
    assert [r.outcome for r in results] == ["pass"] * len(GOOD_CELLS) * 3, [
        explain(r) for r in results if r.outcome != "pass"]
    assert seen == results
    for i, cell in enumerate(GOOD_CELLS):
        chunk = results[3 * i : 3 * i + 3]
        assert [(r.case.operation, r.case.style, r.case.transport) for r in chunk] == [cell] * 3
        assert [r.case.index for r in chunk] == [0, 1, 2]
        assert {r.case.origin for r in chunk} == {"generated"}
        assert {r.case.fault for r in chunk} == {GENERATED_FAULT}
        assert {r.case.seed for r in chunk} == {derive_seed(0, cell[0], cell[1], GENERATED_FAULT, cell[2])}
        plans = [r.case.plan for r in chunk]
        assert len(set(plans)) == 3 and not any(p.is_clean for p in plans)
        assert all(r.shrunk is None for r in chunk)
    assert len({r.case.id for r in results}) == len(results)


def test_plain_read_cells_get_no_write_faults_but_tls_and_write_cells_may():
    results = run_generated([("read_until", "future", "plain")], seed=3, examples=8, target_spec=DEFAULT)
    assert all(r.case.plan.write == () for r in results)
    assert generate.plan_strategy("read_until", "plain") is not None
    for cell in (("read_until", "future", "ssl"), ("write", "future", "plain")):
        results = run_generated([cell], seed=3, examples=8, target_spec=DEFAULT)
        assert any(r.case.plan.write for r in results), cell


# --- determinism ---------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_results():
    first = run_generated(GOOD_CELLS[:3], seed=7, examples=3, target_spec=DEFAULT)
    again = run_generated(GOOD_CELLS[:3], seed=7, examples=3, target_spec=DEFAULT)
    assert fingerprint(again) == fingerprint(first)
    other = run_generated(GOOD_CELLS[:3], seed=8, examples=3, target_spec=DEFAULT)
    assert [r.case.plan for r in other] != [r.case.plan for r in first]


def test_jobs_change_nothing_but_speed_including_shrinking(broken_results):
    cells = BROKEN_CELLS + [("echo", "scenario", "plain")]
    one = run_generated(cells, seed=0, examples=6, target_spec=EINTR_CLOSES)
    two = run_generated(cells, seed=0, examples=6, target_spec=EINTR_CLOSES, jobs=2)
    assert fingerprint(two) == fingerprint(one)
    assert fingerprint(one[: len(broken_results)]) == fingerprint(broken_results)
    assert any(r.shrunk is not None for r in one)


def test_results_do_not_depend_on_the_source_modules_loaded_before(tmp_path, monkeypatch):
    """Hypothesis may draw integers from the literals of loaded local modules; the generator switches that
    off, or a seed would mean different plans under pytest, the CLI, another target, or another worker."""
    # A write cell draws from wide integer ranges (offsets, sizes up to 2800), where the literals would land.
    cells = [("write", "future", "plain")]
    before = [run_generated(cells, seed=seed, examples=10, target_spec=DEFAULT) for seed in (0, 2, 3)]
    name = "faultio_generated_literals"
    (tmp_path / f"{name}.py").write_text("VALUES = (" + ", ".join(map(str, range(100, 1000))) + ")\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, name, importlib.import_module(name))
    after = [run_generated(cells, seed=seed, examples=10, target_spec=DEFAULT) for seed in (0, 2, 3)]
    assert [fingerprint(a) for a in after] == [fingerprint(b) for b in before]


# --- a broken stream: found, shrunk, replayable --------------------------------------------------------


def test_a_stream_that_closes_on_eintr_is_caught_and_shrunk_to_one_eintr(broken_results):
    failures = [r for r in broken_results if r.outcome != "pass"]
    assert [(r.case.operation, r.case.style) for r in failures] == [c[:2] for c in BROKEN_CELLS]
    for result in failures:
        assert result.outcome == "violation"
        assert "eintr-invisible" in result.slugs
        assert result.case.plan == FaultPlan(read=(Eintr(),), name=GENERATED_FAULT)
        assert result.shrunk == result.case.plan
        assert result.case.origin == "generated"
        # The failure comes last in its cell, after the examples that passed, and keeps its own index.
        cell = [r for r in broken_results if r.case.operation == result.case.operation]
        assert cell[-1] is result and [r.case.index for r in cell[:-1]] == list(range(len(cell) - 1))
        assert result.case.index == len(cell) - 1


def test_a_shrunk_failure_still_fails_when_run_again(broken_results):
    target = load_target(EINTR_CLOSES)
    for result in broken_results:
        if result.outcome != "pass":
            again = run_case(result.case, target)
            assert signature(again) == signature(result)
            assert again.slugs == result.slugs


def test_a_shrunk_failure_explains_itself(broken_results):
    result = broken_results[-1]
    text = explain(result)
    assert result.case.id in text
    assert result.case.plan.dumps() in text
    assert "eintr-invisible" in text
    assert "injected=True" in text  # the trace shows the EINTR going in


def test_a_saved_case_replays_to_the_same_violation(broken_results, tmp_path):
    result = broken_results[-1]
    path = save_case(result, tmp_path / "cases", target=EINTR_CLOSES)
    assert path.parent == tmp_path / "cases" and path.suffix == ".json"
    data = json.loads(path.read_text())
    assert data["format"] == CASE_FILE_FORMAT and data["target"] == EINTR_CLOSES
    assert data["outcome"] == "violation"
    assert [v["slug"] for v in data["violations"]] == [v.slug for v in result.violations]
    case = Case.from_json(data["case"])
    assert case == result.case  # index included: a generated case's payloads depend on it
    assert run_case(case, load_target(EINTR_CLOSES)).slugs == result.slugs
    assert save_case(result, tmp_path / "cases") == path  # same case, same file, replaced atomically
    assert "target" not in json.loads(path.read_text())


def test_a_saved_case_holds_exactly_the_case_json(broken_results, tmp_path):
    result = broken_results[-1]
    data = json.loads(save_case(result, tmp_path).read_text())
    assert data["case"] == result.case.to_json() and data["case"]["index"] == result.case.index


@pytest.mark.parametrize("cap", [0, 3])
def test_shrinking_runs_a_bounded_number_of_cases(monkeypatch, cap):
    calls = []

    def counting(case, *args, **kwargs):
        calls.append(case)
        return run_case(case, *args, **kwargs)

    monkeypatch.setattr(generate, "run_case", counting)
    examples = 6
    results = run_generated(BROKEN_CELLS[:1], seed=0, examples=examples, target_spec=EINTR_CLOSES,
                            shrink_calls=cap)
    failure = results[-1]
    assert failure.outcome == "violation" and "eintr-invisible" in failure.slugs
    # generation + (regeneration up to the failure + the clean plan + the cap) + one confirming run
    assert len(calls) <= examples + (failure.case.index + 1 + cap) + 1
    if failure.shrunk is None:  # the cap stopped run 2 before it met the failure again: kept as found
        assert any(isinstance(s, Eintr) for s in failure.case.plan.read)


def test_a_harness_error_is_raised_at_once_not_shrunk(monkeypatch):
    calls = []

    def broken_runner(case, *args, **kwargs):
        calls.append(case)
        raise RuntimeError("harness bug")

    monkeypatch.setattr(generate, "run_case", broken_runner)
    with pytest.raises(RuntimeError, match="harness bug"):
        run_generated(GOOD_CELLS[:1], seed=0, examples=5, target_spec=DEFAULT)
    assert len(calls) == 1


def test_a_target_that_keeps_state_between_cases_is_reported_not_shrunk():
    _broken_streams.reset_state()
    results = run_generated(BROKEN_CELLS[:1], seed=0, examples=6, target_spec="_broken_streams:FirstEintrCloses")
    failure = results[-1]
    assert failure.outcome == "error"
    assert "keep state between cases" in failure.error
    assert "eintr-invisible" in failure.slugs


def test_generating_and_shrinking_write_nothing_to_hypothesis_storage(tmp_path):
    home = configuration.storage_directory(intent_to_write=False).home_directory
    configuration.set_hypothesis_home_dir(tmp_path / "hypothesis-home")
    try:
        results = run_generated(BROKEN_CELLS[:1], seed=1, examples=4, target_spec=EINTR_CLOSES)
    finally:
        configuration.set_hypothesis_home_dir(home)
    assert results[-1].shrunk is not None
    assert not (tmp_path / "hypothesis-home").exists()

