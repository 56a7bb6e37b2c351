"""Token issuance: accessdesk's ``POST /oauth/token`` ÷ the reference OAuth server's, side by side in one run (goal
≥ 1.5).

The reference is panva's ``oidc-provider`` (npm 9.x, Node), a certified OpenID provider we did not write, started by
``bench/oauth_peer.mjs`` on loopback and configured to issue what we issue: ``client_credentials`` with
``client_secret_basic``, an RFC 9068 JWT access token signed ES256 for one resource (RFC 8707) and one scope, the
same lifetime, nothing stored. accessdesk serves from a fresh database (PostgreSQL by default) holding, made
through the domain services, a government grant whose window has started and one credential for it
(``bench.oauth_throughput.prepare``), in one server process (``--workers`` for more), embedded worker off.

Both are asked the same form (``grant_type``, ``resource``, ``scope``) with the same kind of Basic header. Before
anything is measured each answer is checked: 200, a Bearer token whose ES256 signature verifies against the
server's own JWKS, ``typ`` ``at+jwt``, the resource as audience, the scope, the lifetime. ``wrk`` then drives each in
turn, alternating, for ``--seconds`` per round; an error answer during a run fails the benchmark. The ratio uses
the median of the rounds.

    .venv/bin/python -m bench.oauth_vs_peer [--db postgresql|sqlite] [--seconds 8] [--rounds 3] [--connections 16]
                                            [--workers 1]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``) and Node.js with the repository's npm packages (``make
node_modules/.package-lock.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from accessdesk.settings import Settings
from bench._common import db_argument, fresh_database, server, stop, verdict
from bench.oauth_throughput import ISSUER, basic, lua, prepare, run_wrk

GOAL = 1.5
RESOURCE = "https://api.acme.test/models/atlas"  # the benchmark model's (bench.oauth_throughput.prepare)
SCOPE = "model:atlas:invoke"
PEER_ISSUER = "https://peer.bench.example"
REPOSITORY = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def peer(ttl: int, workdir: Path) -> Iterator[tuple[str, str, str]]:
    """oidc-provider on a loopback port; yields (base URL, client_id, client_secret) and stops it afterwards."""
    key = ECKey.generate_key("P-256", private=True)
    client_id, secret = "bench-peer", secrets.token_urlsafe(32)
    config = {"issuer": PEER_ISSUER, "client_id": client_id, "client_secret": secret, "resource": RESOURCE,
              "scope": SCOPE, "ttl": ttl, "jwk": {**key.as_dict(private=True), "kid": "peer-1", "use": "sig",
                                                  "alg": "ES256"}}  # fmt: skip
    path = workdir / "peer.json"
    path.write_text(json.dumps(config))
    log = (workdir / "peer.log").open("w")
    process = subprocess.Popen(["node", str(REPOSITORY / "bench" / "oauth_peer.mjs"), "--config", str(path)],
                               cwd=REPOSITORY, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                               text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"oidc-provider did not start: {(workdir / 'peer.log').read_text()}")
        yield line.split()[1], client_id, secret
    finally:
        stop(process)
        log.close()


def checked_token(token_url: str, jwks_url: str, authorization: str, *, issuer: str, ttl: int) -> dict[str, Any]:
    """Ask for a token as the benchmark will and check the answer is one: a benchmark of an error is worth nothing."""
    answer = httpx.post(token_url, data={"grant_type": "client_credentials", "resource": RESOURCE, "scope": SCOPE},
                        headers={"authorization": authorization})  # fmt: skip
    if answer.status_code != 200:
        raise RuntimeError(f"{token_url} refused the benchmark's request: {answer.status_code} {answer.text}")
    body = answer.json()
    keys = KeySet.import_key_set(httpx.get(jwks_url).json())
    token = jwt.decode(body["access_token"], keys, algorithms=["ES256"])
    claims = token.claims
    problems = [
        what for what, ok in [
            ("token_type Bearer", body.get("token_type") == "Bearer"), ("typ at+jwt", token.header.get("typ") == "at+jwt"),
            ("iss", claims.get("iss") == issuer), ("aud", claims.get("aud") == RESOURCE),
            ("scope", claims.get("scope") == SCOPE == body.get("scope")), ("lifetime", claims["exp"] - claims["iat"] == ttl),
            ("jti", bool(claims.get("jti"))), ("client_id", bool(claims.get("client_id"))),
        ] if not ok
    ]  # fmt: skip
    if problems:
        raise RuntimeError(f"{token_url} answered a token that is not what the benchmark compares: {problems}\n{claims}")
    return claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.oauth_vs_peer", description=__doc__.splitlines()[0])
    db_argument(parser)
    parser.add_argument("--seconds", type=int, default=8, help="duration of each wrk run (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each server, alternating (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="accessdesk server processes (default 1)")
    args = parser.parse_args(argv)
    for tool, how in (("wrk", "apt-get install -y wrk"), ("node", "install Node.js 20 and run make node_modules/.package-lock.json")):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed ({how})", file=sys.stderr)
            return 2
    settings = Settings(base_url=ISSUER)
    ttl = settings.token_ttl_seconds
    print(f"oauth_vs_peer on {args.db}: accessdesk ({args.workers} process(es)) and oidc-provider (one Node process), "
          f"wrk -t1 -c{args.connections}, {args.rounds} rounds of {args.seconds} s each")  # fmt: skip
    results: dict[str, list[float]] = {"accessdesk": [], "oidc-provider": []}
    with fresh_database(args.db, "peer") as url, tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        fixture = asyncio.run(prepare(url, settings))
        with server(url, "peer", env={"ACCESSDESK_BASE_URL": ISSUER}, workers=args.workers) as base, \
                peer(ttl, workdir) as (peer_base, peer_id, peer_secret):  # fmt: skip
            ours = basic(fixture.client_id, fixture.secret)
            theirs = basic(peer_id, peer_secret)
            checked_token(f"{base}/oauth/token", f"{base}/oauth/jwks", ours, issuer=ISSUER, ttl=ttl)
            checked_token(f"{peer_base}/token", f"{peer_base}/jwks", theirs, issuer=PEER_ISSUER, ttl=ttl)
            body = f"grant_type=client_credentials&resource={RESOURCE}&scope={SCOPE}".replace(":", "%3A").replace("/", "%2F")
            form = {"content-type": "application/x-www-form-urlencoded"}
            runs = {}
            for name, endpoint, authorization in (("accessdesk", f"{base}/oauth/token", ours),
                                                  ("oidc-provider", f"{peer_base}/token", theirs)):  # fmt: skip
                script = workdir / f"{name}.lua"
                script.write_text(lua("POST", body, {**form, "Authorization": authorization}))
                runs[name] = (endpoint, script)
                run_wrk(endpoint, script, seconds=2, connections=args.connections, threads=1)  # warm-up
            started = time.perf_counter()
            for round_ in range(args.rounds):
                for name in (list(runs) if round_ % 2 == 0 else list(reversed(runs))):
                    endpoint, script = runs[name]
                    results[name].append(run_wrk(endpoint, script, seconds=args.seconds, connections=args.connections,
                                                 threads=1))  # fmt: skip
            print(f"  measured in {time.perf_counter() - started:.0f} s")
    print()
    for name, label in (("accessdesk", "accessdesk POST /oauth/token"), ("oidc-provider", "oidc-provider POST /token")):
        rounds = "  ".join(f"{r:7.0f}" for r in results[name])
        print(f"  {label:32s} median {statistics.median(results[name]):7.0f} req/s   rounds {rounds}")
    ratio = statistics.median(results["accessdesk"]) / statistics.median(results["oidc-provider"])
    print()
    print(f"token issuance, accessdesk ÷ oidc-provider: {ratio:.2f}   goal ≥ {GOAL}   {verdict(ratio, GOAL, at_least=True)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
