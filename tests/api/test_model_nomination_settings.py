"""The API's per-model nomination settings: how long a nomination may wait (``nomination_expiry_days``), when it is
escalated (``escalation_days``) and how recent a sign-in approving needs (``approval_step_up_minutes``); set at
registration or by a patch, shown on the model, refused with reasons. An expired nomination is a conflict to
decide on."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import FrontierModel
from tests.support.api import API, assert_problem
from tests.support.scenes import iso, partner, pending

MODELS = f"{API}/models"


def new_model(world, **overrides):
    return {"slug": "hermes", "name": "Hermes", "codename": "HX", "tier": "high",
            "planned_release_at": iso(world.now + timedelta(days=45)), "resource": "https://api.acme.test/models/hermes",
            **overrides}  # fmt: skip


async def test_the_settings_are_registered_shown_and_changed(api, world, bearer):
    dev = await bearer(world.dev_admin)
    defaults = (await api.post(MODELS, headers=dev, json=new_model(world))).json()
    assert (defaults["approval_step_up_minutes"], defaults["nomination_expiry_days"], defaults["escalation_days"]) == (
        None, 14, 3)  # fmt: skip
    chosen = await api.post(MODELS, headers=dev, json=new_model(world, slug="iris", approval_step_up_minutes=5,
                                                               nomination_expiry_days=30, escalation_days=7))  # fmt: skip
    assert chosen.status_code == 201, chosen.text
    assert (chosen.json()["approval_step_up_minutes"], chosen.json()["nomination_expiry_days"],
            chosen.json()["escalation_days"]) == (5, 30, 7)  # fmt: skip

    patched = await api.patch(f"{MODELS}/{world.model.id}", headers=dev,
                              json={"nomination_expiry_days": 21, "escalation_days": 10, "approval_step_up_minutes": 60})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["nomination_expiry_days"], patched.json()["escalation_days"],
            patched.json()["approval_step_up_minutes"]) == (21, 10, 60)  # fmt: skip
    cleared = await api.patch(f"{MODELS}/{world.model.id}", headers=dev, json={"approval_step_up_minutes": None})
    assert cleared.json()["approval_step_up_minutes"] is None and cleared.json()["nomination_expiry_days"] == 21
    seen = await api.get(f"{MODELS}/{world.model.id}", headers=await bearer(world.gov_member))
    assert (seen.json()["nomination_expiry_days"], seen.json()["escalation_days"]) == (21, 10)


async def test_settings_out_of_bounds_or_from_the_wrong_person_are_refused_and_change_nothing(api, world, bearer,
                                                                                               unchanged):  # fmt: skip
    dev, gov, approver = await bearer(world.dev_admin), await bearer(world.gov_admin), await bearer(world.dev_approver)
    model = f"{MODELS}/{world.model.id}"
    async with unchanged():
        expiry_zero = await api.patch(model, headers=dev, json={"nomination_expiry_days": 0})
        expiry_long = await api.patch(model, headers=dev, json={"nomination_expiry_days": 91})
        escalation_long = await api.patch(model, headers=dev, json={"escalation_days": 31})
        step_up_long = await api.patch(model, headers=dev, json={"approval_step_up_minutes": 241})
        step_up_zero = await api.patch(model, headers=dev, json={"approval_step_up_minutes": 0})
        escalation_late = await api.patch(model, headers=dev, json={"escalation_days": 14})
        expiry_early = await api.patch(model, headers=dev, json={"nomination_expiry_days": 2})
        registered_late = await api.post(MODELS, headers=dev, json=new_model(world, nomination_expiry_days=5,
                                                                             escalation_days=5))  # fmt: skip
        by_government = await api.patch(model, headers=gov, json={"nomination_expiry_days": 30})
        by_an_approver = await api.patch(model, headers=approver, json={"escalation_days": 1})
    for response, field in ((expiry_zero, "nomination_expiry_days"), (expiry_long, "nomination_expiry_days"),
                            (escalation_long, "escalation_days"), (step_up_long, "approval_step_up_minutes"),
                            (step_up_zero, "approval_step_up_minutes")):  # fmt: skip
        assert_problem(response, 400, "validation_error", field=field)
    late = assert_problem(escalation_late, 422, "invalid", field="escalation_days")
    assert late["detail"] == ("a nomination must be escalated before it expires: 14 days to escalation must be fewer "
                              "than the 14 days to expiry")  # fmt: skip
    early = assert_problem(expiry_early, 422, "invalid", field="nomination_expiry_days")
    assert early["detail"] == ("a nomination must be escalated before it expires: 3 days to escalation must be fewer "
                               "than the 2 days to expiry")  # fmt: skip
    assert_problem(registered_late, 422, "invalid", field="escalation_days")
    assert assert_problem(by_government, 403, "forbidden")["detail"] == "only a developer's admins change models"
    assert_problem(by_an_approver, 403, "forbidden")
    stored = (await world.unit.session.exec(select(FrontierModel).where(FrontierModel.id == world.model.id)
                                            .execution_options(populate_existing=True))).one()  # fmt: skip
    assert (stored.nomination_expiry_days, stored.escalation_days, stored.approval_step_up_minutes) == (14, 3, None)


async def test_deciding_on_an_expired_nomination_is_a_conflict_and_its_window_is_free_again(api, world, bearer,
                                                                                             unchanged):  # fmt: skip
    organisation, _ = await partner(world)
    expired = await pending(world, organisation, start=timedelta(days=30))
    world.clock.advance(timedelta(days=14))
    approver = await bearer(world.gov_approver)
    async with unchanged():
        late = await api.post(f"{API}/nominations/{expired.id}/decisions", headers=approver, json={"verdict": "approve"})
    assert assert_problem(late, 409, "not_pending")["detail"] == "this nomination is lapsed; it no longer takes decisions"
    again = await api.post(f"{API}/nominations", headers=await bearer(world.dev_nominator), json={
        "model_id": str(world.model.id), "organisation_id": str(organisation.id), "starts_at": iso(expired.starts_at),
        "ends_at": iso(expired.ends_at), "actions": ["invoke"], "justification": "Still needed."})  # fmt: skip
    assert again.status_code == 201, again.text
