"""The console's lists (organisations, models, nominations, grants): a search box that finds names and slugs in any
case and takes ``%`` and ``_`` literally, column headers that sort by an allow-listed key either way (anything
else keeps the usual order), pages that follow the sort, and need-to-know kept: a search never finds what the
list would not show."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from sqlmodel import select

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination, Organisation
from accessdesk.domain.errors import Malformed
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.queries import (
    GRANT_SORTS,
    MODEL_SORTS,
    NOMINATION_SORTS,
    ORGANISATION_SORTS,
    NominationFilter,
    Queries,
)
from accessdesk.domain.sorting import Sort
from accessdesk.domain.vocabulary import OrgKind, Tier
from accessdesk.web.listing import Listing
from tests.support.console import open_as, sign_in
from tests.world import OPERATOR


def ids_in(html: str, path: str) -> list[uuid.UUID]:
    """The rows of a list, in the order shown: the ids its row links open, each once."""
    found = [uuid.UUID(i) for i in re.findall(rf'<td><a href="{path}/([0-9a-f-]{{36}})">', html)]
    return list(dict.fromkeys(found))


def link_of(html: str, text: str) -> str:
    match = re.search(rf'<a href="([^"]+)">{re.escape(text)}</a>', html)
    assert match is not None, f"no link {text!r}"
    return unescape(match.group(1))


def in_order(rows: list[Any], key: Any, descending: bool) -> list[uuid.UUID]:
    """What the database's order is: by the key, then by id, both the same way (UUIDs compare as their bytes on
    both databases, as they do in Python)."""
    return [r.id for r in sorted(rows, key=lambda r: (key(r), r.id), reverse=descending)]


async def walk(read: Any, limit: int = 2) -> list[uuid.UUID]:
    """Every row of a list, read ``limit`` at a time by following its cursors."""
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = await read(cursor, limit)
        seen += [row.id for row in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


async def organisations_scene(world) -> dict[str, Organisation]:
    orgs = Organisations(world.unit)
    made = {}
    for name, slug in (("100% Labs", "hundred"), ("Under_score", "under"), ("Underscore Two", "under-two"),
                       ("northwind", "zz-north"), ("Southwind", "south")):  # fmt: skip
        made[slug] = await orgs.create(actor=OPERATOR, kind=OrgKind.PARTNER, name=name, slug=slug,
                                       domains=[f"{slug}.test"])  # fmt: skip
    return made


async def test_organisations_are_searched_by_name_or_slug_in_any_case(api, world):
    made = await organisations_scene(world)
    await sign_in(api, world.gov_admin)
    path = "/console/organisations"
    for q, expected in (("WIND", {"zz-north", "south"}), ("acme", {"acme"}), ("under-", {"under-two"}),
                        ("%", {"hundred"}), ("_", {"under"}), ("0% l", {"hundred"})):  # fmt: skip
        shown = await api.get(path, params={"q": q})
        assert shown.status_code == 200, shown.text
        wanted = {made[s].id if s in made else world.developer.id for s in expected}
        assert set(ids_in(shown.text, path)) == wanted, q
        assert f'name="q" value="{q}"' in unescape(shown.text)
    for nothing in ("zzz", "\\", "%%", "'; DROP TABLE organisations; --"):
        shown = await api.get(path, params={"q": nothing})
        assert shown.status_code == 200 and ids_in(shown.text, path) == []
        assert f"Nothing matches “{nothing}”." in unescape(shown.text) and "Clear the search" in shown.text
    kinds = await api.get(path, params={"q": "wind", "kind": "government"})  # the search narrows the filters' list
    assert ids_in(kinds.text, path) == []


@pytest.mark.parametrize("key", sorted(ORGANISATION_SORTS))
async def test_organisations_sort_by_each_key_both_ways(api, world, key):
    await organisations_scene(world)
    rows = list((await world.unit.session.exec(select(Organisation))).all())
    value = {"name": lambda o: o.name.lower(), "slug": lambda o: o.slug, "kind": lambda o: o.kind,
             "registered": lambda o: o.created_at}[key]  # fmt: skip
    await sign_in(api, world.gov_admin)
    for direction in ("asc", "desc"):
        shown = await api.get("/console/organisations", params={"sort": key, "dir": direction})
        assert shown.status_code == 200
        assert ids_in(shown.text, "/console/organisations") == in_order(rows, value, direction == "desc"), direction
        assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in shown.text


async def test_a_bogus_sort_is_ignored_and_the_headers_link_their_sort(api, world):
    await organisations_scene(world)
    await sign_in(api, world.gov_admin)
    usual = await api.get("/console/organisations")
    for params in ({"sort": "password"}, {"sort": "name;drop", "dir": "asc"}, {"sort": "", "dir": "sideways"},
                   {"sort": "created_at", "dir": "desc"}):  # fmt: skip
        shown = await api.get("/console/organisations", params=params)
        assert shown.status_code == 200
        assert ids_in(shown.text, "/console/organisations") == ids_in(usual.text, "/console/organisations")
        assert "aria-sort" not in shown.text
    by_name = await api.get("/console/organisations", params={"sort": "name", "dir": "sideways", "q": "wind"})
    assert 'aria-sort="ascending"' in by_name.text  # an unknown direction is the key's own
    # Clicking the sorted column turns it round; the search and filters stay; a page's cursor does not.
    assert link_of(by_name.text, "Organisation ▲") == "/console/organisations?q=wind&sort=name&dir=desc"
    assert link_of(by_name.text, "Registered") == "/console/organisations?q=wind&sort=registered&dir=desc"
    listing = Listing.of("/console/organisations", {"kind": "partner", "sort": "slug", "dir": "desc", "cursor": "x"},
                         ORGANISATION_SORTS)  # fmt: skip
    assert listing.next_link("abc") == "/console/organisations?kind=partner&sort=slug&dir=desc&cursor=abc"


async def test_organisation_pages_follow_the_sort(api, world):
    orgs = [Organisation(kind="partner", name=f"Bulk {n:03d}", slug=f"bulk-{n:03d}", created_at=world.now)
            for n in range(105)]  # fmt: skip
    world.unit.session.add_all(orgs)
    await world.unit.commit()
    await sign_in(api, world.gov_admin)
    for direction in ("asc", "desc"):
        first = await api.get("/console/organisations", params={"sort": "name", "dir": direction})
        following = link_of(first.text, "More organisations")
        assert f"sort=name&dir={direction}&cursor=" in following
        second = await api.get(following)
        assert second.status_code == 200 and "More organisations" not in second.text
        shown = ids_in(first.text, "/console/organisations") + ids_in(second.text, "/console/organisations")
        everything = list((await world.unit.session.exec(select(Organisation))).all())
        assert shown == in_order(everything, lambda o: o.name.lower(), direction == "desc")
    # A cursor made for one order is refused under another, not misread.
    first = await api.get("/console/organisations", params={"sort": "name", "dir": "asc"})
    cursor = link_of(first.text, "More organisations").rsplit("cursor=", 1)[1]
    refused = await api.get("/console/organisations", params={"sort": "slug", "dir": "asc", "cursor": cursor})
    assert refused.status_code == 400 and "not a cursor this list returned" in refused.text


async def models_scene(world) -> list[FrontierModel]:
    await world.new_model("borealis", release_in=timedelta(days=40))
    await world.new_model("cirrus", release_in=timedelta(days=10))
    await FrontierModels(world.unit).register(
        actor=world.dev_admin, slug="percent", name="Dash 100%_x", codename="P", tier=Tier.HIGH,
        planned_release_at=world.now + timedelta(days=30), resource="https://api.acme.test/models/percent",
    )  # fmt: skip
    return list((await world.unit.session.exec(select(FrontierModel))).all())


async def test_models_are_searched_and_sorted(api, world):
    rows = await models_scene(world)
    by_slug = {m.slug: m.id for m in rows}
    await open_as(api, world.gov_admin, "/console/models")
    for q, expected in (("ATLAS", {"atlas"}), ("rus", {"cirrus"}), ("%", {"percent"}), ("_", {"percent"}),
                        ("percent", {"percent"})):  # fmt: skip
        shown = await api.get("/console/models", params={"q": q})
        assert set(ids_in(shown.text, "/console/models")) == {by_slug[s] for s in expected}, q
    nothing = await api.get("/console/models", params={"q": "0%x"})
    assert nothing.status_code == 200 and "Nothing matches “0%x”." in unescape(nothing.text)
    value = {"name": lambda m: m.name.lower(), "slug": lambda m: m.slug, "tier": lambda m: m.tier,
             "designation": lambda m: m.designation, "release": lambda m: m.planned_release_at,
             "registered": lambda m: m.created_at}  # fmt: skip
    assert set(value) == set(MODEL_SORTS)
    for key, of in value.items():
        for direction in ("asc", "desc"):
            shown = await api.get("/console/models", params={"sort": key, "dir": direction})
            assert ids_in(shown.text, "/console/models") == in_order(rows, of, direction == "desc"), (key, direction)
    bogus = await api.get("/console/models", params={"sort": "codename"})
    assert bogus.status_code == 200
    assert ids_in(bogus.text, "/console/models") == ids_in((await api.get("/console/models")).text, "/console/models")
    queries = Queries(world.unit)
    for key in MODEL_SORTS:
        sort = Sort.of(MODEL_SORTS, key, "desc")
        walked = await walk(lambda c, n, s=sort: queries.models(world.gov_admin, cursor=c, limit=n, sort=s))
        assert walked == in_order(rows, value[key], True), key


async def cases_scene(world) -> dict[str, Any]:
    """Grants and nominations on two models for the government and two partners, with different windows."""
    borealis = await world.new_model("borealis", release_in=timedelta(days=25))
    await world.government_ready()
    await world.government_grant(days=60)
    await world.government_grant(model=borealis, start=timedelta(hours=2), days=50)
    north, north_admin = await world.partner(name="northwind")
    south, south_admin = await world.partner(name="southwind")
    await world.approve_both(await world.nominate(north, start=timedelta(days=2), days=30))
    await world.approve_both(await world.nominate(north, start=timedelta(days=40), days=10, model=borealis))
    await world.approve_both(await world.nominate(south, start=timedelta(days=3), days=20, model=borealis))
    await world.nominate(south, start=timedelta(days=5), days=7)  # pending
    return {"north": north, "north_admin": north_admin, "south": south, "south_admin": south_admin,
            "borealis": borealis}  # fmt: skip


async def names(world) -> dict[uuid.UUID, str]:
    found = {m.id: m.name for m in (await world.unit.session.exec(select(FrontierModel))).all()}
    found.update({o.id: o.name for o in (await world.unit.session.exec(select(Organisation))).all()})
    return found


CASE_KEYS = {
    "model": lambda row, named: named[row.model_id].lower(),
    "organisation": lambda row, named: named[row.organisation_id].lower(),
    "starts": lambda row, named: row.starts_at,
    "ends": lambda row, named: row.ends_at,
}


@pytest.mark.parametrize(("path", "table", "sorts", "newest"), [
    ("/console/grants", AccessGrant, GRANT_SORTS, "granted"),
    ("/console/nominations", Nomination, NOMINATION_SORTS, "proposed"),
])  # fmt: skip
async def test_grants_and_nominations_sort_by_each_key_both_ways_and_page_along(
    api, world, path, table, sorts, newest
):  # fmt: skip
    await cases_scene(world)
    rows = list((await world.unit.session.exec(select(table))).all())
    named = await names(world)
    keys = {**CASE_KEYS, newest: lambda row, named: row.created_at}
    assert set(keys) == set(sorts)
    await sign_in(api, world.gov_admin)
    usual = ids_in((await api.get(path)).text, path)
    assert len(usual) == len(rows)
    queries = Queries(world.unit)
    for key, of in keys.items():
        for direction in ("asc", "desc"):
            shown = await api.get(path, params={"sort": key, "dir": direction})
            assert shown.status_code == 200
            expected = in_order(rows, lambda r, of=of: of(r, named), direction == "desc")
            assert ids_in(shown.text, path) == expected, (key, direction)
            sort = Sort.of(sorts, key, direction)
            if table is AccessGrant:
                walked = await walk(lambda c, n, s=sort: queries.grants(world.gov_admin, cursor=c, limit=n, sort=s))
            else:
                walked = await walk(lambda c, n, s=sort: queries.nominations(world.gov_admin, NominationFilter(),
                                                                             cursor=c, limit=n, sort=s))  # fmt: skip
            assert walked == expected, (key, direction)
    bogus = await api.get(path, params={"sort": "state", "dir": "asc"})
    assert bogus.status_code == 200 and ids_in(bogus.text, path) == usual


async def test_a_cursor_of_another_order_is_refused(world):
    await cases_scene(world)
    queries = Queries(world.unit)
    by_model = Sort.of(GRANT_SORTS, "model", "asc")
    page = await queries.grants(world.gov_admin, limit=2, sort=by_model)
    assert page.next_cursor is not None
    for other in (Sort.of(GRANT_SORTS, "model", "desc"), Sort.of(GRANT_SORTS, "starts", "asc")):
        with pytest.raises(Malformed):
            await queries.grants(world.gov_admin, limit=2, sort=other, cursor=page.next_cursor)
    usual = await queries.grants(world.gov_admin, limit=2)
    assert usual.next_cursor is not None
    with pytest.raises(Malformed):  # the newest-first cursor, the API's, is not one of a sorted list's either
        await queries.grants(world.gov_admin, limit=2, sort=by_model, cursor=usual.next_cursor)
    assert [g.id for g in (await queries.grants(world.gov_admin, limit=2, cursor=usual.next_cursor)).items]


async def test_grants_and_nominations_are_searched_within_what_one_may_see(api, world):
    scene = await cases_scene(world)
    grants = list((await world.unit.session.exec(select(AccessGrant))).all())
    await sign_in(api, world.gov_admin)
    for q, wanted in (("BOREALIS", lambda g: g.model_id == scene["borealis"].id),
                      ("north", lambda g: g.organisation_id == scene["north"].id),
                      ("security office", lambda g: g.organisation_id == world.government.id),
                      ("aiso", lambda g: g.organisation_id == world.government.id)):  # fmt: skip
        shown = await api.get("/console/grants", params={"q": q})
        assert set(ids_in(shown.text, "/console/grants")) == {g.id for g in grants if wanted(g)}, q
    for q in ("%", "_", "nobody"):
        for path in ("/console/grants", "/console/nominations"):
            shown = await api.get(path, params={"q": q})
            assert shown.status_code == 200 and ids_in(shown.text, path) == []
            assert f"Nothing matches “{q}”." in unescape(shown.text)
    south = await api.get("/console/nominations", params={"q": "SOUTH", "state": "pending"})
    assert len(ids_in(south.text, "/console/nominations")) == 1

    # A partner finds only its own: searching for the other partner, or its model, finds nothing.
    await sign_in(api, scene["north_admin"])
    assert ids_in((await api.get("/console/grants", params={"q": "southwind"})).text, "/console/grants") == []
    assert ids_in((await api.get("/console/nominations", params={"q": "south"})).text, "/console/nominations") == []
    theirs = await api.get("/console/grants", params={"q": "borealis"})
    assert set(ids_in(theirs.text, "/console/grants")) == {
        g.id for g in grants if g.organisation_id == scene["north"].id and g.model_id == scene["borealis"].id}
    everything = await api.get("/console/grants", params={"q": "a"})
    assert set(ids_in(everything.text, "/console/grants")) == {g.id for g in grants
                                                              if g.organisation_id == scene["north"].id}  # fmt: skip
    assert "Southwind" not in everything.text and "Security Office" not in everything.text


async def test_each_grant_row_says_what_it_is_and_links_the_grant(api, world):
    scene = await cases_scene(world)
    await sign_in(api, world.gov_admin)
    shown = await api.get("/console/grants", params={"q": "northwind", "sort": "starts", "dir": "asc"})
    grants = [g for g in (await world.unit.session.exec(select(AccessGrant))).all()
              if g.organisation_id == scene["north"].id]  # fmt: skip
    for grant in grants:
        model = "Atlas" if grant.model_id == world.model.id else "Borealis"
        text = f"{model}, {grant.starts_at:%Y-%m-%d %H:%M} → {grant.ends_at:%Y-%m-%d %H:%M} UTC"
        assert f'<a href="/console/grants/{grant.id}">{text}</a>' in shown.text
    assert f'<a href="/console/organisations/{scene["north"].id}">Northwind</a>' in shown.text
