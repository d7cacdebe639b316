"""Index bands: the class of each value against a table of upper bounds, and the worst class per row."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from processing.kernels import kernel


@kernel("void(float64[:, ::1], float64[:, ::1], int8[::1], int64[::1])")
def worst_band(
    values: npt.NDArray[np.float64],
    bounds: npt.NDArray[np.float64],
    index: npt.NDArray[np.int8],
    worst: npt.NDArray[np.int64],
) -> None:
    """Per row, the highest band of any column and the column that has it.

    A value's band is 1 plus the number of its column's upper bounds it exceeds: with bounds
    ``[5, 15, 50, 90, 140]`` the value 5 is band 1 and 140.1 is band 6.

    Args:
        values: shape (n, p); NaN marks a missing value.
        bounds: shape (p, b), each row ascending.
        index: shape (n,), output: the worst band, 0 where the row has no value.
        worst: shape (n,), output: the column of the worst band (the first on ties), -1 where none.
    """
    n, p = values.shape
    for h in range(n):
        best = 0
        column = -1
        for j in range(p):
            value = values[h, j]
            if math.isnan(value):
                continue
            band = 1
            for k in range(bounds.shape[1]):
                if value > bounds[j, k]:
                    band += 1
            if band > best:
                best = band
                column = j
        index[h] = best
        worst[h] = column
