"""Deliberately broken targets for the CLI tests (importable by spec from worker processes)."""

from faultio import IOStream


class EintrClosesOnWrite(IOStream):
    """The 4.x write path: EINTR from send closes the stream instead of retrying."""

    def write_to_fd(self, data):
        try:
            return self.socket.send(data)
        except InterruptedError:
            self.close(exc_info=True)
            raise BlockingIOError() from None


class EintrClosesOnRead(IOStream):
    """EINTR from recv closes the stream (a contract bug: the bytes still coming are lost)."""

    def read_from_fd(self):
        try:
            return super().read_from_fd()
        except InterruptedError:
            self.close(exc_info=True)
            return None


def explode(sock, **options):
    raise RuntimeError("boom: this factory cannot build a stream")


class HangsInRead(IOStream):
    """Spins in pure Python inside a read, never touching the fd or the loop."""

    def read_from_fd(self):
        while True:
            pass


class ExitsInReadBytes(IOStream):
    """read_bytes calls sys.exit(3): the run must contain it."""

    def read_bytes(self, *args, **kwargs):
        import sys

        sys.exit(3)


class ExitsZeroInReadBytes(IOStream):
    """read_bytes calls sys.exit(0): a CI job must not go green on it."""

    def read_bytes(self, *args, **kwargs):
        import sys

        sys.exit(0)


class KillsItsProcessInReadBytes(IOStream):
    """read_bytes ends the process at once (os._exit): only a worker process can contain it."""

    def read_bytes(self, *args, **kwargs):
        import os

        os._exit(7)


class HugeMessageInReadBytes(IOStream):
    """read_bytes raises an exception with a 1 MiB message."""

    def read_bytes(self, *args, **kwargs):
        raise ValueError("x" * (1 << 20))


class SpinsInReadBytes(IOStream):
    """read_bytes spins for ever in pure Python: every other operation works."""

    def read_bytes(self, *args, **kwargs):
        while True:
            pass


class MemoryBombInReadBytes(IOStream):
    """read_bytes asks for 64 GiB at once."""

    def read_bytes(self, *args, **kwargs):
        return bytearray(64 << 30)


class SpinsOnTheLoop(IOStream):
    """read_bytes schedules a callback that schedules itself for ever: the loop keeps stepping, no byte moves
    and no virtual time passes (a busy loop on a real machine)."""

    def read_bytes(self, *args, **kwargs):
        def spin():
            self.io_loop.add_callback(spin)

        self.io_loop.add_callback(spin)
        return super().read_bytes(*args, **kwargs)
