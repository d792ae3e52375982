"""Reconnect delays: fast first retry, capped growth, reset after a healthy period."""

from __future__ import annotations

import pytest

from custom_components.wgtwo.client import Backoff


def test_first_retry_is_within_a_second() -> None:
    for value in (0.0, 0.5, 0.999):
        assert 0.5 <= Backoff(1.0, 60.0, rand=lambda v=value: v).next_delay() <= 1.0  # type: ignore[misc]


def test_delays_grow_and_are_capped_at_the_maximum() -> None:
    backoff = Backoff(1.0, 60.0, rand=lambda: 1.0)
    delays = [backoff.next_delay() for _ in range(12)]
    assert delays[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert all(d == 60.0 for d in delays[6:])


def test_jitter_spreads_delays_between_half_and_full() -> None:
    low = Backoff(1.0, 60.0, rand=lambda: 0.0)
    delays = [low.next_delay() for _ in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    real = Backoff(1.0, 60.0)
    for _ in range(50):
        assert 0 < real.next_delay() <= 60.0


def test_reset_starts_over() -> None:
    backoff = Backoff(1.0, 60.0, rand=lambda: 1.0)
    for _ in range(10):
        backoff.next_delay()
    assert backoff.attempt == 10
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next_delay() == 1.0


def test_many_attempts_do_not_overflow() -> None:
    backoff = Backoff(1.0, 60.0, rand=lambda: 1.0)
    for _ in range(2000):
        assert backoff.next_delay() <= 60.0


@pytest.mark.parametrize(("initial", "maximum", "multiplier"), [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_invalid_parameters_are_rejected(initial: float, maximum: float, multiplier: float) -> None:
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(initial, maximum, multiplier=multiplier)
