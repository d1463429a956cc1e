"""The connect operation on the built-in third-party targets: Tornado 6 (harness/targets/tornado6.py's connector) and
asyncio streams (harness/targets/asyncio_connect.py)."""

import pytest

from faultio import FaultPlan
from faultio._connect_faults import ConnectRefused, ConnectReset, ConnectTimeout
from harness._case import Case
from harness._runner import derive_seed, run_case
from harness._targets import load_target

PLANS = {
    "clean": FaultPlan(),
    "refused-at-once": FaultPlan(write=(ConnectRefused(report="at-once"),), name="connect-refused:at-once"),
    "refused-so-error": FaultPlan(write=(ConnectRefused(report="so-error"),), name="connect-refused:so-error"),
    "reset-connecting": FaultPlan(write=(ConnectReset(when="connecting"),), name="connect-reset:connecting"),
    "reset-established": FaultPlan(write=(ConnectReset(when="established"),), name="connect-reset:established"),
    "timeout": FaultPlan(write=(ConnectTimeout(),), name="connect-timeout"),
}


def connect_case(plan_id, transport, profile="cpython"):
    fault = "eintr" if plan_id == "clean" else "connect-" + plan_id.split("-")[0]
    return Case(operation="connect", style="future", fault=fault, transport=transport, plan=PLANS[plan_id],
                seed=derive_seed(0, "connect", "future", fault, transport), profile=profile)


def events(result, source, kind):
    return [e["detail"] for e in result.trace if e["source"] == source and e["kind"] == kind]


@pytest.fixture(scope="module")
def tornado():
    pytest.importorskip("tornado")
    return load_target("tornado")


@pytest.fixture(scope="module")
def asyncio_streams():
    return load_target("asyncio-streams")


def test_both_targets_declare_the_callback_connect_lacking(tornado, asyncio_streams):
    assert tornado.lacking("connect", "callback") and asyncio_streams.lacking("connect", "callback")
    assert not tornado.lacking("connect", "future") and not asyncio_streams.lacking("connect", "future")


@pytest.mark.parametrize("plan_id", sorted(PLANS))
def test_tornado_s_iostream_connect_meets_the_connect_contract_on_plain(tornado, plan_id):
    result = run_case(connect_case(plan_id, "plain"), tornado, full_trace=True)
    assert result.outcome == "pass", [(v.slug, v.message) for v in result.violations]
    assert events(result, "fd", "connect")


@pytest.mark.parametrize("plan_id", sorted(set(PLANS) - {"refused-at-once"}))
def test_tornado_s_sslio_stream_connects_wrapping_its_socket_once_connected(tornado, plan_id):
    result = run_case(connect_case(plan_id, "ssl"), tornado, full_trace=True)
    assert result.outcome == "pass", [(v.slug, v.message) for v in result.violations]


def test_tornado_s_ssl_connect_future_hangs_after_a_refusal_raised_at_once(tornado):
    # Tornado 6 iostream.py: IOStream.connect closes the stream on the refusal connect() raises (close(exc_info=e),
    # which signals the futures that exist), then SSLIOStream.connect calls wait_for_handshake(), which makes a new
    # _ssl_connect_future that nothing resolves until close() is called again: here by the user's deadline.
    result = run_case(connect_case("refused-at-once", "ssl"), tornado, full_trace=True)
    assert result.slugs == ["connect-outcome"]
    assert "only after the user gave up" in result.violations[0].message
    (done,) = events(result, "harness", "connect_done")
    assert done["late"] and done["error"] == "ECONNREFUSED"


@pytest.mark.parametrize("transport", ["plain", "ssl"])
@pytest.mark.parametrize("plan_id", sorted(PLANS))
def test_asyncio_streams_connect_through_sock_connect_meets_the_connect_contract(asyncio_streams, plan_id, transport):
    result = run_case(connect_case(plan_id, transport), asyncio_streams, full_trace=True)
    assert result.outcome == "pass", [(v.slug, v.message) for v in result.violations]
    if plan_id not in ("refused-at-once", "timeout"):  # sock_connect reads SO_ERROR once the fd is writable
        assert any(e.get("option") == "SO_ERROR" for e in events(result, "fd", "getsockopt"))


def test_asyncio_streams_give_up_on_a_connect_by_cancelling_it_and_closing_the_socket(asyncio_streams):
    result = run_case(connect_case("timeout", "plain"), asyncio_streams, full_trace=True)
    (done,) = events(result, "harness", "connect_done")
    assert done["late"] and not done["ok"]
    assert [e["calls"] for e in events(result, "fd", "close") if e["role"] == "target"] == [1]
