"""Hostile and malformed console forms, as tables: a forged or missing CSRF token, control characters and huge
values, ids that are not UUIDs, unknown fields, forms sent as something else; a weighty form not sent from its
confirmation page, a kill switch not given its model's exact slug; searches and orders no list offers; an
attestation form with one bad field. Each is refused on a 4xx page that says why, or answered by the page it asks
for (never a 5xx, never a traceback in the log), and each whole table changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import select

from accessdesk.db.tables import AccessGrant, Attestation, FrontierModel
from accessdesk.domain.queries import GRANT_SORTS, MODEL_SORTS, NOMINATION_SORTS, ORGANISATION_SORTS
from accessdesk.domain.vocabulary import Area
from tests.support.console import csrf_in, sign_in, words_of
from tests.support.scenes import partner, pending, usable_grant

NUL, ESC = "\x00", "\x1b"
CSRF = object()  # stands for the session's own token in a row's form


@dataclass(frozen=True)
class Door:
    name: str
    action: str
    status: int
    says: str  # words the refusal page must show
    data: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = None
    content_type: str | None = None
    page: bool = True  # the answer is a console page (False: a path the router does not know, a problem)
    method: str = "POST"  # GET: ``data`` is the address's query


async def knock(api: Any, door: Door, csrf: str) -> Any:
    """Send ``door``'s request as a browser (or someone posing as one) would, with the session's CSRF token where
    the row's form carries :data:`CSRF`."""
    if door.method == "GET":
        return await api.get(door.action, params=door.data, follow_redirects=False)
    if door.content is not None:
        return await api.post(door.action, content=door.content, follow_redirects=False,
                              headers={"Content-Type": door.content_type or ""})  # fmt: skip
    data = {k: csrf if v is CSRF else v for k, v in door.data.items()}
    return await api.post(door.action, data=data, follow_redirects=False)


def doors(ids: dict[str, str]) -> list[Door]:
    decision = f"/console/nominations/{ids['nomination']}/decision"
    new_nomination = {"csrf": CSRF, "model_id": ids["model"], "organisation_id": ids["organisation"],
                      "starts_at": "2027-01-10", "ends_at": "2027-01-20", "actions": "invoke",
                      "justification": "Pre-release evaluation."}  # fmt: skip
    credentials = f"/console/grants/{ids['grant']}/credentials"
    new_cohort = {"csrf": CSRF, "model_id": ids["model"], "name": "Wave 1", "entries": "northwind.test",
                  "starts_at": "2027-01-10", "ends_at": "2027-01-20", "actions": "invoke",
                  "justification": "Pre-release evaluation."}  # fmt: skip
    return [
        Door("no CSRF token", decision, 403, "did not come from accessdesk", {"verdict": "approve"}),
        Door("a wrong CSRF token", decision, 403, "did not come from accessdesk", {"csrf": "forged", "verdict": "approve"}),
        Door("an empty CSRF token", "/console/organisations/new", 403, "did not come from accessdesk",
             {"csrf": "", "name": "Southwind", "slug": "southwind"}),
        Door("NUL in a justification", "/console/nominations/new", 400, "control character",
             {**new_nomination, "justification": f"fine{NUL}"}),
        Door("an escape sequence in a name", "/console/organisations/new", 400, "control character",
             {"csrf": CSRF, "name": f"{ESC}[2JSouthwind", "slug": "southwind"}),
        Door("NUL in a field's name", decision, 400, "control character",
             {"csrf": CSRF, "verdict": "approve", f"reason{NUL}": "x"}),
        Door("NUL in a credential's name", credentials, 400, "control character",
             {"csrf": CSRF, "mode": "secret", "name": f"cluster{NUL}"}),
        Door("a 1 MB reason", decision, 422, "reason", {"csrf": CSRF, "verdict": "reject", "reason": "x" * 1_000_000}),
        Door("a 1 MB name", "/console/organisations/new", 422, "name",
             {"csrf": CSRF, "name": "x" * 1_000_000, "slug": "southwind"}),
        Door("JSON nested 5,000 deep as a credential's key", credentials, 422, "JSON",
             {"csrf": CSRF, "mode": "jwk", "name": "signed", "jwks": "[" * 5000 + "]" * 5000}),
        Door("a model id that is not a UUID", "/console/nominations/new", 422, "choose a model",
             {**new_nomination, "model_id": "atlas'; --"}),
        Door("a date that is not one", "/console/nominations/new", 422, "YYYY-MM-DD",
             {**new_nomination, "starts_at": "next tuesday"}),
        Door("a path id that is not a UUID", "/console/nominations/not-a-uuid/decision", 404, "",
             {"csrf": CSRF, "verdict": "approve"}, page=False),
        Door("only unknown fields", decision, 400, "approve or reject", {"csrf": CSRF, "approved": "yes", "as": "gail"}),
        Door("an unknown verdict", decision, 400, "approve or reject", {"csrf": CSRF, "verdict": "approve!"}),
        Door("the form as JSON", decision, 415, "web form", content=b'{"csrf": "x", "verdict": "approve"}',
             content_type="application/json"),
        Door("the form as text/plain", decision, 415, "web form", content=b"csrf=x&verdict=approve",
             content_type="text/plain"),
        Door("the form with no Content-Type", decision, 415, "web form", content=b"csrf=x&verdict=approve",
             content_type=""),
        # cohorts (issue 16)
        Door("NUL in a cohort's name", "/console/cohorts/new", 400, "control character",
             {**new_cohort, "name": f"Wave{NUL}"}),
        Door("NUL in a pasted list of members", "/console/cohorts/new", 400, "control character",
             {**new_cohort, "entries": f"northwind.test\n{NUL}"}),
        Door("a cohort's model id that is not a UUID", "/console/cohorts/new", 422, "model",
             {**new_cohort, "model_id": "atlas'; --"}),
        Door("a cohort's date that is not one", "/console/cohorts/new", 422, "YYYY-MM-DD",
             {**new_cohort, "starts_at": "next tuesday"}),
        Door("a cohort decision on a path id that is not a UUID", "/console/cohorts/not-a-uuid/decision", 404, "",
             {"csrf": CSRF}, page=False),
    ]


async def test_every_hostile_form_is_refused_on_a_4xx_page_and_changes_nothing(api, world, unchanged, clock):
    grant = await usable_grant(world, clock)
    organisation, _ = await partner(world)
    waiting = await pending(world, organisation, start=timedelta(days=3))
    ids = {"model": str(world.model.id), "organisation": str(organisation.id), "nomination": str(waiting.id),
           "grant": str(grant.id)}  # fmt: skip
    await sign_in(api, world.gov_admin)
    csrf = csrf_in((await api.get("/console")).text)
    table = doors(ids)
    wrong: list[str] = []
    async with unchanged():
        for door in table:
            wrong.extend(f"{door.name}: {problem}" for problem in misfits(await knock(api, door, csrf), door))
    assert not wrong, "\n".join(wrong)
    assert len(table) >= 15


def misfits(response: Any, door: Door) -> list[str]:
    if response.status_code >= 500:
        return [f"server error {response.status_code}: {response.text[:300]}"]
    found = []
    if response.status_code != door.status:
        found.append(f"status {response.status_code}, expected {door.status}: {response.text[:300]}")
    if door.page:
        if not response.headers.get("content-type", "").startswith("text/html"):
            found.append(f"not a page: {response.headers.get('content-type')}")
        elif door.says not in words_of(response.text):
            found.append(f"the page does not say {door.says!r}")
    if response.headers.get("cache-control") != "no-store":
        found.append("an answer to a signed-in browser without Cache-Control: no-store")
    return found


async def test_a_multipart_form_is_a_web_form_too(api, world):
    """Refusing other media types must not refuse the other kind of web form a browser sends."""
    organisation, _ = await partner(world)
    waiting = await pending(world, organisation, start=timedelta(days=3))
    await sign_in(api, world.gov_admin)
    csrf = csrf_in((await api.get("/console")).text)
    response = await api.post(f"/console/nominations/{waiting.id}/decision", follow_redirects=False,
                              files={"csrf": (None, csrf), "verdict": (None, "approve"),
                                     "reason": (None, json.dumps("fine")), "confirmed": (None, "yes")})  # fmt: skip
    assert response.status_code == 303, response.text


# What ``confirmed`` may hold besides the confirmation page's own "yes" (None: the field is absent). Surrounding
# white space is trimmed from every console field, so " yes " is the page's "yes" and not in this table.
NOT_CONFIRMED: list[tuple[str, Any]] = [
    ("absent", None), ("empty", ""), ("no", "no"), ("YES", "YES"), ("Yes", "Yes"), ("true", "true"), ("1", "1"),
    ("on", "on"), ("y", "y"), ("yes!", "yes!"), ("ye s", "ye s"), ("a zero-width space after yes", "yes\u200b"),
    ("full-width yes", "\uff59\uff45\uff53"), ("Cyrillic e in yes", "y\u0435s"), ("yes, quoted", '"yes"'),
    ("SQL", "yes' OR '1'='1"), ("markup", "<b>yes</b>"), ("1 MB", "yes" * 350_000),
    ("a second value after a first that is not yes", ["no", "yes"]),
]  # fmt: skip


def confirmation_doors(ids: dict[str, str]) -> list[Door]:
    """Each weighty form, sent with each value of ``confirmed`` that is not its page's: the page that asks first
    (200, "What will happen"), nothing carried out; with a control character, refused as any form is."""
    forms = {
        "an approval": (f"/console/nominations/{ids['nomination']}/decision", {"verdict": "approve"}),
        "a rejection": (f"/console/nominations/{ids['nomination']}/decision", {"verdict": "reject", "reason": "No."}),
        "a withdrawal": (f"/console/nominations/{ids['own_nomination']}/withdrawal", {"withdraw_reason": "Moot."}),
        "a revocation": (f"/console/grants/{ids['grant']}/revocation", {"reason": "Leaked."}),
    }  # fmt: skip
    table = []
    for form_name, (action, fields) in forms.items():
        for name, value in NOT_CONFIRMED:
            confirmed = {} if value is None else {"confirmed": value}
            table.append(Door(f"{form_name}, confirmed {name}", action, 200, "What will happen",
                              {"csrf": CSRF, **fields, **confirmed}))  # fmt: skip
        table.append(Door(f"{form_name}, confirmed yes and NUL", action, 400, "control character",
                          {"csrf": CSRF, **fields, "confirmed": f"yes{NUL}"}))  # fmt: skip
    return table


async def test_a_weighty_form_is_carried_out_only_from_its_confirmation_page(api, world, unchanged, clock):
    grant = await usable_grant(world, clock)
    organisation, _ = await partner(world)
    waiting = await pending(world, organisation, start=timedelta(days=3))
    other, _ = await partner(world)
    own = await pending(world, other, start=timedelta(days=3), by=world.gov_admin)
    ids = {"nomination": str(waiting.id), "own_nomination": str(own.id), "grant": str(grant.id)}
    await sign_in(api, world.gov_admin)
    csrf = csrf_in((await api.get("/console")).text)
    table = confirmation_doors(ids)
    wrong: list[str] = []
    async with unchanged():  # no decision, no withdrawal, no revocation, no audit event
        for door in table:
            response = await knock(api, door, csrf)
            problems = misfits(response, door)
            # The page asks once more with its own "yes"; what was sent as ``confirmed`` is not carried along.
            if not problems and door.status == 200 and response.text.count('name="confirmed"') != 1:
                problems.append("the confirmation page carries another confirmed field")
            wrong.extend(f"{door.name}: {problem}" for problem in problems)
    assert not wrong, "\n".join(wrong)
    assert len(table) == 4 * (len(NOT_CONFIRMED) + 1)


SLUG_REFUSED = "type the model's slug, atlas, to confirm"
# What the kill switch's ``confirm_slug`` may hold instead of ``atlas`` (None: the field is absent). Case, white
# space inside, look-alike letters: all refused. White space around it is trimmed, as from every console field.
NOT_THE_SLUG: list[tuple[str, Any]] = [
    ("absent", None), ("empty", ""), ("blank", "   "), ("its name", "Atlas"), ("upper case", "ATLAS"),
    ("one capital", "atlaS"), ("cut short", "atla"), ("one letter more", "atlass"), ("twice", "atlasatlas"),
    ("a space inside", "at las"), ("a tab inside", "at\tlas"), ("a line break inside", "atlas\natlas"),
    ("a no-break space inside", "at\u00a0las"), ("a zero-width space after", "atlas\u200b"),
    ("a zero-width joiner inside", "at\u200dlas"), ("Cyrillic a", "\u0430tlas"), ("full-width", "\uff41\uff54\uff4c\uff41\uff53"),
    ("a right-to-left override", "\u202esalta"), ("LIKE's wildcard", "%"), ("LIKE's one character", "_____"),
    ("a regular expression", "a.*"), ("SQL", "atlas' OR '1'='1"), ("markup", "<b>atlas</b>"),
    ("the model's id", "MODEL_ID"), ("another model's slug", "hermes"), ("1 MB", "atlas" * 200_000),
    ("a second value after a wrong one", ["Atlas", "atlas"]),
]  # fmt: skip


async def test_the_kill_switch_takes_its_models_exact_slug_or_revokes_nothing(api, world, unchanged, clock):
    grant = await usable_grant(world, clock)
    organisation, _ = await partner(world)
    await pending(world, organisation, start=timedelta(days=3))
    await world.new_model("hermes")
    await sign_in(api, world.gov_admin)  # a fresh sign-in: the kill switch would otherwise ask for one first
    csrf = csrf_in((await api.get(f"/console/models/{world.model.id}")).text)
    action = f"/console/models/{world.model.id}/switch-off"
    table = [Door(f"the slug {name}", action, 422, SLUG_REFUSED,
                  {"csrf": CSRF, "reason": "Weights leaked.",
                   **({} if value is None else {"confirm_slug": str(world.model.id) if value == "MODEL_ID" else value})})
             for name, value in NOT_THE_SLUG]  # fmt: skip
    table.append(Door("the slug and NUL", action, 400, "control character",
                      {"csrf": CSRF, "reason": "Weights leaked.", "confirm_slug": f"atlas{NUL}"}))  # fmt: skip
    wrong: list[str] = []
    async with unchanged():  # no grant revoked, no nomination closed, the model not switched off, no audit event
        for door in table:
            wrong.extend(f"{door.name}: {problem}" for problem in misfits(await knock(api, door, csrf), door))
    assert not wrong, "\n".join(wrong)
    assert (await world.get(AccessGrant, grant.id)).revoked_at is None
    assert (await world.get(FrontierModel, world.model.id)).killed_at is None


# Each list, its heading and the sort keys it offers.
LISTS = {"/console/organisations": ("Organisations", ORGANISATION_SORTS),
         "/console/models": ("Frontier models", MODEL_SORTS),
         "/console/nominations": ("Nominations", NOMINATION_SORTS), "/console/grants": ("Grants", GRANT_SORTS)}  # fmt: skip
NOTHING = "Nothing matches"
# A search, sort and direction no list offers, and what the page answers: (name, query, status, words). Names and
# slugs hold no "%" nor "_": a search that took them as LIKE's wildcards would find every row.
HOSTILE_QUERIES: list[tuple[str, dict[str, str], int, str]] = [
    ("LIKE's any string", {"q": "%"}, 200, NOTHING), ("LIKE's one character", {"q": "_"}, 200, NOTHING),
    ("wildcards around a letter", {"q": "%a%"}, 200, NOTHING), ("LIKE's escape", {"q": "\\"}, 200, NOTHING),
    ("an escaped wildcard", {"q": "\\%"}, 200, NOTHING), ("a bracket class", {"q": "[a-z]"}, 200, NOTHING),
    ("SQL", {"q": "' OR 1=1 --"}, 200, NOTHING), ("markup", {"q": "<script>alert(1)</script>"}, 200, NOTHING),
    ("10,000 characters", {"q": "x" * 10_000}, 200, NOTHING), ("an emoji", {"q": "\U0001f600"}, 200, NOTHING),
    ("letters with accents", {"q": "Zürich Ærø"}, 200, NOTHING), ("a right-to-left override", {"q": "\u202eatlas"}, 200, NOTHING),
    ("a dotted capital I", {"q": "\u0130"}, 200, NOTHING), ("a lone combining accent", {"q": "\u0301"}, 200, NOTHING),
    ("NUL", {"q": NUL}, 400, "control character"), ("NUL inside", {"q": f"a{NUL}b"}, 400, "control character"),
    ("an escape sequence", {"q": f"{ESC}[2J"}, 400, "control character"),
    ("an unknown sort key", {"sort": "password"}, 200, ""), ("a column's SQL as the sort", {"sort": "name; DROP TABLE organisations"}, 200, ""),
    ("a 10,000-character sort", {"sort": "name" * 2500}, 200, ""), ("NUL as the sort", {"sort": NUL, "dir": NUL}, 200, ""),
    ("an unknown direction", {"sort": "name", "dir": "sideways"}, 200, ""), ("SQL as the direction", {"dir": "desc; --"}, 200, ""),
    ("a unicode sort", {"sort": "n\u0430me", "dir": "\u202edesc"}, 200, ""),
    ("a cursor that is not one", {"cursor": "' OR 1=1"}, 400, "not a cursor"), ("NUL as a cursor", {"cursor": NUL}, 400, "not a cursor"),
]  # fmt: skip
# A search that finds rows on every list (every model, nomination and grant here is Atlas's; Acme AI, "A" too).
FINDS_ROWS = {"q": "A"}


async def test_hostile_searches_and_orders_answer_a_clear_page_and_change_nothing(api, world, unchanged, clock):
    await usable_grant(world, clock)
    organisation, _ = await partner(world)
    await pending(world, organisation, start=timedelta(days=3))
    await sign_in(api, world.gov_admin)
    table = [Door(f"{path} with {name}", path, status, says, query, method="GET")
             for path in LISTS for name, query, status, says in HOSTILE_QUERIES]  # fmt: skip
    wrong: list[str] = []
    async with unchanged():
        for door in table:
            response = await knock(api, door, "")
            problems = misfits(response, door)
            heading, keys = LISTS[door.action]
            if door.status == 200 and not problems:
                if f"<h1>{heading}</h1>" not in response.text:
                    problems.append("not the list's page")
                if door.data.get("sort") not in keys and 'aria-sort="' in response.text:
                    problems.append("sorted by a key the list does not offer")
            wrong.extend(f"{door.name}: {problem}" for problem in problems)
        for path in LISTS:  # the search itself works: the same lists find rows
            found = await api.get(path, params=FINDS_ROWS)
            if found.status_code != 200 or NOTHING in found.text:
                wrong.append(f"{path} finds nothing for {FINDS_ROWS}: {found.status_code}")
    assert not wrong, "\n".join(wrong)


ATTEST = "/console/my-organisation/attestations"


def every_area(world) -> dict[str, Any]:
    """The attestation form with all six areas in order, as an admin would fill it in."""
    form: dict[str, Any] = {"csrf": CSRF, "valid_until": (world.now + timedelta(days=180)).date().isoformat()}
    for area in Area:
        form[f"{area.value}.statement"] = f"We keep to {area.value}."
        form[f"{area.value}.evidence_ref"] = f"EV-{area.value}"
    return form


def attestation_doors(world) -> list[Door]:
    """The form with five areas in order and one bad field (or a bad date for all): refused, nothing recorded."""
    good = every_area(world)
    blank_areas = {k: "" for k in good if "." in k}

    def later(days: int) -> str:
        return (world.now + timedelta(days=days)).date().isoformat()

    rows: list[tuple[str, dict[str, Any], int, str]] = [
        ("NUL in one area's statement", {"use.statement": f"Fine.{NUL}"}, 400, "control character"),
        ("an escape sequence in one area's evidence", {"cybersecurity.evidence_ref": f"{ESC}[2J"}, 400, "control character"),
        ("NUL in a field's name", {f"use.statement{NUL}": "x"}, 400, "control character"),
        ("NUL in the date", {"valid_until": f"{later(30)}{NUL}"}, 400, "control character"),
        ("a 10,001-character statement", {"ip_protection.statement": "x" * 10_001}, 422, "a statement of 1 to 10000"),
        ("a 1 MB statement", {"nondisclosure.statement": "x" * 1_000_000}, 422, "a statement of 1 to 10000"),
        ("a 501-character evidence reference", {"insider_risk.evidence_ref": "e" * 501}, 422, "at most 500 characters"),
        ("evidence and a blank statement", {"confidentiality.statement": " \t "}, 422, "a statement of 1 to 10000"),
        ("no area at all", blank_areas, 422, "at least one requirement area"),
        ("only an area that is none", {**blank_areas, "astrology.statement": "Stars."}, 422, "at least one requirement area"),
        ("no date", {"valid_until": ""}, 422, "enter the date"),
        ("a date that is not one", {"valid_until": "next tuesday"}, 422, "YYYY-MM-DD"),
        ("30 February", {"valid_until": f"{world.now.year + 1}-02-30"}, 422, "YYYY-MM-DD"),
        ("SQL after the date", {"valid_until": f"{later(30)}'; --"}, 422, "YYYY-MM-DD"),
        ("a hundred digits", {"valid_until": "2" * 100}, 422, "YYYY-MM-DD"),
        ("an hour that is none", {"valid_until": f"{later(30)} 25:00"}, 422, "YYYY-MM-DD"),
        ("a date in the past", {"valid_until": "2020-01-01"}, 422, "valid until a future date"),
        ("the first day of year 1", {"valid_until": "0001-01-01"}, 422, "valid until a future date"),
        ("more than two years on", {"valid_until": later(800)}, 422, "at most two years"),
        ("the last day of year 9999", {"valid_until": "9999-12-31"}, 422, "at most two years"),
    ]  # fmt: skip
    return [Door(name, ATTEST, status, says, {**good, **change}) for name, change, status, says in rows]


async def test_one_bad_field_in_the_attestation_form_records_no_attestation_at_all(api, world, unchanged):
    organisation, admin = await partner(world, attested=False)
    await sign_in(api, admin)
    csrf = csrf_in((await api.get(ATTEST)).text)
    table = attestation_doors(world)
    wrong: list[str] = []
    async with unchanged():  # no attestation, no audit event, no grant refreshed
        for door in table:
            wrong.extend(f"{door.name}: {problem}" for problem in misfits(await knock(api, door, csrf), door))
    assert not wrong, "\n".join(wrong)
    assert await world.count(Attestation) == 0
    done = await knock(api, Door("all six in order", ATTEST, 303, "", every_area(world)), csrf)
    assert done.status_code == 303 and await world.count(Attestation) == 6  # the same form, good, goes through


async def test_the_attestation_form_attests_for_ones_own_organisation_whatever_it_names(api, world):
    organisation, admin = await partner(world, attested=False)
    other, _ = await partner(world, attested=False)
    await sign_in(api, admin)
    csrf = csrf_in((await api.get(ATTEST)).text)
    forged = {**every_area(world), "organisation_id": str(other.id), "organisation": str(other.id),
              "attested_by": str(world.gov_admin.user_id)}  # fmt: skip
    done = await knock(api, Door("another organisation named", ATTEST, 303, "", forged), csrf)
    assert done.status_code == 303
    made = (await world.unit.session.exec(select(Attestation).execution_options(populate_existing=True))).all()
    assert len(made) == 6 and {(a.organisation_id, a.attested_by) for a in made} == {(organisation.id, admin.user_id)}
