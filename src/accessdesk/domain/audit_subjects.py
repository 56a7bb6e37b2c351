"""What an audit event is about, in words: the subject an event names by its table and id (``access_grants``,
``60149be9-…``), told by name (the grant of Atlas to Northwind from … to …), with the page that shows it; and the
other way round, the subjects a name, an e-mail or a slug typed in a filter stands for.

Both keep to need-to-know: a subject the reader could not open on its own page is told by its kind and id only,
and a name finds only what the reader can see."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    ApiToken,
    Attestation,
    AuditEvent,
    Consultation,
    Decision,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    OAuthClient,
    Organisation,
    User,
)
from accessdesk.domain import consultations, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.sorting import contains
from accessdesk.domain.unit import Unit

# What each kind of subject is called in a sentence, by the table the domain records it under.
KINDS = {"access_grants": "grant", "api_tokens": "API token", "attestations": "attestation",
         "audit_keys": "audit signing key", "consultations": "consultation", "decisions": "decision", "findings": "finding",
         "frontier_models": "model",
         "nda_acceptances": "NDA acceptance", "nda_templates": "NDA", "nominations": "nomination",
         "oauth_clients": "credential", "organisations": "organisation", "outbox": "notification",
         "signing_keys": "token signing key", "system": "the system", "users": "person"}  # fmt: skip
# How many subjects a name may stand for before the reader is asked to type more of it.
MAX_FOUND = 20


@dataclass(frozen=True, slots=True)
class Subject:
    """One subject of the trail. ``name``: how it is told; ``page``: the kind and id of the console page that
    shows it (``grant``, ``nomination``, ``model``, ``organisation``, ``nda``), None when it has none or the
    reader may not see it; ``key``: what the filter takes to find it again (an e-mail, a slug, or its id)."""

    subject_type: str
    subject_id: str
    name: str
    page: tuple[str, uuid.UUID] | None = None
    key: str | None = None

    @property
    def kind(self) -> str:
        return KINDS.get(self.subject_type, self.subject_type)


def _uuids(ids: Iterable[str]) -> set[uuid.UUID]:
    found = set()
    for id_ in ids:
        try:
            found.add(uuid.UUID(id_))
        except ValueError:
            continue
    return found


def _window(row: Nomination | AccessGrant) -> str:
    return f"{row.starts_at:%Y-%m-%d %H:%M} → {row.ends_at:%Y-%m-%d %H:%M} UTC"


def _person(user: User) -> str:
    return f"{user.name} ({user.email})"


class AuditSubjects:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def _rows(self, stmt: Any) -> list[Any]:
        return list((await self.unit.session.exec(stmt)).all())

    def _visible_organisations(self, actor: Actor) -> Any:
        return select(Organisation.id).where(visibility.organisations_filter(actor))

    def _visible_models(self, actor: Actor) -> Any:
        return select(FrontierModel.id).where(visibility.models_filter(actor))

    async def named(self, actor: Actor, events: Iterable[AuditEvent]) -> dict[tuple[str, str], Subject]:
        """The subjects of ``events`` that ``actor`` can see, by ``(subject_type, subject_id)``, told by name: a
        few queries for a whole page of events, none per event. A subject missing from the answer is out of the
        reader's sight (or gone): show its kind and id."""
        wanted: dict[str, set[str]] = {}
        for event in events:
            wanted.setdefault(event.subject_type, set()).add(event.subject_id)
        found: dict[tuple[str, str], Subject] = {}

        def add(subject: Subject) -> None:
            found[(subject.subject_type, subject.subject_id)] = subject

        ids = {kind: _uuids(values) for kind, values in wanted.items()}
        orgs = set(ids.get("organisations", ()))
        models = set(ids.get("frontier_models", ()))
        cases: list[Nomination | AccessGrant] = []
        if ids.get("access_grants"):
            cases += await self._rows(select(AccessGrant).where(col(AccessGrant.id).in_(ids["access_grants"]),
                                                                visibility.cases_filter(actor, AccessGrant)))  # fmt: skip
        decisions: list[Decision] = []
        if ids.get("decisions"):
            decisions = await self._rows(select(Decision).where(col(Decision.id).in_(ids["decisions"])))
        nomination_ids = set(ids.get("nominations", ())) | {d.nomination_id for d in decisions}
        if nomination_ids:
            cases += await self._rows(select(Nomination).where(col(Nomination.id).in_(nomination_ids),
                                                               visibility.cases_filter(actor, Nomination)))  # fmt: skip
        clients: list[OAuthClient] = []
        if ids.get("oauth_clients"):
            clients = await self._rows(select(OAuthClient).where(
                col(OAuthClient.id).in_(ids["oauth_clients"]), col(OAuthClient.model_id).in_(self._visible_models(actor)),
                sa.true() if actor.is_staff or actor.is_system else OAuthClient.organisation_id == actor.organisation_id,
            ))  # fmt: skip
        attestations: list[Attestation] = []
        if ids.get("attestations"):
            attestations = await self._rows(select(Attestation).where(col(Attestation.id).in_(ids["attestations"])))
        acceptances: list[NdaAcceptance] = []
        if ids.get("nda_acceptances"):
            acceptances = await self._rows(select(NdaAcceptance).where(col(NdaAcceptance.id).in_(ids["nda_acceptances"])))
        tokens: list[ApiToken] = []
        if ids.get("api_tokens"):
            tokens = await self._rows(select(ApiToken).where(col(ApiToken.id).in_(ids["api_tokens"])))
        user_ids = set(ids.get("users", ())) | {t.user_id for t in tokens}
        rounds: list[Consultation] = []
        if ids.get("consultations"):
            rounds = await self._rows(select(Consultation).where(col(Consultation.id).in_(ids["consultations"])))
            models |= {c.model_id for c in rounds}
        for row in (*cases, *clients):
            models.add(row.model_id)
            orgs.add(row.organisation_id)
        orgs |= {a.organisation_id for a in attestations} | {a.organisation_id for a in acceptances}

        org_rows = await self._rows(select(Organisation).where(col(Organisation.id).in_(orgs),
                                                               visibility.organisations_filter(actor))) if orgs else []  # fmt: skip
        org_names = {o.id: o.name for o in org_rows}
        model_rows = await self._rows(select(FrontierModel).where(col(FrontierModel.id).in_(models),
                                                                  visibility.models_filter(actor))) if models else []  # fmt: skip
        model_names = {m.id: m.name for m in model_rows}
        people = {u.id: u for u in await self._rows(select(User).where(
            col(User.id).in_(user_ids), col(User.organisation_id).in_(self._visible_organisations(actor))
        ))} if user_ids else {}  # fmt: skip

        for o in org_rows:
            add(Subject("organisations", str(o.id), o.name, ("organisation", o.id), o.slug))
        for m in model_rows:
            add(Subject("frontier_models", str(m.id), m.name, ("model", m.id), m.slug))
        for u in people.values():
            add(Subject("users", str(u.id), _person(u), ("organisation", u.organisation_id), u.email))
        by_nomination: dict[uuid.UUID, Nomination] = {}
        for case in cases:
            model, org = model_names.get(case.model_id, "a model"), org_names.get(case.organisation_id, "a partner")
            if isinstance(case, AccessGrant):
                add(Subject("access_grants", str(case.id), f"{model} for {org}, {_window(case)}", ("grant", case.id)))
            else:
                by_nomination[case.id] = case
                add(Subject("nominations", str(case.id), f"{org} for {model}, {_window(case)}", ("nomination", case.id)))
        for d in decisions:
            nomination = by_nomination.get(d.nomination_id)
            if nomination is not None:
                add(Subject("decisions", str(d.id), f"{d.side} {d.verdict} on {found[('nominations', str(nomination.id))].name}",
                            ("nomination", nomination.id)))  # fmt: skip
        for c in clients:
            page = ("grant", c.grant_id) if c.grant_id else ("model", c.model_id)
            add(Subject("oauth_clients", str(c.id), f"“{c.name}” ({c.client_id}) of {org_names.get(c.organisation_id, '')}"
                        f" for {model_names.get(c.model_id, '')}", page))  # fmt: skip
        for a in attestations:
            if a.organisation_id in org_names:
                add(Subject("attestations", str(a.id), f"{org_names[a.organisation_id]}'s {a.area.replace('_', ' ')} "
                            "attestation", ("organisation", a.organisation_id)))  # fmt: skip
        for n in acceptances:
            if n.organisation_id in org_names:
                add(Subject("nda_acceptances", str(n.id), f"{org_names[n.organisation_id]}'s acceptance of NDA "
                            f"version {n.version}", ("nda", n.template_id)))  # fmt: skip
        for t in tokens:
            if t.user_id in people:
                add(Subject("api_tokens", str(t.id), f"“{t.name}” of {_person(people[t.user_id])}"))
        if ids.get("nda_templates"):
            for template in await self._rows(select(NdaTemplate).where(col(NdaTemplate.id).in_(ids["nda_templates"]))):
                if visibility.sees_everything(actor) or template.developer_id == actor.organisation_id:
                    add(Subject("nda_templates", str(template.id),
                                f"{template.title}, version {template.version_major}.{template.version_minor}",
                                ("nda", template.id)))  # fmt: skip
        by_model = {m.id: m for m in model_rows}
        for r in rounds:
            # Need-to-know: a round is named (and linked) only for those who may read the model's consultations.
            if r.model_id in by_model and consultations.reads(actor, by_model[r.model_id]):
                add(Subject("consultations", str(r.id), f"round {r.round} of the consultation on "
                            f"{by_model[r.model_id].name}", ("consultation", r.id)))  # fmt: skip
        for kind in ("signing_keys", "audit_keys"):
            for kid in wanted.get(kind, ()):
                add(Subject(kind, kid, kid))
        return found

    async def find(self, actor: Actor, text: str, *, subject_type: str | None = None) -> list[Subject]:
        """The people (by name or e-mail), organisations and models (by name or slug) that ``text`` stands for,
        among those ``actor`` can see (of ``subject_type`` alone, when given), ignoring case: the one whose
        e-mail or slug it is exactly, else every one whose name, e-mail or slug holds it (at most
        :data:`MAX_FOUND`, then the reader types more)."""
        lowered = text.strip().lower()
        found: list[Subject] = []
        if subject_type in (None, "users"):
            people = await self._rows(select(User).where(
                col(User.organisation_id).in_(self._visible_organisations(actor)),
                sa.or_(contains(User.name, lowered), contains(User.email, lowered)),
            ).order_by(User.email).limit(MAX_FOUND + 1))  # fmt: skip
            found += [Subject("users", str(u.id), _person(u), ("organisation", u.organisation_id), u.email)
                      for u in people]  # fmt: skip
        if subject_type in (None, "organisations"):
            orgs = await self._rows(select(Organisation).where(
                visibility.organisations_filter(actor),
                sa.or_(contains(Organisation.name, lowered), contains(Organisation.slug, lowered)),
            ).order_by(Organisation.slug).limit(MAX_FOUND + 1))  # fmt: skip
            found += [Subject("organisations", str(o.id), o.name, ("organisation", o.id), o.slug) for o in orgs]
        if subject_type in (None, "frontier_models"):
            models = await self._rows(select(FrontierModel).where(
                visibility.models_filter(actor),
                sa.or_(contains(FrontierModel.name, lowered), contains(FrontierModel.slug, lowered)),
            ).order_by(FrontierModel.slug).limit(MAX_FOUND + 1))  # fmt: skip
            found += [Subject("frontier_models", str(m.id), m.name, ("model", m.id), m.slug) for m in models]
        exact = [s for s in found if (s.key or "").lower() == lowered or s.name.lower() == lowered]
        return exact if len(exact) == 1 else found[: MAX_FOUND + 1]
