"""Where an ACD events read may start (routing/acd/events.py `check_since`): the API's schema
states the same ids, so a schema-valid `since` is never refused and a bad one never reaches Redis."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailedError
from routing.acd.events import check_since


@pytest.mark.parametrize("since", ["0", "$", "1718000000000-0", "1718000000000"])
def test_stream_ids_zero_and_dollar_are_read(since: str) -> None:
    assert check_since(since) == since


@pytest.mark.parametrize("since", ["", "-", "5-", "-5", "1-2-3", "abc", "\U0009ba92", "1" * 21])
def test_anything_else_is_refused_without_echoing_it(since: str) -> None:
    with pytest.raises(ValidationFailedError, match=r"stream id like 1718000000000-0, 0 or \$") as caught:
        check_since(since)
    assert caught.value.details == {}
    assert repr(since) not in caught.value.message
