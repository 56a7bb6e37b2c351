"""The partner portal: a partner's own organisation — vetting, NDA clickwrap, attestations."""

from __future__ import annotations

from litestar import Controller

from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS


class PortalController(Controller):
    path = "/console/my-organisation"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES
