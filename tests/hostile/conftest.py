"""The hostile tests drive the same app as the API and console tests: reuse their fixtures."""

from tests.api.conftest import api, bearer, settle, unchanged  # noqa: F401
