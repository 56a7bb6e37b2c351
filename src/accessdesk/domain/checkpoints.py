"""Signed checkpoints of the audit chain: the "signed tree heads" of transparency logs.

A checkpoint is a compact JWS (ES256) of ``{"seq", "hash", "time", "log", "iss"}``: the chain ended at event
``seq`` whose hash was ``hash``, at ``time``. ``log`` names the trail, as the id of its first event, so that a
checkpoint of one database is never taken for another's. The key that signs it is kept for this one purpose
(``audit_keys``), sealed like the token-signing keys, and its public half is published at
``/.well-known/accessdesk-audit-keys`` and written into the checkpoint's header (``jwk``) so that a checkpoint
explains itself; a verifier still trusts only a key it holds (domain.checkpoint_proof).

A checkpoint is only worth what is kept where the database's owner cannot reach: every checkpoint goes out as a
structured log line and, when a channel is configured, a Slack message (through the outbox). Before signing, the
chain is verified from the latest checkpoint on: a chain that no longer holds is never vouched for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from accessdesk.crypto import (
    ALGORITHM,
    BadSignature,
    Signer,
    new_signing_key,
    seal,
    thumbprint,
    unseal,
    unverified,
    verify,
)
from accessdesk.db.tables import AuditCheckpoint, AuditEvent, AuditKey
from accessdesk.domain import audit
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import DomainError
from accessdesk.domain.unit import Unit

log = logging.getLogger("accessdesk.audit.checkpoint")

TYP = "accessdesk-audit-checkpoint+jwt"
# Checkpointers (the workers, the CLI) take turns: a transaction-scoped advisory lock needs no privilege on any
# table (``FOR UPDATE`` would need UPDATE on one, which the runtime role has on no audit table but the head).
_LOCK = int.from_bytes(hashlib.sha256(b"accessdesk audit checkpoints").digest()[:8], "big", signed=True)


class CheckpointRefused(DomainError):
    """The chain does not hold from the latest checkpoint to the head: nothing is signed."""

    code = "checkpoint_refused"


class NotACheckpoint(DomainError):
    """What was given is not an accessdesk audit checkpoint."""

    code = "not_a_checkpoint"


class UntrustedCheckpoint(DomainError):
    """The checkpoint's signature does not verify with any key the verifier trusts."""

    code = "untrusted_checkpoint"


def _sealing_label(kid: str) -> str:
    return f"audit-checkpoint-key:{kid}"


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint as read from its JWS (``trusted_by``: where the key that verified it came from, once it has)."""

    seq: int
    hash: str
    time: datetime
    log: str | None
    issuer: str
    kid: str
    jws: str
    key: dict[str, Any] | None = None
    trusted_by: str | None = None

    @property
    def link(self) -> audit.Link:
        return audit.Link(self.seq, self.hash)

    def title(self) -> str:
        return f"checkpoint #{self.seq} of {self.time:%Y-%m-%d %H:%M:%S} UTC"

    def record(self) -> dict[str, Any]:
        """JSON-ready, as it is published (log line, Slack, evidence bundles)."""
        return {"seq": self.seq, "hash": self.hash, "time": _instant(self.time), "log": self.log,
                "issuer": self.issuer, "kid": self.kid, "jws": self.jws}  # fmt: skip


def parse(text: str) -> Checkpoint:
    """Read a checkpoint without checking its signature (see :func:`verified`). Raises NotACheckpoint."""
    value = text.strip()
    try:
        header, claims = unverified(value)
        if header.get("typ") != TYP or header.get("alg") != ALGORITHM:
            raise ValueError(f"its header says typ {header.get('typ')!r}, alg {header.get('alg')!r}")
        seq, hash_ = claims["seq"], claims["hash"]
        if not isinstance(seq, int) or seq < 0 or not isinstance(hash_, str) or len(hash_) != 64:
            raise ValueError("seq or hash is malformed")
        time = datetime.fromisoformat(str(claims["time"]).replace("Z", "+00:00"))
        return Checkpoint(seq=seq, hash=hash_, time=time, log=claims.get("log"), issuer=str(claims.get("iss", "")),
                          kid=str(header["kid"]), jws=value, key=header.get("jwk"))  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NotACheckpoint(f"not an accessdesk audit checkpoint ({exc or type(exc).__name__})") from exc


def verified(text: str, keys: list[dict[str, Any]], *, source: str) -> Checkpoint:
    """The checkpoint in ``text``, its signature checked with the one of ``keys`` (trusted, from ``source``) that
    its header names. The key written in the checkpoint itself proves nothing: anyone can write one."""
    checkpoint = parse(text)
    key = next((k for k in keys if k.get("kid") == checkpoint.kid), None)
    if key is None:
        raise UntrustedCheckpoint(f"{checkpoint.title()} is signed with key {checkpoint.kid}, which is not among "
                                  f"the keys trusted ({source}): a checkpoint of another accessdesk, or a key you "
                                  "have not said to trust (--key)")  # fmt: skip
    try:
        verify(checkpoint.jws, key)
    except BadSignature as exc:
        raise UntrustedCheckpoint(f"the signature of {checkpoint.title()} does not verify with key {checkpoint.kid} "
                                  f"({source}): the checkpoint was altered, or that key did not sign it") from exc  # fmt: skip
    return replace(checkpoint, key=key, trusted_by=source)


async def published_keys(unit: Unit) -> list[dict[str, Any]]:
    """Every audit key's public half, newest first: checkpoints outlive keys, so none is ever withdrawn."""
    stmt = select(AuditKey.public_jwk).order_by(col(AuditKey.created_at).desc())
    return [dict(jwk) for jwk in (await unit.session.exec(stmt)).all()]


async def stored(
    unit: Unit, keys: list[dict[str, Any]], *, source: str, upto: int | None = None, newest: int | None = None
) -> list[Checkpoint]:
    """The checkpoints kept in the database (up to event ``upto``; only the ``newest`` so many) whose signatures
    verify with ``keys``, in the chain's order. A row that does not verify is left out: it proves nothing."""
    stmt = select(AuditCheckpoint.jws).order_by(col(AuditCheckpoint.seq).desc(), col(AuditCheckpoint.signed_at).desc())
    if upto is not None:
        stmt = stmt.where(AuditCheckpoint.seq <= upto)
    found: list[Checkpoint] = []
    for text in (await unit.session.exec(stmt)).all():
        try:
            found.append(verified(text, keys, source=source))
        except (NotACheckpoint, UntrustedCheckpoint):
            continue
        if newest is not None and len(found) >= newest:
            break
    return found[::-1]


async def latest_covering(unit: Unit, seq: int) -> tuple[AuditCheckpoint, dict[str, Any]] | None:
    """The newest checkpoint that covers event ``seq``, with the public key that signed it."""
    stmt = (select(AuditCheckpoint, AuditKey.public_jwk).join(AuditKey)
            .where(AuditCheckpoint.seq >= seq).order_by(col(AuditCheckpoint.signed_at).desc()).limit(1))  # fmt: skip
    row = (await unit.session.exec(stmt)).first()
    return None if row is None else (row[0], dict(row[1]))


async def latest(unit: Unit) -> AuditCheckpoint | None:
    """The checkpoint signed last."""
    stmt = select(AuditCheckpoint).order_by(col(AuditCheckpoint.signed_at).desc()).limit(1)
    return (await unit.session.exec(stmt)).first()


async def log_id(unit: Unit) -> str | None:
    """What names this audit trail: the id of its first event."""
    found = (await unit.session.exec(select(AuditEvent.id).where(AuditEvent.seq == 1))).first()
    return None if found is None else str(found)


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """How checkpoints are signed and published; built from settings (``Settings.checkpoint_policy``)."""

    sealing_key: bytes
    issuer: str
    every: timedelta | None = None
    """The worker signs one at most this often, when the head has moved; None: the worker signs none."""
    slack_channel: str | None = None


class Checkpoints:
    def __init__(self, unit: Unit, policy: CheckpointPolicy) -> None:
        self.unit = unit
        self.policy = policy

    async def _lock(self) -> None:
        if self.unit.dialect == "postgresql":  # SQLite's writers are serialised already (BEGIN IMMEDIATE)
            await self.unit.session.exec(select(sa.func.pg_advisory_xact_lock(_LOCK)))

    async def _newest_key(self) -> AuditKey | None:
        stmt = select(AuditKey).order_by(col(AuditKey.created_at).desc()).limit(1)
        return (await self.unit.session.exec(stmt)).first()

    async def signer(self, *, actor: Actor) -> Signer:
        """The key that signs checkpoints, unsealed; made (and the making audited) on first use."""
        await self._lock()
        row = await self._newest_key()
        if row is None:
            key = new_signing_key(f"audit-{self.unit.now():%Y%m%d}-{secrets.token_hex(4)}")
            kid, public = key.kid, key.public_jwk
            row = AuditKey(kid=kid, alg=ALGORITHM, public_jwk=public, created_at=self.unit.now(),
                           private_key_sealed=seal(self.policy.sealing_key, _sealing_label(kid), key.private_pem))  # fmt: skip
            self.unit.session.add(row)
            self.unit.record(actor=actor, action="audit_key.created", subject_type="audit_keys", subject_id=kid,
                             after={"kid": kid, "thumbprint": thumbprint(public)})  # fmt: skip
            await self.unit.commit()
        pem = unseal(self.policy.sealing_key, _sealing_label(row.kid), row.private_key_sealed)
        return Signer.from_pem(row.kid, pem)

    async def take(self, *, actor: Actor) -> Checkpoint:
        """Sign the chain's head as it is now, once the events since the latest checkpoint verify; store the
        checkpoint, publish it (log line; Slack when a channel is set) and return it. Raises CheckpointRefused,
        having written nothing, when the chain does not hold."""
        signer = await self.signer(actor=actor)
        await self._lock()
        keys = await published_keys(self.unit)
        head = await audit.head_of(self.unit.session)
        await self._check_since_latest(keys, head)
        now = self.unit.now()
        claims = {"iss": self.policy.issuer, "log": await log_id(self.unit), "seq": head.seq, "hash": head.hash,
                  "time": _instant(now), "iat": int(now.timestamp())}  # fmt: skip
        public = next(k for k in keys if k["kid"] == signer.kid)
        text = signer.sign(claims, typ=TYP, header={"jwk": {k: v for k, v in public.items() if k != "use"}})
        checkpoint = verified(text, keys, source="this database's audit keys")
        row = AuditCheckpoint(seq=head.seq, hash=head.hash, signed_at=now, kid=signer.kid, jws=text)
        self.unit.session.add(row)
        if self.policy.slack_channel:
            self.unit.notify(topic="audit.checkpoint", recipient=f"slack:{self.policy.slack_channel}",
                             payload=checkpoint.record(), dedupe_key=f"audit.checkpoint:{row.id}")  # fmt: skip
        await self.unit.commit()
        log.info(json.dumps({"event": "audit.checkpoint", **checkpoint.record()}))
        return checkpoint

    async def _check_since_latest(self, keys: list[dict[str, Any]], head: audit.Link) -> None:
        """The latest checkpoint still holds, and the chain from it to the head verifies: signing costs a walk
        over the events since, not over the whole chain."""
        latest = await stored(self.unit, keys, source="this database's audit keys", upto=head.seq, newest=1)
        start = latest[0].link if latest else audit.START
        if start.seq:
            event = (await self.unit.session.exec(select(AuditEvent).where(AuditEvent.seq == start.seq))).first()
            if event is None or event.hash != start.hash or audit.chain_hash(event.prev_hash, event) != event.hash:
                raise CheckpointRefused(f"the audit chain no longer ends in the hash signed for #{start.seq} by "
                                        f"{latest[0].title()}; run accessdesk audit verify --checkpoint: "
                                        "nothing signed")  # fmt: skip
        found = await audit.walk(self.unit.session, upto=head.seq, start=start)
        if found.broken is not None:
            raise CheckpointRefused(f"the audit chain breaks at event #{found.broken.seq}: {found.problem}; "
                                    "nothing signed")  # fmt: skip
        if found.end != head:
            problem = (audit.missing(found.end.seq + 1, head.seq, recorded_by="the head") if found.end.seq < head.seq
                       else f"the head records another hash for #{head.seq} than the event has")  # fmt: skip
            raise CheckpointRefused(f"the audit chain does not reach its head: {problem}; nothing signed")

    async def take_if_due(self, *, actor: Actor) -> Checkpoint | None:
        """The worker's turn: a checkpoint when the policy's interval has passed since the latest and the head
        has moved since. A refusal is logged as an error (and posted to the checkpoint channel once per head)."""
        if self.policy.every is None:
            return None
        head = await audit.head_of(self.unit.session)
        last = await latest(self.unit)
        signed = None if last is None else (audit.Link(last.seq, last.hash), last.signed_at)
        await self.unit.rollback()  # a read of its own: nothing is held while the worker sweeps on
        if head.seq == 0 or (signed is not None and (
            signed[0] == head or self.unit.now() - signed[1] < self.policy.every
        )):  # fmt: skip
            return None
        try:
            return await self.take(actor=actor)
        except CheckpointRefused as exc:
            await self.unit.rollback()
            log.error("audit checkpoint refused: %s", exc.message)
            if self.policy.slack_channel:
                self.unit.notify(topic="audit.checkpoint_refused", recipient=f"slack:{self.policy.slack_channel}",
                                 payload={"problem": exc.message, "head_seq": head.seq},
                                 dedupe_key=f"audit.checkpoint_refused:{head.seq}:{head.hash[:16]}")  # fmt: skip
                try:
                    await self.unit.commit()
                except IntegrityError:  # told already, about this very head
                    await self.unit.rollback()
            return None
