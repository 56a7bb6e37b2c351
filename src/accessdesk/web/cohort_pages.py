"""Console pages for cohorts: the list, nominating many partners at once (chosen from a list with a search box, or
pasted, or uploaded as a .txt or .csv file) with what became of each, and a cohort's page: where its members
stand, and approving every pending member in one action, some rejected instead, after a page that says what will
happen."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Template

from accessdesk.domain.cohort_entries import entries_in, entries_in_csv
from accessdesk.domain.cohorts import CohortDecided, CohortNominated, Cohorts, MemberEffect
from accessdesk.domain.errors import Invalid
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Action, NominationState, OrgKind, Side, Verdict
from accessdesk.web.pages import (
    FIRST_OF_LIST,
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    confirmation,
    confirmed,
    instant,
    page,
)
from accessdesk.web.refusals import Refusal, on_refusal

# A list of a few hundred slugs or domains is a few kilobytes; a file many times larger is not such a list.
MAX_FILE_BYTES = 256 * 1024
# The C0 controls but tab, new line and carriage return, and DEL: no list of names holds them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def provide_cohorts(unit: NamedDependency[Unit]) -> Cohorts:
    return Cohorts(unit)


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def uploaded_entries(request: Request[Any, Any, Any]) -> list[str]:
    """The entries of the uploaded list, if a file was chosen: a .csv's first column, else one per line."""
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return []
    data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Invalid("file", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB: upload a list of slugs or "
                              "e-mail domains, one per line")  # fmt: skip
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("file", "the file is not UTF-8 text: save the list as plain text or CSV") from None
    if _CONTROL.search(text):
        raise Invalid("file", "the file holds control characters: it is not a list of slugs or e-mail domains")
    return entries_in_csv(text) if upload.filename.lower().endswith(".csv") else entries_in(text)


def _rejections(form: Posted) -> dict[uuid.UUID, str]:
    """The members ticked "reject instead", each with the reason typed beside it."""
    chosen: dict[uuid.UUID, str] = {}
    for value in form.all("reject"):
        member = _uuid_or_none(value)
        if member is None:
            raise Invalid("reject", "choose the members to reject from the list")
        chosen[member] = form[f"reason_{member}"]
    return chosen


async def cohort_page(
    signed: NamedDependency[Signed], cohorts: NamedDependency[Cohorts], queries: NamedDependency[Queries],
    cohort_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None, values: dict[str, Any] | None = None,
) -> Template:  # fmt: skip
    """A cohort's page: its members and where they stand; a refused decision shown again with what was ticked and
    typed."""
    return await _cohort(signed, cohorts, queries, cohort_id, refusal=refusal, values=values)


async def _cohort(
    signed: Signed, cohorts: Cohorts, queries: Queries, cohort_id: uuid.UUID, *, refusal: Refusal | None = None,
    values: dict[str, Any] | None = None, created: CohortNominated | None = None, decided: CohortDecided | None = None,
) -> Template:  # fmt: skip
    """:func:`cohort_page`, and what just became of each entry (``created``) or each member (``decided``)."""
    summary = decided.summary if decided is not None else await cohorts.summary(signed.actor, cohort_id)
    members = await cohorts.members(signed.actor, cohort_id)
    people = await queries.people_names([summary.cohort.nominated_by])
    return page("console/cohort.html", signed, status_code=refusal.status if refusal else 200, summary=summary,
                c=summary.cohort, members=members, people=people, created=created, decided=decided,
                refusal=refusal, values=values or {}, states=list(NominationState), sides=list(Side),
                deciding=[m for m in members if m.may_decide])  # fmt: skip


async def new_cohort_page(
    signed: NamedDependency[Signed], queries: NamedDependency[Queries], *, values: dict[str, Any],
    refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    organisations = [o for o in await queries.nominable_organisations(signed.actor) if o.kind == OrgKind.PARTNER.value]
    organisations.sort(key=lambda o: (o.name.lower(), o.slug))
    return page("console/cohort_new.html", signed, values=values, refusal=refusal,
                models=await queries.nominable_models(signed.actor), organisations=organisations,
                actions=[a.value for a in Action], status_code=refusal.status if refusal else 200)  # fmt: skip


def _decision_words(effects: list[MemberEffect], cohort_name: str) -> dict[str, Any]:
    """The confirmation of a cohort decision, in words: what it does to each member, from the domain's effects."""
    approving = [e for e in effects if e.refusal is None and e.verdict == Verdict.APPROVE]
    granting = [e for e in approving if e.effect is not None and e.effect.completes]
    rejecting = [e for e in effects if e.refusal is None and e.verdict == Verdict.REJECT]
    untouched = [e for e in effects if e.refusal is not None]
    lines = []
    if approving:
        names = ", ".join(e.organisation_name for e in approving)
        lines.append(f"You approve {len(approving)} member{'' if len(approving) == 1 else 's'}: {names}.")
    if granting:
        first = granting[0].nomination
        lines.append(f"For {len(granting)} of them your approval completes both sides' decisions: they get access "
                     f"({', '.join(first.actions)}) from {first.starts_at:%Y-%m-%d %H:%M} UTC to "
                     f"{first.ends_at:%Y-%m-%d %H:%M} UTC, while their NDAs and attestations are in force.")  # fmt: skip
    elif approving:
        lines.append("Access is granted to each only once both sides have approved it.")
    for e in rejecting:
        lines.append(f"You reject {e.organisation_name}: “{(e.reason or '').strip()}”. Its nomination closes at once.")
    if untouched:
        lines.append(f"{len(untouched)} member{'' if len(untouched) == 1 else 's'} you do not decide on: "
                     + "; ".join(f"{e.organisation_name} ({e.refusal.message})" for e in untouched if e.refusal) + ".")  # fmt: skip
    lines.append("Each decision is recorded and audited on its own member; a decision cannot be taken back.")
    confirm = f"Yes, approve {len(approving)}" + (f" and reject {len(rejecting)}" if rejecting else "")
    return {"title": f"Decide on the cohort {cohort_name}?", "consequences": lines, "confirm": confirm,
            "danger": bool(rejecting)}  # fmt: skip


class CohortPagesController(Controller):
    path = "/console/cohorts"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = {**PAGE_DEPENDENCIES, "cohorts": Provide(provide_cohorts, sync_to_thread=False)}

    @get("/")
    async def cohorts_list(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], cohorts: NamedDependency[Cohorts],
        queries: NamedDependency[Queries],
    ) -> Template:  # fmt: skip
        params = request.query_params
        model_id = _uuid_or_none(params.get("model_id"))
        found = await cohorts.cohorts(signed.actor, model_id=model_id, cursor=params.get("cursor") or None,
                                      limit=FIRST_OF_LIST)  # fmt: skip
        more = (f"/console/cohorts?{urlencode({**({'model_id': str(model_id)} if model_id else {}), 'cursor': found.next_cursor})}"
                if found.next_cursor else None)  # fmt: skip
        return page("console/cohorts.html", signed, summaries=found.items, more=more, model_id=model_id,
                    models=await queries.all_models(signed.actor))  # fmt: skip

    @get("/new")
    async def new_cohort(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries]
    ) -> Template:
        return await new_cohort_page(signed, queries, values={
            "model_id": request.query_params.get("model_id", ""), "actions": ["invoke"], "organisation_ids": []})  # fmt: skip

    @post("/new")
    @on_refusal(new_cohort_page, lists=["actions", "organisation_ids"])
    async def nominate(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], form: NamedDependency[Posted],
        cohorts: NamedDependency[Cohorts], queries: NamedDependency[Queries],
    ) -> Template:  # fmt: skip
        created = await cohorts.nominate_cohort(
            actor=signed.actor, model_id=form.uuid("model_id", "a model"), name=form["name"],
            entries=[*form.all("organisation_ids"), *entries_in(form.raw("entries")), *await uploaded_entries(request)],
            starts_at=instant(form, "starts_at"), ends_at=instant(form, "ends_at"), actions=form.all("actions"),
            justification=form["justification"], all_or_nothing=form["all_or_nothing"] == "yes",
        )  # fmt: skip
        return await _cohort(signed, cohorts, queries, created.cohort.id, created=created)

    @get("/{cohort_id:uuid}")
    async def cohort(
        self, signed: NamedDependency[Signed], cohorts: NamedDependency[Cohorts], queries: NamedDependency[Queries],
        cohort_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await cohort_page(signed, cohorts, queries, cohort_id)

    @post("/{cohort_id:uuid}/decision")
    @on_refusal(cohort_page, lists=["reject"])
    async def decide(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted], cohorts: NamedDependency[Cohorts],
        queries: NamedDependency[Queries], cohort_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        here, reject = f"/console/cohorts/{cohort_id}", _rejections(form)
        if not confirmed(form):
            effects = await cohorts.decision_effect(actor=signed.actor, cohort_id=cohort_id, reject=reject)
            summary = await cohorts.summary(signed.actor, cohort_id)
            return confirmation(signed, form, action=f"{here}/decision", back=here,
                                **_decision_words(effects, summary.cohort.name))  # fmt: skip
        decided = await cohorts.decide_cohort(actor=signed.actor, cohort_id=cohort_id, reject=reject)
        return await _cohort(signed, cohorts, queries, cohort_id, decided=decided)
