"""FaultySocket: a real socket whose recv/send obey a fault plan."""

import select
import socket

import pytest

from faultio import (
    Chunk,
    Eintr,
    Eof,
    FaultPlan,
    Pass,
    Reset,
    SendPartial,
    plan_for_kind,
)
from faultio._realfd import FaultySocket, real_socketpair

# --- faultio._realfd ------------------------------------------------------------------------------------


def test_faulty_socket_follows_the_plan_on_recv_and_send():
    plan = FaultPlan(read=(Eintr(), Chunk(max_bytes=3), Reset()), write=(SendPartial(max_bytes=2),))
    target, peer = real_socketpair(plan)
    try:
        peer.sendall(b"hello world")
        with pytest.raises(InterruptedError):
            target.recv(100)
        assert target.recv(100) == b"hel"
        with pytest.raises(ConnectionResetError):
            target.recv(100)
        assert target.recv(100) == b""
        assert target.faults_injected == 2 and bytes(target.received) == b"hel"
        assert peer.recv(100) == b""  # the reset reached the peer as the end of the stream
    finally:
        target.close()
        peer.close()


def test_faulty_socket_shapes_sends_and_refuses_unshaped_calls():
    target, peer = real_socketpair(FaultPlan(write=(SendPartial(max_bytes=2, count=2),)))
    try:
        assert [target.send(b"abcdef"), target.send(b"cdef"), target.send(b"ef")] == [2, 2, 2]
        assert peer.recv(100) == b"abcdef"
        with pytest.raises(AttributeError, match="recvfrom.*around the fault plan"):
            target.recvfrom(10)
        assert isinstance(target, FaultySocket) and target.family == socket.AF_UNIX
    finally:
        target.close()
        peer.close()


def test_faulty_socket_makes_a_planned_eof_visible_to_select():
    target, peer = real_socketpair(FaultPlan(read=(Pass(nbytes=2), Eof())))
    try:
        peer.sendall(b"abcdef")
        assert target.recv(100) == b"ab"
        assert select.select([target], [], [], 0)[0] == [target]  # a reader waiting for readiness wakes up
        assert target.recv(100) == b""
    finally:
        target.close()
        peer.close()


def test_faulty_socket_flood_is_generated_on_demand():
    target, peer = real_socketpair(plan_for_kind("flood", seed=1, inbound_size=0))
    try:
        got = sum(len(target.recv(65536)) for _ in range(64))
        assert got == 64 * 65536 and target.faults_injected == 1
    finally:
        target.close()
        peer.close()
