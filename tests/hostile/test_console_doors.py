"""Hostile and malformed console forms, as one table: a forged or missing CSRF token, control characters and huge
values, ids that are not UUIDs, unknown fields, forms sent as something else. Each is refused on a 4xx page that
says why (never a 5xx, never a traceback in the log), and the whole table changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tests.support.console import csrf_in, sign_in
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


def doors(ids: dict[str, str]) -> list[Door]:
    decision = f"/console/nominations/{ids['nomination']}/decision"
    new_nomination = {"csrf": CSRF, "model_id": ids["model"], "organisation_id": ids["organisation"],
                      "starts_at": "2027-01-10", "ends_at": "2027-01-20", "actions": "invoke",
                      "justification": "Pre-release evaluation."}  # fmt: skip
    credentials = f"/console/grants/{ids['grant']}/credentials"
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
            if door.content is not None:
                response = await api.post(door.action, content=door.content, follow_redirects=False,
                                          headers={"Content-Type": door.content_type or ""})  # fmt: skip
            else:
                data = {k: csrf if v is CSRF else v for k, v in door.data.items()}
                response = await api.post(door.action, data=data, follow_redirects=False)
            wrong.extend(f"{door.name}: {problem}" for problem in misfits(response, door))
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
        elif door.says not in response.text:
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
