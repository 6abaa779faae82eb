"""`geoplatform serve` names the cause and the fix when its port is taken."""

import socket

import pytest
from django.core.management.base import CommandError

from geoplatform.web.management.commands.serve import check_port_free


def test_taken_port_is_a_one_line_error_with_the_fix():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(CommandError, match=f"port {port} on 127.0.0.1 is already in use.*GEOPLATFORM_PORT={port + 1}"):
            check_port_free("127.0.0.1", port)


def test_free_port_passes():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    check_port_free("127.0.0.1", port)
