"""Fixtures shared by the tests: stream worlds (`world`) and simulated asyncio kernels (`make_kernel`)."""

import pytest
from _streams import World

from faultio import AsyncioIOLoop, IOLoop


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


@pytest.fixture
def make_kernel():
    """Make ``AsyncioIOLoop``s for a test; every one is shut down when the test ends."""
    made = []

    def make(**kwargs):
        kernel = AsyncioIOLoop(**kwargs)
        made.append(kernel)
        return kernel

    yield make
    for kernel in made:
        kernel.shutdown()
