"""Fixtures shared by the stream tests."""

import pytest
from _streams import World

from faultio import IOLoop


@pytest.fixture
def world():
    """Make worlds (loop, fake socket pair, stream) for a test; each is verified when the test ends."""
    made = []

    def make(plan=None, mode="bulk", **stream_kw):
        w = World(plan, mode, **stream_kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.verify()
    IOLoop.clear_current()
