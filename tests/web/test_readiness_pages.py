""""Is my access ready?" in the console: each grant's stage on the path, what holds it with whose move that is and a
link to do what is the grantee's own; the self-test page, with a secret checked and never shown back; need-to-know
(another organisation's credential is not found, a partner reads no other organisation's readiness)."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.credentials import Credentials
from tests.support.console import csrf_in, open_as, sign_in, words_of
from tests.support.oauth import SETTINGS
from tests.support.scenes import partner_member


async def access_of_two(world):
    """Northwind: usable, with a credential. Westwind: granted without the NDA (blocked)."""
    await world.government_ready()
    await world.government_grant()
    north, north_admin = await world.partner(name="northwind")
    west, west_admin = await world.partner(name="westwind", nda=False)
    grant = await world.approve_both(await world.nominate(north, start=timedelta(days=1)))
    await world.approve_both(await world.nominate(west, start=timedelta(days=1)))
    world.clock.advance(timedelta(days=2))
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=north_admin, grant_id=grant.id,
                                                                         name="eval cluster")  # fmt: skip
    await world.unit.commit()
    return north, north_admin, west, west_admin, issued


async def test_a_partner_sees_each_grant_on_the_path_and_what_is_its_own_to_do(api, world):
    _, north_admin, west, west_admin, issued = await access_of_two(world)
    html = (await open_as(api, north_admin, "/console/access")).text
    text = words_of(html)
    assert "Is your access ready?" in text and "credentials issued" in text
    assert '<li class="here" aria-current="step">credentials issued</li>' in html
    assert f'href="/console/access/credentials/{issued.client.id}"' in html and "Westwind" not in html

    html = (await open_as(api, west_admin, "/console/access")).text
    text = words_of(html)
    assert "blocked something must be done before access flows" in text
    assert "the current major version of the NDA has not been accepted (yours to do) : Accept the NDA" in text
    assert 'href="/console/my-organisation#ndas-h"' in html and "Northwind" not in html

    home = (await open_as(api, west_admin, "/console")).text
    assert 'href="/console/access"' in home


async def test_staff_read_an_organisations_readiness_without_the_partners_links(api, world):
    north, *_ = await access_of_two(world)
    for person in (world.gov_member, world.dev_approver):
        html = (await open_as(api, person, f"/console/access?organisation={north.id}")).text
        assert "Is Northwind&#39;s access ready?" in html or "Is Northwind's access ready?" in html
        assert "credentials issued" in words_of(html) and "/console/access/credentials/" not in html


async def test_a_partner_cannot_read_another_organisations_readiness(api, world):
    north, _, _, west_admin, _ = await access_of_two(world)
    await sign_in(api, west_admin)
    shown = await api.get(f"/console/access?organisation={north.id}")
    assert shown.status_code == 404 and "Northwind" not in shown.text


async def test_the_self_test_page_checks_a_secret_and_never_shows_it(api, world, unchanged):
    _, north_admin, _, _, issued = await access_of_two(world)
    assert issued.secret is not None
    page = f"/console/access/credentials/{issued.client.id}"
    html = (await open_as(api, north_admin, page)).text
    assert "passed" in words_of(html) and "check yours below" in words_of(html)
    csrf = csrf_in(html)
    async with unchanged():
        right = await api.post(page, data={"csrf": csrf, "client_secret": issued.secret})
        wrong = await api.post(page, data={"csrf": csrf, "client_secret": "adks_wrong"})
        empty = await api.post(page, data={"csrf": csrf, "client_secret": ""})
        long = await api.post(page, data={"csrf": csrf, "client_secret": "x" * 201})
    assert right.status_code == 200 and "the secret given is a live secret of this credential" in right.text
    assert right.headers["cache-control"] == "no-store"
    assert wrong.status_code == 200 and "The token endpoint would refuse now" in words_of(wrong.text)
    assert "the secret given is not a live secret of this credential" in wrong.text
    for shown in (right, wrong, long):
        assert issued.secret not in shown.text and "adks_wrong" not in shown.text and "x" * 201 not in shown.text
    for refused in (empty, long):
        assert refused.status_code == 422 and "paste the client secret (at most 200 characters)" in refused.text
    forged = await api.post(page, data={"client_secret": issued.secret})  # no CSRF token
    assert forged.status_code == 403


async def test_the_self_test_of_another_organisations_credential_is_not_found(api, world, unchanged):
    north, _, _, west_admin, issued = await access_of_two(world)
    member = await partner_member(world, north)
    assert (await open_as(api, member, f"/console/access/credentials/{issued.client.id}")).status_code == 200
    for person in (west_admin, world.dev_admin, world.gov_admin):
        await sign_in(api, person)
        async with unchanged():
            shown = await api.get(f"/console/access/credentials/{issued.client.id}")
        assert shown.status_code == 404 and "eval cluster" not in shown.text and issued.client.client_id not in shown.text
