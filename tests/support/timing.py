"""Comparing the time of two operations on a busy machine."""
from __future__ import annotations

import time


def fastest_of_each(a, b, rounds: int = 7) -> tuple[float, float]:
    """The fastest of `rounds` calls of `a` and of `b`, taken in turns: load only ever adds time, so the minimum
    is the cost, and turns let both see the same load (measured one after the other, a busy spell that
    covered only the first made it twice the second's on a loaded suite)."""
    best_a = best_b = float("inf")
    for _ in range(rounds):
        for fn, which in ((a, 0), (b, 1)):
            t0 = time.perf_counter()
            fn()
            took = time.perf_counter() - t0
            if which == 0:
                best_a = min(best_a, took)
            else:
                best_b = min(best_b, took)
    return best_a, best_b
