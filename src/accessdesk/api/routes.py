"""Route decorators for the JSON API: Litestar's, with the problem responses every endpoint can give documented
in OpenAPI (so clients and fuzzers know what a refusal looks like)."""

from __future__ import annotations

from functools import partial

import litestar
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from accessdesk.api.errors import PROBLEM
from accessdesk.api.schemas import Problem


def _problem(description: str) -> ResponseSpec:
    # No generated examples: Litestar would put Problem instances, not JSON, into the document's dict form.
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM, generate_examples=False)


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


def allow_every_method(app: litestar.Litestar) -> None:
    """Make each path's automatic ``OPTIONS`` answer list every method the path takes.

    Litestar (2.25) answers ``OPTIONS`` from a handler whose ``Allow`` header reads the methods of the route object
    that created it. When a second handler joins the same path later during registration (a controller's ``GET``
    and ``POST`` on ``/``, mounted through a router), Litestar builds a new route object but keeps the first
    ``OPTIONS`` handler, still bound to the old route: ``OPTIONS /api/v1/nominations`` said ``GET, OPTIONS``. Bind
    each one to the route that serves it."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            fn = handler.fn
            if handler.http_methods != {"OPTIONS"} or fn.__name__ != "options_handler" or not fn.__closure__:
                continue
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__, strict=True):
                if name == "self" and isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route
