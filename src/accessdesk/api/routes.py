"""Route decorators for the JSON API: Litestar's, with the problem responses every endpoint can give documented
in OpenAPI (so clients and fuzzers know what a refusal looks like)."""

from __future__ import annotations

from functools import partial

import litestar
from litestar.openapi.datastructures import ResponseSpec

from accessdesk.api.errors import PROBLEM
from accessdesk.api.schemas import Problem


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM)


PROBLEMS = {
    400: _problem("Malformed request: a field is missing, of the wrong type or out of range (errors[].field)"),
    401: _problem("No personal API token, or one that is unknown, expired or revoked"),
    403: _problem("Not allowed: missing permission, own nomination (self_decision), wrong side, partner"),
    404: _problem("Unknown, or not visible to the caller"),
    409: _problem("Conflict with the current state: not_pending, already_decided, already_revoked, …"),
    422: _problem("The request breaks a rule (errors[].field names the field)"),
}

get = partial(litestar.get, responses=PROBLEMS)
post = partial(litestar.post, responses=PROBLEMS)
patch = partial(litestar.patch, responses=PROBLEMS)
