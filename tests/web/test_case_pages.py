"""Nominations and grants in the console: proposing a nomination, the filtered lists, withdrawing, a grant's page
with what blocks it, revocation and an extension round. Refusals say why and change nothing."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from sqlmodel import select

from accessdesk.db.tables import AccessGrant, Nomination
from accessdesk.domain.vocabulary import Area
from tests.support.console import confirm, csrf_in, is_confirmation, open_as, sign_in, submit, words_of


def when(world, days: float) -> str:
    return (world.now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


async def nominations(world) -> list[Nomination]:
    rows = list((await world.unit.session.exec(select(Nomination))).all())
    return rows


async def test_a_nominator_proposes_and_both_sides_find_it_in_their_lists(api, world):
    await world.government_ready()
    await world.government_grant()
    partner, _ = await world.partner(name="northwind")
    form = {"model_id": str(world.model.id), "organisation_id": str(partner.id), "starts_at": when(world, 2),
            "ends_at": when(world, 30), "actions": ["invoke", "evaluate"], "justification": "Red-team the release."}  # fmt: skip
    response = await submit(api, world.dev_nominator, "/console/nominations/new", "/console/nominations/new", form)
    assert response.status_code == 303
    shown = await api.get(response.headers["location"])
    assert "The nomination is open" in shown.text and "evaluate, invoke" in shown.text and "Withdraw" in shown.text
    assert "Your decision" not in shown.text  # a nominator does not decide

    await sign_in(api, world.gov_approver)
    mine = await api.get("/console/nominations?for_me=1")
    assert ">Northwind</a>" in mine.text
    assert ">Northwind</a>" not in (await api.get("/console/nominations?state=approved")).text
    assert ">Northwind</a>" in (await api.get(f"/console/nominations?awaiting=government&model_id={world.model.id}")).text
    assert (await api.get("/console/nominations?state=bogus&model_id=nope")).status_code == 200  # unknown filters are ignored


async def test_nomination_refusals_keep_the_form_and_change_nothing(api, world, unchanged):
    partner, _ = await world.partner(name="northwind")
    form = {"model_id": str(world.model.id), "organisation_id": str(partner.id), "starts_at": when(world, 2),
            "ends_at": when(world, 30), "actions": "invoke", "justification": "Evaluation."}  # fmt: skip
    shown = await open_as(api, world.dev_nominator, "/console/nominations/new")
    for field, value, status, message in [
        ("starts_at", when(world, -1), 422, "the window must start in the future"),
        ("ends_at", when(world, 1), 422, "the window must end after it starts"),
        ("starts_at", when(world, -40), 422, "the window must start in the future"),
        ("ends_at", when(world, 200), 422, "at most 90 days"),
        ("justification", "", 422, "a justification"),
        ("organisation_id", "", 422, "choose an organisation"),
        ("organisation_id", str(world.developer.id), 422, "partner or government organisations only"),
        ("actions", "teleport", 422, "actions"),
    ]:
        async with unchanged():
            response = await api.post("/console/nominations/new", data={"csrf": csrf_in(shown.text), **form, field: value})
        assert response.status_code == status, (field, response.text)
        assert message in unescape(response.text), (field, response.text)
    await sign_in(api, world.gov_member)
    page = await api.get("/console/nominations")
    assert "Nominate an organisation" not in page.text
    async with unchanged():
        response = await api.post("/console/nominations/new", data={"csrf": csrf_in(page.text), **form})
    assert response.status_code == 403


async def test_the_nominator_withdraws_and_a_stranger_cannot(api, world, unchanged):
    partner, _ = await world.partner(name="northwind")
    nomination = await world.nominate(world.government, start=timedelta(days=2))
    page = f"/console/nominations/{nomination.id}"
    shown = await open_as(api, world.dev_approver, page)
    assert "Withdraw the nomination" not in shown.text
    async with unchanged():
        response = await api.post(f"{page}/withdrawal", data={"csrf": csrf_in(shown.text)})
    assert response.status_code == 403 and "only the nominator" in response.text
    response = await submit(api, world.dev_nominator, page, f"{page}/withdrawal", {"withdraw_reason": "duplicate"})
    assert response.status_code == 303
    shown = await api.get(response.headers["location"])
    assert "The nomination is withdrawn" in shown.text and "duplicate" in shown.text


async def test_a_grant_page_says_what_blocks_it_and_staff_revoke_it(api, world, unchanged):
    await world.government_ready(skip_areas=(Area.INSIDER_RISK,))
    grant = await world.government_grant()
    page = f"/console/grants/{grant.id}"
    shown = await open_as(api, world.dev_approver, page)
    assert "blocked" in shown.text and "no attestation on file for insider risk" in shown.text
    assert "Credentials" in shown.text
    async with unchanged():
        response = await api.post(f"{page}/revocation", data={"csrf": csrf_in(shown.text), "reason": " "})
    assert response.status_code == 422 and "a reason is required to revoke access" in response.text
    async with unchanged():  # asked first: what it will do, and nothing done yet
        asked = await api.post(f"{page}/revocation", data={"csrf": csrf_in(shown.text), "reason": "no longer needed"})
    said = words_of(asked.text)
    assert is_confirmation(asked) and "Revoke AI Security Office's access to Atlas?" in said
    assert "loses access to Atlas at once" in said and "It cannot be undone" in said
    response = await confirm(api, asked)
    assert response.status_code == 303
    shown = await api.get(response.headers["location"])
    assert "Access is revoked" in shown.text and "no longer needed" in shown.text and "Revoke access" not in shown.text
    async with unchanged():
        again = await api.post(f"{page}/revocation", data={"csrf": csrf_in(shown.text), "reason": "twice"})
    assert again.status_code == 409 and "already revoked" in again.text
    assert (await world.get(AccessGrant, grant.id)).revoke_reason == "no longer needed"


async def test_an_extension_round_opens_from_the_grant_page(api, world, unchanged):
    await world.government_ready()
    grant = await world.government_grant(days=30)
    page = f"/console/grants/{grant.id}"
    shown = await open_as(api, world.dev_nominator, page)
    async with unchanged():
        shorter = await api.post(f"{page}/extension", data={"csrf": csrf_in(shown.text), "ends_at": when(world, 10),
                                                             "justification": "More time"})  # fmt: skip
    assert shorter.status_code == 422 and "must end after the current window ends" in shorter.text
    response = await api.post(f"{page}/extension", data={"csrf": csrf_in(shown.text), "ends_at": when(world, 45),
                                                          "justification": "More time"}, follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    assert "The extension round is open" in (await api.get(response.headers["location"])).text
    assert "extension to" in (await api.get(page)).text
    assert len([n for n in await nominations(world) if n.kind == "extension"]) == 1


async def test_partners_see_their_own_grants_only(api, world):
    await world.government_ready()
    await world.government_grant()
    north, north_admin = await world.partner(name="northwind")
    south, _ = await world.partner(name="southwind")
    north_grant = await world.approve_both(await world.nominate(north, start=timedelta(days=2)))
    south_grant = await world.approve_both(await world.nominate(south, start=timedelta(days=2)))
    shown = await open_as(api, north_admin, f"/console/grants/{north_grant.id}")
    assert "Revoke access" not in shown.text and "Extend the window" not in shown.text
    assert (await api.get(f"/console/grants/{south_grant.id}")).status_code == 404
    listed = await api.get("/console/grants")
    assert ">Northwind</a>" in listed.text and "Southwind" not in listed.text


async def test_the_console_offers_only_what_the_rules_allow_on_a_nomination(api, world, unchanged):
    partner, _ = await world.partner(name="northwind")
    nomination = await world.nominate(partner, start=timedelta(days=2))
    page = f"/console/nominations/{nomination.id}"
    # An admin, but of another organisation than the nominator's: the rules refuse them a withdrawal.
    shown = await open_as(api, world.gov_admin, page)
    assert "Withdraw the nomination" not in shown.text
    async with unchanged():
        response = await api.post(f"{page}/withdrawal", data={"csrf": csrf_in(shown.text)})
    assert response.status_code == 403 and "only the nominator or an admin of their organisation" in response.text
    assert "Withdraw the nomination" in (await open_as(api, world.dev_admin, page)).text  # the nominator's admin

    shown = await open_as(api, world.gov_approver, page)
    assert "Your decision" in shown.text
    response = await submit(api, world.gov_approver, page, f"{page}/decision", {"verdict": "approve", "reason": ""})
    assert response.status_code == 303
    shown = await api.get(page)
    assert "Your decision" not in shown.text  # decided once: no second decision offered
    async with unchanged():
        again = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "approve"})
    assert again.status_code == 409 and "already decided" in again.text
