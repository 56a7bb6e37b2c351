"""Who a cohort names: organisations given by id, slug or e-mail domain (typed, pasted, uploaded as a list), found
among the organisations the nominator can see. Duplicates collapse; an entry that names nobody is reported by
itself and stops nothing."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from accessdesk.db.tables import Organisation, OrganisationDomain
from accessdesk.domain import visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Invalid, NotFound
from accessdesk.domain.unit import Unit

# One cohort is one decision round for its approvers: past a few hundred members nobody reads what they approve.
MAX_MEMBERS = 500
# Longer than any slug (64) or e-mail domain (253) or address (320): nothing longer names an organisation.
MAX_ENTRY = 320
# What separates entries in a pasted list: new lines, commas, semicolons, white space.
_SEPARATORS = re.compile(r"[\s,;]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The first cell of a CSV's header row, when it has one.
_HEADERS = frozenset({"id", "slug", "domain", "e-mail domain", "email domain", "organisation", "organization"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry as given (``text``) and what it names: an organisation's ``id``, ``slug`` or e-mail ``domain``."""

    text: str
    by: str
    key: str


def entries_in(text: str) -> list[str]:
    """The entries of a pasted list: one per line, or separated by commas, semicolons or spaces."""
    return [entry for entry in _SEPARATORS.split(text) if entry]


def entries_in_csv(text: str) -> list[str]:
    """The entries of a CSV file: the first cell of each row, but a header row's."""
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if rows and rows[0][0].strip().lower() in _HEADERS:
        rows = rows[1:]
    return [row[0].strip() for row in rows]


def entry_of(given: str | uuid.UUID) -> Entry:
    """What ``given`` names: an id (a UUID), an e-mail domain (it has a dot; an address stands for its domain) or
    else a slug. Slugs and domains are compared in lower case."""
    if isinstance(given, uuid.UUID):
        return Entry(text=str(given), by="id", key=str(given))
    text = given.strip()
    try:
        return Entry(text=text, by="id", key=str(uuid.UUID(text)))
    except ValueError:
        pass
    lowered = text.lower()
    if "@" in lowered:
        return Entry(text=text, by="domain", key=lowered.rsplit("@", 1)[1].rstrip("."))
    if "." in lowered:
        return Entry(text=text, by="domain", key=lowered.rstrip("."))
    return Entry(text=text, by="slug", key=lowered)


def distinct(given: Iterable[str | uuid.UUID]) -> tuple[list[Entry], list[Entry]]:
    """The entries in the order given, each once (the same id, slug or domain given twice is one entry), blanks
    dropped; and the entries dropped as repeating one before them. Refused past :data:`MAX_MEMBERS`, or when there
    is none."""
    seen: dict[tuple[str, str], Entry] = {}
    repeated: list[Entry] = []
    for item in given:
        if isinstance(item, str) and not item.strip():
            continue
        if isinstance(item, str) and _CONTROL.search(item):
            # Names and domains hold none, and PostgreSQL cannot even compare text with a NUL in it.
            raise Invalid("members", f"the entry {item!r} holds a control character; no organisation is named so")
        entry = entry_of(item)
        if (entry.by, entry.key) in seen:
            repeated.append(entry)
        else:
            seen[(entry.by, entry.key)] = entry
    if not seen:
        raise Invalid("members", "choose at least one organisation")
    if len(seen) > MAX_MEMBERS:
        raise Invalid("members", f"a cohort has at most {MAX_MEMBERS} organisations; this list names "
                                       f"{len(seen)} (once duplicates are removed): split it into several cohorts")  # fmt: skip
    return list(seen.values()), repeated


@dataclass(frozen=True, slots=True)
class Resolution:
    """Each distinct organisation named, in the order first named, with the entry that named it; the entries that
    name nobody the nominator can see, each with why; and the entries that named an organisation already named."""

    found: list[tuple[Entry, Organisation]]
    unknown: list[tuple[Entry, NotFound]]
    duplicates: list[Entry]


_WHAT = {"id": "id", "slug": "slug", "domain": "e-mail domain"}


async def resolve(unit: Unit, actor: Actor, entries: Sequence[Entry]) -> Resolution:
    """Find the organisations ``entries`` name, in three queries whatever their number."""
    wanted: dict[str, set[str]] = {"id": set(), "slug": set(), "domain": set()}
    for entry in entries:
        if len(entry.key) <= MAX_ENTRY:
            wanted[entry.by].add(entry.key)
    named: dict[tuple[str, str], Organisation] = {}
    visible = visibility.organisations_filter(actor)
    if wanted["id"]:
        rows = await unit.session.exec(select(Organisation).where(
            visible, col(Organisation.id).in_([uuid.UUID(i) for i in wanted["id"]])))  # fmt: skip
        named.update({("id", str(o.id)): o for o in rows.all()})
    if wanted["slug"]:
        rows = await unit.session.exec(select(Organisation).where(visible, col(Organisation.slug).in_(wanted["slug"])))
        named.update({("slug", o.slug): o for o in rows.all()})
    if wanted["domain"]:
        pairs = await unit.session.exec(
            select(OrganisationDomain.domain, Organisation)
            .join(Organisation, col(Organisation.id) == OrganisationDomain.organisation_id)
            .where(visible, col(OrganisationDomain.domain).in_(wanted["domain"]))
        )
        named.update({("domain", domain): o for domain, o in pairs.all()})
    found: list[tuple[Entry, Organisation]] = []
    unknown: list[tuple[Entry, NotFound]] = []
    duplicates: list[Entry] = []
    taken: set[uuid.UUID] = set()
    for entry in entries:
        organisation = named.get((entry.by, entry.key))
        if organisation is None:
            unknown.append((entry, NotFound(f"no organisation has the {_WHAT[entry.by]} {entry.text!r}")))
        elif organisation.id in taken:
            duplicates.append(entry)
        else:
            taken.add(organisation.id)
            found.append((entry, organisation))
    return Resolution(found=found, unknown=unknown, duplicates=duplicates)
