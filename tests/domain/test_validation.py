"""Input the domain refuses whoever calls it (API, CLI, Slack): names, slugs, channels, cursors."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import Invalid, NotFound
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.pagination import decode_cursor, encode_cursor
from accessdesk.domain.queries import Queries
from accessdesk.domain.vocabulary import OrgKind


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("forged", [
    cursor_of(["2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]),  # no offset
    cursor_of(["0001-01-01T00:00:00+01:00", "00000000-0000-0000-0000-000000000000"]),  # no UTC form
    cursor_of(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
    cursor_of({"a": 1}),
    "%%%",
])  # fmt: skip
def test_a_forged_cursor_is_refused_naming_the_cursor(forged):
    with pytest.raises(Invalid) as caught:
        decode_cursor(forged)
    assert caught.value.field == "cursor"


def test_a_cursor_round_trips():
    at, id_ = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, id_)) == (at, id_)


@pytest.mark.parametrize(("field", "value"), [
    ("slug", "atlas\n"), ("slug", "Atlas"), ("slug", "-atlas"), ("codename", "X" * 101), ("name", " "),
    ("slack_channels", ["C0123456\n"]), ("resource", "http://api.acme.test/m"), ("developer_quorum", 0),
])  # fmt: skip
async def test_a_model_with_a_malformed_field_is_refused(world, refused, field, value):
    fields = {"slug": "hermes", "name": "Hermes", "codename": "HERMES", "tier": "standard",
              "planned_release_at": world.now + timedelta(days=40), "resource": "https://api.acme.test/m",
              field: value}  # fmt: skip
    error = await refused(Invalid, FrontierModels(world.unit).register(actor=world.dev_admin, **fields))
    assert error.field == field


@pytest.mark.parametrize(("field", "value"), [("slug", "lab\n"), ("domains", ["lab_example"]), ("country", "us")])
async def test_an_organisation_with_a_malformed_field_is_refused(world, refused, field, value):
    fields = {"kind": OrgKind.PARTNER, "name": "Lab", "slug": "lab", field: value}
    error = await refused(Invalid, Organisations(world.unit).create(actor=world.gov_admin, **fields))
    assert error.field == field


async def test_an_nda_version_must_be_major_dot_minor(world, refused):
    error = await refused(Invalid, Compliance(world.unit).publish_nda(actor=world.dev_admin, title="NDA", body="x",
                                                                      version="2.0\n"))  # fmt: skip
    assert error.field == "version"


async def test_partners_see_a_model_specific_nda_only_once_involved_with_the_model(world):
    partner, admin = await world.partner(nda=False)
    secret = await world.new_model("secret")
    specific = await Compliance(world.unit).publish_nda(actor=world.dev_admin, title="Secret NDA", body="s",
                                                        version="1.0", model_id=secret.id)  # fmt: skip
    queries = Queries(world.unit)
    assert [t.id for t in await queries.nda_templates(admin)] == [world.nda.id]  # the developer-wide one
    with pytest.raises(NotFound):
        await queries.nda_template(admin, specific.id)
    await world.nominate(partner, model=secret)
    assert {t.id for t in await queries.nda_templates(admin)} == {world.nda.id, specific.id}


@pytest.mark.parametrize("at", [datetime(2027, 1, 1), datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))])
async def test_an_instant_must_be_aware_and_representable_in_utc(world, refused, at):
    start = world.now + timedelta(days=1)
    error = await refused(Invalid, CoSelection(world.unit).nominate(
        actor=world.dev_nominator, model_id=world.model.id, organisation_id=world.government.id, starts_at=start,
        ends_at=at, actions=["invoke"], justification="x"))  # fmt: skip
    assert error.field == "ends_at"
    usability_error = await refused(Invalid, Grants(world.unit).usability(uuid.uuid4(), at=at))
    assert usability_error.field == "at"
