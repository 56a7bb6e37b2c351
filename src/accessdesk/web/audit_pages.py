"""Console pages for the audit trail: the filterable list, the chain's verification status, exports, and each
grant's evidence bundle."""

from __future__ import annotations

from litestar import Controller

from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS


class AuditPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES
