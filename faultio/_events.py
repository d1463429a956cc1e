"""Readiness bits a poll reports (epoll's values), shared by the loop, the fake fds and their connect side; the
keys of the hot trace events of the fake fd and the loop."""

READ = 0x001
WRITE = 0x004
ERROR = 0x018

#: The keys of the fake fd's hot trace events, in the order its ``record`` calls give them (``Trace.emit``): a
#: recv or send that moved bytes, with and without the payload, and a recv that found nothing.
DATA_KEYS = ("fd", "role", "asked", "result", "nbytes", "shaped", "data_hex")
DATA_KEYS_BARE = DATA_KEYS[:-1]
EAGAIN_KEYS = ("fd", "role", "asked", "result", "injected")
#: The keys of the loop's hot trace events: a callback run or scheduled, and a handler run.
NAME_KEYS = ("name",)
HANDLER_KEYS = ("name", "fd", "events")
