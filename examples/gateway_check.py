"""Check an accessdesk access token the way an AI developer's gateway would: locally against the JWKS, and, with
``--introspect``, by asking accessdesk too (which also sees grants revoked or suspended since issuance).

    python examples/gateway_check.py --issuer https://accessdesk.example \\
        --audience https://api.acme.example/models/atlas --token "$TOKEN" --action invoke \\
        --introspect --client-id adk_c_gateway --client-secret "$GATEWAY_SECRET"

A DPoP-bound token also needs ``--dpop-proof``, ``--method`` and ``--url`` (the request the proof was made for).
Exits 0 when every check that was asked for accepts the token, 1 when one refuses it, 2 when accessdesk cannot be
reached.
"""

from __future__ import annotations

import argparse
import json
import sys

from accessdesk.gateway import IntrospectionFailed, Introspector, KeysUnavailable, TokenRejected, TokenVerifier


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", required=True, help="accessdesk's issuer URL; the JWKS is at <issuer>/oauth/jwks")
    parser.add_argument("--audience", required=True, help="the model's resource URI, as in the token's aud")
    parser.add_argument("--token", required=True, help="the access token")
    parser.add_argument("--action", help="require the scope model:<slug>:<action>, e.g. invoke")
    parser.add_argument("--model-slug", help="the model's slug, when the token's scopes name several models")
    parser.add_argument("--dpop-proof", help="the DPoP header sent with a DPoP-bound token")
    parser.add_argument("--method", default="POST", help="the request's method, for the DPoP proof")
    parser.add_argument("--url", help="the request's URL, for the DPoP proof")
    parser.add_argument("--introspect", action="store_true", help="ask accessdesk too (RFC 7662)")
    parser.add_argument("--client-id", help="the gateway credential's client id, for --introspect")
    parser.add_argument("--client-secret", help="the gateway credential's secret, for --introspect")
    options = parser.parse_args(argv)
    if options.introspect and not (options.client_id and options.client_secret):
        parser.error("--introspect needs --client-id and --client-secret")
    if options.dpop_proof and not options.url:
        parser.error("--dpop-proof needs --url")
    return options


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    issuer = options.issuer.rstrip("/")
    verifier = TokenVerifier(issuer=options.issuer, audience=options.audience)
    refused = False
    try:
        verified = verifier.verify(options.token, action=options.action, model_slug=options.model_slug,
                                   dpop_proof=options.dpop_proof, http_method=options.method, http_url=options.url)  # fmt: skip
    except TokenRejected as refusal:
        refused = True
        print(f"local:      refused ({refusal.reason}): {refusal.message}")
        print(f"            answer {refusal.status_code}, WWW-Authenticate: {refusal.www_authenticate()}")
    except KeysUnavailable as error:
        print(f"local:      cannot check: {error}", file=sys.stderr)
        return 2
    else:
        print(f"local:      accepted: client {verified.client_id}, grant {verified.grant_id}, "
              f"expires {verified.expires_at:%Y-%m-%d %H:%M:%S} UTC, {'DPoP-bound' if verified.dpop_bound else 'bearer'}")  # fmt: skip
        print(f"            scopes: {' '.join(sorted(verified.scopes))}")

    if options.introspect:
        introspector = Introspector(introspection_uri=f"{issuer}/oauth/introspect", client_id=options.client_id,
                                    client_secret=options.client_secret)  # fmt: skip
        try:
            answer = introspector.introspect(options.token)
        except IntrospectionFailed as error:
            print(f"introspect: cannot ask: {error}", file=sys.stderr)
            return 2
        # An active answer is about the token, not about this gateway: its audience must still be ours.
        ours = answer.get("active") is True and options.audience in _audiences(answer.get("aud"))
        refused = refused or not ours
        print(
            f"introspect: {'active' if ours else 'inactive' if not answer.get('active') else 'active, but not for this audience'}"
        )
        print("            " + json.dumps(answer, sort_keys=True))
    return 1 if refused else 0


def _audiences(aud: object) -> list[object]:
    return aud if isinstance(aud, list) else [aud]


if __name__ == "__main__":
    sys.exit(main())
