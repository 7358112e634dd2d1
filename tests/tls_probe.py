"""TLS handshakes with a chosen protocol version, to prove what a server accepts."""

from __future__ import annotations

import socket
import ssl


def handshake(port: int, cafile: str, version: ssl.TLSVersion) -> str:
    """Connect to localhost:`port` offering only `version`; return the negotiated version.

    Raises:
        ssl.SSLError: the server refused the handshake.
    """
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = version
    context.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version()
