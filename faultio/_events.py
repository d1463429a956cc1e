"""Readiness bits a poll reports (epoll's values), shared by the loop, the fake fds and their connect side; the
keys of the fake fd's hot trace events."""

READ = 0x001
WRITE = 0x004
ERROR = 0x018

#: The keys of the fake fd's hot trace events, in the order its ``record`` calls give them (``Trace.emit``): a
#: recv or send that moved bytes, with and without the payload, and a recv that found nothing.
DATA_KEYS = ("fd", "role", "asked", "result", "nbytes", "shaped", "data_hex")
DATA_KEYS_BARE = DATA_KEYS[:-1]
EAGAIN_KEYS = ("fd", "role", "asked", "result", "injected")
