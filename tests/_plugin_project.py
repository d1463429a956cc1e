"""What the plugin's pytester tests share: the project fixture with the repository's strict policy.

pytester's in-process runs drop the modules a run imported when it ends; a module imported again by the
next run would hold new classes that the surviving plugin module does not know. Importing the heavy ones
here, once, keeps them (and is most of what an in-process run costs).
"""

import hypothesis  # noqa: F401
import pytest

import faultio._aioloop  # noqa: F401 - faultio caches AsyncioIOLoop and SimEventLoop once imported
import faultio._ssl  # noqa: F401
import faultio._tlspeer  # noqa: F401
import faultio.strategies  # noqa: F401
import harness._plugin_asyncio  # noqa: F401
import harness._plugin_report  # noqa: F401
import harness._plugin_world  # noqa: F401

STRICT_INI = """
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
"""

# The seed's length-prefixed server, as another project would have written it, and its test.


@pytest.fixture
def project(pytester):
    """A fresh project directory with the repository's own strict pytest policy."""
    pytester.makeini(STRICT_INI)
    return pytester
