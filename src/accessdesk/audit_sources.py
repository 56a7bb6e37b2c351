"""Where ``accessdesk audit verify`` reads checkpoints and keys from: a file or an http(s) URL.

A checkpoint may come as its compact JWS (``accessdesk audit checkpoint --out``, ``/.well-known/
accessdesk-audit-checkpoint``) or inside JSON that carries it: the structured log line, the Slack payload, an
evidence bundle. Keys come as a JWKS (``/.well-known/accessdesk-audit-keys``, ``accessdesk audit keys``) or one JWK.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

TIMEOUT = 10.0


class SourceError(ValueError):
    """A file or URL cannot be read, or does not hold what it should."""


def read(where: str) -> str:
    if where.startswith(("https://", "http://")):
        try:
            answer = httpx.get(where, timeout=TIMEOUT, follow_redirects=False)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot fetch {where}: {exc}") from exc
        return answer.text
    try:
        return Path(where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {where}: {exc}") from exc


def checkpoint_text(raw: str, *, where: str) -> str:
    """The compact JWS in ``raw``, itself or as the ``jws`` of JSON (also under ``checkpoint`` or
    ``audit.checkpoint``, as evidence bundles carry it)."""
    text = raw.strip()
    if not text.startswith("{"):
        return text
    try:
        document: Any = json.loads(text)
    except ValueError as exc:
        raise SourceError(f"{where} is neither a checkpoint nor JSON ({exc})") from exc
    for path in (("jws",), ("checkpoint", "jws"), ("audit", "checkpoint", "jws")):
        found: Any = document
        for name in path:
            found = found.get(name) if isinstance(found, dict) else None
        if isinstance(found, str):
            return found
    raise SourceError(f"{where} is JSON without a checkpoint in it (no \"jws\")")


def keys_in(raw: str, *, where: str) -> list[dict[str, Any]]:
    """The public keys of a JWKS, or the one JWK, in ``raw``; each must name its ``kid``."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise SourceError(f"{where} is not JSON ({exc})") from exc
    keys = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) and k.get("kid") for k in keys):
        raise SourceError(f"{where} is not a JWKS nor a JWK with a kid")
    if any("d" in k for k in keys):
        raise SourceError(f"{where} holds a private key: give the public key only")
    return keys
