"""What a finding is made of, checked before anything is written: its words (title, body, a note), its kind
(severity, category, audience) and its attachments, which are references to material kept elsewhere (a name, the
SHA-256 of the material, and where it is: an ``https://`` address or an opaque reference), never the material."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from accessdesk.domain.errors import Invalid
from accessdesk.domain.vocabulary import Audience, FindingCategory, FindingSeverity, FindingState

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_NOTE = 20_000
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_NAME = 200
MAX_LOCATION = 500
ATTACHMENT_KEYS = ("name", "sha256", "location")
# One line: no control character at all. A text (a body, a note) keeps its tabs and line breaks, nothing else.
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# A reference in the reporter's own store (``EVID-2026-0117``, ``vault/evals/atlas/run-17``): no scheme, no space.
_OPAQUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/#~-]*")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    sha256: str
    location: str

    @property
    def is_link(self) -> bool:
        return self.location.startswith("https://")

    def stored(self) -> dict[str, str]:
        return {"name": self.name, "sha256": self.sha256, "location": self.location}


def _words(field: str, value: Any, *, what: str, longest: int, one_line: bool, missing: str) -> str:
    found = value.strip() if isinstance(value, str) else ""
    if not found:
        raise Invalid(field, missing)
    if len(found) > longest:
        raise Invalid(field, f"{what} may be at most {longest} characters")
    if (_LINE_CONTROL if one_line else _TEXT_CONTROL).search(found):
        raise Invalid(field, f"{what} is one line of text, without control characters" if one_line
                      else f"{what} holds a control character (such as NUL); remove it")  # fmt: skip
    return found


def line(field: str, value: Any, *, what: str, longest: int) -> str:
    """One line of text (a title, a name): no control character at all."""
    return _words(field, value, what=what, longest=longest, one_line=True, missing=f"give the finding {what}")


def text(field: str, value: Any, *, what: str, longest: int) -> str:
    """A text (a body, a note): its tabs and line breaks kept, no other control character."""
    return _words(field, value, what=what, longest=longest, one_line=False, missing=f"write {what}")


def choice(field: str, value: Any, kind: type[FindingSeverity | FindingCategory | Audience | FindingState]) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in kind)
        raise Invalid(field, f"{field} must be one of: {allowed}") from None


def _location(field: str, value: Any) -> str:
    location = value.strip() if isinstance(value, str) else ""
    if not location:
        raise Invalid(field, "say where the material is: an https:// address or a reference in your own store")
    if len(location) > MAX_LOCATION:
        raise Invalid(field, f"a location may be at most {MAX_LOCATION} characters")
    if _OPAQUE.fullmatch(location):
        return location
    refused = Invalid(field, "a location is an https:// address, or a reference without a scheme or spaces (such as "
                             "EVID-2026-0117): nothing else is linked from a finding")  # fmt: skip
    if _LINE_CONTROL.search(location) or " " in location or not location.lower().startswith("https://"):
        raise refused
    parts = urlsplit(location)
    if parts.scheme.lower() != "https" or not parts.netloc or "@" in parts.netloc or not _HOST.fullmatch(parts.netloc):
        raise refused
    return "https://" + location[len("https://"):]


def attachments(given: Sequence[Any] | None) -> list[Attachment]:
    """The attachments as references; refused as a whole (naming the attachment and what is wrong) when any is
    not one: more than :data:`MAX_ATTACHMENTS`, an unknown key (material is never uploaded here), a name missing
    or too long, a SHA-256 that is not 64 hexadecimal digits, a location that is neither kind."""
    items = list(given or [])
    if len(items) > MAX_ATTACHMENTS:
        raise Invalid("attachments", f"a finding may reference at most {MAX_ATTACHMENTS} attachments")
    found: list[Attachment] = []
    for n, item in enumerate(items, start=1):
        field = f"attachments[{n}]"
        if not isinstance(item, Mapping):
            raise Invalid(field, "an attachment is a reference: its name, sha256 and location")
        unknown = sorted(str(k) for k in item if k not in ATTACHMENT_KEYS)
        if unknown:
            raise Invalid(field, "an attachment is a reference (name, sha256, location), never the material itself: "
                                 f"remove {', '.join(unknown)[:200]}")  # fmt: skip
        name = line(f"{field}.name", item.get("name"), what="an attachment's name", longest=MAX_ATTACHMENT_NAME)
        digest = item.get("sha256")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest.strip()):
            raise Invalid(f"{field}.sha256", "an attachment's sha256 is the 64 hexadecimal digits of the SHA-256 of "
                                             "the material")  # fmt: skip
        found.append(Attachment(name=name, sha256=digest.strip().lower(),
                                location=_location(f"{field}.location", item.get("location"))))  # fmt: skip
    return found
