"""Signing keys (sealed at rest, published before they sign, kept after they retire) and client secrets (HMAC
under the pepper, rotated with an overlap); the credential lifecycle in the audit trail."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from sqlmodel import col, select

from accessdesk.crypto import KeyUnavailable
from accessdesk.db.tables import AuditEvent, OAuthClientSecret, OAuthUsedJti, SigningKey
from accessdesk.domain.credentials import first_use, prune_oauth_records, secret_digest
from accessdesk.domain.signing_keys import KeyRing
from accessdesk.settings import Settings
from tests.support.oauth import SETTINGS, basic, jwks, post_token, verified
from tests.world import OPERATOR

AUDIENCE = "https://api.acme.test/models/atlas"


def ring(world, settings: Settings = SETTINGS) -> KeyRing:
    return KeyRing(world.unit, sealing_key=settings.sealing_key, token_ttl=timedelta(seconds=settings.token_ttl_seconds))


async def test_tokens_verify_across_a_key_rotation(app, http, world, clock, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="rotating")
    auth = basic(issued.client.client_id, issued.secret)
    before = (await jwks(http))["keys"]
    old_token = (await post_token(http, {"grant_type": "client_credentials"}, headers=auth)).json()["access_token"]
    upcoming = [k["kid"] for k in before if k["kid"] != verified_kid(old_token)]
    assert len(before) == 2 and len(upcoming) == 1  # the next key was published before it signs

    current, following = await ring(world).rotate(actor=OPERATOR)
    app.state.oauth_keys.forget()  # this process picks the rotation up at once (others within 30 s)
    assert current == upcoming[0]
    after = await jwks(http)
    assert {k["kid"] for k in after["keys"]} == {k["kid"] for k in before} | {following}
    new_token = (await post_token(http, {"grant_type": "client_credentials"}, headers=auth)).json()["access_token"]
    assert verified_kid(new_token) == current
    for token in (old_token, new_token):  # both verify against the one JWKS a gateway fetches after the rotation
        assert verified(token, after, audience=AUDIENCE)["client_id"] == issued.client.client_id

    clock.advance(timedelta(seconds=SETTINGS.token_ttl_seconds) + timedelta(minutes=6))
    app.state.oauth_keys.forget()
    later = {k["kid"] for k in (await jwks(http))["keys"]}
    assert verified_kid(old_token) not in later and {current, following} <= later


def verified_kid(token: str) -> str:
    return pyjwt.get_unverified_header(token)["kid"]


async def test_private_keys_are_sealed_at_rest(world):
    await ring(world).ensure(actor=OPERATOR)
    rows = (await world.unit.session.exec(select(SigningKey))).all()
    assert rows and all(b"PRIVATE KEY" not in base64.b64decode(r.private_key_sealed) for r in rows)
    assert all("d" not in r.public_jwk for r in rows)
    other = Settings(key_encryption_key="another key-encryption key, 32+ chars long")
    with pytest.raises(KeyUnavailable):
        await ring(world, other).signer()
    assert (await ring(world).signer()) is not None


async def test_what_the_signer_writes_both_libraries_verify(world):
    await ring(world).ensure(actor=OPERATOR)
    signer = await ring(world).signer()
    assert signer is not None
    published: Any = {"keys": await ring(world).published()}  # a JWKS document, which each library types its own way
    claims = {"iss": "https://accessdesk.example", "sub": "adk_c_x", "aud": AUDIENCE, "scope": "model:atlas:invoke",
              "jti": "j" * 22, "iat": 1_700_000_000, "exp": 1_700_000_900, "cnf": {"jkt": "thumb"}, "note": "café"}  # fmt: skip
    ours = signer.sign(claims, typ="at+jwt")
    assert jose_jwt.decode(ours, KeySet.import_key_set(published)).header == {"typ": "at+jwt", "alg": "ES256",
                                                                              "kid": signer.kid}  # fmt: skip
    assert jose_jwt.decode(ours, KeySet.import_key_set(published), algorithms=["ES256"]).claims == claims
    key = pyjwt.PyJWKSet.from_dict(published)[signer.kid]
    assert pyjwt.decode(ours, key=key.key, algorithms=["ES256"], audience=AUDIENCE,
                        options={"verify_exp": False}) == claims  # fmt: skip


async def test_a_rotated_secret_keeps_working_for_the_overlap_then_dies(http, world, clock, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="rotated")
    rotated = await credentials.rotate_secret(actor=world.gov_admin, client_pk=issued.client.id)
    old, new = basic(issued.client.client_id, issued.secret), basic(issued.client.client_id, rotated.secret)
    for auth in (old, new):
        assert (await post_token(http, {"grant_type": "client_credentials"}, headers=auth)).status_code == 200
    clock.advance(timedelta(hours=24, seconds=1))
    assert (await post_token(http, {"grant_type": "client_credentials"}, headers=old)).status_code == 401
    assert (await post_token(http, {"grant_type": "client_credentials"}, headers=new)).status_code == 200


async def test_secrets_are_256_bit_and_stored_only_as_an_hmac(world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="stored")
    assert len(base64.urlsafe_b64decode(issued.secret.removeprefix("adks_") + "=")) == 32
    stored = (await world.unit.session.exec(select(OAuthClientSecret.digest))).all()
    assert stored == [secret_digest(SETTINGS.pepper, issued.secret)] and issued.secret not in str(stored)


async def test_the_credential_lifecycle_is_audited_but_not_each_token(http, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="audited")
    await credentials.rotate_secret(actor=world.gov_admin, client_pk=issued.client.id)
    for _ in range(3):
        await post_token(http, {"grant_type": "client_credentials"}, headers=basic(issued.client.client_id, issued.secret))
    await credentials.revoke(actor=world.gov_admin, client_pk=issued.client.id, reason="done")
    actions = (await world.unit.session.exec(
        select(AuditEvent.action).where(AuditEvent.subject_id == str(issued.client.id)).order_by(col(AuditEvent.seq))
    )).all()  # fmt: skip
    assert actions == ["credential.created", "credential.revealed", "credential.rotated", "credential.revealed",
                       "credential.revoked"]  # fmt: skip
    text = " ".join(str(e.after) for e in (await world.unit.session.exec(select(AuditEvent))).all())
    assert issued.secret not in text


async def test_the_worker_forgets_one_time_values_once_their_jwt_has_expired(world, clock):
    assert await first_use(world.unit, "dpop:key:one", expires_at=clock.now() + timedelta(minutes=1))
    assert not await first_use(world.unit, "dpop:key:one", expires_at=clock.now() + timedelta(minutes=1))
    await world.unit.session.commit()
    assert await prune_oauth_records(world.unit) == 0
    clock.advance(timedelta(minutes=2))
    assert await prune_oauth_records(world.unit) == 1
    assert (await world.unit.session.exec(select(OAuthUsedJti))).all() == []
