"""Models in the console: the developer registers and edits, moves the release after seeing what it blocks, the
government designates, either side pulls the kill switch behind a fresh sign-in. Refusals say why and change
nothing."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from sqlmodel import select

from accessdesk.db.tables import AccessGrant, FrontierModel
from tests.support.console import csrf_in, open_as, sign_in, submit, words_of

NEW = {"slug": "nimbus", "name": "Nimbus", "codename": "NB-1", "tier": "high", "resource": "https://api.acme.test/nimbus",
       "slack_channels": "C0123456789", "developer_quorum": "2", "government_quorum": "1", "max_window_days": "60",
       "planned_release_at": "2026-12-30T09:00"}  # fmt: skip


async def model_named(world, slug: str) -> FrontierModel | None:
    found = (await world.unit.session.exec(select(FrontierModel).where(FrontierModel.slug == slug))).first()
    return found


async def test_the_developer_registers_a_model_and_finds_it_listed(api, world):
    response = await submit(api, world.dev_admin, "/console/models/new", "/console/models/new", NEW)
    assert response.status_code == 303 and response.headers["location"].endswith("?done=registered")
    shown = await api.get(response.headers["location"])
    assert "The model is registered." in shown.text and "NB-1" in shown.text and "2026-12-30 09:00 UTC" in shown.text
    model = await model_named(world, "nimbus")
    assert model is not None and model.developer_quorum == 2 and model.slack_channels == ["C0123456789"]
    assert "Nimbus" in (await api.get("/console/models")).text


async def test_registration_refusals_keep_what_was_typed_and_change_nothing(api, world, unchanged):
    await open_as(api, world.dev_admin, "/console/models/new")
    for field, value, status, message in [
        ("slug", "Not A Slug", 422, "lower-case letters, digits and dashes"),
        ("resource", "http://plain.example", 422, "absolute https:// URI"),
        ("developer_quorum", "0", 422, "a quorum is between 1 and 10"),
        ("developer_quorum", "two", 422, "must be a whole number"),
        ("planned_release_at", "2026-11-01T00:00", 422, "must be in the future"),
        ("planned_release_at", "next week", 422, "enter a date as YYYY-MM-DD"),
        ("slug", "atlas", 409, "already exists"),
    ]:
        async with unchanged():
            page = await api.get("/console/models/new")
            response = await api.post("/console/models/new", data={"csrf": csrf_in(page.text), **NEW, field: value})
        assert response.status_code == status, (field, response.text)
        assert message in response.text and "Not done" in response.text
        assert 'value="NB-1"' in response.text  # what was typed is still there
        if status == 422:
            assert 'aria-invalid="true"' in response.text


async def test_only_the_developers_admins_register_models(api, world, unchanged):
    for person in (world.dev_approver, world.gov_admin):
        page = await open_as(api, person, "/console/models")
        assert "Register a model" not in page.text
        async with unchanged():
            response = await api.post("/console/models/new", data={"csrf": csrf_in(page.text), **NEW})
        assert response.status_code == 403 and "only a developer's admins register models" in unescape(response.text)


async def test_editing_a_model_saves_and_refuses_a_bad_quorum(api, world, unchanged):
    page = f"/console/models/{world.model.id}"
    fields = {k: v for k, v in NEW.items() if k not in ("slug", "planned_release_at")}
    shown = await open_as(api, world.dev_admin, page)
    async with unchanged():
        response = await api.post(f"{page}/edit", data={"csrf": csrf_in(shown.text), **fields, "government_quorum": "11"})
    assert response.status_code == 422 and "a quorum is between 1 and 10" in response.text
    response = await submit(api, world.dev_admin, page, f"{page}/edit", fields)
    assert response.status_code == 303
    assert (await world.get(FrontierModel, world.model.id)).codename == "NB-1"


async def test_moving_the_release_previews_and_then_blocks_the_government_grant(api, world):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1))
    page = f"/console/models/{world.model.id}"
    later = (world.now + timedelta(days=45)).strftime("%Y-%m-%dT%H:%M")
    preview = await open_as(api, world.dev_admin, f"{page}?release={later}")
    assert "would block" in preview.text and "AI Security Office" in preview.text
    assert "government access may start at most 30 days before the planned release" in preview.text
    assert (await world.get(AccessGrant, grant.id)).window_problems == []  # a preview changes nothing
    response = await api.post(f"{page}/release", data={"csrf": csrf_in(preview.text), "planned_release_at": later,
                                                        "move_reason": "launch slipped"},
                              follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    shown = await api.get(response.headers["location"])
    assert "The planned release has moved" in shown.text and "blocked" in shown.text
    assert (await world.get(AccessGrant, grant.id)).window_problems == ["window_too_early"]


async def test_the_government_designates_and_the_developer_cannot(api, world, unchanged):
    page = f"/console/models/{world.model.id}"
    response = await submit(api, world.gov_approver, page, f"{page}/designation", {"designation": "in_consultation"})
    assert response.status_code == 303
    csrf = csrf_in((await api.get(page)).text)
    async with unchanged():
        refused = await api.post(f"{page}/designation", data={"csrf": csrf, "designation": "covered"})
    assert refused.status_code == 422 and "needs the reference of its assessment" in refused.text
    async with unchanged():
        bogus = await api.post(f"{page}/designation", data={"csrf": csrf, "designation": "maybe"})
    assert bogus.status_code == 422 and "a designation is one of" in bogus.text
    response = await submit(api, world.gov_approver, page, f"{page}/designation",
                            {"designation": "covered", "reference": "EO-2026-ASSESS-7"})  # fmt: skip
    assert response.status_code == 303
    assert "EO-2026-ASSESS-7" in (await api.get(page)).text
    developer_page = await open_as(api, world.dev_admin, page)
    assert "Record the designation" not in developer_page.text
    async with unchanged():
        response = await api.post(f"{page}/designation", data={"csrf": csrf_in(developer_page.text),
                                                               "designation": "in_consultation"})  # fmt: skip
    assert response.status_code == 403 and "only the government records a designation" in response.text


async def test_the_kill_switch_says_what_it_will_do_and_needs_a_fresh_sign_in_a_reason_and_the_slug(
    api, world, clock, unchanged
):
    await world.government_ready()
    grant = await world.government_grant()
    partner, _ = await world.partner()
    await world.nominate(partner, start=timedelta(days=2), days=10)
    page = f"/console/models/{world.model.id}"
    shown = await open_as(api, world.gov_admin, page)
    said = words_of(shown.text)
    assert "revokes, at once, 1 grant of Atlas (0 in force now" in said and "closes 1 pending nomination." in said
    assert "Revoke 1 grant and switch off Atlas" in said
    typed = {"csrf": csrf_in(shown.text), "reason": "weights leaked", "confirm_slug": "atlas"}
    async with unchanged():
        no_reason = await api.post(f"{page}/switch-off", data={**typed, "reason": " "})
        wrong_slug = await api.post(f"{page}/switch-off", data={**typed, "confirm_slug": "Atlas "})
        no_slug = await api.post(f"{page}/switch-off", data={k: v for k, v in typed.items() if k != "confirm_slug"})
    assert no_reason.status_code == 422 and "a reason is required to switch a model off" in no_reason.text
    for refused in (wrong_slug, no_slug):
        assert refused.status_code == 422 and "type the model&#39;s slug, atlas, to confirm" in refused.text
        assert "weights leaked</textarea>" in refused.text  # what was typed is kept

    clock.advance(timedelta(minutes=11))
    stale_page = await api.get(page)  # reading the page needs no fresh sign-in; it asks for one before typing
    assert stale_page.status_code == 200 and "Sign in again to use it" in stale_page.text
    assert 'name="confirm_slug"' not in stale_page.text
    async with unchanged():
        stale = await api.post(f"{page}/switch-off", data=typed, follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"] == f"/login/again?next={page}"
    again = await api.get(stale.headers["location"])
    assert again.status_code == 200 and "Confirm it's you" in unescape(again.text) and "gail@aiso.test" in again.text
    # Signing in again (development sign-in here; an identity provider with prompt=login in production).
    renewed = await api.post("/login/dev", data={"csrf": csrf_in(again.text.split('action="/login/dev"')[1]),
                                                 "user_id": str(world.gov_admin.user_id), "next": page},
                             follow_redirects=False)  # fmt: skip
    assert renewed.status_code == 303 and renewed.headers["location"] == page
    fresh = await api.get(page)
    response = await api.post(f"{page}/switch-off", data={**typed, "csrf": csrf_in(fresh.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert "Access to this model is switched off" in (await api.get(response.headers["location"])).text
    assert (await world.get(AccessGrant, grant.id)).revoked_at is not None


async def test_partners_see_no_model_they_are_not_involved_with(api, world):
    _, admin = await world.partner(name="eastwind")
    await sign_in(api, admin)
    assert "Atlas" not in (await api.get("/console/models")).text
    hidden = await api.get(f"/console/models/{world.model.id}")
    assert hidden.status_code == 404


async def test_model_names_are_escaped(api, world):
    response = await submit(api, world.dev_admin, "/console/models/new", "/console/models/new",
                            {**NEW, "name": "<script>alert(1)</script>"})  # fmt: skip
    assert response.status_code == 303
    listed = await api.get("/console/models")
    assert "<script>alert(1)</script>" not in listed.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in listed.text
