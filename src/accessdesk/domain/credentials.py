"""OAuth client credentials: a grantee's credential for one grant, and the developer's gateway credential for one
model. Secrets are 256-bit random values shown once and stored only as HMAC-SHA256 under the server's pepper (they
are not passwords: a slow hash would buy nothing and cost the token endpoint its speed). A rotation issues a new
secret while the old one keeps working for an overlap, then dies. Creating, revealing, rotating and revoking are
audited; individual token issuances are only counted on the credential."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    FrontierModel,
    OAuthClient,
    OAuthClientSecret,
    OAuthRevokedToken,
    OAuthUsedJti,
    TokenIssuanceDay,
)
from accessdesk.db.types import aware
from accessdesk.domain import visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.errors import Conflict, DomainError, Forbidden, Invalid
from accessdesk.domain.grants import Grants, Usability
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Tier

SECRET_PREFIX = "adks_"
CLIENT_ID_PREFIX = "adk_c_"
GATEWAY_ID_PREFIX = "adk_g_"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
PRIVATE_KEY_JWT = "private_key_jwt"
# Public keys a client may register for private_key_jwt: asymmetric only, never a shared secret.
KEY_TYPES = {"EC": {"crv", "x", "y"}, "OKP": {"crv", "x"}, "RSA": {"n", "e"}}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
MAX_KEYS = 5
CLIENT_FIELDS = ["id", "client_id", "kind", "organisation_id", "model_id", "grant_id", "auth_method", "name",
                 "created_by", "created_at", "revoked_at", "revoked_by", "revoke_reason"]  # fmt: skip


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 bits


def secret_digest(pepper: bytes, secret: str) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def check_public_jwks(jwks: Any) -> dict[str, Any]:
    """A JWK set of 1 to 5 public signature keys with distinct ``kid``s, or Invalid."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_KEYS:
        raise Invalid("jwks", f"a JWK set ({{\"keys\": [...]}}) with 1 to {MAX_KEYS} public keys is required")
    kids = set()
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in KEY_TYPES:
            raise Invalid("jwks", "each key must be an EC, OKP (Ed25519) or RSA public key")
        if PRIVATE_MEMBERS & key.keys():
            raise Invalid("jwks", "a key contains private parts; register the public key only")
        if not KEY_TYPES[key["kty"]] <= key.keys():
            raise Invalid("jwks", f"an {key['kty']} key needs {', '.join(sorted(KEY_TYPES[key['kty']]))}")
        if key.get("use", "sig") != "sig":
            raise Invalid("jwks", "keys are for signatures (use: sig)")
        kids.add(key.get("kid"))
    if len(kids) != len(keys):
        raise Invalid("jwks", "each key needs its own kid")
    return {"keys": keys}


@dataclass(frozen=True, slots=True)
class Issued:
    """A credential just created or rotated, with the secret to show once (None for private_key_jwt)."""

    client: OAuthClient
    secret: str | None


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """An OAuth client as the endpoints use it: plain values copied from its row. A process keeps these across
    requests; a row object kept instead would stay tied to the session that read it, and that session's rollback
    (any refused request) would expire it for every later request of the client."""

    id: uuid.UUID
    client_id: str
    kind: str
    auth_method: str
    grant_id: uuid.UUID | None
    revoked_at: datetime | None
    jwks: str | None  # the registered public keys as canonical JSON (private_key_jwt), else None

    @classmethod
    def of(cls, client: OAuthClient) -> ClientFacts:
        return cls(id=client.id, client_id=client.client_id, kind=client.kind, auth_method=client.auth_method,
                   grant_id=client.grant_id, revoked_at=aware(client.revoked_at),
                   jwks=json.dumps(client.jwks, sort_keys=True) if client.jwks is not None else None)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the endpoints need of a client's model: the audience of its tokens and whether DPoP is required."""

    id: uuid.UUID
    resource: str
    tier: str


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """What the token, introspection and revocation endpoints need to know about a client, read in one go: plain
    values only (see :class:`ClientFacts`)."""

    client: ClientFacts
    secrets: tuple[tuple[str, datetime | None], ...]  # (digest, dies at); kept in memory, so judged when used
    model: ModelFacts

    def secret_matches(self, pepper: bytes, secret: str, *, at: datetime) -> bool:
        return self.digest_matches(secret_digest(pepper, secret), at=at)

    def digest_matches(self, given: str, *, at: datetime) -> bool:
        """Whether ``given`` (a presented secret's :func:`secret_digest`) is the digest of a secret alive at ``at``."""
        # Compare against every secret alive at ``at`` (two during a rotation's overlap), each in constant time.
        for digest, dies in self.secrets:
            if hmac.compare_digest(given, digest) and (dies is None or dies > at):
                return True
        return False


def management_refused(actor: Actor, client: OAuthClient, *, staff_may: bool = False) -> Forbidden | None:
    """Why ``actor`` may not change ``client`` (None: they may): their own organisation's credential, as its admin;
    with ``staff_may``, also any credential of a grant or model they decide on (to cut access in an incident)."""
    own = client.organisation_id == actor.organisation_id
    permission = Permission.GATEWAYS_MANAGE if client.kind == "gateway" else Permission.CREDENTIALS_MANAGE
    if own and actor.can(permission):
        return None
    if staff_may and actor.is_staff and actor.can(Permission.GRANTS_REVOKE):
        return None
    return Forbidden("only the credential's own organisation's admins manage it")


def rotation_refused(actor: Actor, client: OAuthClient, *, grant: AccessGrant | None) -> DomainError | None:
    """Why ``actor`` may not rotate ``client``'s secret (None: they may); ``grant``: the grant it is for, None for
    a gateway credential. The rule :meth:`Credentials.rotate_secret` applies."""
    if (refused := management_refused(actor, client)) is not None:
        return refused
    if client.revoked_at is not None:
        return Conflict("this credential is revoked; create a new one")
    if grant is not None and grant.revoked_at is not None:
        # It could never get a token again: a new secret for it would only be one more secret to keep.
        return Conflict("this credential's grant is revoked; it gets no token, so it has no secret worth rotating")
    if client.auth_method != "client_secret":
        return Conflict("this credential signs with its registered key; it has no secret to rotate")
    return None


def credential_revocation_refused(actor: Actor, client: OAuthClient) -> Forbidden | Conflict | None:
    """Why ``actor`` may not revoke ``client`` (None: they may). The rule :meth:`Credentials.revoke` applies."""
    if (refused := management_refused(actor, client, staff_may=True)) is not None:
        return refused
    if client.revoked_at is not None:
        return Conflict("this credential is already revoked")
    return None


def gateway_management_refused(actor: Actor, model: FrontierModel) -> Forbidden | None:
    """Why ``actor`` may not create gateway credentials for ``model`` (None: they may): its developer's admins."""
    if not actor.can(Permission.GATEWAYS_MANAGE):
        return Forbidden("only the developer's admins manage gateway credentials")
    if not visibility.develops(actor, model):
        return Forbidden("gateway credentials are created by the model's own developer")
    return None


def creation_refused(actor: Actor, grant: AccessGrant, usability: Usability) -> DomainError | None:
    """Why ``actor`` may not create a credential for ``grant`` now (None: they may): the grantee's own admins,
    while the grant is usable. The rule :meth:`Credentials.create` applies."""
    if not actor.can(Permission.CREDENTIALS_MANAGE):
        return Forbidden("only your organisation's admins manage credentials")
    if grant.organisation_id != actor.organisation_id:
        return Forbidden("credentials are created by the grantee's own admins")
    if not usability.usable:
        return Conflict(f"this grant cannot be used now ({usability.explanation}); credentials are created for a "
                        "usable grant")  # fmt: skip
    return None


@dataclass(frozen=True, slots=True)
class Creation:
    """Whether one person may create a credential for one grant: ``allowed`` now, or ``manages`` (they are its
    admins) but not now, for the reason ``why_not``."""

    allowed: bool
    manages: bool
    why_not: str | None


@dataclass(frozen=True, slots=True)
class CredentialActions:
    """What one person may do to one credential now: what a surface offers, and nothing else."""

    rotate: bool
    revoke: bool


class Credentials:
    def __init__(self, unit: Unit, *, pepper: bytes, overlap: timedelta = timedelta(hours=24)) -> None:
        self.unit = unit
        self.pepper = pepper
        self.overlap = overlap

    # -- the grantee's credentials -----------------------------------------------------------------------------

    async def for_grant(self, actor: Actor, grant_id: uuid.UUID) -> list[OAuthClient]:
        """The credentials of a grant the actor can see, newest first (status only: no secret is ever kept)."""
        await self._visible_grant(actor, grant_id)
        rows = await self.unit.session.exec(
            select(OAuthClient).where(OAuthClient.grant_id == grant_id).order_by(col(OAuthClient.created_at).desc())
        )
        return list(rows.all())

    async def create(
        self, *, actor: Actor, grant_id: uuid.UUID, name: str, jwks: dict[str, Any] | None = None
    ) -> Issued:
        """A credential for a grant the actor's organisation holds, while the grant is usable: a client secret, or,
        given ``jwks``, the public keys it will sign ``private_key_jwt`` assertions with."""
        grant, model = await self._visible_grant(actor, grant_id)
        refused = creation_refused(actor, grant, await Grants(self.unit).usability(grant.id))
        if isinstance(refused, Forbidden):
            raise refused
        name = _name(name)
        if refused is not None:  # the grant is not usable now
            raise refused
        client = OAuthClient(
            client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(16), kind="grant", organisation_id=grant.organisation_id,
            model_id=model.id, grant_id=grant.id, name=name, created_by=actor.person_id,
            auth_method=PRIVATE_KEY_JWT if jwks is not None else "client_secret",
            jwks=check_public_jwks(jwks) if jwks is not None else None, created_at=self.unit.now(),
        )  # fmt: skip
        return await self._issue(actor, client)

    async def create_gateway(self, *, actor: Actor, model_id: uuid.UUID, name: str) -> Issued:
        """A gateway credential for the developer's API gateway: it may introspect this model's tokens."""
        model = await self.unit.get(FrontierModel, model_id, what="model")
        visibility.require(visibility.can_see_model(actor, model), "model", model_id)
        if (refused := gateway_management_refused(actor, model)) is not None:
            raise refused
        client = OAuthClient(
            client_id=GATEWAY_ID_PREFIX + secrets.token_urlsafe(16), kind="gateway", organisation_id=model.developer_id,
            model_id=model.id, name=_name(name), created_by=actor.person_id, auth_method="client_secret",
            created_at=self.unit.now(),
        )  # fmt: skip
        return await self._issue(actor, client)

    async def gateways(self, actor: Actor, model_id: uuid.UUID) -> list[OAuthClient]:
        model = await self.unit.get(FrontierModel, model_id, what="model")
        visibility.require(visibility.can_see_model(actor, model), "model", model_id)
        if not visibility.sees_gateway_credentials(actor):
            return []
        rows = await self.unit.session.exec(
            select(OAuthClient).where(OAuthClient.model_id == model_id, OAuthClient.kind == "gateway")
            .order_by(col(OAuthClient.created_at).desc())
        )  # fmt: skip
        return list(rows.all())

    async def _issue(self, actor: Actor, client: OAuthClient) -> Issued:
        self.unit.session.add(client)
        await self.unit.session.flush()
        secret = None
        if client.auth_method == "client_secret":
            secret = self._add_secret(client)
        self.unit.record(actor=actor, action="credential.created", subject=client, after=snapshot(client, CLIENT_FIELDS))
        if secret is not None:
            self.unit.record(actor=actor, action="credential.revealed", subject=client,
                             after={"shown_to": actor.label, "secrets_live": 1})  # fmt: skip
        await self.unit.commit()
        return Issued(client=client, secret=secret)

    def _add_secret(self, client: OAuthClient) -> str:
        secret = new_secret()
        self.unit.session.add(OAuthClientSecret(client_pk=client.id, digest=secret_digest(self.pepper, secret),
                                                created_at=self.unit.now()))  # fmt: skip
        return secret

    async def creation(self, actor: Actor, grant: AccessGrant) -> Creation:
        """Whether ``actor`` may create a credential for ``grant`` now, and if they are its admins but may not,
        why not: what the grant's page offers."""
        refused = creation_refused(actor, grant, await Grants(self.unit).usability(grant.id))
        manages = refused is None or isinstance(refused, Conflict)
        return Creation(allowed=refused is None, manages=manages, why_not=refused.message if manages and refused else None)

    def allowed(self, actor: Actor, clients: list[OAuthClient], *,
                grant: AccessGrant | None = None) -> dict[uuid.UUID, CredentialActions]:  # fmt: skip
        """What ``actor`` may do to each of ``clients`` (ones they can see, all of ``grant``, or gateways) now."""
        return {c.id: CredentialActions(rotate=rotation_refused(actor, c, grant=grant) is None,
                                        revoke=credential_revocation_refused(actor, c) is None) for c in clients}  # fmt: skip

    async def rotate_secret(self, *, actor: Actor, client_pk: uuid.UUID) -> Issued:
        """A new secret, shown once; the current one keeps working until the overlap ends."""
        client = await self._manageable(actor, client_pk)
        grant = await self.unit.get(AccessGrant, client.grant_id) if client.grant_id is not None else None
        if (refused := rotation_refused(actor, client, grant=grant)) is not None:
            raise refused
        now = self.unit.now()
        until = now + self.overlap
        await self.unit.session.exec(
            sa.update(OAuthClientSecret)
            .where(col(OAuthClientSecret.client_pk) == client.id,
                   sa.or_(col(OAuthClientSecret.expires_at).is_(None), col(OAuthClientSecret.expires_at) > until))
            .values(expires_at=until)
        )  # fmt: skip
        secret = self._add_secret(client)
        self.unit.record(actor=actor, action="credential.rotated", subject=client,
                         after={"previous_secret_dies_at": until})  # fmt: skip
        self.unit.record(actor=actor, action="credential.revealed", subject=client, after={"shown_to": actor.label})
        await self.unit.commit()
        return Issued(client=client, secret=secret)

    async def revoke(self, *, actor: Actor, client_pk: uuid.UUID, reason: str) -> OAuthClient:
        """The credential stops at once: no new token, and introspection calls its tokens inactive."""
        client = await self._manageable(actor, client_pk, staff_may=True)
        reason = (reason or "").strip()
        if not reason:
            raise Invalid("reason", "a reason is required to revoke a credential")
        if (refused := credential_revocation_refused(actor, client)) is not None:
            raise refused
        client.revoked_at, client.revoked_by, client.revoke_reason = self.unit.now(), actor.user_id, reason
        self.unit.session.add(client)
        self.unit.record(actor=actor, action="credential.revoked", subject=client, after={"revoked_at": client.revoked_at},
                         reason=reason)  # fmt: skip
        await self.unit.commit()
        return client

    async def _visible_grant(self, actor: Actor, grant_id: uuid.UUID) -> tuple[AccessGrant, FrontierModel]:
        grant = await self.unit.get(AccessGrant, grant_id, what="grant")
        model = await self.unit.get(FrontierModel, grant.model_id)
        visibility.require(visibility.can_see_case(actor, model, grant.organisation_id), "grant", grant_id)
        return grant, model

    async def _manageable(self, actor: Actor, client_pk: uuid.UUID, *, staff_may: bool = False) -> OAuthClient:
        """A credential the actor may change: their own organisation's (as its admin); with ``staff_may``, also
        any credential of a grant or model they decide on (to cut access in an incident)."""
        client = await self.unit.lock(OAuthClient, client_pk, what="credential")
        model = await self.unit.get(FrontierModel, client.model_id)
        visibility.require(visibility.can_see_case(actor, model, client.organisation_id), "credential", client_pk)
        if (refused := management_refused(actor, client, staff_may=staff_may)) is not None:
            raise refused
        return client


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("name", "a name of 1 to 100 characters is required (where the credential is used)")
    return name


# -- what the OAuth endpoints read and write ---------------------------------------------------------------------


def issuance_problems(record: ClientRecord, usability: Usability) -> list[tuple[str, str]]:
    """Why the token endpoint would refuse ``record`` a token whatever the request proves, in the order it asks
    (``credential_revoked``, then ``grant_unusable``), as (code, words): the one statement the endpoint and the
    self-test (domain.readiness) share."""
    problems = []
    if record.client.revoked_at is not None:
        problems.append(("credential_revoked", "this credential has been revoked"))
    if not usability.usable:
        problems.append(("grant_unusable", f"the grant cannot be used now: {usability.explanation}"))
    return problems


def dpop_required(model: ModelFacts) -> bool:
    """Tokens for a high-tier model are bound to a DPoP key (RFC 9449): a request without a proof is refused."""
    return model.tier == Tier.HIGH.value


def plausible_client_id(client_id: str) -> bool:
    """Whether ``client_id`` could name a client at all: 1 to 64 characters, no NUL (which PostgreSQL refuses in
    text, as an error rather than as "no such row")."""
    return 0 < len(client_id) <= 64 and "\x00" not in client_id


async def client_record(unit: Unit, client_id: str) -> ClientRecord | None:
    """The client behind ``client_id`` with its live secrets and its model, or None (unknown or malformed id)."""
    if not plausible_client_id(client_id):
        return None
    now = unit.now()
    found = (await unit.session.exec(
        select(OAuthClient, FrontierModel).join(FrontierModel, col(FrontierModel.id) == OAuthClient.model_id)
        .where(OAuthClient.client_id == client_id)
    )).first()  # fmt: skip
    if found is None:
        return None
    client, model = found
    alive = (await unit.session.exec(
        select(OAuthClientSecret.digest, OAuthClientSecret.expires_at).where(
            OAuthClientSecret.client_pk == client.id,
            sa.or_(col(OAuthClientSecret.expires_at).is_(None), col(OAuthClientSecret.expires_at) > now),
        )
    )).all()  # fmt: skip
    return ClientRecord(client=ClientFacts.of(client), secrets=tuple((digest, aware(dies)) for digest, dies in alive),
                        model=ModelFacts(id=model.id, resource=model.resource, tier=model.tier))  # fmt: skip


async def prune_oauth_records(unit: Unit) -> int:
    """Forget what only mattered until a JWT expired: used assertion and proof ids (:func:`first_use`), revoked
    tokens (:func:`revoke_token`). One unit of work of its own (the worker's sweep)."""
    now = unit.now()
    pruned = 0
    for table in (OAuthUsedJti, OAuthRevokedToken):
        result = await unit.session.exec(sa.delete(table).where(col(table.expires_at) <= now))
        pruned += result.rowcount or 0
    await unit.commit()
    return pruned


async def first_use(unit: Unit, key: str, *, expires_at: datetime) -> bool:
    """Record a one-time value (an assertion's or a DPoP proof's ``jti``); False when it was seen before. The
    primary key decides, so two concurrent requests with the same value cannot both pass."""
    now = unit.now()
    await unit.session.exec(
        sa.delete(OAuthUsedJti).where(col(OAuthUsedJti.key) == key, col(OAuthUsedJti.expires_at) <= now)
    )
    insert = postgresql_insert if unit.dialect == "postgresql" else sqlite_insert
    result = await unit.session.exec(insert(OAuthUsedJti).values(key=key, expires_at=expires_at).on_conflict_do_nothing())
    return bool(result.rowcount == 1)


async def count_issuance(unit: Unit, client_pk: uuid.UUID, *, n: int = 1, at: datetime | None = None) -> None:
    """Add ``n`` issuances to a credential's count, last used at ``at`` (default now), and to its count for the UTC
    day of ``at``."""
    at = at or unit.now()
    await unit.session.exec(
        sa.update(OAuthClient).where(col(OAuthClient.id) == client_pk)
        .values(token_count=OAuthClient.token_count + n,
                last_used_at=sa.case((col(OAuthClient.last_used_at) > at, OAuthClient.last_used_at), else_=at))
    )  # fmt: skip
    insert = postgresql_insert if unit.dialect == "postgresql" else sqlite_insert
    add = insert(TokenIssuanceDay).values(client_pk=client_pk, day=at.astimezone(UTC).date(), count=n)
    await unit.session.exec(add.on_conflict_do_update(
        index_elements=["client_pk", "day"], set_={"count": TokenIssuanceDay.count + add.excluded["count"]},
    ))  # fmt: skip


async def revoke_token(unit: Unit, *, jti: str, client_pk: uuid.UUID, expires_at: datetime) -> None:
    """Remember an access token its client revoked (RFC 7009) until it would have expired anyway."""
    if await unit.session.get(OAuthRevokedToken, jti) is None:
        unit.session.add(OAuthRevokedToken(jti=jti, client_pk=client_pk, revoked_at=unit.now(), expires_at=expires_at))


async def token_revoked(unit: Unit, jti: str) -> bool:
    return (await unit.session.exec(select(OAuthRevokedToken.jti).where(OAuthRevokedToken.jti == jti))).first() is not None
