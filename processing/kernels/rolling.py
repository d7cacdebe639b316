"""Trailing running means over regularly spaced values (24-hour means of hourly values)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from processing.kernels import kernel


@kernel("void(float64[::1], int64, int64, float64[::1])")
def rolling_mean(values: npt.NDArray[np.float64], window: int, min_count: int, out: npt.NDArray[np.float64]) -> None:
    """Mean of the last ``window`` values up to and including each position, NaN values skipped.

    Args:
        values: shape (n,), regularly spaced; NaN marks a missing value.
        window: values per window (>= 1).
        min_count: fewest non-missing values for a mean; fewer give NaN.
        out: shape (n,), output.
    """
    total = 0.0
    valid = 0
    for i in range(values.shape[0]):
        value = values[i]
        if not math.isnan(value):
            total += value
            valid += 1
        if i >= window:
            old = values[i - window]
            if not math.isnan(old):
                total -= old
                valid -= 1
        out[i] = total / valid if valid >= min_count and valid > 0 else math.nan
