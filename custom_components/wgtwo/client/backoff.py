"""Exponential reconnect backoff with jitter, reset once an attempt gets through."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays ``d/2 + U(0, d/2)`` with ``d = min(maximum, initial * 2**n)``.

    Half of the delay is random so many clients restarted together spread out, and the
    other half keeps a floor so a failing server is not hammered: the first retry comes
    within ``initial`` seconds, later ones never exceed ``maximum``.
    """

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 60.0,
        *,
        multiplier: float = 2.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or maximum < initial or multiplier < 1:
            raise ValueError("invalid backoff parameters")
        self._initial = initial
        self._maximum = maximum
        self._multiplier = multiplier
        self._rand = rand
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Number of delays handed out since the last reset."""
        return self._attempt

    def next_delay(self) -> float:
        """Return the next delay in seconds and advance."""
        ceiling = min(self._maximum, self._initial * self._multiplier ** min(self._attempt, 64))
        self._attempt += 1
        return ceiling / 2 + self._rand() * ceiling / 2

    def reset(self) -> None:
        """Start over from ``initial`` (the server accepted an attempt)."""
        self._attempt = 0
