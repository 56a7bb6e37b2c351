"""The fuzz tests' app (test_fuzz.py and test_stateful_fuzz.py): a fixture local to this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from schemathesis.python import asgi

from accessdesk.app import create_app
from accessdesk.settings import Settings
from tests.support.api import app_engine, bearer_headers, mint_token, url_of
from tests.support.scenes import government_grant, partner, partner_grant, partner_member, pending


@pytest.fixture
async def served(engine, clock, world) -> AsyncIterator[tuple[Any, list[dict[str, str]], dict[str, list[str]]]]:
    """The app on a database with rows in every table; the headers of two admins, the government's (who sees the
    most: every model, nomination and grant, the registry, the audit trail) and the developer's (the only one who
    registers and changes models and publishes NDAs); and ids that exist, by parameter name."""
    government = await government_grant(world)
    organisation, _, grant = await partner_grant(world)
    waiting, _ = await partner(world, vetted=False)
    nomination = await pending(world, waiting, start=timedelta(days=3))
    member = await partner_member(world, organisation)
    identities = [bearer_headers(await mint_token(world, admin)) for admin in (world.gov_admin, world.dev_admin)]
    await world.commit()  # schemathesis sends the requests: no client of ours to commit the world first
    known = {
        "organisation_id": [world.government.id, world.developer.id, organisation.id, waiting.id],
        "model_id": [world.model.id],
        "nomination_id": [nomination.id, grant.nomination_id],
        "grant_id": [government.id, grant.id],
        "template_id": [world.nda.id],
        "user_id": [member.user_id, world.gov_member.user_id],
        "slug": [world.model.slug],
    }
    served_engine = app_engine(url_of(engine))
    app = create_app(Settings(database_url=url_of(engine)), clock=clock, engine=served_engine, embedded_worker=False)
    yield app, identities, {name: [str(v) for v in values] for name, values in known.items()}
    asgi.shutdown_lifespans()  # schemathesis keeps an app's lifespan running until told otherwise
    await served_engine.dispose()
