"""The client's address, the one way every part of accessdesk reads it: sessions and NDA signatures store it, rate
limits count by it.

It is the ASGI ``client`` as the server set it. ``accessdesk serve`` has uvicorn replace the TCP peer by an address
from ``X-Forwarded-For`` only when the peer is one of ``ACCESSDESK_TRUSTED_PROXIES`` (and then the rightmost
address there that is not itself trusted: the ones to its left were written by the client). Nothing here reads
``X-Forwarded-For``: any client can write it.
"""

from __future__ import annotations

from litestar.types import Scope


def client_address(scope: Scope) -> str | None:
    """The address of whoever sent the request, None when the server knows none (a Unix socket, a test client)."""
    client = scope.get("client")
    return client[0] if client and client[0] else None
