"""Proving the audit chain against signed checkpoints: no event up to a checkpoint was removed or rewritten.

``audit verify`` alone trusts the database's own word (its head, its hashes); someone who may write the database at
will can delete the newest events and roll the head back, or rewrite an event and recompute every hash after it,
and the chain still holds. A checkpoint signed before that cannot be forged after it without the signing key: the
chain up to its ``seq`` must still end in exactly its ``hash``.

A mismatch says that something up to that event changed, not which event: the hashes that were signed are the
only trustworthy record of the past. Every other checkpoint the verifier trusts narrows it down (the database's own
stored checkpoints among them, when their signatures verify): the change lies after the last one that still holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from accessdesk.domain import audit
from accessdesk.domain.checkpoints import Checkpoint, log_id
from accessdesk.domain.unit import Unit


@dataclass(frozen=True, slots=True)
class Finding:
    """What one checkpoint says about the chain. ``first_seq``..``last_seq``: where the loss or change lies (one
    event when they are equal)."""

    checkpoint: Checkpoint
    ok: bool
    problem: str | None = None
    first_seq: int | None = None
    last_seq: int | None = None

    def describe(self) -> str:
        title = self.checkpoint.title()
        if self.ok:
            return f"{title} holds: events #1–#{self.checkpoint.seq} are all there and end in its hash"
        return f"{title} FAILS: {self.problem}"


@dataclass(frozen=True, slots=True)
class Proof:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def describe(self) -> str:
        return "\n".join(f.describe() for f in self.findings)


async def prove(unit: Unit, checkpoints: Sequence[Checkpoint], *, witnesses: Sequence[Checkpoint] = ()) -> Proof:
    """Check the chain against each of ``checkpoints`` (signatures already verified, see checkpoints.verified);
    ``witnesses`` are more trusted checkpoints that only help to say where a change lies."""
    if not checkpoints:
        return Proof()
    upto = max(c.seq for c in checkpoints)
    anchors = {(c.seq, c.hash): c for c in [*checkpoints, *witnesses] if c.seq <= upto}
    marks: dict[int, str] = dict.fromkeys((seq for seq, _ in anchors), "")
    found = await audit.walk(unit.session, upto=upto, marks=marks)
    trail = await log_id(unit)

    def holds(seq: int, hash_: str) -> bool:
        return seq == 0 or marks.get(seq) == hash_

    findings = []
    for checkpoint in checkpoints:
        if checkpoint.log is not None and trail is not None and checkpoint.log != trail:
            findings.append(Finding(checkpoint, ok=False, problem=(
                f"it is of another audit trail (whose first event is {checkpoint.log}; this database's is {trail}): "
                "a checkpoint of another accessdesk, or event #1 was replaced")))  # fmt: skip
        elif found.broken is not None and found.broken.seq <= checkpoint.seq:
            findings.append(Finding(checkpoint, ok=False, first_seq=found.broken.seq, last_seq=found.broken.seq,
                                    problem=f"event #{found.broken.seq} ({found.broken.id}): {found.problem}"))  # fmt: skip
        elif found.end.seq < checkpoint.seq:
            first = found.end.seq + 1
            findings.append(Finding(checkpoint, ok=False, first_seq=first, last_seq=checkpoint.seq,
                                    problem=audit.missing(first, checkpoint.seq, recorded_by="the checkpoint")))  # fmt: skip
        elif not holds(checkpoint.seq, checkpoint.hash):
            findings.append(_changed(checkpoint, anchors.values(), holds))
        else:
            findings.append(Finding(checkpoint, ok=True))
    return Proof(findings)


def _changed(checkpoint: Checkpoint, anchors: Iterable[Checkpoint], holds: Callable[[int, str], bool]) -> Finding:
    """The chain up to the checkpoint holds together but ends elsewhere: an event was rewritten and every hash after
    it recomputed. It lies after the last trusted checkpoint that still holds, up to the first that does not."""
    points = sorted((a for a in anchors if a.seq <= checkpoint.seq), key=lambda a: a.seq)
    first_bad = next(a for a in points if not holds(a.seq, a.hash))
    good = [a.seq for a in points if a.seq < first_bad.seq and holds(a.seq, a.hash)]
    low, high = (max(good) if good else 0) + 1, first_bad.seq
    where = f"event #{low} was" if low == high else f"an event from #{low} to #{high} was"
    still = f"; the chain still ends in the hash signed for #{low - 1}" if low > 1 else ""
    return Finding(checkpoint, ok=False, first_seq=low, last_seq=high, problem=(
        f"the chain up to #{checkpoint.seq} holds together but no longer ends in the hash signed for it: {where} "
        f"altered or replaced, and the events after it re-chained{still}"))  # fmt: skip
