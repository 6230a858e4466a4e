"""PersistentMap against a plain dict over random operation sequences; every old version kept intact."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys

import pytest

from routing.persistent_map import FANOUT, PersistentMap


def _same(found: PersistentMap[object, int], model: dict[object, int]) -> None:
    assert len(found) == len(model)
    assert dict(found.items()) == model
    assert sorted(found.values()) == sorted(model.values())
    assert sorted(map(repr, found)) == sorted(map(repr, model))
    assert found == model and model == found
    assert bool(found) == bool(model)


def _key(rng: random.Random) -> object:
    """Strings, and ints that share a leaf (multiples of 1,024 hash alike in bits 0-9) or hash
    negative (hash(-1) is -2), so leaves hold many keys and the shifts see negative hashes."""
    kind = rng.random()
    if kind < 0.5:
        return f"a{rng.randrange(3_000)}"
    if kind < 0.8:
        return rng.randrange(40) * FANOUT * FANOUT
    return -rng.randrange(1, 200)


@pytest.mark.parametrize("seed", range(6))
def test_random_sets_and_removals_behave_like_a_dict_and_keep_every_version(seed: int) -> None:
    rng = random.Random(seed)
    found: PersistentMap[object, int] = PersistentMap()
    model: dict[object, int] = {}
    versions: list[tuple[PersistentMap[object, int], dict[object, int]]] = []
    for step in range(3_000):
        key = _key(rng)
        if rng.random() < 0.7:
            found, model = found.set(key, step), {**model, key: step}
        else:
            found, model = found.without(key), {k: v for k, v in model.items() if k != key}
        probe = _key(rng)
        assert found.get(probe) == model.get(probe)
        assert found.get(probe, -1) == model.get(probe, -1)
        assert (probe in found) == (probe in model)
        if probe in model:
            assert found[probe] == model[probe]
        else:
            with pytest.raises(KeyError):
                found[probe]
        if step % 97 == 0:
            _same(found, model)
            versions.append((found, model))
    for old, then in versions:  # nothing written after them changed them
        _same(old, then)


def test_built_from_a_mapping_or_pairs_equals_the_dict() -> None:
    model: dict[object, int] = {f"k{i}": i for i in range(5_000)} | {i * 1_024: i for i in range(50)}
    _same(PersistentMap(model), model)
    _same(PersistentMap(model.items()), model)
    _same(PersistentMap(), {})


def test_an_update_shares_all_but_one_leaf_and_removing_a_missing_key_is_free() -> None:
    """The point of the structure: a change copies one leaf, not the map (the old snapshot copy
    made each agent's status change cost O(agents))."""
    before = PersistentMap({f"a{i:05d}": i for i in range(10_000)})
    after = before.set("a00042", -1)
    shared = sum(
        new is old
        for new_branch, old_branch in zip(after._root, before._root, strict=True)
        for new, old in zip(new_branch, old_branch, strict=True)
    )
    assert shared == FANOUT * FANOUT - 1
    assert before["a00042"] == 42 and after["a00042"] == -1
    assert before.without("nobody") is before
    assert len(before.without("a00042")) == 9_999 and len(before) == 10_000


def test_the_repr_shows_the_entries() -> None:
    assert repr(PersistentMap({"a": 1})) == "PersistentMap({'a': 1})"


def test_a_pickled_map_is_read_right_in_a_process_with_another_hash_seed() -> None:
    """A leaf's place is the key's hash, which each process seeds anew: pickled by items, a map
    loaded under another PYTHONHASHSEED still finds every key."""
    blob = pickle.dumps(PersistentMap((f"a{i}", i) for i in range(50)))
    code = (
        "import pickle, sys; m = pickle.loads(sys.stdin.buffer.read()); "
        "print(len(m), sum(k in m for k in m), m.get('a7'))"
    )
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed, "PYTHONPATH": ":".join(sys.path)}
        run = [sys.executable, "-c", code]
        out = subprocess.run(run, input=blob, capture_output=True, env=env, check=True)
        assert out.stdout.split() == [b"50", b"50", b"7"], f"seed {seed}"
