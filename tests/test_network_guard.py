"""The autouse `no_network` guard: anything but loopback fails the test, loopback works."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server
    server.close()


@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("10.255.255.1", 9)),  # private, non-routable
        (socket.AF_INET, ("8.8.8.8", 53)),  # public DNS
        (socket.AF_INET, ("0.0.0.1", 80)),
        (socket.AF_INET, ("api.twilio.com", 443)),  # a host name is refused before any lookup
    ],
)
def test_connecting_outside_loopback_raises(family: int, address: tuple[str, int]) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)  # if the guard were gone, fail fast instead of hanging
        with pytest.raises(RuntimeError, match="outside loopback"):
            sock.connect(address)


def test_ipv6_outside_loopback_raises() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support")
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("IPv6 sockets unavailable")
    with sock:
        sock.settimeout(0.5)
        with pytest.raises(RuntimeError, match="outside loopback"):
            sock.connect(("2001:4860:4860::8888", 53))


def test_create_connection_goes_through_the_guard() -> None:
    with pytest.raises(RuntimeError, match="outside loopback"):
        socket.create_connection(("10.255.255.1", 9), timeout=0.5)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_allowed(listener: socket.socket, host: str) -> None:
    port = listener.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        client.connect((host, port))
        accepted, _ = listener.accept()
        with accepted:
            client.sendall(b"ping")
            assert accepted.recv(4) == b"ping"


def test_unix_sockets_are_not_affected(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            accepted, _ = server.accept()
            accepted.close()


def test_connect_ex_and_udp_sendto_outside_loopback_are_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, pytest.raises(RuntimeError):
        tcp.connect_ex(("192.0.2.1", 80))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(RuntimeError):
        udp.sendto(b"x", ("192.0.2.1", 53))
