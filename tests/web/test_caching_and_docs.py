"""What a browser or a cache may keep: nothing answered to a signed-in request (after sign-out, Back must not show
the audit trail from the cache), while public pages and static files stay cacheable; and the API's documentation
is the OpenAPI document alone, under the same CSP as every page, with nothing loaded from a CDN."""

from __future__ import annotations

import pytest

from tests.support.api import API, bearer_headers, mint_token
from tests.support.console import csrf_in, sign_in

CONSOLE_PAGES = ["/console", "/console/audit", "/console/nominations", "/console/grants", "/console/models",
                 "/console/organisations", "/console/audit/export.json"]  # fmt: skip


async def test_every_answer_to_a_signed_in_browser_is_no_store(api, world):
    await sign_in(api, world.gov_admin)
    for path in CONSOLE_PAGES:
        response = await api.get(path, follow_redirects=False)
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["cache-control"] == "no-store", path
    missing = await api.get("/console/grants/00000000-0000-0000-0000-000000000000", follow_redirects=False)
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"


async def test_after_sign_out_the_pages_seen_before_are_not_cached(api, world):
    await sign_in(api, world.gov_admin)
    audit = await api.get("/console/audit", follow_redirects=False)
    assert audit.headers["cache-control"] == "no-store"
    done = await api.post("/logout", data={"csrf": csrf_in(audit.text)}, follow_redirects=False)
    assert done.headers["cache-control"] == "no-store"
    again = await api.get("/console/audit", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


async def test_every_api_answer_to_a_bearer_is_no_store(api, world):
    headers = bearer_headers(await mint_token(world, world.gov_admin))
    for path in ("/me", "/nominations", "/audit/events", "/grants/not-a-uuid", "/no-such-thing"):
        response = await api.get(f"{API}{path}", headers=headers)
        assert response.headers["cache-control"] == "no-store", (path, response.status_code)
    refused = await api.get(f"{API}/me", headers={"Authorization": "Bearer garbage"})
    assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"


async def test_public_pages_and_static_files_stay_cacheable(api, world):
    for path in ("/", "/login", "/healthz"):
        assert "no-store" not in (await api.get(path)).headers.get("cache-control", ""), path
    await sign_in(api, world.gov_admin)
    stylesheet = await api.get("/static/console.css")
    assert stylesheet.status_code == 200
    assert "no-store" not in stylesheet.headers.get("cache-control", "")


@pytest.mark.parametrize("path", ["/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc",
                                  "/schema/scalar", "/schema/oauth2-redirect.html"])  # fmt: skip
async def test_no_documentation_ui_is_served(api, path):
    response = await api.get(path)
    assert response.status_code == 404
    assert "cdn" not in response.text.lower()


async def test_the_openapi_document_stays_and_carries_the_csp(api):
    for path in ("/schema/openapi.json", "/schema"):
        response = await api.get(path)
        assert response.status_code == 200, path
        assert response.json()["paths"], path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "object-src 'none'" in csp, path
    home = await api.get("/")
    assert "/schema/swagger" not in home.text and "/schema/openapi.json" in home.text
