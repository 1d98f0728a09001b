"""How sure an accuracy is: 95% intervals for one accuracy and for the difference of two. No TensorFlow,
so the bot and the gate read them too.

On 2,000 test reviews an accuracy near 0.9 is known to ±1.3 points; on 25,000, to ±0.35. Two models
a point apart on 2,000 reviews each cannot be told apart.
"""

from __future__ import annotations

import math

Z95 = 1.959964


def interval95(share: float, n: int) -> tuple[float, float]:
    """Wilson's 95% interval for an accuracy of ``share`` on ``n`` examples."""
    if n <= 0:
        return 0.0, 1.0
    z = Z95
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_noise(first: float, n_first: int, second: float, n_second: int) -> float:
    """Half-width of the 95% interval of ``first - second``, two accuracies measured on independent samples:
    a difference smaller than this is inside the noise."""
    if n_first <= 0 or n_second <= 0:
        return 1.0
    return Z95 * math.sqrt(first * (1 - first) / n_first + second * (1 - second) / n_second)
