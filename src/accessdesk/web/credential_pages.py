"""Console pages for OAuth client credentials: a grantee's credentials for one grant, and the developer's gateway
credentials for one model. Creating and rotating need a recent sign-in. The rules (who, which grant, which keys)
are the Credentials service's.

A new secret is shown once, and reloading must neither show it again nor create a second credential. So the POST
that creates (or rotates) answers with a redirect (POST → redirect → GET, and a reload repeats only the GET), and
hands the secret to that GET in a one-time holder: a short-lived cookie sealed (AES-GCM) under the server's
key-encryption key and bound to the session and the credential, whose nonce the GET spends in the database's
one-time table (``first_use``) before it shows anything. The server keeps no secret; a second GET, a replayed
cookie or another session finds the holder spent, and the page says the secret is not shown again."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.crypto import KeyUnavailable, seal, unseal
from accessdesk.db.tables import AccessGrant, FrontierModel, OAuthClient
from accessdesk.domain.actor import Actor
from accessdesk.domain.credentials import Credentials, Issued, first_use
from accessdesk.domain.errors import Invalid, NotFound
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.settings import Settings
from accessdesk.web.cases import grant_page
from accessdesk.web.credential_examples import Target, gateway_examples, token_examples
from accessdesk.web.model_pages import model_page
from accessdesk.web.pages import (
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    back_to,
    cookie_name,
    page,
    require_fresh_sign_in,
)
from accessdesk.web.refusals import on_refusal

# Revealing a secret (or registering the key that replaces one) asks for a sign-in younger than this.
SECRET_FRESHNESS = timedelta(minutes=10)
# The page holding a secret must not stay in any cache, the browser's back-forward cache included.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# The one-time holder of a new secret, between the POST that made it and the GET that shows it.
HOLDER_COOKIE = "accessdesk_shown_once"
HOLDER_PATH = "/console/credentials"
HOLDER_LIFETIME = timedelta(minutes=5)


def _public_keys(form: Posted) -> dict[str, Any] | None:
    """The keys typed for a ``private_key_jwt`` credential as a JWK set (one JWK is taken as a set of one), or
    None for a secret. Only the form's shape is checked here; the service checks the keys."""
    if form["mode"] not in ("secret", "jwk"):
        raise Invalid("mode", "choose a client secret or a registered public key")
    if form["mode"] == "secret":
        return None
    if not form["jwks"]:
        raise Invalid("jwks", "paste your public key as a JWK or a JWK set (JSON)")
    try:
        keys = json.loads(form["jwks"])
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        raise Invalid("jwks", "this is not valid JSON; paste a JWK ({\"kty\": ...}) or a JWK set ({\"keys\": [...]})") from None
    if isinstance(keys, dict) and "keys" not in keys and "kty" in keys:
        return {"keys": [keys]}
    return keys


class CredentialPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @post("/grants/{grant_id:uuid}/credentials", status_code=200)
    @on_refusal(grant_page, section="credentials")
    async def create(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        form: NamedDependency[Posted], unit: NamedDependency[Unit], credentials: NamedDependency[Credentials],
        grant_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/grants/{grant_id}")
        issued = await credentials.create(actor=actor, grant_id=grant_id, name=form["name"], jwks=_public_keys(form))
        return _shown_once(request, unit, issued)

    @post("/grants/{grant_id:uuid}/credentials/{client_pk:uuid}/rotation", status_code=200)
    @on_refusal(grant_page)
    async def rotate(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        form: NamedDependency[Posted], unit: NamedDependency[Unit], credentials: NamedDependency[Credentials],
        grant_id: FromPath[uuid.UUID], client_pk: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        # ``form`` has no field to read: it is asked for so that the form's CSRF token is checked.
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/grants/{grant_id}")
        issued = await credentials.rotate_secret(actor=actor, client_pk=client_pk)
        return _shown_once(request, unit, issued, previous_until=unit.now() + credentials.overlap)

    # Revoking needs no fresh sign-in, on purpose: it only takes access away, it reveals nothing, and in an
    # incident (a leaked secret) every minute spent signing in again is a minute the leak stays usable.
    @post("/grants/{grant_id:uuid}/credentials/{client_pk:uuid}/revocation")
    @on_refusal(grant_page, section="credential:{client_pk}")
    async def revoke(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], credentials: NamedDependency[Credentials],
        grant_id: FromPath[uuid.UUID], client_pk: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await credentials.revoke(actor=actor, client_pk=client_pk, reason=form["reason"])
        return back_to(f"/console/grants/{grant_id}", "credential_revoked")

    @post("/models/{model_id:uuid}/gateways", status_code=200)
    @on_refusal(model_page, section="gateway")
    async def create_gateway(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        form: NamedDependency[Posted], unit: NamedDependency[Unit], credentials: NamedDependency[Credentials],
        model_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/models/{model_id}")
        issued = await credentials.create_gateway(actor=actor, model_id=model_id, name=form["gateway_name"])
        return _shown_once(request, unit, issued)

    @post("/models/{model_id:uuid}/gateways/{client_pk:uuid}/rotation", status_code=200)
    @on_refusal(model_page)
    async def rotate_gateway(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        form: NamedDependency[Posted], unit: NamedDependency[Unit], credentials: NamedDependency[Credentials],
        model_id: FromPath[uuid.UUID], client_pk: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        # ``form``: for its CSRF check, as above.
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/models/{model_id}")
        issued = await credentials.rotate_secret(actor=actor, client_pk=client_pk)
        return _shown_once(request, unit, issued, previous_until=unit.now() + credentials.overlap)

    # No fresh sign-in to revoke, as for a grant's credentials (above).
    @post("/models/{model_id:uuid}/gateways/{client_pk:uuid}/revocation")
    @on_refusal(model_page, section="credential:{client_pk}")
    async def revoke_gateway(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], credentials: NamedDependency[Credentials],
        model_id: FromPath[uuid.UUID], client_pk: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await credentials.revoke(actor=actor, client_pk=client_pk, reason=form["reason"])
        return back_to(f"/console/models/{model_id}", "gateway_revoked")

    @get(f"{HOLDER_PATH.removeprefix('/console')}/{{client_pk:uuid}}")
    async def shown_once(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        credentials: NamedDependency[Credentials], client_pk: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        """The new secret, from its one-time holder; once spent, the credential without it."""
        client = await _visible_client(credentials, signed, client_pk)
        held = _open_holder(request, client_pk, now=unit.now())
        if held is not None and not await first_use(unit, f"console-secret:{held['nonce']}",
                                                    expires_at=unit.now() + HOLDER_LIFETIME):  # fmt: skip
            held = None
        await unit.commit()
        if held is None:
            shown = await _shown_page(request, signed, unit, client, secret=None,
                                      spent=client.auth_method == "client_secret")  # fmt: skip
        else:
            until = datetime.fromisoformat(held["previous_until"]) if held["previous_until"] else None
            shown = await _shown_page(request, signed, unit, client, secret=held["secret"], previous_until=until)
        shown.cookies.append(Cookie(key=HOLDER_COOKIE, value="", path=HOLDER_PATH, max_age=0, httponly=True))
        return shown


async def _visible_client(credentials: Credentials, signed: Signed, client_pk: uuid.UUID) -> OAuthClient:
    """The credential, if it is among those the person may see on its grant's or its model's page (else 404)."""
    client = await credentials.unit.get(OAuthClient, client_pk, what="credential")
    listed = (await credentials.for_grant(signed.actor, client.grant_id) if client.grant_id
              else await credentials.gateways(signed.actor, client.model_id))  # fmt: skip
    if client.id not in {c.id for c in listed}:
        raise NotFound(f"credential {client_pk} not found")
    return client


def _holder_label(request: Request[Any, Any, Any], client_pk: uuid.UUID) -> str:
    # The holder opens only for this credential and in the session that made it: the label is sealed in.
    session = request.cookies.get(cookie_name(request.app.state.settings), "")
    return f"console-secret:{client_pk}:{hashlib.sha256(session.encode()).hexdigest()}"


def _shown_once(
    request: Request[Any, Any, Any], unit: Unit, issued: Issued, *, previous_until: datetime | None = None
) -> Redirect:
    """Redirect to the page that shows the new secret (or confirms a registered key), handing the secret over in
    the one-time holder."""
    settings: Settings = request.app.state.settings
    now = unit.now()
    held = {"secret": issued.secret, "previous_until": previous_until.isoformat() if previous_until else None,
            "nonce": secrets.token_urlsafe(24), "expires": (now + HOLDER_LIFETIME).timestamp()}  # fmt: skip
    sealed = seal(settings.sealing_key, _holder_label(request, issued.client.id), json.dumps(held).encode())
    value = base64.urlsafe_b64encode(base64.b64decode(sealed)).decode().rstrip("=")
    holder = Cookie(key=HOLDER_COOKIE, value=value, path=HOLDER_PATH, httponly=True, samesite="strict",
                    secure=settings.is_production, max_age=int(HOLDER_LIFETIME.total_seconds()))  # fmt: skip
    return Redirect(f"{HOLDER_PATH}/{issued.client.id}", status_code=303, cookies=[holder], headers=NO_STORE)


def _open_holder(request: Request[Any, Any, Any], client_pk: uuid.UUID, *, now: datetime) -> dict[str, Any] | None:
    """What the holder cookie hands over, or None when there is none, it is not this session's or this
    credential's, or it has expired."""
    value = request.cookies.get(HOLDER_COOKIE)
    if not value:
        return None
    try:
        sealed = base64.b64encode(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))).decode()
        held = json.loads(unseal(request.app.state.settings.sealing_key, _holder_label(request, client_pk), sealed))
    except (KeyUnavailable, ValueError, TypeError):
        return None
    if not isinstance(held, dict) or now.timestamp() > float(held.get("expires", 0)):
        return None
    return held


async def _shown_page(
    request: Request[Any, Any, Any], signed: Signed, unit: Unit, client: OAuthClient, *, secret: str | None,
    previous_until: datetime | None = None, spent: bool = False,
) -> Template:  # fmt: skip
    """The one page that shows a new secret (or confirms a registered key), with examples ready to paste; once
    the secret is spent, the same page without it."""
    settings: Settings = request.app.state.settings
    model = await unit.get(FrontierModel, client.model_id)
    grant = await unit.get(AccessGrant, client.grant_id) if client.grant_id else None
    target = Target(issuer=settings.issuer, client=client, secret=secret, model=model,
                    scope=" ".join(grant.scopes) if grant else "")  # fmt: skip
    shown = page(
        "console/credential_secret.html", signed, client=client, secret=secret, model=model, grant=grant,
        target=target, previous_until=previous_until, token_minutes=settings.token_ttl_seconds // 60, spent=spent,
        examples=[] if spent else gateway_examples(target) if client.kind == "gateway" else token_examples(target),
        back=f"/console/grants/{grant.id}" if grant else f"/console/models/{model.id}",
    )  # fmt: skip
    shown.headers.update(NO_STORE)
    return shown
