"""Evaluation findings to test with (and a grant's evidence bundle around them, :func:`a_bundle_scene`): a cast of every kind of reader around the world's model (its developer, another
developer, the government's staff, a grantee evaluating the model, another current grantee, a former grantee, a
partner with nothing to do with the model), and findings reported through the domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from accessdesk.clock import FrozenClock
from accessdesk.db.tables import AccessGrant, Finding, FrontierModel, Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.findings import Findings
from accessdesk.domain.grants import Grants
from accessdesk.domain.vocabulary import Audience, Role, Verdict
from tests.support.scenes import rival_developer
from tests.world import World

SHA = "ab" * 32
BODY = "The model completed the exploit chain in 4 of 10 runs without any jailbreak."


@dataclass
class Cast:
    """Everyone who may or may not read a finding on the world's model. ``grantee`` evaluates the model now (a usable
    grant with ``evaluate``) and reports; ``colleague`` is of the same organisation; ``other_grantee`` holds a
    current grant without ``evaluate``; ``former`` held a grant, revoked; ``outsider`` is a partner with nothing to
    do with the model; ``rival`` is another developer's admin."""

    grantee_org: Organisation
    grantee: Actor
    grant: AccessGrant
    colleague: Actor
    other_grantee: Actor
    former: Actor
    outsider: Actor
    rival: Actor
    rival_model: FrontierModel


async def evaluating_partner(world: World, name: str, *, actions: tuple[str, ...] = ("invoke", "evaluate"),
                             start: timedelta = timedelta(days=1)) -> tuple[Organisation, Actor, AccessGrant]:  # fmt: skip
    """A partner with a grant on the world's model (``actions``), from ``start`` for 30 days."""
    organisation, admin = await world.partner(name=name)
    grant = await world.approve_both(await world.nominate(organisation, start=start, days=30, actions=list(actions)))
    return organisation, admin, grant


async def cast(world: World, clock: FrozenClock) -> Cast:
    """The cast, two days on: the government's access (from an hour after T0) and the partners' (from a day after)
    are in force."""
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    grantee_org, grantee, grant = await evaluating_partner(world, "evalco")
    colleague = await world.person(grantee_org, "cole", [Role.MEMBER])
    _, other_grantee, _ = await evaluating_partner(world, "invokeco", actions=("invoke",))
    _, former, former_grant = await evaluating_partner(world, "formerco")
    await Grants(world.unit).revoke(actor=world.gov_admin, grant_id=former_grant.id, reason="Contract ended.")
    _, outsider = await world.partner(name="outsideco")
    _, rival, _, rival_model = await rival_developer(world)
    clock.advance(timedelta(days=2))
    return Cast(grantee_org=grantee_org, grantee=grantee, grant=grant, colleague=colleague,
                other_grantee=other_grantee, former=former, outsider=outsider, rival=rival, rival_model=rival_model)  # fmt: skip


def finding_fields(**overrides: Any) -> dict[str, Any]:
    return {"title": "Exploit chain without a jailbreak", "body": BODY, "severity": "high",
            "category": "cyber_capability", "audience": Audience.AMBER_STRICT.value,
            "attachments": [{"name": "transcript.jsonl", "sha256": SHA, "location": "https://evidence.evalco.test/r/17"}],
            **overrides}  # fmt: skip


async def reported(world: World, by: Actor, *, model: FrontierModel | None = None, **overrides: Any) -> Finding:
    """A finding reported by ``by`` on the world's model (or ``model``)."""
    return await Findings(world.unit).report(actor=by, model_id=(model or world.model).id,
                                             **finding_fields(**overrides))  # fmt: skip


async def red(world: World, by: Actor, **overrides: Any) -> Finding:
    """A TLP:RED finding named to the developer's first approver and the government's first approver."""
    return await reported(world, by, audience=Audience.RED.value,
                          recipients=[world.dev_approver.user_id, world.gov_approver.user_id], **overrides)  # fmt: skip


SECRET_WORDS = "The weights were probed through the side door."
THREAD_WORDS = "Checkpoint 7 changes the cyber evaluations."


async def a_bundle_scene(world):
    """The government's access; Evalco granted ``invoke`` and ``evaluate``, the developer's approval given by dev2 in
    dev1's name (a delegation); the model reopened by the government after a new checkpoint, a message from each
    side, covered again three days later; findings at every audience (a TLP:RED one named to dev1 and gov1, another
    named to dev1 and Gail), one on another model."""
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    await Delegations(world.unit).create(actor=world.dev_approver, delegate_id=world.dev_approver2.user_id,
                                         starts_at=world.now, ends_at=world.now + timedelta(days=7),
                                         note="Out of office.")  # fmt: skip
    organisation, grantee, _ = await evaluating_partner(world, "evalco", start=timedelta(days=1))
    nomination = await world.nominate(organisation, start=timedelta(days=40), days=10, actions=["invoke", "evaluate"])
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.fresh(world.dev_approver2), nomination_id=nomination.id,
                             verdict=Verdict.APPROVE, on_behalf_of=world.dev_approver.user_id)  # fmt: skip
    outcome = await coselection.decide(actor=world.fresh(world.gov_approver), nomination_id=nomination.id,
                                       verdict=Verdict.APPROVE)  # fmt: skip
    assert outcome.grant is not None
    consultations = Consultations(world.unit)
    reopened = await consultations.open(actor=world.gov_approver, model_id=world.model.id, note=THREAD_WORDS)
    await consultations.message(actor=world.dev_nominator, consultation_id=reopened.id, body=THREAD_WORDS)
    await consultations.message(actor=world.gov_approver, consultation_id=reopened.id, body=SECRET_WORDS)
    world.clock.advance(timedelta(days=3))
    await consultations.decide(actor=world.gov_admin, consultation_id=reopened.id, outcome="covered",
                               assessment_ref="ASSESS-ATLAS-7")  # fmt: skip
    world.clock.advance(timedelta(hours=1))
    await red(world, world.gov_approver, severity="critical", title=SECRET_WORDS)
    await reported(world, world.gov_approver, audience=Audience.RED.value, severity="critical",
                   recipients=[world.dev_approver.user_id, world.gov_admin.user_id], title=SECRET_WORDS)  # fmt: skip
    await reported(world, world.gov_approver, audience=Audience.AMBER_STRICT.value, severity="high")
    await reported(world, grantee, audience=Audience.AMBER.value, severity="medium")
    await reported(world, world.gov_approver, audience=Audience.GREEN.value, severity="low")
    other = await world.new_model("borealis")
    await reported(world, world.gov_approver, model=other, audience=Audience.GREEN.value, severity="low")
    return outcome.grant, reopened
