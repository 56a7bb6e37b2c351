"""The cryptography the rules need, behind a few plain functions: ES256 keys and compact JWS (joserfc), and private
keys sealed at rest (AES-256-GCM, cryptography). The domain calls these and imports no cryptographic library
itself: which library, which curve and which algorithm are chosen here, once.

Sealing: under the key-encryption key from settings (``ACCESSDESK_KEY_ENCRYPTION_KEY``, stretched by
``Settings.sealing_key``), with ``label`` bound in as associated data: a sealed key opens only under the label it
was sealed with, so it cannot be swapped onto another row, nor from one table (token signing) to another (audit
checkpoints).
"""

from __future__ import annotations

import base64
import functools
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

ALGORITHM = "ES256"
CURVE = "P-256"


class KeyUnavailable(Exception):
    """A sealed key cannot be unsealed: the key-encryption key in settings is not the one that sealed it."""


class BadSignature(ValueError):
    """A compact JWS whose signature does not verify with the key given, or that cannot be read at all."""


def seal(sealing_key: bytes, label: str, plaintext: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(sealing_key).encrypt(nonce, plaintext, label.encode())).decode()


def unseal(sealing_key: bytes, label: str, sealed: str) -> bytes:
    raw = base64.b64decode(sealed)
    try:
        return AESGCM(sealing_key).decrypt(raw[:12], raw[12:], label.encode())
    except InvalidTag as exc:
        raise KeyUnavailable(f"key {label} cannot be unsealed with the configured key-encryption key "
                             "(ACCESSDESK_KEY_ENCRYPTION_KEY)") from exc


@dataclass(frozen=True, slots=True)
class NewKey:
    """A signing key just made: its private half as PEM (to be sealed at once) and its public JWK (to publish)."""

    kid: str
    private_pem: bytes
    public_jwk: dict[str, Any]


def new_signing_key(kid: str) -> NewKey:
    key = ECKey.generate_key(CURVE, private=True)
    public = {**key.as_dict(private=False), "kid": kid, "alg": ALGORITHM, "use": "sig"}
    return NewKey(kid=kid, private_pem=key.as_pem(private=True), public_jwk=public)


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key, unsealed, and how it signs."""

    kid: str
    key: ECKey
    algorithm: str = ALGORITHM

    def __post_init__(self) -> None:
        if self.key.curve_name != CURVE or self.key.private_key is None:
            raise KeyUnavailable(f"signing key {self.kid} is not a {CURVE} private key")

    @classmethod
    def from_pem(cls, kid: str, pem: bytes) -> Signer:
        return cls(kid=kid, key=ECKey.import_key(pem))

    def sign(self, claims: dict[str, Any], *, typ: str, header: dict[str, Any] | None = None) -> str:
        """``claims`` (JSON values only) as a compact JWS (RFC 7515) signed with this key, the header naming ``typ``,
        the algorithm and the ``kid`` (and whatever more ``header`` adds).

        Made here rather than by joserfc's ``jwt.encode``, which spent twice as long as the signature itself on
        checking and re-encoding what we hand it (the token endpoint signs on every request): the protected header is
        encoded once per ``typ``, the claims once, and the ECDSA signature (DER from cryptography) is turned into the
        64 bytes of R ‖ S that JWS asks for (RFC 7518 §3.4). Every test verifies the result with joserfc and PyJWT."""
        protected = _protected_header(typ, self.algorithm, self.kid) if header is None else _b64_json(
            {**header, "typ": typ, "alg": self.algorithm, "kid": self.kid}
        )  # fmt: skip
        signing_input = protected + b"." + _b64_json(claims)
        private_key = self.key.private_key
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)  # checked in __post_init__
        r, s = decode_dss_signature(private_key.sign(signing_input, _ES256))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


_ES256 = ec.ECDSA(hashes.SHA256())


def _b64_json(value: dict[str, Any]) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=")


@functools.lru_cache(maxsize=64)
def _protected_header(typ: str, algorithm: str, kid: str) -> bytes:
    return _b64_json({"typ": typ, "alg": algorithm, "kid": kid})


def thumbprint(jwk: dict[str, Any]) -> str:
    """The key's RFC 7638 thumbprint: what an operator compares by eye or keeps on paper."""
    return ECKey.import_key(jwk).thumbprint()


def unverified(compact: str) -> tuple[dict[str, Any], Any]:
    """A compact JWS's protected header and JSON payload, read without checking the signature. ValueError when it
    is not a compact JWS with a JSON payload."""
    try:
        parts = jws.extract_compact(compact.encode())
        return dict(parts.protected), json.loads(parts.payload)
    except (JoseError, UnicodeDecodeError) as exc:
        raise ValueError(exc.description if isinstance(exc, JoseError) else "not UTF-8") from exc


def verify(compact: str, jwk: dict[str, Any]) -> None:
    """Check the signature of a compact JWS with ``jwk`` (ES256 only); BadSignature when it does not hold."""
    try:
        jwt.decode(compact, ECKey.import_key(jwk), algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise BadSignature(str(exc) or type(exc).__name__) from exc
