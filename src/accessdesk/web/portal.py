"""The partner portal: a partner's own organisation — what it still owes before access flows, vetting, the NDA
clickwrap and attestations for the six requirement areas (in one form) — and a partner's console home.

Every change goes through a domain service; the handlers read, render and hand the form over. The standings shown
here (valid, expiring soon, expired, missing) are ``domain.obligations``'s: what is on file; whether access flows is
decided by ``domain.gates``, whose verdict per model and per grant is shown as it is.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.client_address import client_address
from accessdesk.domain import visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import LONGEST_ATTESTATION, AreaStatement, Compliance, text_hash
from accessdesk.domain.coselection import effective_state
from accessdesk.domain.credentials import creation_refused
from accessdesk.domain.errors import Invalid
from accessdesk.domain.findings import Findings
from accessdesk.domain.gates import evaluate, explain
from accessdesk.domain.nominees import is_grantee
from accessdesk.domain.obligations import AREA_LABELS, nda_standing, owed_by
from accessdesk.domain.organisations import VETTING_MOVES, Organisations
from accessdesk.domain.queries import HOME_LIST, NominationFilter, Queries
from accessdesk.domain.reasons import decision_reason, reason_for
from accessdesk.domain.reconsiderations import NOTE_LIMIT as RECONSIDERATION_NOTE_LIMIT
from accessdesk.domain.reconsiderations import Reconsiderations
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area, GrantState, NominationState, Vetting
from accessdesk.web.pages import (
    FIRST_OF_LIST,
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    back_to,
    instant,
    notice_of,
    page,
)
from accessdesk.web.refusals import Refusal, on_refusal

HOME = "/console/my-organisation"
NOTICES = {
    "vetting_submitted": "Your vetting submission is with the reviewers. You will see their decision here.",
    "nda_accepted": "The NDA is accepted on behalf of your organisation.",
    "attested": "Your attestations are recorded.",
    "asked": "Your request is sent: the side that nominated your organisation will take it up or answer it here.",
}


def own_organisation(signed: Signed) -> uuid.UUID:
    """The portal is a grantee's view of itself: a partner's, or the government's (which accepts NDAs and attests
    like any grantee, but is not vetted). The developer owes nothing here; saying so (403) helps more than
    pretending the page does not exist (404) — its address reveals nothing about any organisation."""
    if not is_grantee(signed.actor) or signed.actor.organisation_id is None:
        raise HTTPException(status_code=403, detail="This page is for organisations that receive access (partners "
                            "and the government). Developer staff find organisations under Organisations.")  # fmt: skip
    return signed.actor.organisation_id


async def vetting_page(
    signed: NamedDependency[Signed], queries: NamedDependency[Queries], *, values: dict[str, str] | None = None,
    refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    organisation = await queries.organisation(signed.actor, own_organisation(signed))
    if organisation.vetting_state is None:
        raise HTTPException(status_code=404, detail="Only partner organisations are vetted.")
    state = Vetting(organisation.vetting_state)
    return page("portal/vetting.html", signed, status_code=refusal.status if refusal else 200,
                organisation=organisation, state=state.value, open=Vetting.SUBMITTED in VETTING_MOVES[state],
                values=values if values is not None else {"submission": organisation.vetting_submission or ""},
                refusal=refusal)  # fmt: skip


async def nda_page(
    signed: NamedDependency[Signed], unit: NamedDependency[Unit], queries: NamedDependency[Queries],
    template_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    organisation_id = own_organisation(signed)
    actor, now = signed.actor, unit.now()
    template = await queries.nda_template(actor, template_id)
    newest = next(t for t in await queries.nda_templates(actor) if t.series == template.series)
    history = [a for a in await queries.nda_acceptances(actor, organisation_id) if a.series == template.series]
    applies_to = (await queries.model(actor, template.model_id)).name if template.model_id else None
    return page(
        "portal/nda.html", signed, status_code=refusal.status if refusal else 200, template=template,
        newest=newest, standing=nda_standing(newest, history, now, applies_to), history=history,
        people=await queries.people_names([a.signer_id for a in history]), refusal=refusal,
        organisation=await queries.organisation(actor, organisation_id),
        # The hash of the very text on the page, which the form posts back: were the stored text ever to differ
        # from what was published, the domain would refuse the acceptance rather than bind to unseen words.
        shown_hash=text_hash(template.body), would_expire=now + timedelta(days=template.term_days),
    )  # fmt: skip


def area_fields(area: Area | str, part: str) -> str:
    """The name of one area's field in the attestation form: what ``Compliance.attest_all`` calls it when it
    refuses it (``use.statement``)."""
    return f"{Area(area).value}.{part}"


async def attestations_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    queries: NamedDependency[Queries], *, values: dict[str, str], refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    organisation_id = own_organisation(signed)
    now = unit.now()
    owed = await owed_by(queries, signed.actor, organisation_id)
    history = await queries.attestations(signed.actor, organisation_id)
    in_order = [a for a in owed.areas if not a.owed]
    # The areas in order sit folded away; unfolded when something was typed into one, or one was refused.
    touched = {a.area for a in in_order if values.get(area_fields(a.area, "statement"))
               or values.get(area_fields(a.area, "evidence_ref"))}  # fmt: skip
    refused_area = refusal.field.split(".")[0] if refusal and refusal.field and "." in refusal.field else None
    return page(
        "portal/attestations.html", signed, status_code=refusal.status if refusal else 200,
        areas=owed.areas, owed_areas=owed.owed_areas, in_order=in_order,
        unfold=bool(touched) or refused_area in {a.area for a in in_order},
        history=history, labels={a.value: t for a, t in AREA_LABELS.items()},
        people=await queries.people_names([a.attested_by for a in history]), values=values, refusal=refusal,
        notice=notice_of(request, NOTICES), earliest=now.date().isoformat(),
        # The last day whose end still falls within the longest validity the domain allows.
        latest=((now + LONGEST_ATTESTATION).date() - timedelta(days=1)).isoformat(),
    )  # fmt: skip


async def nomination_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    queries: NamedDependency[Queries], nomination_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None,
    values: dict[str, str] | None = None,
) -> Template:  # fmt: skip
    """A nomination of the grantee's own, as it may know it: its window and state, why it was refused where the
    deciders shared it (``domain.reasons``), its requests to be reconsidered, and the form that asks for one."""
    organisation_id = own_organisation(signed)
    actor = signed.actor
    nomination, decisions = await queries.nomination(actor, nomination_id)
    visibility.require(nomination.organisation_id == organisation_id, "nomination", nomination_id)
    reconsiderations = Reconsiderations(unit)
    return page(
        "portal/nomination.html", signed, status_code=refusal.status if refusal else 200, n=nomination,
        state=effective_state(nomination, unit.now()).value, names=await queries.display_names([nomination]),
        reason=reason_for(actor, nomination, decisions),
        decisions=[(d, decision_reason(actor, d)) for d in decisions],
        requests=await reconsiderations.of_nomination(actor, nomination.id),
        may_ask=await reconsiderations.asking(actor, nomination), note_limit=RECONSIDERATION_NOTE_LIMIT,
        refusal=refusal, values=values or {}, notice=notice_of(request, NOTICES),
    )  # fmt: skip


async def partner_home(signed: Signed, queries: Queries) -> Template:
    """A partner's console home: its access per model (each grant, its state and why it is not usable), what it
    still owes before access flows, and its credentials per grant. Nothing of the staff's home (no approval queue,
    no other organisation's grants)."""
    actor = signed.actor
    organisation_id = own_organisation(signed)
    owed = await owed_by(queries, actor, organisation_id)
    found = await queries.grants(actor, organisation_id=organisation_id, limit=HOME_LIST)
    # Access that is over stays on the list of all grants; the home leads with what is or may become usable.
    rows = sorted((row for row in await queries.grant_rows(found.items) if row.state != GrantState.EXPIRED),
                  key=lambda row: (row.model_name.lower(), row.grant.starts_at))  # fmt: skip
    pending = await queries.nominations(
        actor, NominationFilter(organisation_id=organisation_id, state=NominationState.PENDING), limit=HOME_LIST
    )
    # Refusals the partner may read the shared reason of, and ask to be reconsidered (on each one's page).
    refused = await queries.nominations(
        actor, NominationFilter(organisation_id=organisation_id, state=NominationState.REJECTED), limit=HOME_LIST
    )
    clients = await queries.credentials_of([row.grant for row in rows])
    # A grant's credentials, or, for a grant without one, the way to create one when this person may now (the
    # domain's rule: the grantee's admins, while the grant is usable).
    credentials = [(row, clients.get(row.grant.id, [])) for row in rows
                   if row.grant.id in clients or creation_refused(actor, row.grant, row.answer) is None]  # fmt: skip
    return page(
        "portal/partner_home.html", signed, owed=owed, organisation=owed.organisation, grants=rows,
        more_grants=found.next_cursor is not None, credentials=credentials, pending=pending.items,
        more_pending=pending.next_cursor is not None, refused=refused.items,
        more_refused=refused.next_cursor is not None,
        names=await queries.display_names([*pending.items, *refused.items]),
        # Evaluation findings this partner may read (their audience's rule), and where it may report one.
        findings=(await Findings(queries.unit).findings(actor, limit=HOME_LIST)).items,
        reportable=await Findings(queries.unit).reportable_models(actor),
    )  # fmt: skip


class PortalController(Controller):
    path = HOME
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def overview(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        unit: NamedDependency[Unit], queries: NamedDependency[Queries],
    ) -> Template:  # fmt: skip
        organisation_id = own_organisation(signed)
        now = unit.now()
        owed = await owed_by(queries, actor, organisation_id)
        organisation = owed.organisation
        models = await queries.all_models(actor)
        access = []  # per model, what the gates say access still waits for (the domain's verdict, as it is)
        for model in models:
            report = await evaluate(unit.session, organisation=organisation, model=model, at=now)
            access.append((model, [explain(code) for code in report.problems]))
        # The first of each; the page links to the whole list when there is more.
        found = await queries.nominations(actor, NominationFilter(organisation_id=organisation_id), limit=FIRST_OF_LIST)
        nominations = found.items
        grants = await queries.grants(actor, organisation_id=organisation_id, limit=FIRST_OF_LIST)
        return page(
            "portal/home.html", signed, organisation=organisation, owed=owed, ndas=owed.ndas, access=access,
            areas=owed.areas,
            nominations=[(n, effective_state(n, now).value) for n in nominations],
            grants=await queries.grant_rows(grants.items), more_grants=grants.next_cursor is not None,
            more_nominations=found.next_cursor is not None,
            names=await queries.display_names(nominations),
            members=await queries.members(actor, organisation_id), notice=notice_of(request, NOTICES),
        )  # fmt: skip

    @get("/nominations/{nomination_id:uuid}")
    async def nomination(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries], nomination_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await nomination_page(request, signed, unit, queries, nomination_id)

    @post("/nominations/{nomination_id:uuid}/reconsideration")
    @on_refusal(nomination_page)
    async def ask_to_reconsider(
        self, signed: NamedDependency[Signed], unit: NamedDependency[Unit], form: NamedDependency[Posted],
        nomination_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        own_organisation(signed)
        await Reconsiderations(unit).ask(actor=signed.actor, nomination_id=nomination_id, note=form.raw("note"))
        return back_to(f"{HOME}/nominations/{nomination_id}", "asked")

    @get("/vetting")
    async def vetting(self, signed: NamedDependency[Signed], queries: NamedDependency[Queries]) -> Template:
        return await vetting_page(signed, queries)

    @post("/vetting")
    @on_refusal(vetting_page)
    async def submit_vetting(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], form: NamedDependency[Posted],
        organisations: NamedDependency[Organisations],
    ) -> Redirect:  # fmt: skip
        await organisations.submit_vetting(actor=actor, organisation_id=own_organisation(signed),
                                           submission=form["submission"])  # fmt: skip
        return back_to(HOME, "vetting_submitted")

    @get("/ndas/{template_id:uuid}")
    async def nda(
        self, signed: NamedDependency[Signed], unit: NamedDependency[Unit], queries: NamedDependency[Queries],
        template_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await nda_page(signed, unit, queries, template_id)

    @post("/ndas/{template_id:uuid}")
    @on_refusal(nda_page)
    async def accept_nda(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        form: NamedDependency[Posted], queries: NamedDependency[Queries], compliance: NamedDependency[Compliance],
        template_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        own_organisation(signed)
        # An NDA the partner cannot read does not exist for them (404), exactly as on the page that shows it.
        await queries.nda_template(actor, template_id)
        if form["accept"] != "yes":
            # Clickwrap: the signer says, in so many words, that they accept; the domain records what and who.
            raise Invalid("accept", "tick the box to confirm that you have read and accept this NDA")
        await compliance.accept_nda(
            actor=actor, template_id=template_id, sha256=form["sha256"],
            ip=client_address(request.scope), user_agent=request.headers.get("user-agent"),
        )  # fmt: skip
        return back_to(HOME, "nda_accepted")

    @get("/attestations")
    async def attestations(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries],
    ) -> Template:  # fmt: skip
        return await attestations_page(request, signed, unit, queries, values={})

    @post("/attestations")
    @on_refusal(attestations_page)
    async def attest(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], form: NamedDependency[Posted],
        compliance: NamedDependency[Compliance],
    ) -> Redirect:  # fmt: skip
        # One form for every area: an area left blank (no statement, no evidence) is not attested this time.
        given = [AreaStatement(area, form[area_fields(area, "statement")], form.get(area_fields(area, "evidence_ref")))
                 for area in Area if form[area_fields(area, "statement")] or form[area_fields(area, "evidence_ref")]]
        await compliance.attest_all(
            actor=actor, organisation_id=own_organisation(signed), statements=given,
            valid_until=instant(form, "valid_until", end_of_day=True) if form["valid_until"] else None,
        )  # fmt: skip
        return back_to(f"{HOME}/attestations", "attested")
