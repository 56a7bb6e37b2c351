"""The console's one way to answer a form the rules refuse: undo what the refused call had begun, and show the same
page again, saying why (beside the offending field when the refusal names one), with what was typed, under the
status the JSON API would give (``status_for``).

Each handler declares which page that is, with :func:`on_refusal`; the handler itself only reads the form, calls
one use case and redirects. A refusal raised while the page itself is built (the thing no longer exists, say) is
not caught again: it reaches the console's error page (``PAGE_ERRORS``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, get_type_hints

from litestar.di import NamedDependency
from litestar.response import Template

from accessdesk.api.errors import status_for
from accessdesk.domain.errors import DomainError, Overlap
from accessdesk.domain.unit import Unit
from accessdesk.web.pages import Posted


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a form was not carried out, for the page that shows the form again (with what was typed)."""

    message: str
    field: str | None
    status: int
    # Where to see what the refusal is about (the grant a nomination overlaps), and the link's words.
    link: tuple[str, str] | None = None

    @classmethod
    def of(cls, exc: DomainError) -> Refusal:
        link = (f"/console/{exc.kind}s/{exc.subject_id}", f"Open the overlapping {exc.kind}") if isinstance(
            exc, Overlap) else None  # fmt: skip
        return cls(message=exc.message, field=getattr(exc, "field", None), status=status_for(exc), link=link)


Handler = Callable[..., Awaitable[Any]]
# What the refusal hands the page; any other parameter of the page is resolved by name, like a handler's.
GIVEN = ("refusal", "values", "section")


def on_refusal(
    show: Callable[..., Awaitable[Template] | Template], *, section: str | None = None, lists: Iterable[str] = ()
) -> Callable[[Handler], Handler]:
    """Declare the page that shows a console handler's form again when the domain refuses it.

    ``show`` builds the page. It is given ``refusal`` (a :class:`Refusal`), ``values`` (the form as typed: each
    field's text, or the list of its values for the fields named in ``lists``, such as checkboxes) and, when
    ``section`` is declared, ``section`` (which of the page's forms was refused; ``{name}`` is filled from the
    handler's parameters, e.g. ``"credential:{client_pk}"``). Its other parameters are named like a handler's
    (``signed``, ``queries``, a path parameter...): they are added to the handler's signature, so Litestar injects
    them as it does the handler's own, and the handler declares only what it uses itself.
    """
    wanted = inspect.signature(show).parameters
    needs = [p for name, p in wanted.items() if name not in GIVEN]
    kept_as_lists = tuple(lists)

    def decorate(handler: Handler) -> Handler:
        own = inspect.signature(handler)
        added = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in needs if p.name not in own.parameters]
        if "unit" not in own.parameters and "unit" not in wanted:
            added.append(inspect.Parameter("unit", inspect.Parameter.KEYWORD_ONLY))
        # With their markers (NamedDependency, FromPath...): Litestar reads how each parameter is injected from them.
        hints: dict[str, Any] = {"unit": NamedDependency[Unit], **get_type_hints(show, include_extras=True),
                                 **get_type_hints(handler, include_extras=True)}
        hints["return"] = hints["return"] | Template
        mine = [name for name in own.parameters if name != "self"]

        @wraps(handler)
        async def handle_or_show_again(self: Any, **given: Any) -> Any:
            try:
                return await handler(self, **{name: given[name] for name in mine})
            except DomainError as exc:
                await given["unit"].rollback()
                form: Posted | None = given.get("form")
                values: dict[str, str | list[str]] = {}
                if form is not None:
                    values.update(form.as_dict())
                    values.update({name: form.all(name) for name in kept_as_lists})
                handed = {"refusal": Refusal.of(exc), "values": values,
                          "section": section.format(**given) if section else None}  # fmt: skip
                shown = show(**{p.name: given[p.name] for p in needs}, **{k: v for k, v in handed.items() if k in wanted})
                return await shown if inspect.isawaitable(shown) else shown

        # Litestar reads the signature and the type hints of what it is given: the handler's, with the page's needs.
        del handle_or_show_again.__wrapped__
        # inspect.signature reads a function's __signature__ first; typeshed's functions do not declare it.
        handle_or_show_again.__signature__ = own.replace(  # type: ignore[attr-defined]
            parameters=[*own.parameters.values(), *added], return_annotation=hints["return"]
        )
        handle_or_show_again.__annotations__ = {name: hints[name] for name in [*mine, *(p.name for p in added), "return"]
                                                if name in hints}  # fmt: skip
        return handle_or_show_again

    return decorate
