"""``accessdesk audit checkpoint`` and ``audit verify --checkpoint``, as an operator runs them, on both databases:
what a checkpoint proves, and every way one is refused (clear message, non-zero exit, nothing written)."""

from __future__ import annotations

import asyncio
import base64
import functools
import http.server
import json
import os
import sqlite3
import subprocess
import threading

import asyncpg
import pytest
from joserfc.jwk import ECKey

from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.domain.unit import Unit
from tests.support.audit import rechain_from
from tests.support.cli import accessdesk as command


def scalar(run, sql: str):
    """One value read straight from the test's database."""
    if run.url.startswith("sqlite"):
        connection = sqlite3.connect(run.url.split(":///", 1)[1])
        try:
            return connection.execute(sql).fetchone()[0]
        finally:
            connection.close()

    async def read():
        connection = await asyncpg.connect(run.url.replace("+asyncpg", ""))
        try:
            return await connection.fetchval(sql)
        finally:
            await connection.close()

    return asyncio.run(read())


def written(run) -> tuple[int, int, int]:
    """What a refusal must leave as it was: checkpoints, audit keys, and the chain's head."""
    return (scalar(run, "SELECT count(*) FROM audit_checkpoints"), scalar(run, "SELECT count(*) FROM audit_keys"),
            scalar(run, "SELECT seq FROM audit_head"))  # fmt: skip


@pytest.fixture
def seeded(run, tmp_path):
    """A demo database with one checkpoint saved as cp.jwt and the audit keys saved as keys.json."""
    assert run("db", "upgrade").returncode == 0 and run("demo").returncode == 0
    taken = run("audit", "checkpoint", "--out", "cp.jwt")
    assert taken.returncode == 0, taken.stderr
    keys = run("audit", "keys")
    assert keys.returncode == 0, keys.stderr
    (tmp_path / "keys.json").write_text(keys.stdout)
    return run


def test_a_checkpoint_is_signed_saved_and_proves_the_chain(run, tmp_path):
    run("db", "upgrade")
    run("demo")
    none_yet = run("audit", "keys")
    assert none_yet.returncode == 1 and "no audit key yet" in none_yet.stderr
    taken = run("audit", "checkpoint", "--out", "cp.jwt")
    assert taken.returncode == 0, taken.stderr
    head = scalar(run, "SELECT seq FROM audit_head")
    assert f"checkpoint #{head} of " in taken.stdout and "saved in cp.jwt" in taken.stdout
    assert (tmp_path / "cp.jwt").read_text().count(".") == 2  # a compact JWS
    logged = [json.loads(line.split(": ", 1)[1]) for line in taken.stderr.splitlines() if "accessdesk.audit.checkpoint" in line]
    assert [(entry["event"], entry["seq"]) for entry in logged] == [("audit.checkpoint", head)]
    (tmp_path / "keys.json").write_text(run("audit", "keys").stdout)

    kept = run("audit", "verify", "--checkpoint", "cp.jwt", "--key", "keys.json")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "trusted as --key keys.json" in kept.stdout
    assert f"checkpoint #{head} of " in kept.stdout and f"holds: events #1–#{head} are all there" in kept.stdout
    assert f"audit chain intact: {head} events verified, up to the head (#{head})" in kept.stdout
    own = run("audit", "verify", "--checkpoint", "cp.jwt")
    assert own.returncode == 0 and "trusted as the database's own audit keys; pass --key" in own.stdout


def test_a_file_that_is_not_a_checkpoint_is_refused(seeded, tmp_path):
    before = written(seeded)
    (tmp_path / "junk.jwt").write_text("this is not a checkpoint\n")
    (tmp_path / "token.jwt").write_text(_resigned_header(tmp_path / "cp.jwt", typ="at+jwt"))
    for name, says in (("junk.jwt", "not an accessdesk audit checkpoint"), ("missing.jwt", "cannot read missing.jwt"),
                       ("token.jwt", "not an accessdesk audit checkpoint (its header says typ 'at+jwt'")):  # fmt: skip
        refused = seeded("audit", "verify", "--checkpoint", name)
        assert refused.returncode == 2 and says in refused.stderr, (name, refused.stderr)
    assert written(seeded) == before


def test_a_checkpoint_whose_claims_were_changed_fails_its_signature(seeded, tmp_path):
    before = written(seeded)
    header, payload, signature = (tmp_path / "cp.jwt").read_text().strip().split(".")
    claims = json.loads(_unb64(payload))
    claims["seq"] -= 5  # "the chain was shorter than that"
    (tmp_path / "forged.jwt").write_text(".".join([header, _b64(json.dumps(claims).encode()), signature]))
    refused = seeded("audit", "verify", "--checkpoint", "forged.jwt", "--key", "keys.json")
    assert refused.returncode == 2
    assert "does not verify with key" in refused.stderr and "the checkpoint was altered" in refused.stderr
    assert refused.stdout == "" and written(seeded) == before


def test_a_checkpoint_signed_with_a_key_not_trusted_is_refused(seeded, tmp_path):
    before = written(seeded)
    kid = json.loads((tmp_path / "keys.json").read_text())["keys"][0]["kid"]
    for name, key_id in (("stranger.json", "audit-stranger"), ("impostor.json", kid)):
        other = ECKey.generate_key("P-256", private=True).as_dict(private=False)
        (tmp_path / name).write_text(json.dumps({"keys": [{**other, "kid": key_id}]}))
    unknown = seeded("audit", "verify", "--checkpoint", "cp.jwt", "--key", "stranger.json")
    assert unknown.returncode == 2
    assert f"is signed with key {kid}, which is not among the keys trusted (--key stranger.json)" in unknown.stderr
    impostor = seeded("audit", "verify", "--checkpoint", "cp.jwt", "--key", "impostor.json")
    assert impostor.returncode == 2 and f"does not verify with key {kid} (--key impostor.json)" in impostor.stderr
    private = ECKey.generate_key("P-256", private=True).as_dict(private=True)
    (tmp_path / "private.json").write_text(json.dumps({**private, "kid": kid}))
    careless = seeded("audit", "verify", "--checkpoint", "cp.jwt", "--key", "private.json")
    assert careless.returncode == 2 and "holds a private key" in careless.stderr
    assert written(seeded) == before


def test_a_checkpoint_of_another_database_is_refused(tmp_path):
    def accessdesk(database: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ACCESSDESK_ENV": "development",
               "ACCESSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / database}"}
        return command(*args, env=env, cwd=tmp_path)

    for database in ("ours.db", "theirs.db"):
        assert accessdesk(database, "db", "upgrade").returncode == 0 and accessdesk(database, "demo").returncode == 0
    assert accessdesk("theirs.db", "audit", "checkpoint", "--out", "theirs.jwt").returncode == 0
    (tmp_path / "their-keys.json").write_text(accessdesk("theirs.db", "audit", "keys").stdout)
    accessdesk("ours.db", "audit", "checkpoint")

    by_our_keys = accessdesk("ours.db", "audit", "verify", "--checkpoint", "theirs.jwt")
    assert by_our_keys.returncode == 2 and "a checkpoint of another accessdesk" in by_our_keys.stderr
    by_their_keys = accessdesk("ours.db", "audit", "verify", "--checkpoint", "theirs.jwt", "--key", "their-keys.json")
    assert by_their_keys.returncode == 1
    assert "FAILS: it is of another audit trail (whose first event is" in by_their_keys.stdout


def test_a_broken_chain_is_not_signed_and_no_file_is_written(seeded, tmp_path, database):
    assert seeded("tokens", "create", "--email", "gia@oais.example").returncode == 0  # an event after the checkpoint
    if database.kind == "postgresql":
        async def tamper() -> None:
            connection = await asyncpg.connect(seeded.url.replace("+asyncpg", ""))
            try:
                await connection.execute("SET session_replication_role = replica")
                await connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = (SELECT seq FROM audit_head)")
            finally:
                await connection.close()

        asyncio.run(tamper())
    else:
        connection = sqlite3.connect(seeded.url.split(":///", 1)[1])
        connection.executescript("DROP TRIGGER audit_events_no_update; "
                                 "UPDATE audit_events SET actor = 'mallory' WHERE seq = (SELECT seq FROM audit_head);")  # fmt: skip
        connection.close()
    before = written(seeded)
    refused = seeded("audit", "checkpoint", "--out", "after.jwt")
    assert refused.returncode == 1 and "content does not match its hash" in refused.stderr
    assert "nothing signed" in refused.stderr and not (tmp_path / "after.jwt").exists()
    assert written(seeded) == before


def test_checkpoints_and_keys_are_read_from_urls(seeded, tmp_path):
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        (tmp_path / "bundle.json").write_text(json.dumps({"audit": {"checkpoint": {"jws": (tmp_path / "cp.jwt").read_text().strip()}}}))
        fetched = seeded("audit", "verify", "--checkpoint", f"{base}/bundle.json", "--key", f"{base}/keys.json")
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        assert f"trusted as --key {base}/keys.json" in fetched.stdout and "holds" in fetched.stdout
        gone = seeded("audit", "verify", "--checkpoint", f"{base}/gone.jwt")
        assert gone.returncode == 2 and f"cannot fetch {base}/gone.jwt" in gone.stderr
    finally:
        server.shutdown()


@pytest.mark.postgres_only
def test_what_a_superuser_hides_from_verify_a_checkpoint_names(seeded, tmp_path):
    """DESIGN.md §3 rule 8: a superuser deletes the newest events and rolls the head back, or rewrites an event
    and re-chains everything after it. Plain ``audit verify`` finds a chain that holds, which is why checkpoints
    must be kept outside the database; ``audit verify --checkpoint`` names what was lost or changed."""
    first = scalar(seeded, "SELECT seq FROM audit_head")
    for email in ("gia@oais.example", "gia@oais.example", "gia@oais.example"):
        assert seeded("tokens", "create", "--email", email).returncode == 0
    assert seeded("audit", "checkpoint", "--out", "later.jwt").returncode == 0
    last = scalar(seeded, "SELECT seq FROM audit_head")
    url = seeded.url.replace("+asyncpg", "")

    async def superuser(*statements: str) -> None:
        connection = await asyncpg.connect(url)
        try:
            async with connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                for statement in statements:
                    await connection.execute(statement)
        finally:
            await connection.close()

    # (b) an event between the two checkpoints rewritten, every hash after it recomputed, the head set to match
    async def rewrite() -> None:
        engine = make_engine(seeded.url)
        try:
            async with make_sessionmaker(engine)() as session:
                await rechain_from(Unit(session, SystemClock()), first + 2, actor="someone else")
        finally:
            await engine.dispose()

    asyncio.run(rewrite())
    plain = seeded("audit", "verify")
    assert plain.returncode == 0 and "intact" in plain.stdout  # the database's own word is not enough
    caught = seeded("audit", "verify", "--checkpoint", "later.jwt", "--key", "keys.json")
    assert caught.returncode == 1
    assert (f"FAILS: the chain up to #{last} holds together but no longer ends in the hash signed for it: an event "
            f"from #{first + 1} to #{last} was altered or replaced") in caught.stdout
    assert f"the chain still ends in the hash signed for #{first}" in caught.stdout  # the stored checkpoint narrows it
    assert seeded("audit", "verify", "--checkpoint", "cp.jwt", "--key", "keys.json").returncode == 0

    # (a) the newest events deleted and the head rolled back to the last one kept
    keep = first - 2
    asyncio.run(superuser(
        f"DELETE FROM audit_events WHERE seq > {keep}",
        f"UPDATE audit_head SET seq = e.seq, prev_hash = e.prev_hash, hash = e.hash FROM audit_events e "
        f"WHERE e.seq = {keep}",
    ))  # fmt: skip
    plain = seeded("audit", "verify")
    assert plain.returncode == 0 and f"up to the head (#{keep})" in plain.stdout
    for name, signed in (("cp.jwt", first), ("later.jwt", last)):
        caught = seeded("audit", "verify", "--checkpoint", name, "--key", "keys.json")
        assert caught.returncode == 1
        assert f"FAILS: events #{keep + 1}–#{signed} are missing: the checkpoint records #{signed}" in caught.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _resigned_header(path, *, typ: str) -> str:
    """The checkpoint with another ``typ`` in its header (its signature no longer matters: it is refused first)."""
    header, payload, signature = path.read_text().strip().split(".")
    return ".".join([_b64(json.dumps({**json.loads(_unb64(header)), "typ": typ}).encode()), payload, signature])
