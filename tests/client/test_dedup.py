"""Bounded memory of handled events and failure counts."""

from __future__ import annotations

import pytest

from custom_components.wgtwo.client.dedup import BoundedLRU, FailureCounts, RecentKeys


def test_recent_keys_forgets_the_least_recently_added() -> None:
    keys = RecentKeys(3)
    for key in (1, 2, 3):
        keys.add(key)
    keys.add(1)  # refresh 1: 2 is now the oldest
    keys.add(4)
    assert 2 not in keys
    assert all(k in keys for k in (1, 3, 4))
    assert len(keys) == 3


def test_recent_keys_needs_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentKeys(0)


def test_failure_counts_count_per_key_and_stay_bounded() -> None:
    counts = FailureCounts(2)
    assert counts.increment("a") == 1
    assert counts.increment("a") == 2
    counts.increment("b")
    counts.increment("c")  # evicts "a"
    assert counts.increment("a") == 1
    counts.clear("a")
    counts.clear("missing")
    assert counts.increment("a") == 1


def test_bounded_lru_reads_do_not_refresh_and_sets_do() -> None:
    lru: BoundedLRU[str] = BoundedLRU(2)
    lru.set("a", "1")
    lru.set("b", "2")
    assert lru.get("a", "") == "1"  # a read: "a" stays the oldest
    lru.set("c", "3")
    assert "a" not in lru
    lru.set("b", "4")  # a write refreshes "b": now "c" is the oldest
    lru.set("d", "5")
    assert ("b" in lru, "c" in lru, "d" in lru) == (True, False, True)
    assert lru.get("b", "") == "4"
    lru.discard("b")
    lru.discard("missing")
    assert len(lru) == 1
    with pytest.raises(ValueError, match="capacity"):
        FailureCounts(0)
