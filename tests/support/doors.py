"""Tables of hostile requests at a door (``Door``), and the two ways of knocking on every door of a table: the JSON
API with each person's token (:func:`api_answers`) and the console with each person's session and CSRF token
(:func:`page_answers`). Each returns the doors that answered other than expected, in words; the caller holds the
table inside ``unchanged()`` so that the whole table is proved to change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.api import API
from tests.support.console import csrf_in, sign_in, words_of


@dataclass(frozen=True)
class Door:
    name: str
    path: str  # under /api/v1 for the API; the whole path for the console
    status: int
    code: str  # the problem's code (API), or words the page must show (console)
    body: Any = None  # the JSON body or form (POST), or the query (GET)
    who: str = "dev_admin"  # a key of the table's people
    method: str = "POST"  # or PATCH (a JSON body too) or GET


async def tokens_of(bearer, people: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each person's API headers, made with the ``bearer`` fixture (before the table is held in ``unchanged()``: a
    token is a row), by the name the doors use."""
    return {name: await bearer(person) for name, person in people.items()}


async def api_answers(api, tokens: dict[str, dict[str, str]], doors: list[Door]) -> list[str]:
    """Each door asked through the API with ``tokens[door.who]``: the wrong answers."""
    wrong: list[str] = []
    for door in doors:
        response = await api.request(door.method, f"{API}{door.path}", headers=tokens[door.who],
                                     json=door.body if door.method != "GET" else None,
                                     params=door.body if door.method == "GET" else None)  # fmt: skip
        if response.status_code != door.status or response.json().get("code") != door.code:
            wrong.append(f"{door.name}: {response.status_code} {response.text[:200]}")
    return wrong


async def signed_in(api, people: dict[str, Any], doors: list[Door]) -> dict[str, tuple[dict[str, str], str]]:
    """Each person the doors name, signed in once: their session cookies and CSRF token."""
    signed: dict[str, tuple[dict[str, str], str]] = {}
    for name in {door.who for door in doors}:
        api.cookies.clear()
        await sign_in(api, people[name])
        signed[name] = (dict(api.cookies), csrf_in((await api.get("/console")).text))
    return signed


async def page_answers(api, signed: dict[str, tuple[dict[str, str], str]], doors: list[Door]) -> list[str]:
    """Each door asked through the console in ``door.who``'s session (see :func:`signed_in`): every answer must be
    a page (never JSON, never a 5xx) with the door's status and words; the wrong ones."""
    wrong: list[str] = []
    for door in doors:
        cookies, csrf = signed[door.who]
        api.cookies.clear()
        api.cookies.update(cookies)
        if door.method == "GET":
            response = await api.get(door.path, params=door.body, follow_redirects=False)
        else:
            response = await api.post(door.path, data={"csrf": csrf, **door.body}, follow_redirects=False)
        if not response.headers.get("content-type", "").startswith("text/html"):
            wrong.append(f"{door.name}: not a page ({response.headers.get('content-type')})")
        elif response.status_code != door.status or door.code not in words_of(response.text):
            wrong.append(f"{door.name}: {response.status_code} {words_of(response.text)[-300:]}")
    return wrong
