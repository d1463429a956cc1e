"""harness._plugin_sequences: the fault_sequences fixture, used the way another project would (pytester)."""

import re

import pytest
from _plugin_project import STRICT_INI

import harness._plugin_sequences  # noqa: F401 - kept across pytester's in-process runs
import harness._sequences  # noqa: F401

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester):
    """A fresh project directory with the repository's own strict pytest policy."""
    pytester.makeini(STRICT_INI)
    return pytester

CONFTEST = '''
import pytest

from {module} import {name}


@pytest.fixture
def fault_stream_factory():
    return {name}
'''

CHECK = '''
def test_my_stream_survives_generated_sequences(fault_sequences):
    results = fault_sequences.check(count={count})
    assert len(results) == {count} and all(r.outcome == "pass" for r in results)
'''


def test_a_correct_stream_passes_generated_sequences(project):
    project.makeconftest(CONFTEST.format(module="faultio", name="IOStream"))
    project.makepyfile(test_seq=CHECK.format(count=40))
    result = project.runpytest_inprocess("-q")
    result.assert_outcomes(passed=1)


def test_a_broken_stream_fails_with_the_shrunk_sequence_and_its_json(project):
    # A user's stream that refuses a write filling max_write_buffer_size exactly (an off-by-one).
    project.makeconftest(CONFTEST.format(module="harness._workload_mutants", name="WriteLimitOneShort"))
    project.makepyfile(test_seq=CHECK.format(count=150))
    result = project.runpytest_inprocess("-q")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "faultio: generated sequence #" in out and "[model-contract]" in out
    shrunk = re.search(r"shrunk to (\d+) op\(s\) and (\d+) plan step\(s\)", out)
    assert shrunk and int(shrunk.group(1)) <= 4 and int(shrunk.group(2)) <= 3, out
    assert "sequence JSON: {" in out and "write(nbytes=" in out


def test_run_judges_a_sequence_from_the_users_own_hypothesis_test(project):
    project.makeconftest(CONFTEST.format(module="harness._workload_mutants", name="WriteLimitOneLong"))
    project.makepyfile(test_own='''
from hypothesis import HealthCheck, given, settings

from faultio import Sequence, StreamLimits, Workload, WriteOp
from faultio.strategies import sequences


@settings(max_examples=20, database=None, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seq=sequences(max_ops=3))
def test_no_drawn_sequence_crashes_the_judge(fault_sequences, seq):
    assert fault_sequences.run(seq).outcome in ("pass", "violation")


def test_a_write_one_past_the_limit_is_caught(fault_sequences):
    limits = StreamLimits(max_buffer_size=16, read_chunk_size=8, max_write_buffer_size=4)
    seq = Sequence(workload=Workload(limits=limits, data=b"", chunks=(), ops=(WriteOp(nbytes=5),)),
                   styles=("future",))
    result = fault_sequences.run(seq)
    assert result.outcome == "violation" and result.slugs == ["model-contract"]
    assert "must raise StreamBufferFullError" in result.violations[0].message
''')
    result = project.runpytest_inprocess("-q")
    result.assert_outcomes(passed=2)
