"""An independent oracle of DESIGN.md §3, for the stateful test (test_stateful.py).

It reads the rows as the database has them and decides from the written rules alone whether each grant may be used
now; it never asks the code's own helpers (gates, windows, grant_state) for a verdict. The code's answers are loaded
beside the rows (the live ``Grants.usability``, the token endpoint's fast path ``usable_by_facts``, the stored
state and each cohort's summary) only so that the invariants can compare them with the oracle.

Each invariant is a function of the rows returning what breaks it, in words; its name is what a failure prints.

It also says, before a call, what the rules make of it (the forecasts: why a nomination or a decision must be
refused, in words, and what a decision must lead to). A cohort is forecast as the single nominations it consists of,
and its decision as the single decisions of its members in the order of their ids, each by the same rules. A decision
in someone's name (issue 18) is judged by their rights, the delegation in force, and the delegate's own hand: never
on their own nomination, never counting one person twice. A pending nomination lapses at its proposed start or, if
sooner, its model's ``nomination_expiry_days`` (as the audit trail says they were when it was made) after it was made.

Issue 17's workflow has invariants of its own: a model is in consultation exactly when it has one open round, and its
designation is its last round's outcome; and nobody outside a finding's audience (TLP, computed here from the rows)
reads it through any of the code's read paths (the finding, the lists, the counts, the export), while everyone in it
does.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    AuditEvent,
    AuditHead,
    Cohort,
    Consultation,
    Decision,
    Delegation,
    Finding,
    FindingRecipient,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    Organisation,
    User,
    UserRole,
)
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import verify
from accessdesk.domain.cohorts import Cohorts, CohortSummary
from accessdesk.domain.errors import NotFound
from accessdesk.domain.findings import Findings
from accessdesk.domain.grant_state import GrantFacts, derive_state
from accessdesk.domain.grants import Grants, Usability, usable_by_facts
from accessdesk.domain.organisations import actor_for
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
# Who nominates (DESIGN §1: developer and government staff nominate; the permission table gives it to their
# nominators, approvers and admins).
NOMINATING_ROLES = frozenset({"nominator", "approver", "admin"})
WATCHED_ACTIONS = ("model.registered", "model.release_moved", "model.designated", "model.updated",
                   "nomination.created", "organisation.vetting_submitted", "organisation.vetting_vetted",
                   "organisation.vetting_declined")  # fmt: skip
# Issue 18: a delegation (out of office) lasts at most this long.
LONGEST_DELEGATION = timedelta(days=90)
# Who reads a finding of each TLP audience beyond its reporter and named recipients (issue 17): the model's developer,
# the government and the reporter's organisation ("strict"); the model's current grantees; everyone.
STRICT_READERS = frozenset({"tlp_amber_strict", "tlp_amber", "tlp_green"})
GRANTEE_READERS = frozenset({"tlp_amber", "tlp_green"})
# The code's read paths of findings, each asked for every person after a step that may change who reads what.
READ_PATHS = ("finding", "findings", "counts", "export")
# For each person, the findings each read path of the code lets them read (the counts: how many).
Reads = dict[uuid.UUID, dict[str, frozenset[uuid.UUID] | int]]


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
    cohorts: dict[uuid.UUID, Cohort] = field(default_factory=dict)
    live: dict[uuid.UUID, Usability] = field(default_factory=dict)
    fast_path_usable: dict[uuid.UUID, bool] = field(default_factory=dict)
    summaries: dict[uuid.UUID, CohortSummary] = field(default_factory=dict)
    delegations: dict[uuid.UUID, Delegation] = field(default_factory=dict)
    consultations: dict[uuid.UUID, Consultation] = field(default_factory=dict)
    findings: dict[uuid.UUID, Finding] = field(default_factory=dict)
    recipients: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    reads: Reads = field(default_factory=dict)  # the code's answers
    lapses: dict[uuid.UUID, datetime] = field(default_factory=dict)  # lapse_of's, found once per picture

    def claims_usable(self, grant: AccessGrant) -> bool:
        """Whether any answer of the code lets this grant be used now (the live answer or the token fast path)."""
        return self.live[grant.id].usable or self.fast_path_usable[grant.id]

    def name(self, grant: AccessGrant) -> str:
        return (f"{grant.grantee_kind} grant of {self.organisations[grant.organisation_id].slug} to "
                f"{self.models[grant.model_id].slug} [{grant.starts_at:%m-%d %H:%M}, {grant.ends_at:%m-%d %H:%M})")  # fmt: skip


async def load(session: AsyncSession, at: datetime, unit: Unit, *, answers: bool = True,
               reads: Reads | None = None) -> Rows:  # fmt: skip
    """The rows at ``at``; with the code's ``answers`` beside them (and the audit chain verified), for the
    invariants. Without, only what a forecast reads (no NDA, attestation, finding or consultation). ``reads``: the
    findings' read paths' answers as they were (the desk knows nothing they depend on has changed), else asked."""

    async def all_of(table: type[SQLModel], wanted: bool = True) -> list:
        return list((await session.exec(select(table))).all()) if wanted else []

    chain = await verify(session) if answers else None  # first: it empties the session's identity map as it walks
    head = await session.get(AuditHead, 1)
    decisions: dict[uuid.UUID, list[Decision]] = defaultdict(list)
    for decision in await all_of(Decision):
        decisions[decision.nomination_id].append(decision)
    roles: dict[uuid.UUID, set[str]] = defaultdict(set)
    for role in await all_of(UserRole):
        roles[role.user_id].add(role.role)
    events = (await session.exec(
        select(AuditEvent).where(col(AuditEvent.action).in_(WATCHED_ACTIONS)).order_by(col(AuditEvent.seq))
    )).all()  # a forecast's too: when a nomination lapses depends on its model's expiry when it was made  # fmt: skip
    rows = Rows(
        at=at,
        organisations={o.id: o for o in await all_of(Organisation)},
        users={u.id: u for u in await all_of(User)},
        roles=roles,
        models={m.id: m for m in await all_of(FrontierModel)},
        templates={t.id: t for t in await all_of(NdaTemplate, answers)},
        acceptances=await all_of(NdaAcceptance, answers),
        attestations=await all_of(Attestation, answers),
        nominations={n.id: n for n in await all_of(Nomination)},
        decisions=decisions,
        grants={g.id: g for g in await all_of(AccessGrant)},
        cohorts={c.id: c for c in await all_of(Cohort)},
        delegations={d.id: d for d in await all_of(Delegation)},
        consultations={c.id: c for c in await all_of(Consultation, answers)},
        findings={f.id: f for f in await all_of(Finding, answers)},
        events=list(events),
        head_seq=head.seq if head else 0,
        chain_checked=chain.checked if chain else 0,
        chain_problem=None if chain is None or chain.ok else chain.describe(),
    )
    if not answers:
        return rows
    for recipient in await all_of(FindingRecipient):
        rows.recipients[recipient.finding_id].add(recipient.user_id)
    for grant in rows.grants.values():
        rows.live[grant.id] = await Grants(unit).usability(grant.id, at=at)
        rows.fast_path_usable[grant.id] = usable_by_facts(grant, at) is not None
    cursor: str | None = ""
    while rows.cohorts and cursor is not None:  # as the system (which sees every member) reads them, page by page
        page = await Cohorts(unit).cohorts(Actor.system("stateful oracle"), cursor=cursor or None, limit=200)
        rows.summaries.update({summary.cohort.id: summary for summary in page.items})
        cursor = page.next_cursor
    if rows.findings and reads is not None:
        rows.reads = reads
    elif rows.findings:
        rows.reads = {user.id: await finding_reads(unit, await actor_for(unit, user), rows.findings)
                      for user in rows.users.values()}  # fmt: skip
    return rows


async def finding_reads(unit: Unit, actor: Actor,
                        findings: dict[uuid.UUID, Finding]) -> dict[str, frozenset[uuid.UUID] | int]:  # fmt: skip
    """What each of the code's read paths lets ``actor`` read of the findings: each one asked for (404 or not),
    listed (one page holds them all), counted and exported."""
    readable = set()
    for finding_id in findings:
        try:
            await Findings(unit).finding(actor, finding_id)
        except NotFound:
            continue
        readable.add(finding_id)
    listed = await Findings(unit).findings(actor, limit=200)
    assert listed.next_cursor is None, "more findings than one page holds"
    return {"finding": frozenset(readable), "findings": frozenset(r.finding.id for r in listed.items),
            "counts": (await Findings(unit).counts(actor)).total,
            "export": frozenset(uuid.UUID(str(row["id"])) for row in await Findings(unit).export(actor))}  # fmt: skip


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


def expiry_days_when_made(rows: Rows, nomination: Nomination) -> int:
    """The model's ``nomination_expiry_days`` when ``nomination`` was made, from the audit trail: as registered,
    then as each update before the nomination's own creation event set it."""
    subject, days, made = str(nomination.model_id), None, None
    for event in rows.events:
        if event.action == "nomination.created" and event.subject_id == str(nomination.id):
            made = event.seq
    assert made is not None, f"no audit event created nomination {nomination.id}"
    for event in rows.events:
        if event.seq > made or event.subject_id != subject or event.action not in ("model.registered", "model.updated"):
            continue
        days = (event.after or {}).get("nomination_expiry_days", days)
    assert isinstance(days, int), f"no audit event says how long nominations for model {subject} wait"
    return days


def lapse_of(rows: Rows, nomination: Nomination) -> datetime:
    """When a pending nomination lapses (issue 18): at its proposed start (an extension's: the current window's end),
    or its model's expiry after it was made, whichever is sooner."""
    if nomination.id not in rows.lapses:
        expiry = nomination.created_at + timedelta(days=expiry_days_when_made(rows, nomination))
        rows.lapses[nomination.id] = min(nomination.starts_at, expiry)
    return rows.lapses[nomination.id]


def deciding(rows: Rows, user_id: uuid.UUID) -> bool:
    """Whether a person decides on some nominations at all: an approver or admin of a developer or the government."""
    user = rows.users.get(user_id)
    return (user is not None and rows.organisations[user.organisation_id].kind != "partner"
            and bool(rows.roles[user_id] & DECIDING_ROLES))  # fmt: skip


def in_force(delegation: Delegation, at: datetime) -> bool:
    revoked = delegation.revoked_at is not None and delegation.revoked_at <= at
    return not revoked and delegation.starts_at <= at < delegation.ends_at


def delegation_in_force(rows: Rows, delegator: uuid.UUID, delegate: uuid.UUID) -> Delegation | None:
    """The delegation by which ``delegate`` decides in ``delegator``'s name now, if any."""
    return next((d for d in rows.delegations.values()
                 if d.delegator_id == delegator and d.delegate_id == delegate and in_force(d, rows.at)), None)  # fmt: skip


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


# The forecasts: what the rules make of a call before it is made, in words the desk maps the code's refusals to.

# A cohort member refused for something of its own (DESIGN: "members that cannot be nominated are reported per
# member with the reason and the rest proceed"); any other reason is shared by every member and refuses the whole.
FOR_ONE_MEMBER = frozenset({"overlap", "not a partner", "names nobody"})
# What refuses a cohort's decision as a whole, before any member (a decision per member is refused by the rest).
DECIDING_AT_ALL = frozenset({"may not decide", "switched off"})


def nominating_refusals(rows: Rows, by: uuid.UUID, model: FrontierModel) -> set[str]:
    """Why ``by`` may nominate nobody for ``model`` now: staff of the model's developer or of the government who
    nominate, approve or administer (DESIGN §1), and never for a switched-off model (rule 6)."""
    found = set()
    organisation = rows.organisations[rows.users[by].organisation_id]
    own = organisation.kind == "government" or organisation.id == model.developer_id
    if organisation.kind == "partner" or not own or not rows.roles[by] & NOMINATING_ROLES:
        found.add("may not nominate")
    if model.killed_at is not None:
        found.add("switched off")
    return found


def window_refusals(rows: Rows, model: FrontierModel, grantee_kind: str, starts_at: datetime,
                    ends_at: datetime) -> set[str]:  # fmt: skip
    """Rule 3 for a proposed window: in the future, ending after it starts, no longer than the model allows, not
    before the planned release − 30 days; and, the code's stricter rule (STRICTER_THAN_DESIGN), a partner's not
    before the first government grant of the model that is not revoked."""
    government = [g.starts_at for g in rows.grants.values()
                  if g.model_id == model.id and g.grantee_kind == "government" and g.revoked_at is None]  # fmt: skip
    broken_rules = (
        starts_at <= rows.at,
        ends_at <= starts_at,
        ends_at - starts_at > timedelta(days=model.max_window_days),
        starts_at < model.planned_release_at - GOVERNMENT_LEAD,
        grantee_kind == "partner" and bool(government) and starts_at < min(government),
    )
    return {"window"} if any(broken_rules) else set()


def overlaps(rows: Rows, model: FrontierModel, organisation: Organisation, starts_at: datetime,
             ends_at: datetime) -> bool:  # fmt: skip
    """Whether the organisation already has, for the model, a nomination still pending (its start not passed: one
    that has is lapsed: lapse_of) or a grant not revoked, whose window overlaps this one."""

    def across(other_start: datetime, other_end: datetime) -> bool:
        return other_start < ends_at and starts_at < other_end

    pending = any(n.model_id == model.id and n.organisation_id == organisation.id and n.kind == "grant"
                  and n.state == "pending" and lapse_of(rows, n) > rows.at and across(n.starts_at, n.ends_at)
                  for n in rows.nominations.values())  # fmt: skip
    granted = any(g.model_id == model.id and g.organisation_id == organisation.id and g.revoked_at is None
                  and across(g.starts_at, g.ends_at) for g in rows.grants.values())  # fmt: skip
    return pending or granted


def nomination_refusals(rows: Rows, *, by: uuid.UUID, model_id: uuid.UUID, organisation_id: uuid.UUID,
                        starts_at: datetime, ends_at: datetime) -> set[str]:  # fmt: skip
    """Why a single nomination of ``organisation_id`` for ``model_id`` in this window, by ``by``, must be refused
    now (empty: it must be made). Rules 3 and 4 and who nominates; an organisation has one window at a time."""
    model, organisation = rows.models[model_id], rows.organisations[organisation_id]
    found = nominating_refusals(rows, by, model)
    if organisation.kind not in DESIGNATIONS_ALLOWING:
        return found | {"not a grantee"}
    if model.designation not in DESIGNATIONS_ALLOWING[organisation.kind]:
        found.add("designation")
    found |= window_refusals(rows, model, organisation.kind, starts_at, ends_at)
    if overlaps(rows, model, organisation, starts_at, ends_at):
        found.add("overlap")
    return found


@dataclass(frozen=True)
class CohortForecast:
    """``refused``: why nothing at all must be written (empty: the members not refused must be nominated);
    ``members``: each entry (a slug) and why it must be refused (empty: nominated)."""

    refused: frozenset[str]
    members: dict[str, frozenset[str]]


def cohort_nomination(rows: Rows, *, by: uuid.UUID, model_id: uuid.UUID, name: str, entries: list[str],
                      starts_at: datetime, ends_at: datetime, all_or_nothing: bool) -> CohortForecast:  # fmt: skip
    """A cohort as the single nominations it consists of: each partner named, nominated alone by ``by`` in the
    cohort's window. A refusal for one member refuses that member; one shared by all (who nominates, the window,
    the designation) refuses the whole; an entry naming nobody or no partner is a member refused. With no member
    left, or any refused and ``all_or_nothing``, nothing is written. The cohort's name is the model's once."""
    model = rows.models[model_id]
    whole = nominating_refusals(rows, by, model)
    if any(c.model_id == model.id and c.name == name for c in rows.cohorts.values()):
        whole.add("name taken")
    by_slug = {o.slug: o for o in rows.organisations.values()}
    members: dict[str, frozenset[str]] = {}
    for entry in dict.fromkeys(entries):
        organisation = by_slug.get(entry)
        if organisation is None:
            members[entry] = frozenset({"names nobody"})
        elif organisation.kind != "partner":
            members[entry] = frozenset({"not a partner"})
        else:
            single = nomination_refusals(rows, by=by, model_id=model.id, organisation_id=organisation.id,
                                         starts_at=starts_at, ends_at=ends_at)  # fmt: skip
            whole |= single - FOR_ONE_MEMBER
            members[entry] = frozenset(single & FOR_ONE_MEMBER)
    refused = [entry for entry, why in members.items() if why]
    if len(refused) == len(members) or (all_or_nothing and refused):
        whole.add("members refused")
    return CohortForecast(frozenset(whole), members)


def decision_refusals(rows: Rows, by: uuid.UUID, nomination: Nomination, *,
                      for_: uuid.UUID | None = None) -> set[str]:  # fmt: skip
    """Why ``by``'s decision on ``nomination`` must be refused now (rule 1, 2 and 6): someone who decides for no side
    of the model, a nomination no longer pending (a pending one past its lapse has lapsed), the nominator's own, a
    second decision by the same person, a switched-off model. ``for_``: the approver in whose name ``by`` decides
    (issue 18): judged by their rights, with a delegation from them to ``by`` in force, and neither of the two may
    have nominated it or been counted on it already (``by`` decided once, for anyone: one hand, one decision)."""
    model = rows.models[nomination.model_id]
    principal = for_ if for_ is not None else by
    found = set()
    if principal != by and (not deciding(rows, by) or delegation_in_force(rows, principal, by) is None):
        found.add("may not decide")
    if may_decide_for(rows, principal, model) is None:
        found.add("may not decide")
    if nomination.state != "pending" or rows.at >= lapse_of(rows, nomination):
        found.add("not pending")
    if nomination.nominated_by in (principal, by):
        found.add("own nomination")
    if any(d.approver_id in (principal, by) or d.decided_by == by for d in rows.decisions[nomination.id]):
        found.add("decided already")
    if model.killed_at is not None:
        found.add("switched off")
    return found


@dataclass(frozen=True)
class DecisionForecast:
    """``refused``: why the decision must be refused (empty: it must be recorded); ``result``: ``refused``,
    ``rejected``, ``approved`` (recorded, a quorum still to come) or ``granted`` (both quorums met: the grant is
    made, or the extension carried out)."""

    refused: frozenset[str]
    result: str


def with_decision(rows: Rows, by: uuid.UUID, nomination: Nomination, verdict: str, *,
                  for_: uuid.UUID | None = None) -> Rows:  # fmt: skip
    """The rows as they would be with one more decision by ``by`` (in ``for_``'s name; its side as rule 1 gives
    it)."""
    approver = for_ if for_ is not None else by
    side = may_decide_for(rows, approver, rows.models[nomination.model_id]) or "none"
    decision = Decision(nomination_id=nomination.id, approver_id=approver, side=side, verdict=verdict,
                        decided_by=by if approver != by else None, created_at=rows.at)  # fmt: skip
    return replace(rows, decisions=defaultdict(list, {**rows.decisions,
                                                      nomination.id: [*rows.decisions[nomination.id], decision]}))  # fmt: skip


def single_decision(rows: Rows, *, by: uuid.UUID, nomination: Nomination, verdict: str,
                    for_: uuid.UUID | None = None) -> DecisionForecast:  # fmt: skip
    """One decision (by ``by``, in ``for_``'s name when given), and what it leads to by rule 1 (counted from the
    decisions, not the code's counters)."""
    why = frozenset(decision_refusals(rows, by, nomination, for_=for_))
    if why:
        return DecisionForecast(why, "refused")
    if verdict == "reject":
        return DecisionForecast(why, "rejected")
    met = tally(with_decision(rows, by, nomination, verdict, for_=for_), nomination).met
    return DecisionForecast(why, "granted" if met else "approved")


@dataclass(frozen=True)
class CohortDecisionForecast:
    """``refused``: why no member must be decided; ``members``: each member's forecast, by nomination id."""

    refused: frozenset[str]
    members: dict[uuid.UUID, DecisionForecast]


def cohort_decision(rows: Rows, *, by: uuid.UUID, cohort_id: uuid.UUID,
                    reject: dict[uuid.UUID, str]) -> CohortDecisionForecast:  # fmt: skip
    """A cohort's decision as the single decisions of its members in the order of their ids: ``reject`` (partner
    id → reason) rejected, the others approved, each refused or not by the same rules. Refused as a whole: someone
    who may decide on no member (nor see the cohort), a switched-off model, or a rejection that names no member or
    gives no reason (the request is wrong, not a member)."""
    cohort = rows.cohorts[cohort_id]
    members = sorted((n for n in rows.nominations.values() if n.cohort_id == cohort.id), key=lambda n: n.id)
    model = rows.models[cohort.model_id]
    whole = set()
    if may_decide_for(rows, by, model) is None:
        whole.add("may not decide")
    if model.killed_at is not None:
        whole.add("switched off")
    if any(key not in {n.organisation_id for n in members} or not reason.strip() for key, reason in reject.items()):
        whole.add("bad rejection")
    forecasts = {}
    for nomination in members:  # each on the rows as the members before it left them
        verdict = "reject" if nomination.organisation_id in reject else "approve"
        single = single_decision(rows, by=by, nomination=nomination, verdict=verdict)
        forecasts[nomination.id] = replace(single, refused=single.refused - DECIDING_AT_ALL)
        if not single.refused:
            rows = with_decision(rows, by, nomination, verdict)
    return CohortDecisionForecast(frozenset(whole), forecasts)


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
    """Rule 4: the government records a model's designation, and every change of it is audited; but the model's
    developer's admins put it in consultation by asking for one (issue 17), and nothing else."""
    found, last = [], {}
    developers = {str(m.id): m.developer_id for m in rows.models.values()}
    for event in rows.events:
        if event.action != "model.designated":
            continue
        assert event.after is not None
        last[event.subject_id] = event.after["designation"]
        user = rows.users.get(event.actor_id) if event.actor_id else None
        asked = (user is not None and user.organisation_id == developers.get(event.subject_id)
                 and "admin" in rows.roles[user.id] and event.after["designation"] == "in_consultation")  # fmt: skip
        if not asked and (user is None or rows.organisations[user.organisation_id].kind != "government"):
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


def cohort_members_share_their_cohort(rows: Rows) -> list[str]:
    """A cohort is one model, window, set of actions and justification for partners: every nomination with a
    cohort belongs to one of the same model, window, actions and justification, and is a partner's; every cohort
    has a member (a cohort none of whose members could be nominated is not written)."""
    found = []
    members: dict[uuid.UUID, int] = defaultdict(int)
    for nomination in rows.nominations.values():
        if nomination.cohort_id is None:
            continue
        members[nomination.cohort_id] += 1
        cohort = rows.cohorts.get(nomination.cohort_id)
        organisation = rows.organisations[nomination.organisation_id]
        if cohort is None:
            found.append(f"nomination {nomination.id} names cohort {nomination.cohort_id}, which does not exist")
            continue
        differs = [what for what, ours, theirs in (
            ("model", nomination.model_id, cohort.model_id), ("starts_at", nomination.starts_at, cohort.starts_at),
            ("ends_at", nomination.ends_at, cohort.ends_at),
            ("actions", sorted(nomination.actions), sorted(cohort.actions)),
            ("justification", nomination.justification, cohort.justification),
            ("kind", nomination.kind, "grant"), ("organisation kind", organisation.kind, "partner"),
        ) if ours != theirs]  # fmt: skip
        if differs:
            found.append(f"{organisation.slug}'s nomination {nomination.id} in cohort {cohort.name!r} differs from "
                         f"it in {', '.join(differs)}")  # fmt: skip
    found += [f"cohort {c.name!r} has no member" for c in rows.cohorts.values() if not members[c.id]]
    return found


def cohort_summaries_count_their_members(rows: Rows) -> list[str]:
    """A cohort's summary (what every surface shows of it) counts its member rows: by state (a pending one past its
    lapse has lapsed), and per side those whose quorum is met and those pending still short of it."""
    found = []
    for cohort in rows.cohorts.values():
        summary = rows.summaries.get(cohort.id)
        if summary is None:
            found.append(f"cohort {cohort.name!r} has no summary")
            continue
        model = rows.models[cohort.model_id]
        quorum = {"developer": model.developer_quorum, "government": model.government_quorum}
        states: dict[str, int] = defaultdict(int)
        approved: dict[str, int] = defaultdict(int)
        awaiting: dict[str, int] = defaultdict(int)
        for nomination in rows.nominations.values():
            if nomination.cohort_id != cohort.id:
                continue
            lapsed = nomination.state == "pending" and rows.at >= lapse_of(rows, nomination)
            state = "lapsed" if lapsed else nomination.state
            states[state] += 1
            counted = tally(rows, nomination)
            for side, approvers in (("developer", counted.developer), ("government", counted.government)):
                met = len(approvers) >= quorum[side]
                approved[side] += met
                awaiting[side] += state == "pending" and not met
        said = {state.value: count for state, count in summary.states.items() if count}
        expected = {
            "size": (summary.size, sum(states.values())),
            "states": (said, dict(states)),
            **{f"{side.value} approved": (tallied.approved, approved[side.value]) for side, tallied in summary.sides.items()},
            **{f"{side.value} awaiting": (tallied.awaiting, awaiting[side.value]) for side, tallied in summary.sides.items()},
        }  # fmt: skip
        for what, (summarised, counted_rows) in expected.items():
            if summarised != counted_rows:
                found.append(f"cohort {cohort.name!r}: the summary says {what} {summarised}, its members "
                             f"{counted_rows}")  # fmt: skip
    return found


def one_person_counts_once(rows: Rows) -> list[str]:
    """Issue 18: on a nomination, an approver is counted once (whoever decided for them), a person decides once (for
    themselves or in anyone's name), and never on their own nomination; a decision in someone's name was made by
    the delegate of a delegation from them in force at that moment, and records it."""
    found = []
    for nomination in rows.nominations.values():
        counted: set[uuid.UUID] = set()
        hands: set[uuid.UUID] = set()
        for decision in sorted(rows.decisions[nomination.id], key=lambda d: d.created_at):
            hand = decision.decided_by or decision.approver_id
            who = rows.users[hand].email
            if decision.approver_id in counted:
                found.append(f"{rows.users[decision.approver_id].email} counts twice on nomination {nomination.id}")
            if hand in hands:
                found.append(f"{who} decided twice on nomination {nomination.id}")
            if hand == nomination.nominated_by:
                found.append(f"{who} decided on their own nomination {nomination.id}")
            counted.add(decision.approver_id)
            hands.add(hand)
            if (decision.decided_by is None) != (decision.delegation_id is None):
                found.append(f"decision {decision.id} records a delegate without a delegation, or the reverse")
            if decision.delegation_id is None:
                continue
            delegation = rows.delegations.get(decision.delegation_id)
            if (delegation is None or delegation.delegator_id != decision.approver_id
                    or delegation.delegate_id != decision.decided_by or not in_force(delegation, decision.created_at)):  # fmt: skip
                found.append(f"{who} decided for {rows.users[decision.approver_id].email} on nomination "
                             f"{nomination.id} without a delegation from them in force")  # fmt: skip
    return found


def delegations_stay_within_a_side(rows: Rows) -> list[str]:
    """Issue 18: a delegate is someone else of the delegator's own organisation holding one of their deciding roles,
    for at most 90 days."""
    found = []
    for d in rows.delegations.values():
        delegator, delegate = rows.users[d.delegator_id], rows.users[d.delegate_id]
        shared = rows.roles[delegator.id] & rows.roles[delegate.id] & DECIDING_ROLES
        if d.delegator_id == d.delegate_id or delegator.organisation_id != delegate.organisation_id or not shared:
            found.append(f"{delegator.email} delegated to {delegate.email} (roles {sorted(rows.roles[delegate.id])})")
        if not d.starts_at < d.ends_at <= d.starts_at + LONGEST_DELEGATION:
            found.append(f"{delegator.email}'s delegation runs [{d.starts_at:%m-%d %H:%M}, {d.ends_at:%m-%d %H:%M})")
    return found


def nominations_lapse_in_time(rows: Rows) -> list[str]:
    """Issue 18: a nomination lapses when its model's expiry (when it was made) or its start comes, whichever is
    first: that is its recorded expiry, no decision is recorded at or after it, and one recorded lapsed did."""
    found = []
    for nomination in rows.nominations.values():
        lapse = lapse_of(rows, nomination)
        if nomination.expires_at is not None and nomination.expires_at != lapse:
            found.append(f"nomination {nomination.id} expires {nomination.expires_at:%m-%d %H:%M}, the rules say "
                         f"{lapse:%m-%d %H:%M}")  # fmt: skip
        late = [d for d in rows.decisions[nomination.id] if d.created_at >= lapse]
        if late:
            found.append(f"nomination {nomination.id} took {len(late)} decisions at or after it lapsed "
                         f"({lapse:%m-%d %H:%M})")  # fmt: skip
        if nomination.state == "lapsed" and (rows.at < lapse or nomination.decided_at is None
                                             or nomination.decided_at < lapse):  # fmt: skip
            found.append(f"nomination {nomination.id} is lapsed, though it lapses only at {lapse:%m-%d %H:%M}")
    return found


def in_consultation_exactly_with_an_open_round(rows: Rows) -> list[str]:
    """Issue 17: rounds of a model are numbered 1, 2, … and at most one is open; the model is in consultation
    exactly when one is, else its designation is its last round's outcome (not assessed: no round yet); a decided
    round has its outcome, its assessment's reference and its decision's time."""
    found = []
    rounds: dict[uuid.UUID, list[Consultation]] = defaultdict(list)
    for consultation in rows.consultations.values():
        rounds[consultation.model_id].append(consultation)
    for model in rows.models.values():
        mine = sorted(rounds[model.id], key=lambda c: c.round)
        open_rounds = [c for c in mine if c.state == "open"]
        if [c.round for c in mine] != list(range(1, len(mine) + 1)):
            found.append(f"{model.slug}'s rounds are numbered {[c.round for c in mine]}")
        if len(open_rounds) > 1:
            found.append(f"{model.slug} has {len(open_rounds)} open rounds")
        expected = ("in_consultation" if open_rounds else mine[-1].outcome) if mine else "not_assessed"
        if model.designation != expected:
            found.append(f"{model.slug} is {model.designation}, its rounds say {expected}")
        for c in mine:
            decided = (c.outcome in ("covered", "not_covered") and bool(c.assessment_ref) and c.decided_at is not None
                       and c.decided_by is not None)  # fmt: skip
            if c.state == "decided" and not decided or c.state == "open" and c.outcome is not None:
                found.append(f"{model.slug}'s round {c.round} is {c.state} with outcome {c.outcome}")
    return found


def audience_of(rows: Rows, finding: Finding) -> set[uuid.UUID]:
    """Everyone who may read ``finding`` (issue 17, in TLP terms): its reporter and named recipients; for
    TLP:AMBER+STRICT and wider, everyone of the model's developer, of the government and of the reporter's
    organisation; for TLP:AMBER and wider, of every organisation holding a grant on the model, not revoked and not
    ended; for TLP:GREEN, everyone."""
    model = rows.models[finding.model_id]
    grantees = {g.organisation_id for g in rows.grants.values()
                if g.model_id == model.id and g.revoked_at is None and rows.at < g.ends_at}  # fmt: skip
    readers = {finding.reported_by, *rows.recipients[finding.id]}
    for user in rows.users.values():
        organisation = rows.organisations[user.organisation_id]
        strict = organisation.kind == "government" or organisation.id in (model.developer_id, finding.reporter_org_id)
        if (finding.audience == "tlp_green" or finding.audience in STRICT_READERS and strict
                or finding.audience in GRANTEE_READERS and organisation.id in grantees):  # fmt: skip
            readers.add(user.id)
    return readers


def findings_read_only_by_their_audience(rows: Rows) -> list[str]:
    """Issue 17: for every finding and every person, each read path of the code (the finding itself, the list, the
    counts, the export) lets them read it exactly when they are in its audience: nobody outside it reads it, or
    learns it exists; everyone in it does. A TLP:RED finding names someone of the developer and of the government."""
    found = []
    audiences = {f.id: audience_of(rows, f) for f in rows.findings.values()}
    for finding in rows.findings.values():
        named = [rows.organisations[rows.users[u].organisation_id] for u in rows.recipients[finding.id]]
        developer = rows.models[finding.model_id].developer_id
        if finding.audience == "tlp_red" and not ("government" in {o.kind for o in named}
                                                  and developer in {o.id for o in named}):  # fmt: skip
            found.append(f"TLP:RED finding {finding.title!r} names nobody of the developer or of the government")
    for user_id, paths in rows.reads.items():
        who = rows.users[user_id].email
        expected = frozenset(f for f, readers in audiences.items() if user_id in readers)
        for path in READ_PATHS:
            said = paths[path]
            if path == "counts":
                if said != len(expected):
                    found.append(f"{who} counts {said} findings, is in the audience of {len(expected)}")
                continue
            assert isinstance(said, frozenset)
            for finding_id in said - expected:
                finding = rows.findings[finding_id]
                found.append(f"{who} reads {finding.audience} finding {finding.title!r} through {path}, outside "
                             "its audience")  # fmt: skip
            for finding_id in expected - said:
                finding = rows.findings[finding_id]
                found.append(f"{who} cannot read {finding.audience} finding {finding.title!r} through {path}, "
                             "though in its audience")  # fmt: skip
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
    cohort_members_share_their_cohort,
    cohort_summaries_count_their_members,
    one_person_counts_once,
    delegations_stay_within_a_side,
    nominations_lapse_in_time,
    in_consultation_exactly_with_an_open_round,
    findings_read_only_by_their_audience,
    audit_chain_verifies_to_head,
)


def broken(rows: Rows) -> list[str]:
    """Every invariant that does not hold, as ``name: what breaks it``."""
    return [f"{check.__name__}: {problem}" for check in INVARIANTS for problem in check(rows)]
