"""What a console list page reads from its address besides its own filters: the search box's text (``q``), the
order (``sort`` and ``dir``, among the list's allow-listed keys) and the page (``cursor``); and the links that keep
them: a column header that sorts by it, the next page, the list without the search."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar.exceptions import HTTPException

from accessdesk.domain.sorting import Sort, SortKey, search_text
from accessdesk.web.pages import CONTROL

SEARCH = "q"


@dataclass(frozen=True, slots=True)
class Listing:
    path: str
    query: dict[str, str]  # the address's parameters but the cursor: what every link of the list keeps
    search: str | None
    sort: Sort | None
    cursor: str | None

    @classmethod
    def of(cls, path: str, params: Mapping[str, str], keys: Mapping[str, SortKey]) -> Listing:
        # No name or slug holds a control character, and PostgreSQL cannot even compare text with a NUL in it:
        # refused as a form's field would be, rather than failing in the database.
        if CONTROL.search(params.get(SEARCH) or ""):
            raise HTTPException(status_code=400, detail="the search holds a control character (such as NUL); "
                                                        "remove it and search again")  # fmt: skip
        sort = Sort.of(keys, params.get("sort"), params.get("dir"))
        query = {k: v for k, v in params.items() if k not in ("cursor", "sort", "dir") and v != ""}
        if sort is not None:  # an unknown order is dropped from the links too, not carried along
            query.update(sort=sort.key.name, dir=sort.direction)
        return cls(path=path, query=query, search=search_text(params.get(SEARCH)), sort=sort,
                   cursor=params.get("cursor") or None)  # fmt: skip

    def _link(self, **changes: Any) -> str:
        query = {k: v for k, v in {**self.query, **changes}.items() if v is not None}
        return f"{self.path}?{urlencode(query)}" if query else self.path

    def sorted_by(self, name: str) -> str | None:
        """``asc`` or ``desc`` when the list is sorted by ``name``, else None."""
        return self.sort.direction if self.sort is not None and self.sort.key.name == name else None

    def sort_link(self, name: str, *, first: str = "asc") -> str:
        """The column header's link: sorted by ``name`` (the other way round when it is already; ``first`` the
        first time), from the first page."""
        now = self.sorted_by(name)
        return self._link(sort=name, dir={"asc": "desc", "desc": "asc"}.get(now or "", first))

    def next_link(self, cursor: str) -> str:
        return self._link(cursor=cursor)

    @property
    def without_search(self) -> str:
        return self._link(**{SEARCH: None})
