"""What anyone may fetch to check the audit trail later: the audit keys (a JWKS) and the latest checkpoint."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.checkpoints import published_keys, verified
from tests.support.audit import checkpoints, event
from tests.world import OPERATOR


async def test_the_audit_keys_and_the_latest_checkpoint_are_published(api, world, clock):
    assert (await api.get("/.well-known/accessdesk-audit-keys")).json() == {"keys": []}
    none_yet = await api.get("/.well-known/accessdesk-audit-checkpoint")
    assert none_yet.status_code == 404 and "no checkpoint" in none_yet.text

    await checkpoints(world).take(actor=OPERATOR)
    await event(world)
    clock.advance(timedelta(minutes=1))
    newest = await checkpoints(world).take(actor=OPERATOR)
    expected = await published_keys(world.unit)

    keys = await api.get("/.well-known/accessdesk-audit-keys")
    assert keys.status_code == 200 and keys.headers["content-type"].startswith("application/jwk-set+json")
    assert keys.json()["keys"] == expected and all("d" not in k for k in keys.json()["keys"])
    latest = await api.get("/.well-known/accessdesk-audit-checkpoint")
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("application/jwt")
    assert latest.text.strip() == newest.jws
    assert verified(latest.text, keys.json()["keys"], source="the well-known URL").seq == newest.seq
