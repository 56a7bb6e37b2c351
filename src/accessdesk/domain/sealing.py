"""Private keys at rest: sealed with AES-256-GCM under the key-encryption key from settings
(``ACCESSDESK_KEY_ENCRYPTION_KEY``, stretched by ``Settings.sealing_key``).

``label`` is bound in as associated data: a sealed key opens only under the label it was sealed with, so it cannot
be swapped onto another row, nor from one table (token signing) to another (audit checkpoints).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyUnavailable(Exception):
    """A sealed key cannot be unsealed: the key-encryption key in settings is not the one that sealed it."""


def seal(sealing_key: bytes, label: str, plaintext: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(sealing_key).encrypt(nonce, plaintext, label.encode())).decode()


def unseal(sealing_key: bytes, label: str, sealed: str) -> bytes:
    raw = base64.b64decode(sealed)
    try:
        return AESGCM(sealing_key).decrypt(raw[:12], raw[12:], label.encode())
    except InvalidTag as exc:
        raise KeyUnavailable(f"key {label} cannot be unsealed with the configured key-encryption key") from exc
