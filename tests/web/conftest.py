"""The console is served by the same app as the API: reuse its fixtures."""

from tests.api.conftest import api, settle, unchanged  # noqa: F401
