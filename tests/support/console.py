"""Driving the console the way a browser does: sign in (development), open a page, post its form with the page's
CSRF token; and what its credential pages show once."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
from sqlmodel import select

from accessdesk.db.tables import OAuthClient

SECRET = re.compile(r"adks_[A-Za-z0-9_-]{43}")  # a client secret, as the console shows it once


def match_in(pattern: re.Pattern[str] | str, text: str, group: int = 0) -> str:
    """What ``pattern`` matches first in ``text`` (or its ``group``): the page must show it."""
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in the page"
    return match.group(group)


def words_of(html: str) -> str:
    """A page's text as a reader sees it: tags dropped, entities decoded, white space collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split()).replace(" .", ".").replace(" ,", ",")


def csrf_in(html: str) -> str:
    return match_in(r'name="csrf" value="([^"]+)"', html, 1)


async def sign_in(api, person, *, next_: str = "") -> httpx.Response:
    page = await api.get("/login")
    assert page.status_code == 200
    return await api.post("/login/dev", data={"csrf": csrf_in(page.text), "user_id": str(person.user_id),
                                              "next": next_}, follow_redirects=False)  # fmt: skip


async def open_as(api, person, path: str):
    """Sign ``person`` in and open ``path``; the page must render."""
    await sign_in(api, person)
    shown = await api.get(path, follow_redirects=False)
    assert shown.status_code == 200, shown.text
    return shown


async def submit(api, person, page: str, action: str, data: dict[str, Any]):
    """Sign ``person`` in, open ``page`` and post ``data`` to ``action`` with the page's CSRF token, confirming
    when the form asks "are you sure?" first."""
    shown = await open_as(api, person, page)
    return await post_confirmed(api, action, {"csrf": csrf_in(shown.text), **data})


async def clients(world) -> list[OAuthClient]:
    """Every OAuth client, as the database has it now."""
    rows = (await world.unit.session.exec(select(OAuthClient).execution_options(populate_existing=True))).all()
    return list(rows)


CONFIRMATION_FORM = re.compile(r'<form method="post" action="([^"]+)" class="buttons">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def is_confirmation(response: httpx.Response) -> bool:
    """A weighty form's first answer: the page that says what will happen and asks to confirm (nothing done yet)."""
    return response.status_code == 200 and "What will happen" in response.text


async def confirm(api, shown: httpx.Response) -> httpx.Response:
    """Press the confirmation page's "Yes": its form, posted as it stands."""
    action, inner = CONFIRMATION_FORM.search(shown.text).groups()  # type: ignore[union-attr]  # a confirmation page
    fields: dict[str, list[str]] = {}
    for name, value in HIDDEN.findall(inner):
        fields.setdefault(unescape(name), []).append(unescape(value))
    return await api.post(unescape(action), data=fields, follow_redirects=False)


async def post_confirmed(api, path: str, data: dict[str, Any]) -> httpx.Response:
    """Post a weighty form and, when it asks "are you sure?", confirm: the answer to the confirmed form (or the
    refusal the first step gave)."""
    first = await api.post(path, data=data, follow_redirects=False)
    return await confirm(api, first) if is_confirmation(first) else first

