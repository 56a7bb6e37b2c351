"""Console pages for OAuth client credentials: a grantee's credentials for one grant, and the developer's gateway
credentials for one model. A new secret exists only in the answer to the POST that created or rotated it (the
server keeps a keyed hash), so that answer is a page, not a redirect, and is never cached; creating and rotating
need a recent sign-in. The rules (who, which grant, which keys) are the Credentials service's."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import Controller, Request, post
from litestar.response import Redirect, Template

from accessdesk.db.tables import AccessGrant, FrontierModel
from accessdesk.domain.credentials import Credentials, Issued
from accessdesk.domain.errors import DomainError, Invalid
from accessdesk.domain.sessions import Signed
from accessdesk.request_scope import request_unit
from accessdesk.settings import Settings
from accessdesk.web.cases import grant_page
from accessdesk.web.credential_examples import Target, gateway_examples, token_examples
from accessdesk.web.model_pages import model_page
from accessdesk.web.pages import (
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    back_to,
    page,
    refused,
    require_fresh_sign_in,
)

# Revealing a secret (or registering the key that replaces one) asks for a sign-in younger than this.
SECRET_FRESHNESS = timedelta(minutes=10)
# The page holding a secret must not stay in any cache, the browser's back-forward cache included.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _credentials(request: Request[Any, Any, Any]) -> Credentials:
    settings: Settings = request.app.state.settings
    return Credentials(request_unit(request, request.app.state), pepper=settings.pepper,
                       overlap=timedelta(hours=settings.secret_overlap_hours))  # fmt: skip


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
    return keys  # type: ignore[no-any-return]


class CredentialPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @post("/grants/{grant_id:uuid}/credentials", status_code=200)
    async def create(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                     grant_id: uuid.UUID) -> Template:  # fmt: skip
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/grants/{grant_id}")
        try:
            issued = await _credentials(request).create(actor=signed.actor, grant_id=grant_id, name=form["name"],
                                                        jwks=_public_keys(form))  # fmt: skip
        except DomainError as exc:
            return await grant_page(request, signed, grant_id, refusal=await refused(request, exc),
                                    form_name="credentials", values=form.as_dict())  # fmt: skip
        return await _shown_once(request, signed, issued)

    @post("/grants/{grant_id:uuid}/credentials/{client_pk:uuid}/rotation", status_code=200)
    async def rotate(self, request: Request[Any, Any, Any], signed: Signed, form: Posted, grant_id: uuid.UUID,
                     client_pk: uuid.UUID) -> Template:  # fmt: skip
        # ``form`` has no field to read: it is asked for so that the form's CSRF token is checked.
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/grants/{grant_id}")
        credentials = _credentials(request)
        try:
            issued = await credentials.rotate_secret(actor=signed.actor, client_pk=client_pk)
        except DomainError as exc:
            return await grant_page(request, signed, grant_id, refusal=await refused(request, exc))
        return await _shown_once(request, signed, issued, previous_until=credentials.unit.now() + credentials.overlap)

    # Revoking needs no fresh sign-in, on purpose: it only takes access away, it reveals nothing, and in an
    # incident (a leaked secret) every minute spent signing in again is a minute the leak stays usable.
    @post("/grants/{grant_id:uuid}/credentials/{client_pk:uuid}/revocation")
    async def revoke(self, request: Request[Any, Any, Any], signed: Signed, form: Posted, grant_id: uuid.UUID,
                     client_pk: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await _credentials(request).revoke(actor=signed.actor, client_pk=client_pk, reason=form["reason"])
        except DomainError as exc:
            return await grant_page(request, signed, grant_id, refusal=await refused(request, exc),
                                    form_name=f"credential:{client_pk}", values=form.as_dict())  # fmt: skip
        return back_to(f"/console/grants/{grant_id}", "credential_revoked")

    @post("/models/{model_id:uuid}/gateways", status_code=200)
    async def create_gateway(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                             model_id: uuid.UUID) -> Template:  # fmt: skip
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/models/{model_id}")
        try:
            issued = await _credentials(request).create_gateway(actor=signed.actor, model_id=model_id,
                                                                name=form["gateway_name"])  # fmt: skip
        except DomainError as exc:
            return await model_page(request, signed, model_id, refusal=await refused(request, exc),
                                    form_name="gateway", values=form.as_dict())  # fmt: skip
        return await _shown_once(request, signed, issued)

    @post("/models/{model_id:uuid}/gateways/{client_pk:uuid}/rotation", status_code=200)
    async def rotate_gateway(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                             model_id: uuid.UUID, client_pk: uuid.UUID) -> Template:  # fmt: skip
        # ``form``: for its CSRF check, as above.
        require_fresh_sign_in(request, signed, within=SECRET_FRESHNESS, back=f"/console/models/{model_id}")
        credentials = _credentials(request)
        try:
            issued = await credentials.rotate_secret(actor=signed.actor, client_pk=client_pk)
        except DomainError as exc:
            return await model_page(request, signed, model_id, refusal=await refused(request, exc))
        return await _shown_once(request, signed, issued, previous_until=credentials.unit.now() + credentials.overlap)

    # No fresh sign-in to revoke, as for a grant's credentials (above).
    @post("/models/{model_id:uuid}/gateways/{client_pk:uuid}/revocation")
    async def revoke_gateway(self, request: Request[Any, Any, Any], signed: Signed, form: Posted, model_id: uuid.UUID,
                             client_pk: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await _credentials(request).revoke(actor=signed.actor, client_pk=client_pk, reason=form["reason"])
        except DomainError as exc:
            return await model_page(request, signed, model_id, refusal=await refused(request, exc),
                                    form_name=f"credential:{client_pk}", values=form.as_dict())  # fmt: skip
        return back_to(f"/console/models/{model_id}", "gateway_revoked")


async def _shown_once(
    request: Request[Any, Any, Any], signed: Signed, issued: Issued, *, previous_until: datetime | None = None
) -> Template:
    """The one page that shows a new secret (or confirms a registered key), with examples ready to paste."""
    unit = request_unit(request, request.app.state)
    settings: Settings = request.app.state.settings
    client = issued.client
    model = await unit.get(FrontierModel, client.model_id)
    grant = await unit.get(AccessGrant, client.grant_id) if client.grant_id else None
    target = Target(issuer=settings.issuer, client=client, secret=issued.secret, model=model,
                    scope=" ".join(grant.scopes) if grant else "")  # fmt: skip
    shown = page(
        "console/credential_secret.html", signed, client=client, secret=issued.secret, model=model, grant=grant,
        target=target, previous_until=previous_until, token_minutes=settings.token_ttl_seconds // 60,
        examples=gateway_examples(target) if client.kind == "gateway" else token_examples(target),
        back=f"/console/grants/{grant.id}" if grant else f"/console/models/{model.id}",
    )  # fmt: skip
    shown.headers.update(NO_STORE)
    return shown
