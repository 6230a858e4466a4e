"""Pages over lists the engine holds in memory (agents, queues, campaigns): by id, no repeats."""

from __future__ import annotations

import pytest

from dialer.paging import Cursor, page_in_memory


def _all_pages(ids: list[str], limit: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        taken, after = page_in_memory(ids, lambda item: item, after, limit)
        pages.append(taken)
        if after is None:
            return pages
        after = Cursor.decode(after.encode())  # the client sends the text back


@pytest.mark.parametrize(
    ("ids", "limit", "pages"),
    [
        ([], 3, [[]]),
        (["b", "a"], 5, [["a", "b"]]),
        (["c", "a", "b"], 2, [["a", "b"], ["c"]]),
        (["c", "a", "b", "d"], 2, [["a", "b"], ["c", "d"]]),
        (["a:1", "a", "a:0"], 1, [["a"], ["a:0"], ["a:1"]]),
    ],
)
def test_pages_follow_the_id_order_and_end_with_no_cursor(
    ids: list[str], limit: int, pages: list[list[str]]
) -> None:
    assert _all_pages(ids, limit) == pages


def test_a_cursor_after_an_item_that_left_resumes_after_its_place() -> None:
    taken, after = page_in_memory(["a", "c"], lambda item: item, Cursor(0.0, "b"), 10)
    assert (taken, after) == (["c"], None)
