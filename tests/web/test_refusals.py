"""The console's one refusal path (``web/refusals.py``), in the cases the page-by-page tests do not reach: ticked
boxes stay ticked, the refusal is shown beside the very form a path parameter names, and a page whose query the
rules refuse (a release preview) is shown again with the reason in its section. Each time: the status the JSON API
would give, and nothing changed."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from tests.support.console import csrf_in, open_as


async def test_a_refused_form_keeps_every_ticked_box(api, world, unchanged):
    partner, _ = await world.partner(name="northwind")
    shown = await open_as(api, world.dev_nominator, "/console/nominations/new")
    starts, ends = ((world.now + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M") for d in (2, 30))
    async with unchanged():
        response = await api.post("/console/nominations/new", data={
            "csrf": csrf_in(shown.text), "model_id": str(world.model.id), "organisation_id": str(partner.id),
            "starts_at": starts, "ends_at": ends, "actions": ["invoke", "red_team"], "justification": ""})  # fmt: skip
    assert response.status_code == 422 and "a justification" in unescape(response.text)
    assert 'value="invoke" checked' in response.text and 'value="red_team" checked' in response.text
    assert 'value="evaluate" checked' not in response.text
    assert f'value="{starts}"' in response.text  # what was typed stays typed


async def test_the_refusal_is_shown_beside_the_form_its_path_names(api, world, unchanged):
    org, partner_admin = await world.partner(name="harbor")
    page = f"/console/organisations/{org.id}"
    shown = await open_as(api, partner_admin, page)
    async with unchanged():
        response = await api.post(f"{page}/members/{partner_admin.user_id}",
                                  data={"csrf": csrf_in(shown.text), "change": "disable"})  # fmt: skip
    assert response.status_code == 403
    assert '<span class="field-error">you cannot disable yourself' in unescape(response.text)


async def test_a_refused_preview_shows_the_model_page_again_with_the_reason_in_its_section(api, world, unchanged):
    page = f"/console/models/{world.model.id}"
    await open_as(api, world.dev_admin, page)
    async with unchanged():
        response = await api.get(f"{page}?release=next-tuesday")
    assert response.status_code == 422
    assert "enter a date as YYYY-MM-DD" in unescape(response.text) and world.model.name in response.text
    assert 'value="next-tuesday"' in response.text  # the date typed, beside its error
