"""Benchmark the core stream: dribbled ``read_until`` (linear, not quadratic) and bulk ``read_bytes``.

Prints figures and ratios measured in this one process, by the wall clock and by this process's CPU time
(which other programs on a shared machine disturb far less); it asserts nothing about speed (the machine is
shared and noisy). Run: ``python benchmarks/bench_core.py`` (``--quick`` for smaller sizes).

- dribble: the peer sends one byte per loop iteration (each byte is its own readiness event), then the
  delimiter; one ``read_until(b"\\r\\n")`` waits for it. Work per event must not grow with the buffer,
  so time(4 MiB) / time(1 MiB) should be near 4 (goal <= 5). ``ReadBuffer.examined`` counts the bytes
  the delimiter search looked at: linear means examined ~ bytes received.
- baseline: the same dribble against a stream that rescans the whole buffer on every event (the 4.x
  behaviour), at sizes small enough to finish, to show what quadratic looks like beside it.
- bulk: one ``read_bytes(64 MiB)`` over a socket that delivers read_chunk_size bytes per recv.
"""

from __future__ import annotations

import argparse
import sys
import time

from faultio import IOLoop, IOStream, Trace, socketpair
from faultio._buffer import ReadBuffer

MiB = 1 << 20


class RescanningBuffer(ReadBuffer):
    """The 4.x search: every call scans from the read position again."""

    __slots__ = ()

    def find(self, delimiter: bytes) -> int:
        self.examined += self.size
        loc = self.data.find(delimiter, self.pos)
        return -1 if loc == -1 else loc - self.pos


def dribbled_read_until(nbytes: int, *, rescan: bool = False) -> tuple[float, int, int, float]:
    """(wall seconds, bytes examined, fd reads, CPU seconds of this process) of one dribbled read_until."""
    loop = IOLoop(trace=Trace(enabled=False), trace_callbacks=False, max_steps=10 * nbytes + 1000)
    target, peer = socketpair(loop, keep_received=False)
    stream = IOStream(target, io_loop=loop, max_buffer_size=nbytes + MiB)
    if rescan:
        stream._rbuf = RescanningBuffer()
    sent = [0]

    def send_one() -> None:
        if sent[0] < nbytes:
            peer.send(b"x")
            sent[0] += 1
            loop.add_callback(send_one)
        else:
            peer.send(b"\r\n")

    future = stream.read_until(b"\r\n")
    loop.add_callback(send_one)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = loop.run_sync(lambda: future)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if len(result) != nbytes + 2:
        raise SystemExit(f"read_until returned {len(result)} bytes, expected {nbytes + 2}")
    return elapsed, stream._rbuf.examined, target.recv_calls, cpu


def bulk_read_bytes(nbytes: int) -> float:
    loop = IOLoop(trace=Trace(enabled=False), trace_callbacks=False)
    target, peer = socketpair(loop, keep_received=False, capacity=nbytes + MiB)
    stream = IOStream(target, io_loop=loop, max_buffer_size=nbytes + MiB)
    block = b"\xab" * MiB
    for _ in range(nbytes // MiB):
        peer.send(block)
    start = time.perf_counter()
    result = loop.run_sync(lambda: stream.read_bytes(nbytes))
    elapsed = time.perf_counter() - start
    if len(result) != nbytes:
        raise SystemExit(f"read_bytes returned {len(result)} bytes, expected {nbytes}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/16 of the sizes (a smoke run)")
    args = parser.parse_args(argv)
    scale = 16 if args.quick else 1
    small, large, bulk = MiB // scale, 4 * MiB // scale, 64 * MiB // scale
    print(f"python {sys.version.split()[0]}; sizes: dribble {small} and {large} bytes, bulk {bulk} bytes")
    t_small, ex_small, calls_small, cpu_small = dribbled_read_until(small)
    t_large, ex_large, calls_large, cpu_large = dribbled_read_until(large)
    print(f"dribbled read_until {small:>9} B: {t_small:7.2f} s (CPU {cpu_small:6.2f} s)  examined {ex_small:>10} B  "
          f"fd reads {calls_small}")
    print(f"dribbled read_until {large:>9} B: {t_large:7.2f} s (CPU {cpu_large:6.2f} s)  examined {ex_large:>10} B  "
          f"fd reads {calls_large}")
    print(f"ratio time(4x)/time(1x) = {t_large / t_small:.2f} (CPU time: {cpu_large / cpu_small:.2f})  (linear ~4, "
          f"goal <= 5); examined ratio = {ex_large / ex_small:.2f}")
    print(f"per byte (one readiness event each): {t_small / small * 1e6:.2f} µs (CPU {cpu_small / small * 1e6:.2f}) "
          f"at {small} B, {t_large / large * 1e6:.2f} µs (CPU {cpu_large / large * 1e6:.2f}) at {large} B; "
          f"{large} B in {t_large:.2f} s, CPU {cpu_large:.2f} s (goal for 4 MiB: <= 8 s)")
    base_small, base_large = 16 * 1024 // scale or 1024, 64 * 1024 // scale or 4096
    r_small = dribbled_read_until(base_small, rescan=True)
    r_large = dribbled_read_until(base_large, rescan=True)
    o_small = dribbled_read_until(base_small)
    o_large = dribbled_read_until(base_large)
    print(f"baseline (rescan every event) {base_small} -> {base_large} B: time ratio "
          f"{r_large[0] / r_small[0]:.2f}, examined ratio {r_large[1] / r_small[1]:.2f} (quadratic ~16); "
          f"faultio at the same sizes: time ratio {o_large[0] / o_small[0]:.2f}, examined ratio "
          f"{o_large[1] / o_small[1]:.2f}")
    t_bulk = bulk_read_bytes(bulk)
    print(f"bulk read_bytes {bulk} B: {t_bulk:.2f} s ({bulk / MiB / t_bulk:.0f} MiB/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
