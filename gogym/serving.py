"""Several API worker processes, each on its own listening socket (SO_REUSEPORT).

uvicorn's `--workers` shares one socket among the workers, and asyncio accepts every
pending connection at once on each wake-up, so whichever worker wakes first takes them all:
the keep-alive connections of a reverse proxy (or of the load benchmark) pile onto one
worker while the other idles. Measured with `make bench`'s 32 connections: 31/1 or 27/5
splits gave 960–1,020 messages/s, 21/11 splits 1,290–1,325/s. With SO_REUSEPORT every
worker has its own socket on the same port and the kernel spreads new connections over
them. The sockets are bound here, in the supervisor, and kept: a worker that dies is
restarted on its own socket, whose queue holds the connections that arrived meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import threading
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")
multiprocessing.allow_connection_pickling()  # sockets travel to the spawned workers
_spawn = multiprocessing.get_context("spawn")


def reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def bind_reuse_port(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _work(config: uvicorn.Config, sock: socket.socket) -> None:
    config.configure_logging()  # a spawned process starts with none
    # Ctrl-C reaches the whole process group; the parent stops the workers itself.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


def serve_workers(config: uvicorn.Config, workers: int) -> int:
    """Run `workers` uvicorn servers on `config.host:config.port` until SIGINT/SIGTERM;
    restart one that dies, stop all if one fails to start. Returns the exit code."""
    try:
        sockets = [
            bind_reuse_port(config.host, config.port, config.backlog) for _ in range(workers)
        ]
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        return STARTUP_FAILURE
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def start(sock: socket.socket) -> Any:
        process = _spawn.Process(target=_work, args=(config, sock))
        process.start()
        return process

    processes = [start(sock) for sock in sockets]
    logger.info(
        "Serving on %s:%s with %d workers, one socket each", config.host, config.port, workers
    )
    code = 0
    try:
        while not stop.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("worker [%s] failed to start; stopping", process.pid)
                    stop.set()
                    code = STARTUP_FAILURE
                    break
                logger.warning(
                    "worker [%s] died (exit %s); restarting", process.pid, process.exitcode
                )
                processes[i] = start(sockets[i])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join()
        for sock in sockets:
            sock.close()
    return code
