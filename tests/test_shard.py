import pytest

from faultio import FaultPlan
from harness._case import Case
from harness._cli_common import shard_spec
from harness._matrix import build_cases
from harness._shard import Shard, ShardError, case_unit, cell_unit, chunk_unit, parse_shard, shard_of


def test_parse_shard_reads_i_of_n():
    assert parse_shard("0/2") == Shard(index=0, count=2)
    assert parse_shard(" 3 / 4 ") == Shard(index=3, count=4)
    assert str(parse_shard("1/3")) == "1/3"


@pytest.mark.parametrize("text, needle", [
    ("2/2", "valid indexes are 0 to 1"),
    ("1/0", "give 1 to"),
    ("a/2", "give i/n"),
    ("1", "give i/n"),
    ("-1/2", "give i/n"),
    ("", "give i/n"),
])
def test_a_bad_shard_spec_says_what_is_valid(text, needle):
    with pytest.raises(ShardError, match=needle):
        parse_shard(text)
    with pytest.raises(Exception, match=needle):  # the argparse type says the same
        shard_spec(text)


def test_the_shard_of_a_unit_is_fixed_by_its_sha256_not_by_the_process():
    # Values computed once; Python's own hash() would give others in every process (PYTHONHASHSEED).
    assert shard_of("read_bytes/future/eintr/plain", 2) == 1
    assert shard_of("read_bytes/future/eintr/plain", 7) == 2
    assert shard_of("echo/scenario/mixed/ssl", 2) == 0
    assert shard_of("read_until/callback/mixed/plain@3", 7) == 6


def test_every_case_of_the_matrix_is_in_exactly_one_shard_and_both_halves_hold_some():
    cases = build_cases(faults=("eintr", "econnreset", "dribble"), transports=("plain", "ssl"))
    for count in (1, 2, 3, 5):
        owners = [[i for i in range(count) if Shard(index=i, count=count).holds(case_unit(c.id, c.origin))]
                  for c in cases]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(o == [i] for o in owners) for i in range(count)]
        assert all(size > 0 for size in sizes), sizes


def test_a_generated_case_belongs_to_its_cell_and_the_cell_unit_is_its_id_before_the_example_number():
    case = Case(operation="read_until", style="future", fault="mixed", transport="ssl", plan=FaultPlan(name="g"),
                seed=1, origin="generated", index=7)
    assert case.id == "read_until/future/mixed/ssl#7"
    assert case_unit(case.id, case.origin) == cell_unit("read_until", "future", "ssl") == "read_until/future/mixed/ssl"
    assert chunk_unit(cell_unit("read_until", "future", "ssl"), 0) != chunk_unit(
        cell_unit("read_until", "future", "ssl"), 1)
