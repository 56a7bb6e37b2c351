"""What anyone may fetch to check the audit trail later: the public keys that sign its checkpoints, and the latest
checkpoint. A host outside the database's reach that fetches both on a schedule, and keeps what it fetched, holds
what ``accessdesk audit verify --checkpoint FILE --key FILE`` needs (README, "Audit trail")."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State

from accessdesk.domain.checkpoints import latest, published_keys
from accessdesk.request_scope import request_unit

KEYS_PATH = "/.well-known/accessdesk-audit-keys"
CHECKPOINT_PATH = "/.well-known/accessdesk-audit-checkpoint"


class AuditPublicationController(Controller):
    include_in_schema = False

    @get(KEYS_PATH)
    async def keys(self, request: Request[Any, Any, Any], state: State) -> Response[dict[str, Any]]:
        """Every key that ever signed a checkpoint (none is withdrawn: checkpoints are kept for years)."""
        found = await published_keys(request_unit(request, state))
        return Response({"keys": found}, headers={"Cache-Control": "public, max-age=300"},
                        media_type="application/jwk-set+json")  # fmt: skip

    @get(CHECKPOINT_PATH)
    async def checkpoint(self, request: Request[Any, Any, Any], state: State) -> Response[str]:
        """The checkpoint signed last, as its compact JWS; 404 before the first."""
        found = await latest(request_unit(request, state))
        if found is None:
            return Response("no checkpoint has been signed yet\n", status_code=404, media_type="text/plain")
        return Response(found.jws + "\n", headers={"Cache-Control": "no-cache"}, media_type="application/jwt")
