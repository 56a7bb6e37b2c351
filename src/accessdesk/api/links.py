"""OpenAPI 3.1 links between the API's operations: where an id in one answer can be used next (a created
nomination's id → the nomination, its decisions, its withdrawal; a grant's id → its usability, …). Clients read
them as documentation; schemathesis' stateful phase follows them, and so reaches rows that exist.

Litestar has no way to declare links on a route, so they are added to the generated document, once, here: the
first time the document is asked for (``/schema/openapi.json``, :func:`linked_schema`), not when the app is built,
which would cost every start (every worker process, every test app) the whole document's generation."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Link, OpenAPIResponse

ID = "$response.body#/id"
# source operation, its success status → {link name: (target operation, {target parameter: runtime expression})}
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str]]]] = {}


def _links(source: str, status: str, targets: dict[str, str], parameter: str, expression: str = ID) -> None:
    LINKS.setdefault((source, status), {}).update(
        {name: (target, {parameter: expression}) for name, target in targets.items()}
    )


_NOMINATION = {"GetNomination": "ApiV1NominationsNominationIdGetNomination",
               "Decide": "ApiV1NominationsNominationIdDecisionsDecide",
               "Withdraw": "ApiV1NominationsNominationIdWithdrawalWithdraw"}  # fmt: skip
_GRANT = {"GetGrant": "ApiV1GrantsGrantIdGetGrant", "Usability": "ApiV1GrantsGrantIdUsabilityUsability",
          "Revoke": "ApiV1GrantsGrantIdRevocationRevoke", "RequestExtension": "ApiV1GrantsGrantIdExtensionsRequestExtension"}  # fmt: skip
_MODEL = {"GetModel": "ApiV1ModelsModelIdGetModel", "UpdateModel": "ApiV1ModelsModelIdUpdateModel",
          "Designate": "ApiV1ModelsModelIdDesignationDesignate", "MoveRelease": "ApiV1ModelsModelIdReleaseMoveRelease",
          "SwitchOff": "ApiV1ModelsModelIdSwitchOffSwitchOff"}  # fmt: skip
_ORGANISATION = {
    "GetOrganisation": "ApiV1OrganisationsOrganisationIdGetOrganisation",
    "ListUsers": "ApiV1OrganisationsOrganisationIdUsersListUsers",
    "AddUser": "ApiV1OrganisationsOrganisationIdUsersAddUser",
    "AddDomain": "ApiV1OrganisationsOrganisationIdDomainsAddDomain",
    "SubmitVetting": "ApiV1OrganisationsOrganisationIdVettingSubmissionSubmitVetting",
    "DecideVetting": "ApiV1OrganisationsOrganisationIdVettingDecisionDecideVetting",
    "ListAttestations": "ApiV1OrganisationsOrganisationIdAttestationsListAttestations",
    "Attest": "ApiV1OrganisationsOrganisationIdAttestationsAttest",
    "ListAcceptances": "ApiV1OrganisationsOrganisationIdNdaAcceptancesListAcceptances",
}
_NDA = {"GetNda": "ApiV1NdasTemplateIdGetNda", "AcceptNda": "ApiV1NdasTemplateIdAcceptancesAcceptNda"}

_links("ApiV1NominationsNominate", "201", _NOMINATION, "nomination_id")
_links("ApiV1NominationsNominationIdGetNomination", "200", _NOMINATION, "nomination_id")
_links("ApiV1NominationsNominationIdDecisionsDecide", "201", {"GetNomination": _NOMINATION["GetNomination"]},
       "nomination_id", "$response.body#/nomination/id")
_links("ApiV1NominationsNominationIdDecisionsDecide", "201", _GRANT, "grant_id", "$response.body#/grant_id")
_links("ApiV1NominationsNominationIdGetNomination", "200", {"GetGrant": _GRANT["GetGrant"]}, "grant_id",
       "$response.body#/grant_id")
_links("ApiV1GrantsGrantIdGetGrant", "200", _GRANT, "grant_id")
_links("ApiV1ModelsRegisterModel", "201", _MODEL, "model_id")
_links("ApiV1ModelsRegisterModel", "201", {"GetModelBySlug": "ApiV1ModelsBySlugGetModelBySlug"}, "slug",
       "$response.body#/slug")
_links("ApiV1ModelsModelIdGetModel", "200", _MODEL, "model_id")
_links("ApiV1OrganisationsCreateOrganisation", "201", _ORGANISATION, "organisation_id")
_links("ApiV1OrganisationsOrganisationIdGetOrganisation", "200", _ORGANISATION, "organisation_id")
_links("ApiV1OrganisationsOrganisationIdUsersAddUser", "201", {"UpdateUser": "ApiV1UsersUserIdUpdateUser"}, "user_id")
_links("ApiV1NdasPublishNda", "201", _NDA, "template_id")
_links("ApiV1MeMe", "200", {"GetMyOrganisation": _ORGANISATION["GetOrganisation"]}, "organisation_id",
       "$response.body#/organisation_id")


def link_operations(app: Litestar) -> None:
    """Add :data:`LINKS` to the app's OpenAPI document (every link must name operations that exist)."""
    document = app.openapi_schema
    operations = {op.operation_id: op for item in (document.paths or {}).values()
                  for op in (item.get, item.post, item.patch) if op is not None}  # fmt: skip
    for (source, status), links in LINKS.items():
        response = (operations[source].responses or {})[status]
        assert isinstance(response, OpenAPIResponse), f"{source} answers {status} by reference"
        response.links = {**(response.links or {}), **{
            name: Link(operation_id=target, parameters=parameters)
            for name, (target, parameters) in links.items() if target in operations
        }}  # fmt: skip
        missing = [target for target, _ in links.values() if target not in operations]
        assert not missing, f"links to operations that do not exist: {missing}"


def linked_schema(app: Litestar) -> dict[str, Any]:
    """The app's OpenAPI document, with :data:`LINKS`, as a dictionary: generated and linked the first time."""
    schema: dict[str, Any] | None = app.state.get("openapi_linked")
    if schema is None:
        link_operations(app)
        schema = app.state["openapi_linked"] = app.openapi_schema.to_schema()
    return schema


class LinkedJsonRenderPlugin(JsonRenderPlugin):
    """Serves ``/schema/openapi.json``: the document with its links (Litestar's own plugin would serve it without)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, linked_schema(request.app))
