"""Issue 14, what users met: errors that are pages with the console around them, a designation form that starts
from the model's designation, a sign-in refusal that offers to try again, a favicon on every page, and a case's
history told in sentences."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.vocabulary import Designation, Verdict
from tests.support.console import open_as, sign_in, words_of


async def test_a_console_address_that_is_no_page_answers_a_page_with_the_header_and_navigation(api, world):
    await sign_in(api, world.dev_admin)
    for path in ("/console/nominations/not-a-uuid", "/console/grants/0000", "/console/no-such-page"):
        shown = await api.get(path, follow_redirects=False)
        assert shown.status_code == 404, (path, shown.text)
        assert shown.headers["content-type"].startswith("text/html"), path
        # Matched by no page, nothing has read the session yet: a way back, not the whole header.
        assert "<h1>Not found</h1>" in shown.text and "Go to the console" in shown.text, path
    # Refused inside a page (a nomination this person may not see): the header and navigation stay.
    _, stranger = await world.partner(name="elsewhere")
    nomination = await world.nominate((await world.partner(name="northwind"))[0])
    await sign_in(api, stranger)
    refused = await api.get(f"/console/nominations/{nomination.id}", follow_redirects=False)
    assert refused.status_code == 404 and 'aria-label="Main"' in refused.text and "Sign out" in refused.text
    assert "Back to your home page" in refused.text
    # The JSON API keeps its problem details.
    api_answer = await api.get("/api/v1/grants/not-a-uuid")
    assert api_answer.headers["content-type"].startswith("application/problem+json")


async def test_an_error_page_for_someone_not_signed_in_says_where_to_go(api):
    shown = await api.get("/console/nominations/not-a-uuid", follow_redirects=False)
    assert shown.status_code == 404 and shown.headers["content-type"].startswith("text/html")
    assert "Go to the console" in shown.text


async def test_a_refused_sign_in_offers_to_try_again(api):
    refused = await api.get("/login/callback?code=x&state=y")  # no sign-in was started
    assert refused.status_code == 403 and "Try again" in refused.text and "Back to" not in refused.text


async def test_the_designation_form_starts_from_no_choice_and_says_the_designation_now(api, world):
    await FrontierModels(world.unit).designate(actor=world.gov_admin, model_id=world.model.id,
                                               designation=Designation.IN_CONSULTATION)  # fmt: skip
    shown = await open_as(api, world.gov_admin, f"/console/models/{world.model.id}")
    said = words_of(shown.text)
    assert "Now: in consultation Change it to" in said
    assert '<option value="" selected>— choose —</option>' in shown.text
    assert 'value="covered" selected' not in shown.text and 'value="not_covered" selected' not in shown.text


async def test_every_page_names_its_icon_and_the_icon_is_served(api, world):
    shown = await open_as(api, world.dev_admin, "/console")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in shown.text
    icon = await api.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


async def test_a_nomination_and_its_grant_tell_their_history_in_sentences(api, world):
    await world.government_ready()
    await world.government_grant()
    partner, partner_admin = await world.partner(name="northwind")
    nomination = await world.nominate(partner, start=timedelta(days=2))
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                         verdict=Verdict.APPROVE, reason="Strong record.")  # fmt: skip
    outcome = await CoSelection(world.unit).decide(actor=world.gov_approver, nomination_id=nomination.id,
                                                   verdict=Verdict.APPROVE)  # fmt: skip
    assert outcome.grant is not None
    await Grants(world.unit).revoke(actor=world.gov_admin, grant_id=outcome.grant.id, reason="Left the programme")

    shown = await open_as(api, world.dev_admin, f"/console/nominations/{nomination.id}")
    story = words_of(shown.text.split('id="history-h"', 1)[1])
    when = f"{world.now:%Y-%m-%d %H:%M} UTC"
    assert f"{when} — Nora (nora@acme.test) nominated the organisation" in story, story
    assert "Dev1 (dev1@acme.test) approved for the developer side: “Strong record.”" in story, story
    assert "approved for the government side" in story and "completed both sides' decisions" in story
    assert "The grant was made" in story and "revoked the grant" not in story  # the grant's own story is its page's

    shown = await open_as(api, partner_admin, f"/console/grants/{outcome.grant.id}")
    story = words_of(shown.text.split('id="history-h"', 1)[1])
    assert "The grant was made" in story and "nominated the organisation" in story
    assert "revoked the grant: “Left the programme”" in story, story
