"""Fictional demo data, seeded through the domain services (so it obeys every rule). Idempotent."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.findings import Findings
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import (
    Organisations,
    actor_for,
    find_organisation,
    find_user,
)
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import (
    Area,
    Audience,
    Designation,
    FindingCategory,
    FindingSeverity,
    OrgKind,
    Role,
    Tier,
    Verdict,
    Vetting,
)

DEVELOPER, GOVERNMENT = "meridian-labs", "oais"
PEOPLE = [
    # (organisation slug, e-mail, name, roles)
    (DEVELOPER, "ada@meridian.example", "Ada Okafor", [Role.ADMIN, Role.APPROVER]),
    (DEVELOPER, "ben@meridian.example", "Ben Lindqvist", [Role.APPROVER]),
    (DEVELOPER, "cleo@meridian.example", "Cleo Marsh", [Role.NOMINATOR]),
    (GOVERNMENT, "gia@oais.example", "Gia Moreno", [Role.ADMIN, Role.APPROVER]),
    (GOVERNMENT, "hal@oais.example", "Hal Prescott", [Role.APPROVER]),
    (GOVERNMENT, "ida@oais.example", "Ida Novak", [Role.AUDITOR]),
    ("northwind-bio", "pat@northwind.example", "Pat Adeyemi", [Role.ADMIN]),
    ("redwood-security", "ravi@redwood.example", "Ravi Iyer", [Role.ADMIN]),
]
NDA_TEXT = """MUTUAL NON-DISCLOSURE AGREEMENT (fictional, for demonstration)

1. Confidential Information includes model weights, outputs, evaluations and documentation disclosed under
   early access. 2. The recipient uses it only for the approved purpose, protects it with at least reasonable
   care, and discloses it only to personnel with a need to know who are bound by equivalent obligations.
3. Obligations survive for five years after access ends."""


async def seed(unit: Unit) -> str:
    existing = (await unit.session.exec(select(Organisation).where(Organisation.slug == DEVELOPER))).first()
    if existing is not None:
        return "demo data already present; nothing changed\n" + _people()
    operator = Actor.system("demo seed")
    orgs = Organisations(unit)
    await orgs.create(actor=operator, kind=OrgKind.DEVELOPER, name="Meridian Labs", slug=DEVELOPER,
                      domains=["meridian.example"])  # fmt: skip
    await orgs.create(actor=operator, kind=OrgKind.GOVERNMENT, name="Office of AI Security", slug=GOVERNMENT,
                      domains=["oais.example"])  # fmt: skip
    await orgs.create(actor=operator, kind=OrgKind.PARTNER, name="Northwind Bio", slug="northwind-bio",
                      domains=["northwind.example"], sector="biosecurity research", country="US",
                      contact_name="Pat Adeyemi", contact_email="pat@northwind.example")  # fmt: skip
    await orgs.create(actor=operator, kind=OrgKind.PARTNER, name="Redwood Security Research",
                      slug="redwood-security", domains=["redwood.example"], sector="cybersecurity", country="US",
                      contact_name="Ravi Iyer", contact_email="ravi@redwood.example")  # fmt: skip
    for slug, email, name, roles in PEOPLE:
        organisation = await find_organisation(unit, slug)
        await orgs.add_user(actor=operator, organisation_id=organisation.id, email=email, name=name, roles=roles)

    async def who(email: str) -> Actor:
        return await actor_for(unit, await find_user(unit, email))

    ada, ben, cleo = await who("ada@meridian.example"), await who("ben@meridian.example"), await who("cleo@meridian.example")
    gia, hal = await who("gia@oais.example"), await who("hal@oais.example")
    pat = await who("pat@northwind.example")
    now = unit.now()

    models = FrontierModels(unit)
    aurora = await models.register(actor=ada, slug="aurora-2", name="Aurora 2", codename="LANTERN", tier=Tier.STANDARD,
                                   planned_release_at=now + timedelta(days=21),
                                   resource="https://api.meridian.example/v1/models/aurora-2")  # fmt: skip
    zephyr = await models.register(actor=ada, slug="zephyr-x", name="Zephyr X", codename="KESTREL", tier=Tier.HIGH,
                                   planned_release_at=now + timedelta(days=75),
                                   resource="https://api.meridian.example/v1/models/zephyr-x")  # fmt: skip
    await models.designate(actor=gia, model_id=aurora.id, designation=Designation.IN_CONSULTATION)
    await models.designate(actor=gia, model_id=aurora.id, designation=Designation.COVERED, reference="OAIS-DA-2026-041")
    consultations = Consultations(unit)
    asked = await consultations.request(
        actor=ada, model_id=zephyr.id, note="Zephyr X (checkpoint 12) is planned for release in 75 days; we ask "
        "whether it is a covered frontier model.", contacts=["Ada Okafor <ada@meridian.example>"],
        capabilities=["cyber offence", "autonomous replication"],
    )  # fmt: skip
    await consultations.message(actor=gia, consultation_id=asked.id,
                                body="Received. Please share the checkpoint's evaluation logs in the data room.")  # fmt: skip
    await consultations.message(actor=ada, consultation_id=asked.id, body="Shared today, folder ZX-12.")

    compliance = Compliance(unit)
    nda = await compliance.publish_nda(actor=ada, title="Meridian early-access NDA", body=NDA_TEXT, version="1.0")
    northwind = await find_organisation(unit, "northwind-bio")
    await orgs.submit_vetting(actor=pat, organisation_id=northwind.id,
                              submission="Biosecurity evaluation lab; 14 staff cleared; SOC 2 Type II (2026).")  # fmt: skip
    await orgs.decide_vetting(actor=gia, organisation_id=northwind.id, outcome=Vetting.VETTED, reason=None)
    for grantee in (gia, pat):
        await compliance.accept_nda(actor=grantee, template_id=nda.id, sha256=nda.sha256, ip="127.0.0.1",
                                    user_agent="accessdesk demo seed")  # fmt: skip
        for area in Area:
            await compliance.attest(actor=grantee, area=area, valid_until=now + timedelta(days=180),
                                    statement=f"Our {area.value.replace('_', ' ')} controls meet the requirements.",
                                    evidence_ref=f"DEMO-{area.value.upper()}-2026")  # fmt: skip

    coselection = CoSelection(unit)
    government = await find_organisation(unit, GOVERNMENT)
    for_government = await coselection.nominate(
        actor=cleo, model_id=aurora.id, organisation_id=government.id, starts_at=now + timedelta(minutes=2),
        ends_at=now + timedelta(days=60), actions=["invoke", "evaluate", "red_team"],
        justification="Pre-deployment national-security evaluation by the Office of AI Security.",
    )  # fmt: skip
    await coselection.decide(actor=ben, nomination_id=for_government.id, verdict=Verdict.APPROVE)
    await coselection.decide(actor=hal, nomination_id=for_government.id, verdict=Verdict.APPROVE)
    for_northwind = await coselection.nominate(
        actor=cleo, model_id=aurora.id, organisation_id=northwind.id, starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=45), actions=["invoke", "evaluate"],
        justification="Biosecurity uplift evaluation before release.",
    )  # fmt: skip
    await coselection.decide(actor=ben, nomination_id=for_northwind.id, verdict=Verdict.APPROVE)
    await coselection.decide(actor=hal, nomination_id=for_northwind.id, verdict=Verdict.APPROVE)
    redwood = await find_organisation(unit, "redwood-security")
    await coselection.nominate(
        actor=cleo, model_id=aurora.id, organisation_id=redwood.id, starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=40), actions=["invoke", "red_team"],
        justification="Independent cyber-offence red-teaming ahead of release.",
    )  # fmt: skip
    # What the government's evaluation found so far (the developer and the government read it), and an approver
    # away next week whose decisions a colleague takes meanwhile.
    await Findings(unit).report(
        actor=hal, model_id=aurora.id, title="Safeguards refuse exploit requests only in English",
        body="In 7 of 20 attempts, a request for a working exploit phrased in Portuguese was answered in full.",
        severity=FindingSeverity.HIGH.value, category=FindingCategory.SAFEGUARD_BYPASS.value,
        audience=Audience.AMBER_STRICT.value,
    )  # fmt: skip
    await Delegations(unit).create(actor=ben, delegate_id=ada.person_id, starts_at=now + timedelta(days=7),
                                   ends_at=now + timedelta(days=14), note="Ben is away; Ada decides for him.")  # fmt: skip
    return "demo data seeded\n" + _people()


def _people() -> str:
    lines = ["demo users (get an API token with: accessdesk tokens create --email <e-mail>):"]
    lines += [f"  {email:<26} {slug:<18} {', '.join(r.value for r in roles)}" for slug, email, _, roles in PEOPLE]
    return "\n".join(lines)
