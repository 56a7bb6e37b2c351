"""Credentials in the console: the grantee's admins create one after a recent sign-in and see its secret once, with
examples that work; rotation shows a new secret and how long the old one lasts; a registered public key replaces
the secret; staff see status, never secrets, and may revoke; the developer's admins manage gateway credentials.
Refusals say why and change nothing."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

from joserfc.jwk import ECKey

from accessdesk.domain.vocabulary import Tier
from tests.support.console import SECRET, clients, csrf_in, match_in, open_as, post_confirmed, sign_in, words_of
from tests.support.oauth import basic
from tests.support.scenes import usable_grant

ISSUER = "http://127.0.0.1:8000"  # the default base URL the api fixture's app runs with
CLIENT_ID = re.compile(r"adk_[cg]_[A-Za-z0-9_-]{22}")


async def token_for(api, client_id: str, secret: str):
    return await api.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))


def examples(html: str) -> dict[str, str]:
    """The page's examples by title, as a reader would copy them."""
    found = re.findall(r'<h3>(.*?)</h3>\s*<pre class="document"><code>(.*?)</code></pre>', html, re.DOTALL)
    return {unescape(title): unescape(code) for title, code in found}


def assert_python_compiles(html: str) -> None:
    pythons = [code for title, code in examples(html).items() if title.startswith("Python")]
    assert pythons
    for code in pythons:
        compile(code, "<example>", "exec")


async def create(api, page: str, shown, **fields):
    return await api.post(f"{page}/credentials", data={"csrf": csrf_in(shown.text), "mode": "secret", **fields},
                          follow_redirects=True)  # fmt: skip


async def test_an_admin_sees_the_new_secret_once_and_it_gets_a_token(api, world, clock):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    shown = await open_as(api, world.gov_admin, page)
    assert "New credential" in shown.text and "No secret" not in shown.text
    response = await create(api, page, shown, name="evaluation cluster")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    text = unescape(response.text)
    secret, client_id = match_in(SECRET, text), match_in(CLIENT_ID, text)
    assert "this is the only time it is shown" in text
    shown_examples = examples(response.text)
    curl = shown_examples["curl (client_secret_basic)"]
    assert f"export ACCESSDESK_CLIENT_SECRET={secret}" in curl and f"{ISSUER}/oauth/token" in curl
    assert '-u "$ACCESSDESK_CLIENT_ID:$ACCESSDESK_CLIENT_SECRET"' in curl and "scope=model:atlas:invoke" in curl
    python = shown_examples["Python (Authlib)"]
    assert 'token_endpoint_auth_method="client_secret_basic"' in python and "fetch_token(TOKEN_URL" in python
    assert "DPoP" not in text
    assert_python_compiles(response.text)

    issued = await token_for(api, client_id, secret)
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "Bearer" and issued.json()["scope"] == "model:atlas:invoke"

    again = (await api.get(page)).text
    assert client_id in again and "evaluation cluster" in again and "live" in again
    assert secret not in again and not SECRET.search(again)
    [client] = await clients(world)
    assert client.client_id == client_id and client.auth_method == "client_secret" and client.grant_id == grant.id


async def test_a_secret_needs_a_sign_in_younger_than_ten_minutes_but_revoking_does_not(api, world, clock, unchanged):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    shown = await open_as(api, world.gov_admin, page)
    assert (await create(api, page, shown, name="first")).status_code == 200
    [client] = await clients(world)

    clock.advance(timedelta(minutes=11))
    shown = await api.get(page)  # reading the page needs no fresh sign-in (and touches the idle session)
    assert shown.status_code == 200
    for action in (f"{page}/credentials", f"{page}/credentials/{client.id}/rotation"):
        async with unchanged():
            stale = await api.post(action, data={"csrf": csrf_in(shown.text), "mode": "secret", "name": "second"},
                                   follow_redirects=False)  # fmt: skip
        assert stale.status_code == 303 and stale.headers["location"] == f"/login/again?next={page}", action
        assert not SECRET.search(stale.text)
    revoked = await api.post(f"{page}/credentials/{client.id}/revocation",
                             data={"csrf": csrf_in(shown.text), "reason": "leaked in a log"}, follow_redirects=False)  # fmt: skip
    assert revoked.status_code == 303 and revoked.headers["location"] == f"{page}?done=credential_revoked"
    assert (await clients(world))[0].revoke_reason == "leaked in a log"


async def test_only_the_grantees_admins_create_credentials(api, world, clock, unchanged):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    for person in (world.gov_member, world.dev_admin):
        shown = await open_as(api, person, page)
        assert "New credential" not in shown.text
        async with unchanged():
            refused = await create(api, page, shown, name="mine")
        assert refused.status_code == 403, refused.text
        assert not SECRET.search(refused.text)


async def test_staff_see_the_status_never_the_secret_and_may_revoke(api, world, clock, unchanged):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    created = await create(api, page, await open_as(api, world.gov_admin, page), name="evaluation cluster")
    secret, client_id = match_in(SECRET, created.text), match_in(CLIENT_ID, created.text)
    [client] = await clients(world)

    shown = await open_as(api, world.dev_approver, page)
    assert client_id in shown.text and "evaluation cluster" in shown.text and "Gail (gail@aiso.test)" in shown.text
    assert secret not in shown.text and not SECRET.search(shown.text)
    assert "New credential" not in shown.text and "Rotate" not in shown.text and "Revoke evaluation cluster" in shown.text
    async with unchanged():
        no_reason = await api.post(f"{page}/credentials/{client.id}/revocation",
                                   data={"csrf": csrf_in(shown.text), "reason": " "})  # fmt: skip
    assert no_reason.status_code == 422 and "a reason is required to revoke a credential" in no_reason.text
    assert f'aria-describedby="reason-{client.id}-error"' in no_reason.text
    response = await api.post(f"{page}/credentials/{client.id}/revocation",
                              data={"csrf": csrf_in(shown.text), "reason": "incident 42"}, follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    shown = await api.get(response.headers["location"])
    assert "The credential is revoked" in shown.text and "incident 42" in shown.text and "Dev1 (dev1@acme.test)" in shown.text
    refused = await token_for(api, client_id, secret)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    async with unchanged():
        again = await api.post(f"{page}/credentials/{client.id}/revocation",
                               data={"csrf": csrf_in(shown.text), "reason": "twice"})  # fmt: skip
    assert again.status_code == 409 and "already revoked" in again.text


async def test_a_registered_public_key_instead_of_a_secret(api, world, clock, unchanged):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    shown = await open_as(api, world.gov_admin, page)
    private = ECKey.generate_key("P-256", private=True)
    public = {**private.as_dict(private=False), "kid": "eval-2026"}
    for jwks, message in [("{not json", "this is not valid JSON"), ("[" * 100_000, "this is not valid JSON"),
                          ("", "paste your public key"),
                          (json.dumps(private.as_dict(private=True)), "a key contains private parts"),
                          (json.dumps({"kty": "oct", "k": "c2VjcmV0"}), "EC, OKP (Ed25519) or RSA public key")]:  # fmt: skip
        async with unchanged():
            refused = await create(api, page, shown, name="signed", mode="jwk", jwks=jwks)
        assert refused.status_code == 422, (jwks, refused.text)
        assert message in unescape(refused.text) and 'aria-describedby="jwks-error"' in refused.text, jwks
        assert 'id="mode-jwk" name="mode" value="jwk" checked' in refused.text  # what was chosen stays chosen
    async with unchanged():
        no_mode = await create(api, page, shown, name="signed", mode="both")
    assert no_mode.status_code == 422 and "choose a client secret or a registered public key" in no_mode.text

    response = await create(api, page, shown, name="signed", mode="jwk", jwks=json.dumps(public))
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert not SECRET.search(response.text) and "Client secret" not in response.text
    assert "No secret" in response.text and "eval-2026" in response.text
    python = examples(response.text)["Python (Authlib, private_key_jwt)"]
    assert 'PrivateKeyJWT(TOKEN_URL, alg="ES256", headers={"kid": "eval-2026"})' in python
    assert match_in(CLIENT_ID, response.text) in python
    assert_python_compiles(response.text)
    [client] = await clients(world)
    assert client.auth_method == "private_key_jwt" and client.jwks == {"keys": [public]}

    shown = await api.get(page)
    assert "Revoke signed" in shown.text and "Rotate" not in shown.text  # no secret to rotate
    async with unchanged():
        rotation = await api.post(f"{page}/credentials/{client.id}/rotation", data={"csrf": csrf_in(shown.text)})
    assert rotation.status_code == 409 and "no secret to rotate" in rotation.text


async def test_rotation_shows_a_new_secret_and_until_when_the_old_one_works(api, world, clock, unchanged):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    created = await create(api, page, await open_as(api, world.gov_admin, page), name="cluster")
    old, client_id = match_in(SECRET, created.text), match_in(CLIENT_ID, created.text)
    [client] = await clients(world)
    shown = await api.get(page)
    assert "Rotate the secret of cluster" in shown.text
    async with unchanged():
        forged = await api.post(f"{page}/credentials/{client.id}/rotation", data={})  # no CSRF token
    assert forged.status_code == 403 and not SECRET.search(forged.text)
    response = await api.post(f"{page}/credentials/{client.id}/rotation", data={"csrf": csrf_in(shown.text)},
                              follow_redirects=True)  # fmt: skip
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    new = match_in(SECRET, response.text)
    until = (world.now + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M UTC")
    assert new != old and "New secret for cluster" in response.text
    assert f"The previous secret keeps working until {until}" in words_of(response.text)
    assert (await token_for(api, client_id, old)).status_code == 200
    assert (await token_for(api, client_id, new)).status_code == 200
    clock.advance(timedelta(hours=25))
    assert (await token_for(api, client_id, old)).status_code == 401
    assert (await token_for(api, client_id, new)).status_code == 200


async def test_a_high_tier_model_says_dpop_is_required_and_shows_how(api, world, clock):
    helios = await world.new_model("helios", tier=Tier.HIGH)
    grant = await usable_grant(world, clock, model=helios)
    page = f"/console/grants/{grant.id}"
    response = await create(api, page, await open_as(api, world.gov_admin, page), name="dpop")
    assert response.status_code == 200
    text = unescape(response.text)
    assert "Helios is a high-tier model: every token request carries a DPoP proof" in " ".join(text.split())
    python = examples(response.text)["Python (httpx and joserfc, with DPoP)"]
    assert 'headers={"DPoP": dpop_proof("POST", TOKEN_URL)}' in python and "ECKey.generate_key" in python
    assert '-H "DPoP: $DPOP_PROOF"' in examples(response.text)["curl (client_secret_basic)"]
    assert_python_compiles(response.text)
    # What the page says is what the token endpoint does.
    without = await token_for(api, match_in(CLIENT_ID, text), match_in(SECRET, text))
    assert without.status_code == 400 and without.json()["error"] == "invalid_dpop_proof"


async def test_the_developers_admins_manage_gateway_credentials(api, world, clock, unchanged):
    page = f"/console/models/{world.model.id}"
    shown = await open_as(api, world.dev_admin, page)
    assert "Gateway credentials" in shown.text and "Create a gateway credential" in shown.text
    async with unchanged():
        nameless = await api.post(f"{page}/gateways", data={"csrf": csrf_in(shown.text), "gateway_name": " "})
    assert nameless.status_code == 422 and "a name of 1 to 100 characters is required" in nameless.text
    assert 'aria-describedby="gateway_name-error"' in nameless.text and 'value="Atlas"' in nameless.text

    response = await api.post(f"{page}/gateways", data={"csrf": csrf_in(shown.text), "gateway_name": "edge"},
                              follow_redirects=True)  # fmt: skip
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    secret, client_id = match_in(SECRET, response.text), match_in(CLIENT_ID, response.text)
    assert client_id.startswith("adk_g_")
    curl = examples(response.text)["curl (introspection, RFC 7662)"]
    assert f"{ISSUER}/oauth/introspect" in curl and f"export ACCESSDESK_GATEWAY_SECRET={secret}" in curl
    python = examples(response.text)["Python (accessdesk.gateway)"]
    assert "from accessdesk.gateway import Introspector, TokenRejected, TokenVerifier" in python
    assert 'audience="https://api.acme.test/models/atlas"' in python
    assert_python_compiles(response.text)
    answer = await api.post("/oauth/introspect", data={"token": "not-a-token"}, headers=basic(client_id, secret))
    assert answer.status_code == 200 and answer.json() == {"active": False}

    shown = await api.get(page)
    assert client_id in shown.text and secret not in shown.text and not SECRET.search(shown.text)
    [gateway] = await clients(world)
    rotated = await api.post(f"{page}/gateways/{gateway.id}/rotation", data={"csrf": csrf_in(shown.text)})
    assert rotated.status_code == 200 and match_in(SECRET, rotated.text) != secret
    assert "The previous secret keeps working until" in rotated.text
    revoked = await api.post(f"{page}/gateways/{gateway.id}/revocation",
                             data={"csrf": csrf_in(shown.text), "reason": "gateway retired"}, follow_redirects=False)  # fmt: skip
    assert revoked.status_code == 303
    assert "The gateway credential is revoked" in (await api.get(revoked.headers["location"])).text
    refused = await api.post("/oauth/introspect", data={"token": "x"}, headers=basic(client_id, secret))
    assert refused.status_code == 401


async def test_partners_and_the_government_cannot_create_gateway_credentials(api, world, clock, unchanged):
    await world.government_ready()
    await world.government_grant()
    partner, partner_admin = await world.partner(name="northwind")
    partner_grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=2)))
    page = f"/console/models/{world.model.id}"
    shown = await open_as(api, world.gov_admin, page)
    assert "Gateway credentials" in shown.text and "Create a gateway credential" not in shown.text
    async with unchanged():
        refused = await api.post(f"{page}/gateways", data={"csrf": csrf_in(shown.text), "gateway_name": "ours"})
    assert refused.status_code == 403 and "only the developer's admins manage gateway credentials" in unescape(refused.text)

    shown = await open_as(api, partner_admin, f"/console/grants/{partner_grant.id}")
    async with unchanged():
        refused = await api.post(f"{page}/gateways", data={"csrf": csrf_in(shown.text), "gateway_name": "ours"})
    # The service looks the model up as a partner cannot see it (without their involvement): not found.
    assert refused.status_code == 404 and not SECRET.search(refused.text)


async def test_credential_names_are_escaped(api, world, clock):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    response = await create(api, page, await open_as(api, world.gov_admin, page), name="<script>alert(1)</script>")
    assert response.status_code == 200
    await sign_in(api, world.dev_approver)
    for html in (response.text, (await api.get(page)).text):
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_a_revoked_grants_credential_is_offered_no_rotation(api, world, clock, unchanged):
    grant = await usable_grant(world, clock)
    page = f"/console/grants/{grant.id}"
    await create(api, page, await open_as(api, world.gov_admin, page), name="cluster")
    [client] = await clients(world)
    revoked = await open_as(api, world.gov_approver, page)
    response = await post_confirmed(api, f"{page}/revocation", {"csrf": csrf_in(revoked.text), "reason": "incident"})
    assert response.status_code == 303

    shown = await open_as(api, world.gov_admin, page)
    assert "Rotate" not in shown.text and "Revoke cluster now" in shown.text
    async with unchanged():
        refused = await api.post(f"{page}/credentials/{client.id}/rotation", data={"csrf": csrf_in(shown.text)})
    assert refused.status_code == 409 and "grant is revoked" in refused.text and not SECRET.search(refused.text)
