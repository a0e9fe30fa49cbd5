"""Platform-independent randomness: only ``random.Random(seed).random()`` and IEEE arithmetic
(+ - * / sqrt) feed the values, so the same seed gives byte-identical data everywhere."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import date

DEFAULT_SEED = 20260115
_SQRT3 = 1.7320508075688772


def normal(rng: random.Random) -> float:
    """Approximately standard normal from 4 uniforms (platform-independent arithmetic)."""
    r = rng.random
    return (r() + r() + r() + r() - 2.0) * _SQRT3


def power(base: float, exponent: int) -> float:
    """base**exponent by repeated multiplication (libm pow is not correctly rounded)."""
    out = 1.0
    for _ in range(exponent):
        out *= base
    return out


def interp(anchors: Sequence[tuple[int, float]], x: int) -> float:
    """Piecewise-linear interpolation over (ordinal, value) anchors, flat outside."""
    if x <= anchors[0][0]:
        return anchors[0][1]
    for (x0, y0), (x1, y1) in zip(anchors, anchors[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return anchors[-1][1]


def interp_many(anchors: Sequence[tuple[int, float]], xs: Sequence[int]) -> list[float]:
    """interp for ascending xs in one pass."""
    out: list[float] = []
    k = 0
    last = len(anchors) - 1
    for x in xs:
        while k < last and anchors[k + 1][0] < x:
            k += 1
        if x <= anchors[0][0]:
            out.append(anchors[0][1])
        elif k == last:
            out.append(anchors[-1][1])
        else:
            (x0, y0), (x1, y1) = anchors[k], anchors[k + 1]
            out.append(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return out


def anchors(points: Iterable[tuple[str, float]]) -> list[tuple[int, float]]:
    return [(date.fromisoformat(d).toordinal(), v) for d, v in points]
