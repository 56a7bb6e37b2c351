""""Is my access ready?" in the console: each of a grantee's grants in its stage, what holds it there and whose move
that is (with the link to do what is the grantee's), and a credential's self-test. The stages and the checks are
domain.readiness's; these pages only show them."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Invalid
from accessdesk.domain.queries import Queries
from accessdesk.domain.readiness import PATH, STAGE_WORDS, Readiness, Reason, Stage, Whose
from accessdesk.domain.sessions import Signed
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, page
from accessdesk.web.portal import HOME
from accessdesk.web.refusals import Refusal

ACCESS = "/console/access"
# Where a grantee does what a reason asks of it.
_FIX = {
    "nda_missing": (f"{HOME}#ndas-h", "Accept the NDA"),
    "nda_expired": (f"{HOME}#ndas-h", "Accept the NDA again"),
    "partner_not_vetted": (f"{HOME}/vetting", "Submit your organisation for vetting"),
}
_ATTEST = (f"{HOME}/attestations", "Attest")
WHOSE_WORDS = {Whose.GRANTEE: "yours to do", Whose.DEVELOPER: "the developer's", Whose.GOVERNMENT: "the government's",
               Whose.TIME: "waits for time"}  # fmt: skip
# The page holding a self-test's answer to a typed secret must not stay in any cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SECRET_LIMIT = 200


def fix_for(reason: Reason) -> tuple[str, str] | None:
    """The link (href, words) to what a reason asks of the grantee, or None when it is not the grantee's move."""
    if reason.whose != Whose.GRANTEE:
        return None
    if reason.code.startswith(("attestation_missing:", "attestation_expired:")):
        return _ATTEST
    return _FIX.get(reason.code)


class ReadinessPagesController(Controller):
    path = ACCESS
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def access(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], readiness: NamedDependency[Readiness],
        queries: NamedDependency[Queries], organisation: FromQuery[uuid.UUID | None] = None,
    ) -> Template:  # fmt: skip
        found = await readiness.of_organisation(actor, organisation)
        clients = await queries.credentials_of([row.grant for row in found.grants])
        own = found.organisation.id == actor.organisation_id
        return page("portal/access.html", signed, found=found, clients=clients, own=own, path=PATH,
                    stage_words=STAGE_WORDS, Stage=Stage, fix_for=fix_for, whose_words=WHOSE_WORDS)  # fmt: skip

    @get("/credentials/{client_pk:uuid}")
    async def self_test(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], readiness: NamedDependency[Readiness],
        client_pk: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        test = await readiness.self_test(actor, client_pk)
        return page("portal/self_test.html", signed, test=test, secret_checked=False, refusal=None)

    @post("/credentials/{client_pk:uuid}", status_code=200)
    async def self_test_with_secret(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], readiness: NamedDependency[Readiness],
        form: NamedDependency[Posted], client_pk: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        secret = form["client_secret"]
        error = None
        if not secret or len(secret) > SECRET_LIMIT:
            error = Invalid("client_secret", f"paste the client secret (at most {SECRET_LIMIT} characters)")
        test = await readiness.self_test(actor, client_pk, secret=None if error else secret)
        answer: Any = page("portal/self_test.html", signed, status_code=422 if error else 200, test=test,
                           secret_checked=error is None, refusal=Refusal.of(error) if error else None)  # fmt: skip
        answer.headers.update(NO_STORE)
        return answer
