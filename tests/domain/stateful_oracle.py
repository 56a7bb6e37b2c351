"""An independent oracle of DESIGN.md §3, for the stateful test (test_stateful.py).

It reads the rows as the database has them and decides from the written rules alone whether each grant may be used
now; it never asks the code's own helpers (gates, windows, grant_state) for a verdict. The code's answers are loaded
beside the rows (the live ``Grants.usability``, the token endpoint's fast path ``usable_by_facts`` and the stored
state) only so that the invariants can compare them with the oracle.

Each invariant is a function of the rows returning what breaks it, in words; its name is what a failure prints.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    AuditEvent,
    AuditHead,
    Decision,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    Organisation,
    User,
    UserRole,
)
from accessdesk.domain.audit import verify
from accessdesk.domain.grant_state import GrantFacts, derive_state
from accessdesk.domain.grants import Grants, Usability, usable_by_facts
from accessdesk.domain.unit import Unit

AREAS = ("confidentiality", "cybersecurity", "insider_risk", "ip_protection", "use", "nondisclosure")
# Who decides for a side (DESIGN §1: approve/reject is the approvers' work; the permission table gives it to admins
# too). Nominators, members, auditors and partners never count towards a quorum.
DECIDING_ROLES = frozenset({"approver", "admin"})
GOVERNMENT_LEAD = timedelta(days=30)
DESIGNATIONS_ALLOWING = {"government": {"in_consultation", "covered"}, "partner": {"covered"}}
# The code may be stricter than DESIGN §3 here, and only here: a partner window that starts before the government's
# is refused at nomination and blocked when it cannot be checked then (windows.problems_for). DESIGN asks only that
# the government's access has begun by the moment of use, so a grant the oracle finds usable may be refused for it.
STRICTER_THAN_DESIGN = frozenset({"window_before_government"})
WATCHED_ACTIONS = ("model.registered", "model.release_moved", "model.designated", "organisation.vetting_submitted",
                   "organisation.vetting_vetted", "organisation.vetting_declined")  # fmt: skip


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Rows:
    """Everything the oracle reads, as one consistent picture at ``at``, and the code's answers beside it."""

    at: datetime
    organisations: dict[uuid.UUID, Organisation]
    users: dict[uuid.UUID, User]
    roles: dict[uuid.UUID, set[str]]
    models: dict[uuid.UUID, FrontierModel]
    templates: dict[uuid.UUID, NdaTemplate]
    acceptances: list[NdaAcceptance]
    attestations: list[Attestation]
    nominations: dict[uuid.UUID, Nomination]
    decisions: dict[uuid.UUID, list[Decision]]
    grants: dict[uuid.UUID, AccessGrant]
    events: list[AuditEvent]
    head_seq: int
    chain_checked: int
    chain_problem: str | None
    live: dict[uuid.UUID, Usability] = field(default_factory=dict)
    fast_path_usable: dict[uuid.UUID, bool] = field(default_factory=dict)

    def claims_usable(self, grant: AccessGrant) -> bool:
        """Whether any answer of the code lets this grant be used now (the live answer or the token fast path)."""
        return self.live[grant.id].usable or self.fast_path_usable[grant.id]

    def name(self, grant: AccessGrant) -> str:
        return (f"{grant.grantee_kind} grant of {self.organisations[grant.organisation_id].slug} to "
                f"{self.models[grant.model_id].slug} [{grant.starts_at:%m-%d %H:%M}, {grant.ends_at:%m-%d %H:%M})")  # fmt: skip


async def load(session: AsyncSession, at: datetime, unit: Unit) -> Rows:
    async def all_of(table: type[SQLModel]) -> list:
        return list((await session.exec(select(table))).all())

    chain = await verify(session)  # first: it empties the session's identity map as it walks
    head = await session.get(AuditHead, 1)
    decisions: dict[uuid.UUID, list[Decision]] = defaultdict(list)
    for decision in await all_of(Decision):
        decisions[decision.nomination_id].append(decision)
    roles: dict[uuid.UUID, set[str]] = defaultdict(set)
    for role in await all_of(UserRole):
        roles[role.user_id].add(role.role)
    events = (await session.exec(
        select(AuditEvent).where(col(AuditEvent.action).in_(WATCHED_ACTIONS)).order_by(col(AuditEvent.seq))
    )).all()  # fmt: skip
    rows = Rows(
        at=at,
        organisations={o.id: o for o in await all_of(Organisation)},
        users={u.id: u for u in await all_of(User)},
        roles=roles,
        models={m.id: m for m in await all_of(FrontierModel)},
        templates={t.id: t for t in await all_of(NdaTemplate)},
        acceptances=await all_of(NdaAcceptance),
        attestations=await all_of(Attestation),
        nominations={n.id: n for n in await all_of(Nomination)},
        decisions=decisions,
        grants={g.id: g for g in await all_of(AccessGrant)},
        events=list(events),
        head_seq=head.seq if head else 0,
        chain_checked=chain.checked,
        chain_problem=None if chain.ok else chain.describe(),
    )
    for grant in rows.grants.values():
        rows.live[grant.id] = await Grants(unit).usability(grant.id, at=at)
        rows.fast_path_usable[grant.id] = usable_by_facts(grant, at) is not None
    return rows


# The rules, read from DESIGN §3.


def may_decide_for(rows: Rows, user_id: uuid.UUID, model: FrontierModel) -> str | None:
    """The side a person decides for on this model (rule 1), or None when they may not decide on it at all."""
    user = rows.users.get(user_id)
    if user is None or not rows.roles[user_id] & DECIDING_ROLES:
        return None
    organisation = rows.organisations[user.organisation_id]
    if organisation.kind == "developer" and organisation.id == model.developer_id:
        return "developer"
    if organisation.kind == "government":
        return "government"
    return None


@dataclass(frozen=True)
class Tally:
    developer: frozenset[uuid.UUID]
    government: frozenset[uuid.UUID]
    vetoed: bool
    met: bool


def tally(rows: Rows, nomination: Nomination) -> Tally:
    """Rule 1: distinct approvers of each side, never the nominator; any reject vetoes."""
    model = rows.models[nomination.model_id]
    sides: dict[str, set[uuid.UUID]] = {"developer": set(), "government": set()}
    vetoed = False
    for decision in rows.decisions[nomination.id]:
        if decision.verdict == "reject":
            vetoed = True
            continue
        side = may_decide_for(rows, decision.approver_id, model)
        if side is not None and decision.approver_id != nomination.nominated_by:
            sides[side].add(decision.approver_id)
    met = (not vetoed and len(sides["developer"]) >= model.developer_quorum
           and len(sides["government"]) >= model.government_quorum)  # fmt: skip
    return Tally(frozenset(sides["developer"]), frozenset(sides["government"]), vetoed, met)


def window(rows: Rows, grant: AccessGrant) -> tuple[datetime, datetime] | None:
    """The window the decisions gave (rules 1 and 7): the nomination's, extended by every extension that met both
    quorums; None when the nomination itself never met them."""
    nomination = rows.nominations[grant.nomination_id]
    if nomination.kind != "grant" or not tally(rows, nomination).met:
        return None
    ends_at = nomination.ends_at
    for other in rows.nominations.values():
        if other.kind == "extension" and other.grant_id == grant.id and tally(rows, other).met:
            ends_at = max(ends_at, other.ends_at)
    return nomination.starts_at, ends_at


def current_nda(rows: Rows, model: FrontierModel) -> NdaTemplate | None:
    """Rule 5: the latest version of the model's own NDA, else of the developer's NDA for all its models."""
    own = [t for t in rows.templates.values() if t.model_id == model.id]
    wide = [t for t in rows.templates.values() if t.model_id is None and t.developer_id == model.developer_id]
    series = own or wide
    return max(series, key=lambda t: (t.version_major, t.version_minor)) if series else None


def missing_gates(rows: Rows, organisation: Organisation, model: FrontierModel, at: datetime) -> list[str]:
    """Rule 5's gates for a grantee at ``at``, in words (empty: all met)."""
    missing = []
    if organisation.kind == "partner" and organisation.vetting_state != "vetted":
        missing.append(f"partner is {organisation.vetting_state}, not vetted")
    nda = current_nda(rows, model)
    if nda is None:
        missing.append("no NDA published")
    elif not any(
        a.organisation_id == organisation.id
        and rows.templates[a.template_id].series == nda.series
        and rows.templates[a.template_id].version_major == nda.version_major
        and a.accepted_at <= at < a.expires_at
        for a in rows.acceptances
    ):
        missing.append(f"NDA {nda.version_major}.x not accepted or expired")
    for area in AREAS:
        if not any(a.organisation_id == organisation.id and a.area == area
                   and a.attested_at <= at < a.valid_until for a in rows.attestations):  # fmt: skip
            missing.append(f"no valid {area} attestation")
    return missing


def release_in_force(rows: Rows, grant: AccessGrant) -> datetime:
    """Rule 3: the planned release a government window is held to, i.e. the last one planned before the window
    started (a move re-checks grants not started yet; started grants keep their window)."""
    subject = str(grant.model_id)
    planned = None
    for event in rows.events:
        if event.subject_id != subject or event.action not in ("model.registered", "model.release_moved"):
            continue
        if planned is None or event.at < grant.starts_at:
            assert event.after is not None
            planned = _at(event.after["planned_release_at"])
    assert planned is not None, f"no audit event registered model {subject}"
    return planned


def government_floor_problem(rows: Rows, grant: AccessGrant) -> str | None:
    floor = release_in_force(rows, grant) - GOVERNMENT_LEAD
    if grant.starts_at < floor:
        return f"starts {grant.starts_at:%m-%d %H:%M}, before planned release − 30 days ({floor:%m-%d %H:%M})"
    return None


def refusals(rows: Rows, grant: AccessGrant, at: datetime, *, check_government: bool = True) -> list[str]:
    """Every reason in DESIGN §3 why ``grant`` may not be used at ``at`` (empty: usable)."""
    model = rows.models[grant.model_id]
    organisation = rows.organisations[grant.organisation_id]
    found = []
    if grant.revoked_at is not None:
        found.append("revoked")
    if model.killed_at is not None:
        found.append("model switched off")
    given = window(rows, grant)
    if given is None:
        found.append("nomination never met both quorums")
    elif not given[0] <= at < given[1]:
        found.append("outside its window")
    if model.designation not in DESIGNATIONS_ALLOWING[grant.grantee_kind]:
        found.append(f"model is {model.designation}")
    found += missing_gates(rows, organisation, model, at)
    if grant.grantee_kind == "government":
        problem = government_floor_problem(rows, grant)
        if problem:
            found.append(problem)
    elif check_government and not government_access(rows, model, at):
        found.append("no government grant of the model usable now")
    return found


def government_access(rows: Rows, model: FrontierModel, at: datetime) -> list[AccessGrant]:
    """Rule 3, government first: the government grants of the model usable at ``at``."""
    return [g for g in rows.grants.values()
            if g.model_id == model.id and g.grantee_kind == "government" and not refusals(rows, g, at)]  # fmt: skip


def oracle_usable(rows: Rows, grant: AccessGrant) -> bool:
    return not refusals(rows, grant, rows.at)


# The invariants, each named as a failure prints it.


def usable_grants_have_both_quorums(rows: Rows) -> list[str]:
    """Rule 1: a usable grant's nomination has both quorums of distinct, rightful, non-nominating approvers and no
    veto; and every nomination's outcome follows its decisions."""
    found = []
    for grant in rows.grants.values():
        nomination = rows.nominations[grant.nomination_id]
        counted = tally(rows, nomination)
        if rows.claims_usable(grant) and not counted.met:
            found.append(f"{rows.name(grant)} is usable, but its nomination has {len(counted.developer)} developer "
                         f"and {len(counted.government)} government approvals (vetoed: {counted.vetoed})")  # fmt: skip
    for nomination in rows.nominations.values():
        counted = tally(rows, nomination)
        if nomination.state == "approved" and not counted.met:
            found.append(f"nomination {nomination.id} is approved without both quorums / with a veto")
        if nomination.state == "rejected" and not counted.vetoed:
            found.append(f"nomination {nomination.id} is rejected without any reject decision")
        if nomination.state in ("pending", "withdrawn", "lapsed") and (counted.met or counted.vetoed):
            found.append(f"nomination {nomination.id} is {nomination.state} although its decisions settled it")
    return found


def decisions_only_by_rightful_approvers(rows: Rows) -> list[str]:
    """Rule 1: decisions come from approvers of the model's developer or of the government, on the side of their
    organisation, never from the nominator or a partner, once each."""
    found = []
    for nomination in rows.nominations.values():
        model = rows.models[nomination.model_id]
        seen: set[uuid.UUID] = set()
        for decision in rows.decisions[nomination.id]:
            side = may_decide_for(rows, decision.approver_id, model)
            who = rows.users[decision.approver_id].email
            if side is None or side != decision.side:
                found.append(f"{who} decided for the {decision.side} side of {model.slug} (may decide: {side})")
            if decision.approver_id == nomination.nominated_by:
                found.append(f"{who} decided on their own nomination")
            if decision.approver_id in seen:
                found.append(f"{who} decided twice on nomination {nomination.id}")
            seen.add(decision.approver_id)
    return found


def usable_grants_pass_every_gate(rows: Rows) -> list[str]:
    """Rule 5 at t: vetted partner, current major NDA accepted and unexpired, six valid attestations, inside the
    window, not revoked (nor switched off)."""
    found = []
    for grant in rows.grants.values():
        if not rows.claims_usable(grant):
            continue
        model = rows.models[grant.model_id]
        problems = missing_gates(rows, rows.organisations[grant.organisation_id], model, rows.at)
        given = window(rows, grant)
        if given is not None and not given[0] <= rows.at < given[1]:
            problems.append(f"outside its window [{given[0]:%m-%d %H:%M}, {given[1]:%m-%d %H:%M})")
        if grant.revoked_at is not None or model.killed_at is not None:
            problems.append("revoked")
        if problems:
            found.append(f"{rows.name(grant)} is usable, but: {'; '.join(problems)}")
    return found


def partner_usable_only_while_government_usable(rows: Rows) -> list[str]:
    """Rule 3, government first: a partner grant is usable only while a government grant of the same model is
    (a blocked government grant has not begun)."""
    return [f"{rows.name(g)} is usable, but no government grant of {rows.models[g.model_id].slug} is"
            for g in rows.grants.values()
            if g.grantee_kind == "partner" and rows.claims_usable(g)
            and not government_access(rows, rows.models[g.model_id], rows.at)]  # fmt: skip


def usable_grants_allowed_by_designation(rows: Rows) -> list[str]:
    """Rule 4: government grants while the model is in consultation or covered; partner grants while covered."""
    return [f"{rows.name(g)} is usable while the model is {rows.models[g.model_id].designation}"
            for g in rows.grants.values()
            if rows.claims_usable(g)
            and rows.models[g.model_id].designation not in DESIGNATIONS_ALLOWING[g.grantee_kind]]  # fmt: skip


def government_windows_within_30_days_of_release(rows: Rows) -> list[str]:
    """Rule 3: a government window starts no earlier than the planned release − 30 days (the release in force when
    it started); one not started yet that breaks it is blocked, and never answered as scheduled."""
    found = []
    for grant in rows.grants.values():
        if grant.grantee_kind != "government":
            continue
        problem = government_floor_problem(rows, grant)
        if problem and rows.claims_usable(grant):
            found.append(f"{rows.name(grant)} is usable, but {problem}")
        unstarted = grant.revoked_at is None and rows.at < grant.starts_at
        if problem and unstarted and rows.live[grant.id].state.value == "scheduled":
            found.append(f"{rows.name(grant)} is scheduled, but {problem}")
    return found


def vetting_decided_by_government_only(rows: Rows) -> list[str]:
    """Rule 5: only government admins and approvers decide vetting, and every change of it is audited."""
    found, last = [], {}
    for event in rows.events:
        if not event.action.startswith("organisation.vetting_"):
            continue
        assert event.after is not None
        last[event.subject_id] = event.after["vetting_state"]
        if event.action == "organisation.vetting_submitted":
            continue
        user = rows.users.get(event.actor_id) if event.actor_id else None
        kind = rows.organisations[user.organisation_id].kind if user else None
        if user is None or kind != "government" or not rows.roles[user.id] & DECIDING_ROLES:
            found.append(f"{event.actor} ({kind}) decided vetting: {event.action} of {event.subject_id}")
    for organisation in rows.organisations.values():
        if organisation.kind == "partner" and organisation.vetting_state != last.get(str(organisation.id), "invited"):
            found.append(f"{organisation.slug} is {organisation.vetting_state} without an audited vetting move")
    return found


def designation_recorded_by_government(rows: Rows) -> list[str]:
    """Rule 4: the government records a model's designation, and every change of it is audited."""
    found, last = [], {}
    for event in rows.events:
        if event.action != "model.designated":
            continue
        assert event.after is not None
        last[event.subject_id] = event.after["designation"]
        user = rows.users.get(event.actor_id) if event.actor_id else None
        if user is None or rows.organisations[user.organisation_id].kind != "government":
            found.append(f"{event.actor} recorded a designation of {event.subject_id}")
    for model in rows.models.values():
        if model.designation != last.get(str(model.id), "not_assessed"):
            found.append(f"{model.slug} is {model.designation} without an audited designation")
    return found


def usability_matches_oracle_and_token_check(rows: Rows) -> list[str]:
    """Rule 9: ``Grants.usability`` agrees with the oracle, and the token endpoint's fast path (the stored facts,
    ``usable_by_facts``) lets a grant through exactly when ``usability`` says usable."""
    found = []
    for grant in rows.grants.values():
        live, expected = rows.live[grant.id], oracle_usable(rows, grant)
        stricter = not expected and not live.usable
        excused = expected and not live.usable and set(live.reasons) <= STRICTER_THAN_DESIGN and live.reasons
        if live.usable != expected and not (stricter or excused):
            why = "; ".join(refusals(rows, grant, rows.at)) or "nothing stands in the way"
            found.append(f"{rows.name(grant)}: usability says {live.state.value} {list(live.reasons)}, "
                         f"the rules say {'usable' if expected else 'not usable: ' + why}")  # fmt: skip
        if rows.fast_path_usable[grant.id] != live.usable:
            found.append(f"{rows.name(grant)}: the token fast path says usable={rows.fast_path_usable[grant.id]}, "
                         f"usability says {live.state.value} {list(live.reasons)}")  # fmt: skip
    return found


def unusable_grants_say_why(rows: Rows) -> list[str]:
    """Rule 9's "and if not, why": a refusal names at least one reason."""
    return [f"{rows.name(g)} is {rows.live[g.id].state.value} with no reason given"
            for g in rows.grants.values() if not rows.live[g.id].usable and not rows.live[g.id].reasons]  # fmt: skip


def stored_facts_agree_with_live_answer(rows: Rows) -> list[str]:
    """The state the stored facts give now equals the state the live answer gives (nothing was left stale)."""
    found = []
    for grant in rows.grants.values():
        stored = derive_state(GrantFacts.of(grant), rows.at)
        if stored != rows.live[grant.id].state:
            found.append(f"{rows.name(grant)}: stored facts give {stored.value}, live answer "
                         f"{rows.live[grant.id].state.value} {list(rows.live[grant.id].reasons)}")  # fmt: skip
    return found


def approved_grant_nominations_carry_their_grant(rows: Rows) -> list[str]:
    """An approved nomination of kind grant has exactly one grant; every grant comes from such a nomination."""
    found = []
    by_nomination: dict[uuid.UUID, list[AccessGrant]] = defaultdict(list)
    for grant in rows.grants.values():
        by_nomination[grant.nomination_id].append(grant)
        nomination = rows.nominations[grant.nomination_id]
        if nomination.kind != "grant" or nomination.state != "approved":
            found.append(f"{rows.name(grant)} comes from a {nomination.state} {nomination.kind} nomination")
    for nomination in rows.nominations.values():
        if nomination.kind == "grant" and nomination.state == "approved" and len(by_nomination[nomination.id]) != 1:
            found.append(f"approved nomination {nomination.id} has {len(by_nomination[nomination.id])} grants")
    return found


def audit_chain_verifies_to_head(rows: Rows) -> list[str]:
    """Rule 8: the chain verifies, event by event, up to the recorded head."""
    if rows.chain_problem:
        return [rows.chain_problem]
    if rows.chain_checked != rows.head_seq:
        return [f"{rows.chain_checked} events verify, but the head records {rows.head_seq}"]
    return []


INVARIANTS: tuple[Callable[[Rows], list[str]], ...] = (
    usable_grants_have_both_quorums,
    decisions_only_by_rightful_approvers,
    usable_grants_pass_every_gate,
    partner_usable_only_while_government_usable,
    usable_grants_allowed_by_designation,
    government_windows_within_30_days_of_release,
    vetting_decided_by_government_only,
    designation_recorded_by_government,
    usability_matches_oracle_and_token_check,
    unusable_grants_say_why,
    stored_facts_agree_with_live_answer,
    approved_grant_nominations_carry_their_grant,
    audit_chain_verifies_to_head,
)


def broken(rows: Rows) -> list[str]:
    """Every invariant that does not hold, as ``name: what breaks it``."""
    return [f"{check.__name__}: {problem}" for check in INVARIANTS for problem in check(rows)]
