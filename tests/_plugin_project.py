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


#: A length-prefixed server, as the seed document builds one, tested under the marker (``server_test``).
SERVER_TEST = '''
import struct

import pytest

MESSAGES = [b"hello world, %d." % i for i in range(13)] + [b"break"]


async def handle_connection(stream, received):
    payload = None
    while payload != b"break":
        (length,) = struct.unpack("!I", await stream.read_bytes(4))
        payload = await stream.read_bytes(length{partial})
        received.append(payload)
        await stream.write(b"server is good")
    stream.close()


@pytest.mark.faults({kinds}, transports={transports})
def test_server_reads_every_message(fault_loop, fault_streams):
    received = []
    fault_loop.spawn(handle_connection(fault_streams.stream, received))

    async def client():
        for message in MESSAGES:
            await fault_streams.peer.send_all(struct.pack("!I", len(message)) + message)
            if await fault_streams.peer.recv_exactly(14) != b"server is good":
                break

    fault_loop.run_sync(client)
    fault_streams.check_received(received, MESSAGES)
'''


def server_test(*, buggy=False, kinds='"all"', transports='("plain",)'):
    """The server test; ``buggy`` plants the seed's classic bug: a short read taken for the whole message."""
    return SERVER_TEST.format(partial=", partial=True" if buggy else "", kinds=kinds, transports=transports)
