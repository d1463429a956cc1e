import logging

import pytest

from faultio import BusyLoopError, Future, InvalidStateError


def broken(future):
    raise RuntimeError("broken callback")


@pytest.mark.parametrize("how", ["set_result", "set_exception"])
def test_every_done_callback_runs_even_when_an_earlier_one_raises(how):
    future = Future(label="read_bytes")
    seen = []
    future.add_done_callback(lambda f: seen.append("first"))
    future.add_done_callback(broken)
    future.add_done_callback(lambda f: seen.append("third"))
    if how == "set_result":
        future.set_result(b"abc")  # returns normally: the completer never sees the callback's error
    else:
        future.set_exception(ConnectionResetError())
    assert seen == ["first", "third"]
    assert future.done()


def test_a_raising_done_callback_is_logged_on_faultio_future_with_its_traceback(caplog):
    future = Future(label="read_until")
    future.add_done_callback(broken)
    with caplog.at_level(logging.ERROR, logger="faultio.future"):
        future.set_result(b"line\n")
    [record] = caplog.records
    assert record.name == "faultio.future"
    assert record.levelno == logging.ERROR
    assert record.exc_info[0] is RuntimeError
    assert "broken" in record.getMessage() and "read_until" in record.getMessage()
    assert "broken callback" in caplog.text  # the traceback is in the log


def test_a_done_callback_added_to_a_done_future_is_isolated_too(caplog):
    future = Future()
    future.set_result(1)
    future.add_done_callback(broken)  # must not raise into the caller
    seen = []
    future.add_done_callback(lambda f: seen.append(f.result()))
    assert seen == [1]
    assert [r.name for r in caplog.records] == ["faultio.future"]


def test_a_base_exception_from_a_done_callback_still_propagates():
    future = Future()
    seen = []

    def spin(f):
        raise BusyLoopError("spinning")

    future.add_done_callback(spin)
    future.add_done_callback(lambda f: seen.append("after"))
    with pytest.raises(BusyLoopError):
        future.set_result(None)
    assert seen == []  # "stop now" means stop now


def test_a_second_completion_still_raises_invalid_state_error_with_raising_callbacks():
    future = Future()
    future.add_done_callback(broken)
    future.set_result(1)
    with pytest.raises(InvalidStateError, match="second time"):
        future.set_result(2)
    assert future.completions == 2 and future.result() == 1
