"""The engine's process keeps what it built at start out of the collector's full passes, without
keeping garbage alive (switchboard/launch.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from switchboard.launch import freeze_started


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def frozen_restored() -> Iterator[None]:
    yield
    gc.unfreeze()  # this test process starts many engines: it must not keep anything frozen


def test_what_lives_on_is_frozen_and_garbage_from_the_start_is_freed(frozen_restored: None) -> None:
    kept = _Node()
    cycle = _Node()
    cycle.other = _Node()
    cycle.other.other = cycle  # garbage only the collector frees (a reference cycle)
    gone = weakref.ref(cycle)
    del cycle
    before = gc.get_freeze_count()

    freeze_started()

    assert gone() is None, "a cycle left over from the start must be freed, not frozen for good"
    assert gc.get_freeze_count() > before
    assert gc.is_tracked(kept) and any(obj is kept for obj in gc.get_objects()) is False, (
        "what lives on is out of the generations a collection walks"
    )
