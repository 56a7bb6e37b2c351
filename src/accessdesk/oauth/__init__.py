"""accessdesk as an OAuth 2.0 authorization server (client credentials, RFC 9068 JWT access tokens, DPoP,
introspection, revocation, JWKS, metadata). An adapter like ``api`` and ``web``: the rules live in the domain."""
