"""A persistent map: updates return a new map and leave the old one as it was, sharing the rest.

Owned here: `PersistentMap`, the read-only Mapping behind the routing snapshot's agents and
waiting calls. Old snapshots stay in use after a newer one exists (early_offer decides over
`state.snapshot.with_call(call)` and keeps the current snapshot; the benchmark derives every
sample from one base), so an update may not write into the map it came from; copying the whole
map made each agent status change cost O(agents).

Layout: a two-level trie of fan-out 32 over the key's hash (bits 0-4 pick the branch, bits 5-9
the leaf), the leaves plain dicts. An update copies one leaf (entries / 1,024 on average) and
two 32-slot tuples: about the same cost at 100 or 100,000 entries. A lookup is two tuple
indexings and a dict lookup. Leaves are never written after a map is made (the empty ones are
shared), and keys must keep their hash (str does within a process).
"""

from __future__ import annotations

from collections.abc import Hashable, ItemsView, Iterable, Iterator, Mapping, ValuesView
from itertools import chain
from typing import Any, Generic, TypeVar, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

FANOUT = 32
_MASK = FANOUT - 1
_SHIFT = 5
_EMPTY_LEAF: dict[Any, Any] = {}
_EMPTY_BRANCH: tuple[dict[Any, Any], ...] = (_EMPTY_LEAF,) * FANOUT
_EMPTY_ROOT: tuple[tuple[dict[Any, Any], ...], ...] = (_EMPTY_BRANCH,) * FANOUT


class PersistentMap(Mapping[K, V], Generic[K, V]):
    """An immutable Mapping with `set` and `without`, each O(1) in the map's size (see the module)."""

    __slots__ = ("_len", "_root")
    _root: tuple[tuple[dict[K, V], ...], ...]
    _len: int

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        leaves: dict[tuple[int, int], dict[K, V]] = {}
        for key, value in pairs:
            h = hash(key)
            leaves.setdefault((h & _MASK, (h >> _SHIFT) & _MASK), {})[key] = value
        self._root = tuple(
            tuple(leaves.get((i, j), _EMPTY_LEAF) for j in range(FANOUT)) for i in range(FANOUT)
        )
        self._len = sum(len(leaf) for leaf in leaves.values())

    def __reduce__(self) -> tuple[type[PersistentMap[K, V]], tuple[list[tuple[K, V]]]]:
        # By items, not by trie: a leaf's place is the key's hash, which another process seeds anew.
        return (type(self), (list(self.items()),))

    @classmethod
    def _made(cls, root: tuple[tuple[dict[K, V], ...], ...], size: int) -> PersistentMap[K, V]:
        made = object.__new__(cls)
        made._root, made._len = root, size
        return made

    def __getitem__(self, key: K) -> V:
        h = hash(key)
        return self._root[h & _MASK][(h >> _SHIFT) & _MASK][key]

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, /, default: V | T) -> V | T: ...
    def get(self, key: K, /, default: object = None) -> object:
        h = hash(key)
        return self._root[h & _MASK][(h >> _SHIFT) & _MASK].get(key, default)

    def __contains__(self, key: object) -> bool:
        h = hash(key)
        return key in self._root[h & _MASK][(h >> _SHIFT) & _MASK]

    def __len__(self) -> int:
        return self._len

    def _leaves(self) -> Iterator[dict[K, V]]:
        return (leaf for branch in self._root for leaf in branch if leaf)

    def __iter__(self) -> Iterator[K]:
        return chain.from_iterable(self._leaves())

    def values(self) -> ValuesView[V]:
        return _Values(self)

    def items(self) -> ItemsView[K, V]:
        return _Items(self)

    def __repr__(self) -> str:
        return f"PersistentMap({dict(self.items())!r})"

    def set(self, key: K, value: V) -> PersistentMap[K, V]:
        """This map with `key` set to `value` (added or replaced)."""
        h = hash(key)
        i, j = h & _MASK, (h >> _SHIFT) & _MASK
        branch = self._root[i]
        leaf = branch[j]
        grown = key not in leaf
        changed = leaf.copy()
        changed[key] = value
        return self._with_leaf(i, j, changed, self._len + grown)

    def without(self, key: K) -> PersistentMap[K, V]:
        """This map without `key` (itself if `key` is absent)."""
        h = hash(key)
        i, j = h & _MASK, (h >> _SHIFT) & _MASK
        leaf = self._root[i][j]
        if key not in leaf:
            return self
        changed = leaf.copy()
        del changed[key]
        return self._with_leaf(i, j, changed, self._len - 1)

    def _with_leaf(self, i: int, j: int, leaf: dict[K, V], size: int) -> PersistentMap[K, V]:
        root, branch = list(self._root), list(self._root[i])
        branch[j] = leaf
        root[i] = tuple(branch)
        return self._made(tuple(root), size)


class _Values(ValuesView[V], Generic[K, V]):
    """Values straight from the leaves (the default view looks every key up again)."""

    def __init__(self, found: PersistentMap[K, V]) -> None:
        super().__init__(found)
        self._found = found

    def __iter__(self) -> Iterator[V]:
        return chain.from_iterable(leaf.values() for leaf in self._found._leaves())


class _Items(ItemsView[K, V], Generic[K, V]):
    def __init__(self, found: PersistentMap[K, V]) -> None:
        super().__init__(found)
        self._found = found

    def __iter__(self) -> Iterator[tuple[K, V]]:
        return chain.from_iterable(leaf.items() for leaf in self._found._leaves())
