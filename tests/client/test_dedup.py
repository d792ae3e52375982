"""Bounded memory of handled events and failure counts."""

from __future__ import annotations

import pytest

from custom_components.wgtwo.client.dedup import FailureCounts, RecentKeys


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
