"""The one list envelope of the HTTP API: `{"items": [...], "next_cursor": "..."}`.

Every list endpoint pages by keyset (dialer/paging.py): pass `next_cursor` back as `cursor`
to get the next page; it is null on the last one. Following cursors never repeats an item.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from dialer.paging import Cursor

T = TypeVar("T")

CursorQuery = Annotated[
    str | None,
    Query(
        max_length=300,
        pattern=r"^-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?:.+$",
        description="`next_cursor` of the previous page; omit for the first page",
    ),
]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="items per page")]


def _not_a_number(value: Any) -> Any:
    """Times are ISO 8601 text; pydantic would read `0.5` or `12345` as seconds after 1970."""
    if isinstance(value, int | float | bool) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("must be a date and time as ISO 8601 text with a zone, e.g. 2025-03-01T00:00:00Z")
    return value


_NUMBER = re.compile(r"[-+]?[0-9.]+([eE][-+]?[0-9]+)?")
TextTime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
"""A time given as ISO 8601 text with a zone (a query parameter or a body field)."""


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


def page_of(items: list[T], cursor: Cursor | None) -> Page[T]:
    return Page[T](items=items, next_cursor=None if cursor is None else cursor.encode())
