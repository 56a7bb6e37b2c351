"""NDA templates in the console: versions with text and hash, publishing, and who accepted which version."""

from __future__ import annotations

from html import unescape

from sqlmodel import select

from accessdesk.db.tables import NdaTemplate
from accessdesk.domain.compliance import text_hash
from tests.support.console import csrf_in, open_as, sign_in, submit

V11 = {"title": "Acme NDA", "version": "1.1", "term_days": "365", "model_id": "",
       "body": "The recipient keeps everything confidential.\nClause <b>2</b>.\n"}  # fmt: skip


async def templates(world) -> list[NdaTemplate]:
    rows = list((await world.unit.session.exec(select(NdaTemplate))).all())
    return rows


async def test_the_developer_publishes_a_version_and_its_page_shows_text_and_hash(api, world):
    response = await submit(api, world.dev_admin, "/console/ndas/new", "/console/ndas/new", V11)
    assert response.status_code == 303
    shown = await api.get(response.headers["location"])
    assert "version 1.1" in shown.text and text_hash(V11["body"]) in shown.text
    assert "Clause &lt;b&gt;2&lt;/b&gt;." in shown.text  # the text is shown exactly, never as markup
    assert "Nobody has accepted this version." in shown.text
    listed = await api.get("/console/ndas")
    assert listed.text.count("Acme NDA") == 2


async def test_publishing_refusals_change_nothing(api, world, unchanged):
    shown = await open_as(api, world.dev_admin, "/console/ndas/new")
    for field, value, status, message in [
        ("version", "1.0", 409, "is not newer than 1.0"),
        ("version", "two", 422, "a version looks like major.minor"),
        ("body", " ", 422, "the NDA text must be 1 to 200000 characters"),
        ("term_days", "0", 422, "between 1 and 1825 days"),
        ("model_id", "not-a-model", 422, "choose a model"),
    ]:
        async with unchanged():
            response = await api.post("/console/ndas/new", data={"csrf": csrf_in(shown.text), **V11, field: value})
        assert response.status_code == status, (field, response.text)
        assert message in unescape(response.text)
    page = await open_as(api, world.dev_approver, "/console/ndas")
    assert "Publish a version" not in page.text
    async with unchanged():
        response = await api.post("/console/ndas/new", data={"csrf": csrf_in(page.text), **V11})
    assert response.status_code == 403 and "publish NDAs" in response.text


async def test_who_accepted_which_version(api, world):
    _, northwind_admin = await world.partner(name="northwind")
    await world.partner(name="southwind")
    page = f"/console/ndas/{world.nda.id}"
    staff_view = await open_as(api, world.gov_admin, page)
    assert "Northwind" in staff_view.text and "Southwind" in staff_view.text and "Admin (admin@northwind.test)" in staff_view.text
    await sign_in(api, northwind_admin)
    own_view = await api.get(page)
    assert own_view.status_code == 200 and "Northwind" in own_view.text and "Southwind" not in own_view.text


async def test_a_model_specific_nda_is_hidden_from_partners_not_involved(api, world):
    response = await submit(api, world.dev_admin, "/console/ndas/new", "/console/ndas/new",
                            {**V11, "version": "1.0", "model_id": str(world.model.id), "title": "Atlas NDA"})  # fmt: skip
    assert response.status_code == 303
    atlas_nda = next(t for t in await templates(world) if t.model_id == world.model.id)
    _, outsider = await world.partner(name="eastwind")
    await sign_in(api, outsider)
    assert "Atlas NDA" not in (await api.get("/console/ndas")).text
    assert (await api.get(f"/console/ndas/{atlas_nda.id}")).status_code == 404
