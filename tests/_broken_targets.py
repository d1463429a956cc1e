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
