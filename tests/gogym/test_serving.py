"""The multi-worker supervisor: one SO_REUSEPORT socket per worker, spread, restarted, stopped."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gogym.serving import reuse_port_available

pytestmark = pytest.mark.skipif(
    not reuse_port_available() or not Path("/proc/net/tcp").exists(),
    reason="needs SO_REUSEPORT and /proc (Linux)",
)
ROOT = Path(__file__).resolve().parents[2]


async def pid_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the worker's pid."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def supervise(port: int, workers: int) -> subprocess.Popen[str]:
    code = (
        "import sys, uvicorn; from gogym.serving import serve_workers; "
        f"sys.exit(serve_workers(uvicorn.Config('tests.gogym.test_serving:pid_app', port={port},"
        f" log_level='info', lifespan='off'), {workers}))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )


def pid_of(port: int, conn: http.client.HTTPConnection | None = None) -> int:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/")
    return int(conn.getresponse().read())


def wait_serving(port: int, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            pid_of(port)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the workers never answered")


def worker_pids(port: int, connections: int = 64) -> set[int]:
    """The pids behind fresh keep-alive connections (each asked twice: a connection stays
    with the worker that accepted it)."""
    seen: set[int] = set()
    for _ in range(connections):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        first = pid_of(port, conn)
        assert pid_of(port, conn) == first
        conn.close()
        seen.add(first)
    return seen


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


def test_connections_spread_over_workers_and_sigterm_stops_all() -> None:
    port = free_port()
    proc = supervise(port, 2)
    try:
        wait_serving(port)
        # Wait for the second worker too: the kernel only hashes to sockets being served.
        deadline = time.monotonic() + 30
        while len(pids := worker_pids(port)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(pids) == 2  # 64 connections all hashed to one of 2 sockets: p = 2**-63
        assert listening_sockets(port) == 2  # one each, not uvicorn's shared one
    finally:
        err = stop(proc)
    assert proc.returncode == 0, err
    assert all(not _alive(pid) for pid in pids)
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


def test_a_dead_worker_is_restarted_on_its_socket() -> None:
    port = free_port()
    proc = supervise(port, 2)
    try:
        wait_serving(port)
        victim = pid_of(port)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        pids: set[int] = set()
        while time.monotonic() < deadline:
            try:
                pids = worker_pids(port, 32)
            except OSError:  # a connection hashed to the socket of the worker starting
                pids = set()
            if len(pids) == 2:
                break
            time.sleep(0.2)
        assert len(pids) == 2 and victim not in pids
    finally:
        err = stop(proc)
    assert proc.returncode == 0
    assert "died (exit -9); restarting" in err


def test_a_port_taken_by_another_program_is_a_clear_startup_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = supervise(taken.getsockname()[1], 2)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert "cannot listen on 127.0.0.1" in err
    assert "Traceback" not in err


def listening_sockets(port: int) -> int:
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
