"""Driving console forms the way a browser does: sign in, open the page, post its form with the page's CSRF token."""

from __future__ import annotations

from typing import Any

from tests.web.test_sessions import csrf_in, sign_in


async def open_as(api, person, path: str):  # type: ignore[no-untyped-def]
    """Sign ``person`` in and open ``path``; the page must render."""
    await sign_in(api, person)
    shown = await api.get(path, follow_redirects=False)
    assert shown.status_code == 200, shown.text
    return shown


async def submit(api, person, page: str, action: str, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Sign ``person`` in, open ``page`` and post ``data`` to ``action`` with the page's CSRF token."""
    shown = await open_as(api, person, page)
    return await api.post(action, data={"csrf": csrf_in(shown.text), **data}, follow_redirects=False)
