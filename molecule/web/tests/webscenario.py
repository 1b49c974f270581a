"""What the web scenario's test modules share (molecule verify -s web).

Imported by each module (not a conftest.py: test_web.py imports the project's
tests/conftest.py by that name, and a second conftest module would shadow it).

The only thing the tests fake is name resolution: the sites' names resolve
to the VM's address inside this process (socket.getaddrinfo), because the
test machine's resolver does not know the test domain; TLS (SNI, hostname
check, chain) stays real.
"""

from __future__ import annotations

import socket

import pytest

# the web VM's address on the scenario's network, and the test branch's domain
WEB = "172.30.80.80"
DOMAIN = "web.smbvdc.test"

_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and (host == DOMAIN or host.endswith("." + DOMAIN)):
        host = WEB
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def resolve_test_domain(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo)
