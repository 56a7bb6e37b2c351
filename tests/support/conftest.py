"""The OIDC provider fixtures for the tests in this folder (other folders import them the same way)."""

from tests.support.oidc import oidc_provider, oidc_providers  # noqa: F401
