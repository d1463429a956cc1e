"""docs/workloads.md: its example of the workload strategies in a user's own Hypothesis test runs and passes,
and a planted off-by-one in the example's code is caught by it."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings

#: Seeded, and no example database: the example's tests run as the user would run them, reproducibly.
SEEDED = settings(database=None, derandomize=True, max_examples=100, deadline=None)

DOC = (Path(__file__).resolve().parent.parent / "docs" / "workloads.md").read_text()


def _example_namespace(source: str) -> dict:
    namespace: dict = {}
    exec(compile(source, "docs/workloads.md", "exec"), namespace)
    return namespace


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC, re.S)


def _example() -> str:
    """The example of the workload strategies in a user's own test: the first block."""
    return _blocks()[0]


def test_the_documented_sequence_example_runs():
    (block,) = [b for b in _blocks() if "Sequence.from_json" in b]
    namespace = _example_namespace(block)
    from faultio import Sequence

    assert namespace["seq"].size == 4
    found = []
    SEEDED(given(namespace["drawn"])(lambda seq: found.append(isinstance(seq, Sequence))))()
    assert found and all(found)


def test_the_documented_example_passes():
    namespace = _example_namespace(_example())
    tests = [SEEDED(v) for k, v in namespace.items() if k.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


@pytest.mark.parametrize("good, planted", [
    ("if end > self.max_line:", "if end >= self.max_line:"),        # a line of exactly max_line refused
    ("self.pending += data", "self.pending = data"),                  # a delimiter split across recvs lost
])
def test_the_documented_example_catches_a_planted_bug(good, planted):
    source = _example()
    assert good in source
    namespace = _example_namespace(source.replace(good, planted))
    failures = 0
    for name, test in namespace.items():
        if name.startswith("test_"):
            try:
                SEEDED(test)()
            except Exception:
                failures += 1
    assert failures >= 1
