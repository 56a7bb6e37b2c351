"""On the embedded default (SQLite) each server process keeps clients, grants and verified tokens in memory too, and
forgets them whenever any connection, of this process or another, has committed to the file since the last
request (``PRAGMA data_version``; oauth/cache.py). What must hold: a change is refused at the very next request,
whoever committed it, and nothing is counted twice or lost."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys

import pytest

from accessdesk.db.tables import OAuthClient
from accessdesk.domain.grants import Grants
from accessdesk.oauth.cache import OAuthCache
from tests.support.api import client_of, url_of
from tests.support.oauth import basic

pytestmark = pytest.mark.sqlite_only

PATIENCE_SECONDS = 20
TOKEN = {"grant_type": "client_credentials"}


def _file(engine) -> str:
    return url_of(engine).split(":///", 1)[1]


async def _until_watching(cache: OAuthCache) -> None:
    for _ in range(PATIENCE_SECONDS * 20):
        if cache.enabled:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the cache never started watching the file")


async def test_answers_come_from_memory_until_a_commit_in_this_process_then_the_change_is_refused_at_once(
    app, engine, world, credentials, live_grant
):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cached")
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    async with client_of(app, world) as client:  # runs the lifespan: the watcher starts
        cache: OAuthCache = app.state.oauth_cache
        await _until_watching(cache)
        auth = basic(issued.client.client_id, issued.secret)
        token = (await client.post("/oauth/token", data=TOKEN, headers=auth)).json()["access_token"]
        introspect, gateway_auth = {"token": token}, basic(gateway.client.client_id, gateway.secret)
        assert (await client.post("/oauth/introspect", data=introspect, headers=gateway_auth)).json()["active"]
        assert live_grant.id in cache.grants and issued.client.client_id in cache.clients  # kept

        await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=live_grant.id, reason="incident")
        await world.commit()

        # No waiting: the very next request sees the commit.
        assert (await client.post("/oauth/introspect", data=introspect, headers=gateway_auth)).json() == {"active": False}
        refused = await client.post("/oauth/token", data=TOKEN, headers=auth)
        assert refused.status_code == 400 and "revoked" in refused.json()["error_description"]


async def test_a_commit_by_another_process_on_the_same_file_is_seen_by_the_next_request(
    app, engine, world, credentials, live_grant
):
    """Someone runs a second process on the embedded file (a worker, a CLI command): its commits count too."""
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cached")
    async with client_of(app, world) as client:
        await _until_watching(app.state.oauth_cache)
        auth = basic(issued.client.client_id, issued.secret)
        assert (await client.post("/oauth/token", data=TOKEN, headers=auth)).status_code == 200
        assert (await client.post("/oauth/token", data=TOKEN, headers=auth)).status_code == 200  # from memory
        # Another process cuts the credential (as plain SQL: what matters here is who commits, not how).
        script = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                  "c.execute(\"UPDATE oauth_clients SET revoked_at = '2026-01-01 00:00:00.000000' WHERE client_id = ?\", "
                  "(sys.argv[2],)); c.commit()")  # fmt: skip
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", script, _file(engine), issued.client.client_id],
                                check=True)  # fmt: skip
        refused = await client.post("/oauth/token", data=TOKEN, headers=auth)
        assert refused.status_code == 401 and "revoked" in refused.json()["error_description"]


async def test_issuances_are_counted_in_memory_and_none_is_lost_when_the_app_stops(
    app, engine, world, credentials, live_grant
):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="counted")
    async with client_of(app, world) as client:
        await _until_watching(app.state.oauth_cache)
        auth = basic(issued.client.client_id, issued.secret)
        for _ in range(5):
            assert (await client.post("/oauth/token", data=TOKEN, headers=auth)).status_code == 200
    # The lifespan's end flushed what was counted since the last flush.
    with sqlite3.connect(_file(engine)) as connection:
        count = connection.execute("SELECT token_count FROM oauth_clients WHERE client_id = ?",
                                   (issued.client.client_id,)).fetchone()[0]  # fmt: skip
        per_day = connection.execute(
            "SELECT SUM(d.count) FROM token_issuance_days d JOIN oauth_clients c ON c.id = d.client_pk "
            "WHERE c.client_id = ?", (issued.client.client_id,),
        ).fetchone()[0]  # fmt: skip
    assert count == per_day == 5


async def test_a_file_that_cannot_be_watched_leaves_the_cache_off_and_every_request_reads(
    app, engine, world, credentials, live_grant, monkeypatch
):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="uncached")
    async with client_of(app, world) as client:
        cache: OAuthCache = app.state.oauth_cache
        await _until_watching(cache)

        def broken() -> int:
            raise sqlite3.OperationalError("disk I/O error")

        cache.watch(broken)  # as if the file became unreadable under the running app
        auth = basic(issued.client.client_id, issued.secret)
        assert (await client.post("/oauth/token", data=TOKEN, headers=auth)).status_code == 200
        assert not cache.enabled and not cache.clients  # it stopped keeping anything
        await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=live_grant.id, reason="incident")
        await world.commit()
        assert (await client.post("/oauth/token", data=TOKEN, headers=auth)).status_code == 400
    row = await world.get(OAuthClient, issued.client.id)
    assert row.revoked_at is None  # the grant was revoked, not the credential
