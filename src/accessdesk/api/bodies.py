"""How the JSON API reads a request body, for every route at once: only JSON (``application/json`` or
``application/*+json``, UTF-8), well-formed, and no deeper than any body the API takes. Anything else is a 4xx
problem before a handler runs; nothing in a refused body reaches the domain."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

from accessdesk.api.errors import BodyRefused

JSON_MEDIA_TYPE = re.compile(r"application/(?:[a-z0-9!#$&^_.-]+\+)?json")
# The deepest body the API takes is an attestation's or a credential's JSON object inside a list inside an object;
# 32 leaves room and keeps every later walk over the value (validation, storage as JSON) far from any limit.
MAX_DEPTH = 32
# The largest body the API takes is an NDA's text (200,000 characters, up to four bytes each in UTF-8).
MAX_BODY_BYTES = 1024 * 1024


def depth_of(value: Any) -> int:
    """How deeply lists and objects nest in a decoded JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


class JsonApiRequest(Request[Any, Any, Any]):
    """Litestar's request, whose ``json()`` (what every handler's ``data`` is decoded from) refuses what the API
    does not take, with a problem that says why, instead of failing inside the decoder (a 500): a body that is not
    JSON by its media type (415), not UTF-8 or not well-formed (400 ``malformed_body``), nested too deeply for the
    decoder or for us (400 ``body_too_deep``)."""

    async def json(self) -> Any:
        media_type, options = self.content_type
        if not JSON_MEDIA_TYPE.fullmatch(media_type.lower()):
            raise BodyRefused(status_code=415, code="unsupported_media_type",
                              detail=f"send the body as application/json, not {media_type or 'without a Content-Type'}")  # fmt: skip
        if options.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
            raise BodyRefused(status_code=415, code="unsupported_media_type",
                              detail="JSON bodies are UTF-8; send charset=utf-8 or no charset")  # fmt: skip
        try:
            value = await super().json()
        except RecursionError:  # msgspec gives up at about a thousand levels
            raise BodyRefused(status_code=400, code="body_too_deep",
                              detail=f"the body nests lists and objects more than {MAX_DEPTH} deep") from None  # fmt: skip
        except (SerializationException, ValueError) as exc:  # ValueError: UnicodeDecodeError for bytes not UTF-8
            reason = str(exc) if isinstance(exc, SerializationException) else "it is not valid UTF-8"
            raise BodyRefused(status_code=400, code="malformed_body",
                              detail=f"the body is not well-formed JSON: {reason}") from None  # fmt: skip
        if depth_of(value) > MAX_DEPTH:
            raise BodyRefused(status_code=400, code="body_too_deep",
                              detail=f"the body nests lists and objects more than {MAX_DEPTH} deep")  # fmt: skip
        return value
