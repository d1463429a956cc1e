"""Mutants of the connect path: faultio's ``IOStream`` with one bug each in ``connect``, ``_handle_connect`` or the
writes queued around them.

Rules for this module:
- As in ``harness._mutants``: each class overrides as little as it can, marks the broken line ``# BUG:``, knows
  nothing of plans, monitors or slugs, and lives at module level (a worker loads it by its spec). The catalogue
  entries are made in ``harness._mutants`` (``MUTANTS``), which lists these classes.
- The bugs are the ones a connect path really has: an error swallowed, ``SO_ERROR`` never read, a refusal
  raised at once taken for "in progress", queued writes dropped or reordered, the close callback run again.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from faultio import IOLoop, IOStream


class ConnectErrorSwallowed(IOStream):
    """A connect that ``SO_ERROR`` reports failed is only logged: the stream stays open and connecting, the
    future never resolves (until its user gives up and closes the stream)."""

    def _handle_connect(self) -> None:
        code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code != 0:
            # BUG: the error is dropped (the handler goes, to stop the error events); nothing closes the stream.
            self.io_loop.remove_handler(self.fileno())
            self._state = None
            return
        super()._handle_connect()


class ConnectSkipsSoError(IOStream):
    """``_handle_connect`` takes writability for success and never reads ``SO_ERROR``: a refused connect looks
    connected, and its failure surfaces later as some other error."""

    def _handle_connect(self) -> None:
        # BUG: no getsockopt(SO_ERROR): a failed connect is reported as a success.
        self._connecting = False
        if self._connect_callback is not None:
            callback, self._connect_callback = self._connect_callback, None
            self._run_callback(callback)
        if self._connect_future is not None:
            future, self._connect_future = self._connect_future, None
            future.set_result(self)


class ConnectRefusalIgnored(IOStream):
    """``connect`` treats every error ``socket.connect`` raises as "in progress", so a refusal raised at once is
    waited on, and the socket that then polls writable is taken for connected."""

    def connect(self, address: Any, callback: Any = None, server_hostname: str | None = None) -> Any:
        self._connecting = True
        future = None
        if callback is not None:
            self._connect_callback = callback
        else:
            from faultio import Future

            future = self._connect_future = Future(label="connect")
        try:
            self.socket.connect(address)
        except OSError:
            pass  # BUG: ECONNREFUSED raised at once is not EINPROGRESS
        self._add_io_state(IOLoop.WRITE)
        return future

    def _handle_connect(self) -> None:
        code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.error = OSError(code, os.strerror(code))
            self.close()
            return
        super()._handle_connect()


class QueuedWritesDropped(IOStream):
    """Once the connect succeeds, what was written while connecting is thrown away (a buffer reset at
    connection time): the peer never sees it and those writes never complete."""

    def _handle_connect(self) -> None:
        connected_before = self._connecting
        super()._handle_connect()
        if connected_before and not self._connecting and not self.closed():
            # BUG: the bytes queued before the connection existed are dropped with the "stale" buffer.
            self._write_buffer = bytearray()
            self._write_buffer_pos = 0
            self._write_buffer_size = 0


class QueuedWritesReordered(IOStream):
    """A write made while connecting is put in front of the ones queued before it (a queue used as a stack)."""

    def write(self, data: bytes, callback: Any = None) -> Any:
        if not self._connecting or not data or self._write_buffer_frozen:
            return super().write(data, callback=callback)
        queued = bytes(self._write_buffer[self._write_buffer_pos :])
        future = super().write(data, callback=callback)
        # BUG: the newest bytes go first while the connection is pending.
        self._write_buffer = bytearray(bytes(data) + queued)
        self._write_buffer_pos = 0
        return future


class CloseCallbackTwiceOnRefusal(IOStream):
    """A connect that fails runs the close callback once through ``close()`` and once more itself."""

    def _handle_connect(self) -> None:
        callback = self._close_callback
        super()._handle_connect()
        if self.closed() and callback is not None:
            # BUG: close() already scheduled the close callback.
            self._run_callback(callback)
