"""The answers of the token, introspection and revocation endpoints: JSON, never to be stored by anyone."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from litestar.serialization import encode_json
from litestar.types import Receive, Scope, Send

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Answer:
    """An answer of the token, introspection or revocation endpoint: JSON, encoded once, never to be stored by
    anyone (``no-store``), sent as it is.

    These answers are small and a gateway may ask for one on every call to the model. Rendered as a Litestar
    ``Response`` each cost about 8 µs (header merging, content negotiation, encoding the same headers again), near
    half of what an introspection does itself; an ``Answer`` costs under 1 µs, and nothing when made once (an
    active token's introspection, the refusals). Litestar still routes the request, reads and limits its body, and
    runs the middleware and hooks around the handler: only the rendering is ours."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else encode_json(body)
        self.headers = [*_encoded(tuple(headers)), (b"content-length", str(len(self.body)).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A copy of the headers: whatever runs around us may add to the list it is given.
        await send({"type": "http.response.start", "status": self.status, "headers": [*self.headers]})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


@functools.lru_cache(maxsize=64)
def _encoded(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    """The answer's headers as ASGI wants them, ``no-store`` included. The endpoints answer with a handful of
    distinct header sets (Authlib's success and error headers, ours): each is encoded once."""
    named = {**dict(headers), **NO_STORE}
    encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in named.items()]
    if not any(name == b"content-type" for name, _ in encoded):
        encoded.append((b"content-type", b"application/json"))
    return tuple(encoded)
