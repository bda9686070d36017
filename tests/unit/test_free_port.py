"""Ports the tests reserve lie below the kernel's ephemeral range, so neither an outgoing
connection nor the Temporal dev server's random internal ports can take one by chance."""

from __future__ import annotations

import socket
from pathlib import Path

from devstack.processes import free_port


def test_free_ports_are_distinct_bindable_and_not_ephemeral() -> None:
    ephemeral_start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(port < ephemeral_start for port in ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
