"""harness/__init__.py: the public namespace, and what importing it costs."""

import json
import subprocess
import sys

import pytest

import harness

PUBLIC = ["INVARIANTS", "Case", "CaseResult", "Checker", "ConformanceError", "ConformanceResult", "Invariant",
          "Target", "TargetError", "Violation", "build_cases", "check_stream", "invariant", "load_target",
          "run_case", "run_cases"]


def test_all_is_the_public_surface_alphabetised_constants_first():
    assert harness.__all__ == PUBLIC
    assert harness.__all__ == sorted(harness.__all__, key=lambda n: (not n.isupper(), n))


def test_every_public_name_is_the_implementation_s_own_object():
    from harness import _case, _matrix, _runner, _targets, conformance, engine

    homes = {"INVARIANTS": engine, "Invariant": engine, "Checker": engine, "invariant": engine, "Case": _case,
             "CaseResult": _case, "Violation": engine, "Target": _targets, "TargetError": _targets, "load_target": _targets,
             "build_cases": _matrix, "run_cases": _matrix, "run_case": _runner, "check_stream": conformance,
             "ConformanceError": conformance, "ConformanceResult": conformance}
    assert sorted(homes) == sorted(PUBLIC)
    for name, module in homes.items():
        assert getattr(harness, name) is getattr(module, name), name
    assert set(PUBLIC) <= set(dir(harness))


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no_such_name"):
        harness.no_such_name  # noqa: B018


def test_the_public_names_run_a_case_end_to_end():
    from harness import INVARIANTS, build_cases, load_target, run_case

    (case, *_) = build_cases(faults=["eintr"], transports=["plain"], operations=["read_bytes"], seed=0)
    result = run_case(case, load_target("faultio:IOStream"))
    assert result.outcome == "pass" and "eintr-invisible" in INVARIANTS


def test_importing_harness_loads_neither_openssl_nor_hypothesis_nor_faultio():
    code = ("import harness, sys, json; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('OpenSSL', 'cryptography', 'hypothesis', 'faultio') or m.startswith('harness.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
