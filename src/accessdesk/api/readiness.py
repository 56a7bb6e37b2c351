""""Is my access ready?": each grant's stage and a credential's self-test (domain.readiness), as JSON."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta, Struct

from accessdesk.api.routes import get, post
from accessdesk.domain.actor import Actor
from accessdesk.domain.readiness import AccessReadiness, GrantReadiness, Readiness, Reason, SelfTest


class ReasonOut(Struct, kw_only=True):
    code: str
    message: str
    whose: str  # grantee (yours to do) | developer | government | time

    @classmethod
    def of(cls, reason: Reason) -> ReasonOut:
        return cls(code=reason.code, message=reason.words, whose=reason.whose.value)


class GrantReadinessOut(Struct, kw_only=True):
    grant_id: uuid.UUID
    model_id: uuid.UUID
    model: str
    organisation_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    stage: str
    stage_in_words: str
    reasons: list[ReasonOut]
    live_credentials: int
    last_token_at: datetime | None

    @classmethod
    def of(cls, row: GrantReadiness) -> GrantReadinessOut:
        g = row.grant
        return cls(grant_id=g.id, model_id=g.model_id, model=row.model_name, organisation_id=g.organisation_id,
                   starts_at=g.starts_at, ends_at=g.ends_at, stage=row.stage.value, stage_in_words=row.words,
                   reasons=[ReasonOut.of(r) for r in row.reasons], live_credentials=row.live_credentials,
                   last_token_at=row.last_token_at)  # fmt: skip


class NominationReadinessOut(Struct, kw_only=True):
    nomination_id: uuid.UUID
    model_id: uuid.UUID
    model: str
    starts_at: datetime
    ends_at: datetime
    stage: str
    stage_in_words: str


class ReadinessOut(Struct, kw_only=True):
    organisation_id: uuid.UUID
    organisation: str
    grants: list[GrantReadinessOut]
    nominations: list[NominationReadinessOut]

    @classmethod
    def of(cls, found: AccessReadiness) -> ReadinessOut:
        return cls(
            organisation_id=found.organisation.id, organisation=found.organisation.name,
            grants=[GrantReadinessOut.of(row) for row in found.grants],
            nominations=[NominationReadinessOut(
                nomination_id=n.nomination.id, model_id=n.nomination.model_id, model=n.model_name,
                starts_at=n.nomination.starts_at, ends_at=n.nomination.ends_at, stage=n.stage.value,
                stage_in_words=n.words) for n in found.nominations],
        )  # fmt: skip


class SelfTestIn(Struct, kw_only=True, forbid_unknown_fields=True):
    # The secret to check against the credential's live secrets; never stored or logged. Omit it for
    # private_key_jwt, or to check everything else.
    client_secret: Annotated[str, Meta(min_length=1, max_length=200)] | None = None


class CheckOut(Struct, kw_only=True):
    check: str
    passed: bool
    message: str
    reasons: list[ReasonOut]


class SelfTestOut(Struct, kw_only=True):
    credential_id: uuid.UUID
    client_id: str
    grant_id: uuid.UUID
    at: datetime
    passed: bool
    first_failure: str | None
    checks: list[CheckOut]

    @classmethod
    def of(cls, test: SelfTest) -> SelfTestOut:
        failure = test.first_failure
        return cls(credential_id=test.client.id, client_id=test.client.client_id, grant_id=test.grant.id, at=test.at,
                   passed=test.passed, first_failure=failure.check.value if failure else None,
                   checks=[CheckOut(check=r.check.value, passed=r.passed, message=r.words,
                                    reasons=[ReasonOut.of(x) for x in r.reasons]) for r in test.results])  # fmt: skip


class ReadinessController(Controller):
    path = "/"
    tags = ["readiness"]

    @get("/readiness")
    async def readiness(
        self, actor: NamedDependency[Actor], readiness: NamedDependency[Readiness],
        organisation_id: FromQuery[uuid.UUID | None] = None,
    ) -> ReadinessOut:  # fmt: skip
        """Each grant of one organisation (yours by default) in its stage, what holds it there and whose move that
        is, and each nomination still waiting."""
        return ReadinessOut.of(await readiness.of_organisation(actor, organisation_id))

    @post("/credentials/{credential:str}/self-test", status_code=200)
    async def self_test(
        self, actor: NamedDependency[Actor], readiness: NamedDependency[Readiness], credential: FromPath[str],
        data: JSONBody[SelfTestIn | None] = None,
    ) -> SelfTestOut:  # fmt: skip
        """The token endpoint's checks for one of your organisation's credentials (its id or its client_id), now,
        without issuing a token: which one fails, in the endpoint's words."""
        try:
            key: uuid.UUID | str = uuid.UUID(credential)
        except ValueError:
            key = credential
        test = await readiness.self_test(actor, key, secret=data.client_secret if data else None)
        return SelfTestOut.of(test)
