import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultio._buffer import ReadBuffer


def filled(*chunks):
    buf = ReadBuffer()
    for chunk in chunks:
        buf.append(chunk)
    return buf


def test_consume_returns_bytes_in_arrival_order_and_tracks_size():
    buf = filled(b"hello ", b"world")
    assert (len(buf), bool(buf)) == (11, True)
    assert buf.consume(0) == b""
    assert buf.consume(3) == b"hel"
    assert buf.consume(8) == b"lo world"
    assert (len(buf), bool(buf)) == (0, False)


@pytest.mark.parametrize("bad", [-1, 6], ids=["negative", "more-than-held"])
def test_consume_refuses_counts_outside_the_buffer(bad):
    buf = filled(b"abcde")
    with pytest.raises(ValueError):
        buf.consume(bad)
    assert buf.consume(5) == b"abcde"


def test_consume_shrinks_only_once_the_consumed_prefix_outgrows_the_rest():
    buf = filled(b"0123456789")
    buf.consume(4)
    assert (buf.pos, len(buf.data)) == (4, 10)  # 4 consumed <= 6 left: no move yet
    buf.consume(2)
    assert (buf.pos, len(buf.data)) == (0, 4)  # 6 consumed > 4 left: prefix deleted
    assert bytes(buf.data) == b"6789"


def test_layout_invariant_holds_over_a_random_mix_of_appends_and_consumes():
    rng = random.Random(42)
    buf = ReadBuffer()
    expected = bytearray()
    for _ in range(2000):
        if rng.random() < 0.55:
            chunk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
            buf.append(chunk)
            expected += chunk
        else:
            n = rng.randint(0, len(expected))
            assert buf.consume(n) == bytes(expected[:n])
            del expected[:n]
        assert len(buf.data) == buf.pos + buf.size
        assert buf.size == len(expected)
        assert buf.pos <= buf.size  # the shrink rule never lets garbage outgrow live bytes


def test_find_reports_the_first_delimiter_relative_to_the_read_position():
    buf = filled(b"xx\r\nyy\r\n")
    buf.consume(1)
    assert buf.find(b"\r\n") == 1
    assert buf.find(b"zz") == -1


def test_find_catches_a_delimiter_split_across_two_arrivals():
    buf = filled(b"abc\r")
    assert buf.find(b"\r\n") == -1
    buf.append(b"\ndef")
    assert buf.find(b"\r\n") == 3


def test_find_resumes_where_it_stopped_so_one_byte_dribbles_cost_linear_work():
    buf = ReadBuffer()
    n = 20_000
    for _ in range(n):
        buf.append(b"a")
        assert buf.find(b"END") == -1
    for byte in b"END":
        buf.append(bytes([byte]))
    assert buf.find(b"END") == n
    # Each byte is looked at about once (plus the len-1 overlap); a rescan would be n*n/2.
    assert buf.examined < 4 * n


def test_find_starts_over_for_a_different_delimiter_or_after_a_consume():
    buf = filled(b"a;b,c")
    assert buf.find(b"!") == -1
    assert buf.find(b";") == 1  # new delimiter: the earlier scan says nothing about it
    assert buf.find(b"!") == -1
    buf.consume(2)
    assert buf.find(b",") == 1


def test_search_reports_where_the_first_regex_match_ends_and_rescans_each_time():
    buf = filled(b"id=12;rest")
    pattern = re.compile(rb"\d+;")
    assert buf.search(pattern) == 6
    before = buf.examined
    assert buf.search(re.compile(rb"zz")) == -1
    assert buf.examined - before == len(buf)



@pytest.mark.parametrize(
    "pattern",
    [rb"^HELLO", rb"\AHELLO", rb"(?<!y)HELLO", rb"(?<![a-z])HELLO"],
    ids=["caret", "backslash-A", "lookbehind-consumed-byte", "lookbehind-class"],
)
def test_search_sees_only_unconsumed_bytes_so_anchors_match_at_the_read_position(pattern):
    regex = re.compile(pattern)
    fresh = filled(b"HELLO")
    assert fresh.search(regex) == 5
    buf = filled(b"xyHELLO")
    assert buf.consume(2) == b"xy"
    assert buf.pos == 2  # the consumed prefix is still in ``data``: the case that used to fail
    assert buf.search(regex) == fresh.search(regex)


def test_search_does_not_match_an_anchor_inside_the_unconsumed_bytes():
    buf = filled(b"xyHELLO")
    buf.consume(1)
    assert buf.search(re.compile(rb"^HELLO")) == -1  # "yHELLO": HELLO is not at the read position
    assert buf.search(re.compile(rb"^yHELLO")) == 6


def test_search_leaves_the_buffer_free_to_grow_and_shrink():
    buf = filled(b"ab", b"cd")
    buf.consume(1)
    assert buf.search(re.compile(rb"c")) == 2
    # No view of ``data`` may outlive the search: resizing a bytearray with a live export fails.
    buf.append(b"ef")
    assert buf.consume(5) == b"bcdef"


def test_clear_forgets_everything():
    buf = filled(b"abc")
    buf.find(b"x")
    buf.clear()
    assert (len(buf), buf.pos, bytes(buf.data)) == (0, 0, b"")
    buf.append(b"xy")
    assert buf.find(b"x") == 0


@settings(derandomize=True, max_examples=200, deadline=None, database=None)
@given(
    chunks=st.lists(st.binary(max_size=12), max_size=30),
    delimiter=st.sampled_from([b"\n", b"\r\n", b"ab", b"aba", b"\x00\x00\x00"]),
)
def test_resumable_find_always_agrees_with_a_full_scan(chunks, delimiter):
    buf = ReadBuffer()
    whole = b""
    for chunk in chunks:
        buf.append(chunk)
        whole += chunk
        assert buf.find(delimiter) == whole.find(delimiter)
