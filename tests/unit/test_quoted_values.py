"""How an import report quotes a rejected value: findable in the file, harmless on a terminal."""

from __future__ import annotations

import pytest

from core.config.error_messages import QUOTED_MAX, quoted


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("601 234 567", "'601 234 567'"),
        ("Tóth Éva", "'Tóth Éva'"),
        ("bell\x07nul\x00", "'bell\\x07nul\\x00'"),  # control characters never reach the terminal raw
        ("\x1b[31mred", "'\\x1b[31mred'"),
        (12345, "'12345'"),
        ("x" * (QUOTED_MAX + 5), repr("x" * QUOTED_MAX + "...")),
    ],
)
def test_a_rejected_value_is_quoted_escaped_and_cut(value: object, shown: str) -> None:
    assert quoted(value) == shown
