"""The one list envelope of the HTTP API: `{"items": [...], "next_cursor": "..."}`.

Every list endpoint pages by keyset (dialer/paging.py): pass `next_cursor` back as `cursor`
to get the next page; it is null on the last one. Following cursors never repeats an item.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from dialer.paging import Cursor

T = TypeVar("T")

CursorQuery = Annotated[
    str | None,
    Query(max_length=300, description="`next_cursor` of the previous page; omit for the first page"),
]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="items per page")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


def page_of(items: list[T], cursor: Cursor | None) -> Page[T]:
    return Page[T](items=items, next_cursor=None if cursor is None else cursor.encode())
