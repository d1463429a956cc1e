"""Readiness bits a poll reports, shared by the loop, the fake fds and their connect side (epoll's values)."""

READ = 0x001
WRITE = 0x004
ERROR = 0x018
