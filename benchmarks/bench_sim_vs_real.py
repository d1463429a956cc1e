"""Benchmark one readiness event: faultio's simulated kernel against a real one, side by side.

The scenario (issue 10): one ``read_until(b"\\r\\n")`` fed one byte per readiness event, then the
delimiter (``--size`` bytes before it, 16 KiB by default), run three ways in this one process, interleaved,
``--rounds`` times:

- ``sim``: faultio's ``IOStream`` on faultio's fake fds and loop, the target fd under a ``Dribble`` plan,
  the trace off (``Trace(enabled=False)``, ``trace_callbacks=False``).
- ``sim+trace``: the same on the loop and fake fds as the harness makes them, the trace on (every event
  kept, payloads as hex), no monitor: what the trace alone costs.
- ``sim+monitors``: the same with the trace on and the harness's monitors attached, as
  ``harness._runner.run_case`` runs a case (the target's loop, ``attach_monitor``).
- ``tornado6``: Tornado 6's ``IOStream`` on a real ``socket.socketpair()`` driven by a real asyncio loop
  (epoll).
- ``floor``: the same scaffolding over the least a pure-Python reader, fd and loop can do (``_floor.py``: no
  fault plan, step budget, trace or close handling). Not a goal, a bound: tornado6/floor is the most any
  pure-Python simulation of this scenario could show.

How one byte per event is ensured, the same way in all three: the writer sends one byte and then waits for
the reader to consume it. The stream's ``read_from_fd`` is wrapped (one Python call: it counts) and, when a
read returns bytes, schedules the writer's next send as a loop callback, which runs on the next loop
iteration, after the handler has read on to EWOULDBLOCK. So a byte is never sent while the previous one
is unread, and every readiness event carries exactly one byte (the last carries the two delimiter bytes;
faultio's ``Dribble`` hands them out in two reads of the same event). The benchmark checks it: every send
finds everything sent before it read already (else it stops with an error), and the events counted are
the sends, ``size + 1``.

The collector is off while a scenario runs (as ``run_case`` runs a case) and runs between scenarios.
Prints µs per readiness event for each, per round and the best, and the ratios tornado6/sim and
tornado6/(sim+monitors) of the best figures, by the wall clock and by this process's CPU time (user and
system: the real side's syscalls count; other programs on a shared machine disturb it far less than the
wall clock); ``--json`` prints one JSON object instead. It asserts nothing
about speed (the machine is shared and noisy). Run: ``python benchmarks/bench_sim_vs_real.py
[--rounds N] [--size BYTES] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import socket
import sys
import time
from typing import Any, Callable

from faultio import Dribble, FaultPlan, IOLoop, IOStream, Trace, socketpair


def _load_floor() -> Any:
    """``_floor.py`` beside this script, by its path (the benchmarks folder is not a package)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_floor.py")
    spec = importlib.util.spec_from_file_location("_faultio_bench_floor", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_floor = _load_floor()

DELIM = b"\r\n"
SCENARIOS = ("sim", "sim+trace", "sim+monitors", "tornado6", "floor")


class _Reads:
    """What the wrapped ``read_from_fd`` saw, and the writer's sends: the proof of one byte per event."""

    def __init__(self, send: Callable[[bytes], Any]) -> None:
        self.read = 0  # bytes the stream read from its fd
        self.sent = 0  # bytes the writer sent
        self.sends = 0
        self.unread_at_send = 0  # sends made while bytes sent earlier were still unread (must stay 0)
        self._send = send
        self.on_data: Callable[[], None] = lambda: None

    def got(self, n: int) -> None:
        self.read += n
        self.on_data()

    def send_next(self, nbytes: int) -> None:
        """Send the next byte (the delimiter after ``nbytes`` of them), once everything sent was read."""
        if self.sends > nbytes:
            return
        if self.read != self.sent:
            self.unread_at_send += 1
        data = b"x" if self.sends < nbytes else DELIM
        self.sends += 1
        self.sent += len(data)
        self._send(data)

    def check(self, nbytes: int, name: str) -> int:
        """The number of readiness events that carried data: one per send, each into an empty socket."""
        if self.unread_at_send or self.sends != nbytes + 1 or self.read != nbytes + len(DELIM):
            raise SystemExit(f"{name}: not one byte per event: {self.unread_at_send} sends found unread bytes; "
                             f"{self.sends} sends, {self.read} bytes read")
        return self.sends


class _CountingFaultioStream(IOStream):
    reads: _Reads

    def read_from_fd(self) -> bytes | None:
        chunk = IOStream.read_from_fd(self)  # named, not super(): the counting costs the same on both sides
        if chunk:
            self.reads.got(len(chunk))
        return chunk


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, cpu) seconds since ``start``: the wall clock, and the CPU time of this process (user and system,
    so the real side's syscalls count), which other programs on a shared machine disturb far less."""
    wall, cpu = _now()
    return wall - start[0], cpu - start[1]


def run_sim(nbytes: int, *, mode: str) -> tuple[tuple[float, float], int]:
    """((wall, cpu) seconds, events) of the dribbled read_until on faultio's loop and fake fds; ``mode`` is
    ``off`` (trace off), ``trace`` (the loop and fds as the harness makes them, trace on, no monitor) or
    ``monitors`` (the same, with the harness's monitors attached)."""
    plan = FaultPlan(read=(Dribble(nbytes=None),), name="dribble")
    budget = 20 * nbytes + 1000
    harnessed = mode != "off"
    if harnessed:
        from harness._targets import DEFAULT_TARGET

        loop = DEFAULT_TARGET.make_loop(max_steps=budget)
    else:
        loop = IOLoop(trace=Trace(enabled=False), trace_callbacks=False, max_steps=budget, make_current=False)
    target, peer = socketpair(loop, plan, keep_received=harnessed)
    stream = _CountingFaultioStream(target, io_loop=loop, max_buffer_size=nbytes + (1 << 20))
    reads = stream.reads = _Reads(peer.send)
    monitor = None
    if mode == "monitors":
        from harness._runner import attach_monitor

        monitor = attach_monitor(loop, stream, target, peer, "plain")

    def send_one() -> None:
        reads.send_next(nbytes)

    reads.on_data = lambda: loop.add_callback(send_one)
    start = _now()
    future = stream.read_until(DELIM)
    loop.add_callback(send_one)
    result = loop.run_sync(lambda: future)
    elapsed = _since(start)
    if monitor is not None:
        if monitor.violations:
            raise SystemExit(f"sim+monitors: violations {list(monitor.violations)}")
        monitor.detach()
    if len(result) != nbytes + len(DELIM):
        raise SystemExit(f"sim: read_until returned {len(result)} bytes, expected {nbytes + len(DELIM)}")
    events = reads.check(nbytes, "sim" if mode == "off" else f"sim+{mode}")
    stream.close()
    return elapsed, events


def run_tornado(nbytes: int) -> tuple[tuple[float, float], int]:
    """((wall, cpu) seconds, events) of the dribbled read_until: Tornado 6's IOStream, a real socketpair, asyncio."""
    from tornado.iostream import IOStream as TornadoIOStream

    class Counting(TornadoIOStream):
        reads: _Reads

        def read_from_fd(self, buf: Any) -> int | None:
            n = TornadoIOStream.read_from_fd(self, buf)
            if n:
                self.reads.got(n)
            return n

    aio = asyncio.new_event_loop()
    reader_sock, writer_sock = socket.socketpair()
    writer_sock.setblocking(False)

    async def scenario() -> tuple[tuple[float, float], bytes, _Reads]:
        stream = Counting(reader_sock, max_buffer_size=nbytes + (1 << 20))
        reads = stream.reads = _Reads(writer_sock.send)

        def send_one() -> None:
            reads.send_next(nbytes)

        reads.on_data = lambda: aio.call_soon(send_one)
        start = _now()
        future = stream.read_until(DELIM)
        aio.call_soon(send_one)
        result = await future
        elapsed = _since(start)
        stream.close()
        return elapsed, result, reads

    try:
        elapsed, result, reads = aio.run_until_complete(scenario())
    finally:
        writer_sock.close()
        aio.close()
    if len(result) != nbytes + len(DELIM):
        raise SystemExit(f"tornado6: read_until returned {len(result)} bytes, expected {nbytes + len(DELIM)}")
    return elapsed, reads.check(nbytes, "tornado6")


def run_floor(nbytes: int) -> tuple[tuple[float, float], int]:
    """((wall, cpu) seconds, events) of the dribbled read over the floor's reader, fd and loop."""
    send, run = _floor.build(DELIM)
    reads = _Reads(send)
    start = _now()
    result = run(reads, nbytes)
    elapsed = _since(start)
    if len(result) != nbytes + len(DELIM):
        raise SystemExit(f"floor: the read returned {len(result)} bytes, expected {nbytes + len(DELIM)}")
    return elapsed, reads.check(nbytes, "floor")


def measure(name: str, nbytes: int) -> tuple[float, float]:
    """(wall, cpu) µs per readiness event of one run of scenario ``name`` (collector off while it runs)."""
    gc.collect()
    gc.disable()
    try:
        if name == "tornado6":
            (wall, cpu), events = run_tornado(nbytes)
        elif name == "floor":
            (wall, cpu), events = run_floor(nbytes)
        else:
            (wall, cpu), events = run_sim(nbytes, mode=name.partition("+")[2] or "off")
    finally:
        gc.enable()
    return wall / events * 1e6, cpu / events * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--size", type=int, default=16 * 1024, help="bytes before the delimiter (default 16 KiB)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.size < 1:
        parser.error("--rounds and --size must be positive")
    import tornado

    for name in SCENARIOS:  # warm: imports, caches, the first-call costs
        measure(name, min(args.size, 512))
    rounds: list[dict[str, float]] = []
    cpu_rounds: list[dict[str, float]] = []
    if not args.json:
        print(f"python {sys.version.split()[0]}, tornado {tornado.version}, {os.cpu_count()} cpus; dribbled "
              f"read_until of {args.size} B + delimiter, one byte per readiness event; µs per event (wall clock; "
              "CPU time of this process in brackets)")
    for r in range(args.rounds):
        # Interleaved, and the order turns each round so no scenario always runs first (or after another).
        order = SCENARIOS[r % len(SCENARIOS):] + SCENARIOS[:r % len(SCENARIOS)]
        figures = {name: measure(name, args.size) for name in order}
        rounds.append({name: figures[name][0] for name in SCENARIOS})
        cpu_rounds.append({name: figures[name][1] for name in SCENARIOS})
        if not args.json:
            row = "  ".join(f"{name} {figures[name][0]:6.2f} ({figures[name][1]:5.2f})" for name in SCENARIOS)
            shown = "  ".join(f"/{name} {figures['tornado6'][0] / figures[name][0]:.1f}" for name in SCENARIOS
                              if name != "tornado6")
            print(f"  round {r + 1}: {row}  ratios tornado6{shown}")
    best = {name: min(r[name] for r in rounds) for name in SCENARIOS}
    best_cpu = {name: min(r[name] for r in cpu_rounds) for name in SCENARIOS}
    ratios = {f"tornado6/{name}": best["tornado6"] / best[name] for name in SCENARIOS if name != "tornado6"}
    cpu_ratios = {f"tornado6/{name}": best_cpu["tornado6"] / best_cpu[name] for name in SCENARIOS if name != "tornado6"}
    if args.json:
        print(json.dumps({"python": sys.version.split()[0], "tornado": tornado.version, "cpus": os.cpu_count(),
                          "size": args.size, "unit": "us_per_event", "rounds": rounds, "best": best,
                          "ratios": ratios, "cpu_rounds": cpu_rounds, "best_cpu": best_cpu,
                          "cpu_ratios": cpu_ratios, "goals": {"tornado6/sim": 10, "tornado6/sim+monitors": 5}},
                         indent=1))
    else:
        print("best: " + "  ".join(f"{name} {best[name]:.2f} ({best_cpu[name]:.2f})" for name in SCENARIOS))
        print(f"ratio (best): tornado6/sim = {ratios['tornado6/sim']:.1f} (goal >= 10), "
              f"tornado6/(sim+monitors) = {ratios['tornado6/sim+monitors']:.1f} (goal >= 5); "
              f"by CPU time: {cpu_ratios['tornado6/sim']:.1f} and {cpu_ratios['tornado6/sim+monitors']:.1f}")
        print(f"the trace alone (on, kept, no monitor): tornado6/(sim+trace) = {ratios['tornado6/sim+trace']:.1f} "
              f"({cpu_ratios['tornado6/sim+trace']:.1f} by CPU time)")
        print(f"the floor (the scaffolding over a minimal pure-Python reader, fd and loop): tornado6/floor = "
              f"{ratios['tornado6/floor']:.1f} ({cpu_ratios['tornado6/floor']:.1f} by CPU time), the most a "
              "pure-Python simulation of this scenario could show")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
