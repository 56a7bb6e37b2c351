"""DPoP proofs at the token endpoint (RFC 9449 §4.3): the client proves it holds a private key, and the token is
bound to that key's thumbprint (``cnf.jkt``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.util import urlsafe_b64decode

from accessdesk.gateway import allowlist

ALGORITHMS = ("ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256")  # Ed25519: RFC 9864
_REGISTRIES = {alg: allowlist([alg], max_header_length=4096, strict_headers=True) for alg in ALGORITHMS}
KEY_TYPES: dict[str, type[ECKey] | type[OKPKey] | type[RSAKey]] = {"EC": ECKey, "OKP": OKPKey, "RSA": RSAKey}
# How far a proof's iat may be from our clock: proofs are made for one request, now.
FRESHNESS = timedelta(seconds=60)


class DpopError(Exception):
    """The proof is missing, malformed or does not prove what it must; the message says which."""


@dataclass(frozen=True, slots=True)
class DpopProof:
    jkt: str
    jti: str
    expires_at: datetime  # until when its jti must be remembered


def canonical_url(url: str) -> str:
    """The ``htu`` comparison form: scheme and host lower-cased, no query or fragment (RFC 9449 §4.3)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def verify_proof(proof: str | None, *, method: str, url: str, now: datetime) -> DpopProof:
    """Check one DPoP proof for this request; returns the key's thumbprint and the proof's jti."""
    if not proof:
        raise DpopError("a DPoP proof (the DPoP header) is required")
    if "," in proof or proof.count(".") != 2:
        raise DpopError("the DPoP header must hold exactly one compact JWS")
    try:
        header = json.loads(urlsafe_b64decode(proof.split(".", 1)[0].encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DpopError("the DPoP proof's header is not valid JSON") from exc
    if not isinstance(header, dict) or header.get("typ") != "dpop+jwt":
        raise DpopError("the DPoP proof's typ must be dpop+jwt")
    if header.get("alg") not in ALGORITHMS:
        raise DpopError(f"the DPoP proof's alg must be one of {', '.join(ALGORITHMS)}")
    public = header.get("jwk")
    if not isinstance(public, dict) or public.get("kty") not in KEY_TYPES:
        raise DpopError("the DPoP proof must carry its public key (jwk) in its header")
    if {"d", "p", "q", "dp", "dq", "qi", "k"} & public.keys():
        raise DpopError("the DPoP proof's jwk must be a public key")
    try:
        key = KEY_TYPES[public["kty"]].import_key(public)
        verified = jws.deserialize_compact(proof, key, registry=_REGISTRIES[header["alg"]])
        claims = json.loads(verified.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise DpopError("the DPoP proof's signature does not verify with its jwk") from exc
    if not isinstance(claims, dict):
        raise DpopError("the DPoP proof's payload must be a JSON object")
    if claims.get("htm") != method:
        raise DpopError(f"the DPoP proof's htm must be {method}")
    if not isinstance(claims.get("htu"), str) or canonical_url(claims["htu"]) != canonical_url(url):
        raise DpopError(f"the DPoP proof's htu must be {canonical_url(url)}")
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
        raise DpopError("the DPoP proof needs a unique jti")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise DpopError("the DPoP proof needs an iat")
    issued = datetime.fromtimestamp(iat, tz=now.tzinfo)
    if abs(issued - now) > FRESHNESS:
        raise DpopError("the DPoP proof is not fresh (iat too far from now)")
    return DpopProof(jkt=key.thumbprint(), jti=jti, expires_at=issued + FRESHNESS)
