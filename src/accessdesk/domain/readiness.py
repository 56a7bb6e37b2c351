""""Is my access ready?": one stage per grant in the domain's words, and a self-test of a credential.

Between "approved" and "it works" lie the gates, the window, a credential and a first token; a grantee who cannot
tell which of them is missing writes to support. Each of a grantee's grants (and each nomination still waiting) is
in exactly one :class:`Stage`, with what holds it there and whose move it is; the developer and the government see
the same stages in the programme overview.

The self-test answers for one credential what the token endpoint would, check by check, without issuing a token: it
asks the same record (``credentials.client_record``), the same answer about the grant (``Grants.usability``) and the
same refusals (``credentials.issuance_problems``, ``credentials.dpop_required``) as the endpoint does, so the two
cannot disagree.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination, OAuthClient, Organisation
from accessdesk.db.types import aware
from accessdesk.domain import gates, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import lapses_at_sql
from accessdesk.domain.credentials import (
    PRIVATE_KEY_JWT,
    ClientRecord,
    client_record,
    dpop_required,
    issuance_problems,
    plausible_client_id,
)
from accessdesk.domain.errors import NotFound
from accessdesk.domain.grant_state import state_sql
from accessdesk.domain.grants import Grants, Usability, stored_answer
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import GrantState, NominationState, Vetting


class Stage(StrEnum):
    """Where one piece of access stands, in the order it normally moves."""

    NOMINATED = "nominated"  # a nomination waits for the developer's and the government's decisions
    APPROVED = "approved"  # both approved; the window has not started and nothing else holds it
    BLOCKED = "blocked"  # something is owed or a rule holds it: see the reasons, and whose move each is
    READY_TO_PROVISION = "ready_to_provision"  # usable now: the grantee's admins create a credential
    CREDENTIALS_ISSUED = "credentials_issued"  # a live credential, but no token issued in the window yet
    READY = "ready"  # a token was issued in the window: it works
    ENDED = "ended"  # the window ended or the grant was revoked


# The path a grant normally takes, for a surface to draw where it stands (BLOCKED and ENDED are off the path).
PATH = (Stage.NOMINATED, Stage.APPROVED, Stage.READY_TO_PROVISION, Stage.CREDENTIALS_ISSUED, Stage.READY)
STAGE_WORDS = {
    Stage.NOMINATED: "nominated: waiting for the developer's and the government's decisions",
    Stage.APPROVED: "approved: the window has not started yet",
    Stage.BLOCKED: "blocked: something must be done before access flows",
    Stage.READY_TO_PROVISION: "ready to provision: create a credential",
    Stage.CREDENTIALS_ISSUED: "credentials issued: no token has been issued in the window yet",
    Stage.READY: "ready: tokens are being issued",
    Stage.ENDED: "ended",
}


class Whose(StrEnum):
    """Whose move a reason is: what the grantee can do itself, and what it waits for."""

    GRANTEE = "grantee"
    DEVELOPER = "developer"
    GOVERNMENT = "government"
    TIME = "time"


_WHOSE = {
    "nda_missing": Whose.GRANTEE, "nda_expired": Whose.GRANTEE,
    "nda_not_published": Whose.DEVELOPER,
    "designation_not_assessed": Whose.GOVERNMENT, "designation_not_covered": Whose.GOVERNMENT,
    "designation_in_consultation": Whose.GOVERNMENT, "government_not_begun": Whose.GOVERNMENT,
    "government_access_ended": Whose.GOVERNMENT,
    # A window the rules refuse is changed by a new decision round of both sides (an extension).
    "window_too_early": Whose.DEVELOPER, "window_before_government": Whose.DEVELOPER,
    "window_not_started": Whose.TIME, "window_ended": Whose.TIME, "reevaluation_due": Whose.TIME,
    "revoked": Whose.DEVELOPER,
}  # fmt: skip


def whose(code: str, *, vetting: str | None) -> Whose:
    """Whose move ``code`` is. Vetting is the grantee's while it has something to submit, else the government's
    (which screens partners)."""
    if code == "partner_not_vetted":
        owed = vetting is None or vetting in (Vetting.INVITED.value, Vetting.DECLINED.value)
        return Whose.GRANTEE if owed else Whose.GOVERNMENT
    if code.startswith(("attestation_missing:", "attestation_expired:")):
        return Whose.GRANTEE
    return _WHOSE.get(code, Whose.GOVERNMENT)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    words: str
    whose: Whose


def stage_of(answer: Usability, *, live_credentials: int, last_token_at: datetime | None, starts_at: datetime) -> Stage:
    """The one stage of a grant whose answer is ``answer``, with ``live_credentials`` not revoked and the last token
    of any of them issued at ``last_token_at``."""
    if answer.state in (GrantState.EXPIRED, GrantState.REVOKED):
        return Stage.ENDED
    if not answer.usable:
        return Stage.APPROVED if set(answer.reasons) <= {"window_not_started"} else Stage.BLOCKED
    if live_credentials == 0:
        return Stage.READY_TO_PROVISION
    if last_token_at is None or last_token_at < starts_at:
        return Stage.CREDENTIALS_ISSUED
    return Stage.READY


def stage_sql(at: datetime, *, live_credentials: sa.ColumnElement[int],
              last_token_at: sa.ColumnElement[datetime | None]) -> sa.ColumnElement[str]:  # fmt: skip
    """:func:`stage_of` in SQL over ``access_grants``' columns, for counts that must not load every grant: the
    stored answer's state as ``grant_state.state_sql`` gives it, ``live_credentials`` the grant's credentials not
    revoked and ``last_token_at`` the last token of any of them. A grant not usable whose only reason is that its
    window has not started is approved: scheduled, or (no problem stored, nothing on file to lapse) held only by
    its start."""
    g = AccessGrant
    state = state_sql(at)
    only_waiting = sa.and_(col(g.has_problems).is_(False), col(g.gates_valid_until).is_(None), col(g.starts_at) > at)
    return sa.case(
        (state.in_([GrantState.EXPIRED.value, GrantState.REVOKED.value]), Stage.ENDED.value),
        (sa.or_(state == GrantState.SCHEDULED.value, only_waiting), Stage.APPROVED.value),
        (state != GrantState.ACTIVE.value, Stage.BLOCKED.value),
        (live_credentials == 0, Stage.READY_TO_PROVISION.value),
        (sa.or_(last_token_at.is_(None), last_token_at < col(g.starts_at)), Stage.CREDENTIALS_ISSUED.value),
        else_=Stage.READY.value,
    )


def live_credentials_sql() -> sa.Subquery:
    """Per grant, its credentials not revoked (``live``) and the last token any of them issued (``last_used_at``), as
    :func:`stages_of` counts them: to join to ``access_grants`` (outer: a grant without one has none)."""
    return (select(col(OAuthClient.grant_id).label("grant_id"), sa.func.count().label("live"),
                   sa.func.max(OAuthClient.last_used_at).label("last_used_at"))
            .where(col(OAuthClient.revoked_at).is_(None)).group_by(col(OAuthClient.grant_id)).subquery())  # fmt: skip


@dataclass(frozen=True, slots=True)
class GrantReadiness:
    grant: AccessGrant
    model_name: str
    organisation_name: str
    stage: Stage
    reasons: tuple[Reason, ...]
    live_credentials: int
    last_token_at: datetime | None

    @property
    def words(self) -> str:
        return STAGE_WORDS[self.stage]

    @property
    def owed_by_grantee(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.whose == Whose.GRANTEE)


@dataclass(frozen=True, slots=True)
class NominationReadiness:
    nomination: Nomination
    model_name: str
    organisation_name: str
    stage: Stage = Stage.NOMINATED

    @property
    def words(self) -> str:
        return STAGE_WORDS[self.stage]


@dataclass(frozen=True, slots=True)
class AccessReadiness:
    """An organisation's access as it stands: every grant not ended (with the ended ones, newest first, after
    them) and every nomination still waiting."""

    organisation: Organisation
    grants: tuple[GrantReadiness, ...]
    nominations: tuple[NominationReadiness, ...]

    def count(self, stage: Stage) -> int:
        return sum(1 for g in self.grants if g.stage == stage) + sum(1 for n in self.nominations if n.stage == stage)


class Check(StrEnum):
    """What the token endpoint checks, in its order."""

    CREDENTIAL = "credential"  # known, a grant's credential, not revoked
    AUTHENTICATION = "authentication"  # a live secret (and the one given matches), or registered public keys
    GRANT = "grant"  # the grant is usable now: every gate, the designation, the government first, the window
    SCOPES = "scopes"  # what may be asked for
    DPOP = "dpop"  # high-tier models: tokens must be DPoP-bound (a requirement of the client, not a state)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    passed: bool
    words: str
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class SelfTest:
    """The token endpoint's checks for one credential at ``at``, without a token issued. ``passed``: a token
    request made now, authenticated as the credential's method says, would be answered with a token."""

    client: OAuthClient
    grant: AccessGrant
    at: datetime
    results: tuple[CheckResult, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((r for r in self.results if not r.passed), None)


def reasons_of(answer: Usability, grantee: Organisation) -> tuple[Reason, ...]:
    """Each reason of ``answer``, in words, with whose move it is."""
    return tuple(Reason(code, gates.explain(code), whose(code, vetting=grantee.vetting_state)) for code in answer.reasons)


async def _model_names(unit: Unit, model_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not model_ids:
        return {}
    found = await unit.session.exec(select(FrontierModel.id, FrontierModel.name).where(col(FrontierModel.id).in_(model_ids)))
    return dict(found.all())


async def stages_of(
    unit: Unit, grants: Sequence[AccessGrant], *, organisation: Organisation | None = None, at: datetime | None = None,
    organisations: dict[uuid.UUID, Organisation] | None = None, model_names: dict[uuid.UUID, str] | None = None,
) -> list[GrantReadiness]:
    """The stage of each of ``grants`` (already known to be visible), read from their stored answers and their
    credentials, in the order given: one query, and one each for the grantees and the models' names unless given
    (``organisation``: the one grantee of all of them; ``organisations``, ``model_names``: by id)."""
    at = at or unit.now()
    if not grants:
        return []
    ids = [g.id for g in grants]
    credentials = {gid: (int(n), last) for gid, n, last in (await unit.session.exec(
        select(OAuthClient.grant_id, sa.func.count(), sa.func.max(OAuthClient.last_used_at))
        .where(col(OAuthClient.grant_id).in_(ids), col(OAuthClient.revoked_at).is_(None))
        .group_by(col(OAuthClient.grant_id))
    )).all()}  # fmt: skip
    organisations = dict(organisations or {})
    if organisation is not None:
        organisations[organisation.id] = organisation
    wanted = {g.organisation_id for g in grants} - set(organisations)
    if wanted:
        found = await unit.session.exec(select(Organisation).where(col(Organisation.id).in_(wanted)))
        organisations |= {o.id: o for o in found.all()}
    names = model_names if model_names is not None else await _model_names(unit, {g.model_id for g in grants})
    rows = []
    for grant in grants:
        answer = stored_answer(grant, at)
        live, last = credentials.get(grant.id, (0, None))
        grantee = organisations[grant.organisation_id]
        rows.append(GrantReadiness(
            grant=grant, model_name=names.get(grant.model_id, ""), organisation_name=grantee.name,
            stage=stage_of(answer, live_credentials=live, last_token_at=aware(last), starts_at=grant.starts_at),
            reasons=reasons_of(answer, grantee), live_credentials=live, last_token_at=aware(last),
        ))  # fmt: skip
    return rows


class Readiness:
    def __init__(self, unit: Unit, *, pepper: bytes) -> None:
        self.unit = unit
        self.pepper = pepper

    async def _organisation(self, actor: Actor, organisation_id: uuid.UUID | None) -> Organisation:
        """The grantee asked about: one's own organisation, or (staff) one the actor may see."""
        organisation_id = organisation_id or actor.organisation_id
        organisation = await self.unit.session.get(Organisation, organisation_id)
        if organisation is None or not visibility.can_see_org(actor, organisation):
            raise NotFound(f"organisation {organisation_id} not found")
        return organisation

    async def of_organisation(self, actor: Actor, organisation_id: uuid.UUID | None = None) -> AccessReadiness:
        """Every grant and waiting nomination of one organisation the actor may see, each in its stage. A
        developer sees only its own models' part of it."""
        organisation = await self._organisation(actor, organisation_id)
        now = self.unit.now()
        grants = list((await self.unit.session.exec(
            select(AccessGrant).where(AccessGrant.organisation_id == organisation.id,
                                      visibility.cases_filter(actor, AccessGrant))
            .order_by(col(AccessGrant.starts_at), col(AccessGrant.id))
        )).all())  # fmt: skip
        waiting = list((await self.unit.session.exec(
            select(Nomination).where(Nomination.organisation_id == organisation.id,
                                     Nomination.state == NominationState.PENDING.value,
                                     lapses_at_sql() > now,
                                     visibility.cases_filter(actor, Nomination))
            .order_by(col(Nomination.starts_at), col(Nomination.id))
        )).all())  # fmt: skip
        rows = await self.grants(grants, organisation=organisation, at=now)
        names = await _model_names(self.unit, {g.model_id for g in grants} | {n.model_id for n in waiting})
        ended = sorted((r for r in rows if r.stage == Stage.ENDED), key=lambda r: r.grant.ends_at, reverse=True)
        live = sorted((r for r in rows if r.stage != Stage.ENDED), key=lambda r: (r.model_name.lower(), r.grant.starts_at))
        return AccessReadiness(
            organisation=organisation, grants=(*live, *ended),
            nominations=tuple(NominationReadiness(n, names.get(n.model_id, ""), organisation.name) for n in waiting),
        )  # fmt: skip

    async def grants(
        self, grants: Sequence[AccessGrant], *, organisation: Organisation | None = None, at: datetime | None = None
    ) -> list[GrantReadiness]:
        """:func:`stages_of`, on this unit."""
        return await stages_of(self.unit, grants, organisation=organisation, at=at)

    async def self_test(self, actor: Actor, credential: uuid.UUID | str, *, secret: str | None = None) -> SelfTest:
        """The token endpoint's checks for one of the actor's organisation's credentials (by its id or its
        ``client_id``), now, without a token issued. Another organisation's credential, a gateway's, or an unknown
        one: not found. ``secret``: when given, whether it is one of the credential's live secrets (it is never
        stored or logged)."""
        if isinstance(credential, uuid.UUID):
            client = await self.unit.session.get(OAuthClient, credential)
        elif plausible_client_id(credential):
            client = (await self.unit.session.exec(
                select(OAuthClient).where(OAuthClient.client_id == credential)
            )).first()  # fmt: skip
        else:
            client = None
        if client is None or client.grant_id is None or client.organisation_id != actor.organisation_id:
            raise NotFound(f"credential {str(credential)[:64].replace(chr(0), '?')} not found")
        grant = await self.unit.get(AccessGrant, client.grant_id, what="grant")
        now = self.unit.now()
        record = await client_record(self.unit, client.client_id)
        assert record is not None  # the row was just read
        usability = await Grants(self.unit).usability(grant.id, at=now)
        grantee = await self.unit.get(Organisation, grant.organisation_id, what="organisation")
        results: list[CheckResult] = []
        problems = issuance_problems(record, usability)
        revoked = next((words for code, words in problems if code == "credential_revoked"), None)
        results.append(CheckResult(Check.CREDENTIAL, revoked is None,
                                   revoked or f"{client.name} ({client.client_id}) is a live credential of this grant"))  # fmt: skip
        results.append(self._authentication(record, secret, now))
        results.append(CheckResult(
            Check.GRANT, usability.usable,
            "the grant is usable now" if usability.usable else f"the grant cannot be used now: {usability.explanation}",
            reasons_of(usability, grantee),
        ))  # fmt: skip
        results.append(CheckResult(Check.SCOPES, bool(usability.scopes),
                                   f"a token may carry {' '.join(usability.scopes)}, for the audience "
                                   f"{record.model.resource}"))  # fmt: skip
        if dpop_required(record.model):
            results.append(CheckResult(Check.DPOP, True, "this model requires DPoP-bound tokens: every token request "
                                                          "must carry a DPoP proof (RFC 9449)"))  # fmt: skip
        return SelfTest(client=client, grant=grant, at=now, results=tuple(results))

    def _authentication(self, record: ClientRecord, secret: str | None, now: datetime) -> CheckResult:
        if record.client.auth_method == PRIVATE_KEY_JWT:
            keys = json.loads(record.client.jwks or "{}").get("keys") or []
            if not keys:
                return CheckResult(Check.AUTHENTICATION, False, "no public key is registered for private_key_jwt")
            return CheckResult(Check.AUTHENTICATION, True,
                               f"{len(keys)} public key(s) registered: sign a client assertion (private_key_jwt) "
                               "with the matching private key")  # fmt: skip
        if not record.secrets:
            return CheckResult(Check.AUTHENTICATION, False, "this credential has no live secret: rotate it to get "
                                                             "a new one")  # fmt: skip
        if secret is None:
            return CheckResult(Check.AUTHENTICATION, True,
                               f"{len(record.secrets)} live secret(s) ({record.client.auth_method}); give the secret "
                               "to check that it is one of them")  # fmt: skip
        if record.secret_matches(self.pepper, secret, at=now):
            return CheckResult(Check.AUTHENTICATION, True, f"the secret given is a live secret of this credential "
                                                           f"({record.client.auth_method})")  # fmt: skip
        return CheckResult(Check.AUTHENTICATION, False,
                           "the secret given is not a live secret of this credential (a rotated secret dies when its "
                           "overlap ends)")  # fmt: skip
