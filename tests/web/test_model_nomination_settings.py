"""The console's model form sets the nomination settings (expiry, escalation, the sign-in before approving): shown
on the model's page, saved by its developer's admins, refused with the reason next to the field and nothing
changed."""

from __future__ import annotations

from html import unescape

from accessdesk.db.tables import FrontierModel
from tests.support.console import csrf_in, open_as, submit, words_of

FIELDS = {"name": "Atlas", "codename": "CODE-ATLAS", "tier": "standard", "resource": "https://api.acme.test/models/atlas",
          "slack_channels": "", "developer_quorum": "1", "government_quorum": "1", "max_window_days": "90"}  # fmt: skip


async def settings_of(world) -> tuple[int | None, int, int]:
    model = await world.get(FrontierModel, world.model.id)
    return model.approval_step_up_minutes, model.nomination_expiry_days, model.escalation_days


async def test_the_developers_admin_sees_and_changes_the_settings(api, world):
    page = f"/console/models/{world.model.id}"
    shown = await open_as(api, world.dev_admin, page)
    facts = words_of(shown.text)
    assert ("Nominations expire after 14 days undecided (or at their proposed start); the undecided side's approvers "
            "are reminded after 3 days, its admins after 6") in facts  # fmt: skip
    assert "Approving needs no recent sign-in" in facts
    assert 'name="nomination_expiry_days" type="number" value="14"' in shown.text
    assert 'name="approval_step_up_minutes" type="number" value=""' in shown.text

    response = await submit(api, world.dev_admin, page, f"{page}/edit", {
        **FIELDS, "nomination_expiry_days": "21", "escalation_days": "5", "approval_step_up_minutes": "30"})  # fmt: skip
    assert response.status_code == 303
    assert await settings_of(world) == (30, 21, 5)
    facts = words_of((await api.get(page)).text)
    assert "expire after 21 days undecided" in facts and "its admins after 10" in facts
    assert "Approving needs a sign-in within the last 30 minutes" in facts

    # Left empty: the defaults (the step-up: the tier's, none for a standard model).
    response = await submit(api, world.dev_admin, page, f"{page}/edit", {
        **FIELDS, "nomination_expiry_days": "", "escalation_days": "", "approval_step_up_minutes": ""})  # fmt: skip
    assert response.status_code == 303 and await settings_of(world) == (None, 14, 3)


async def test_a_high_tier_model_says_its_default_sign_in(api, world):
    model = await world.new_model("orion", tier="high")
    shown = await open_as(api, world.dev_admin, f"/console/models/{model.id}")
    assert "Approving needs a sign-in within the last 15 minutes" in words_of(shown.text)


async def test_settings_refused_say_why_keep_what_was_typed_and_change_nothing(api, world, unchanged):
    page = f"/console/models/{world.model.id}"
    await open_as(api, world.dev_admin, page)
    for field, value, message in [
        ("nomination_expiry_days", "0", "a pending nomination expires after 1 to 90 days"),
        ("nomination_expiry_days", "91", "a pending nomination expires after 1 to 90 days"),
        ("nomination_expiry_days", "2", "a nomination must be escalated before it expires: 3 days to escalation must "
                                        "be fewer than the 2 days to expiry"),
        ("escalation_days", "14", "a nomination must be escalated before it expires: 14 days to escalation must be "
                                  "fewer than the 14 days to expiry"),
        ("escalation_days", "31", "a pending nomination is escalated after 1 to 30 days"),
        ("escalation_days", "soon", "the days before a nomination is escalated must be a whole number"),
        ("approval_step_up_minutes", "241", "a sign-in before approving is asked within 1 to 240 minutes, or left "
                                            "empty for the tier's default"),
    ]:
        async with unchanged():
            shown = await api.get(page)
            response = await api.post(f"{page}/edit", data={"csrf": csrf_in(shown.text), **FIELDS, field: value})
        assert response.status_code == 422, (field, value, response.text)
        assert message in unescape(response.text) and "Not done" in response.text
        assert f'name="{field}" type="number" value="{value}" aria-invalid="true"' in response.text
    assert await settings_of(world) == (None, 14, 3)


async def test_only_the_developers_admins_change_the_settings(api, world, unchanged):
    page = f"/console/models/{world.model.id}"
    for person in (world.dev_approver, world.gov_admin):
        shown = await open_as(api, person, page)
        assert "/edit" not in shown.text
        async with unchanged():
            response = await api.post(f"{page}/edit", data={"csrf": csrf_in(shown.text), **FIELDS,
                                                            "nomination_expiry_days": "30"})  # fmt: skip
        assert response.status_code == 403 and "only a developer's admins change models" in unescape(response.text)
    assert await settings_of(world) == (None, 14, 3)
