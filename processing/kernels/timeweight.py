"""Time-weighted integration of a step function (a state held from one reading until the next)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from processing.kernels import kernel


@kernel("int64(int64, int64, int64, int64)")
def interval_of(t: int, start: int, step: int, hint: int) -> int:
    """The interval that holds ``t``, found by stepping on from ``hint`` when ``t`` is just ahead of it (sorted
    input), by a division otherwise.
    """
    lower = start + hint * step
    if t < lower or t - lower >= 4 * step:
        return (t - start) // step
    k = hint
    while t >= lower + step:
        k += 1
        lower += step
    return k


@kernel("void(int64[::1], float64[::1], int64, int64, int64, int64, int64[::1], float64[::1])")
def hold_integrate(
    times: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    stale: int,
    horizon: int,
    start: int,
    step: int,
    known: npt.NDArray[np.int64],
    weighted: npt.NDArray[np.float64],
) -> None:
    """Known time and time-weighted value per interval of a state that holds until the next reading.

    Reading ``i`` holds its value from ``times[i]`` until the next reading, but no longer than ``stale`` ns
    after it (a silent device is unknown after that) and not past ``horizon`` (the end of what is known).
    A NaN value is an unknown state.

    Args:
        times: shape (n,), ns, sorted ascending, no duplicates.
        values: shape (n,).
        stale: ns after a reading at which its state becomes unknown; 0 or less for never.
        horizon: ns, nothing is known from here on.
        start: ns, start of interval 0.
        step: ns, interval length (> 0).
        known: shape (m,), output: ns of each interval with a known state.
        weighted: shape (m,), output: the integral of the state over the known time (value·ns).
    """
    m = known.shape[0]
    for k in range(m):
        known[k] = 0
        weighted[k] = 0.0
    stop = start + m * step
    n = times.shape[0]
    # readings come in time order, so the intervals they touch only move forward: the open interval's sums stay
    # in registers and are stored once, when a reading reaches the next interval
    k = 0
    lower = start  # start of interval k
    upper = start + step  # end of interval k
    kn = 0
    kw = 0.0
    for i in range(n):
        value = values[i]
        if math.isnan(value):
            continue
        a = times[i]
        b = horizon
        if i + 1 < n:
            b = min(b, times[i + 1])
        if stale > 0:
            b = min(b, a + stale)
        a = max(a, start)
        b = min(b, stop)
        if b <= a:
            continue
        if a >= upper:
            known[k] += kn
            weighted[k] += kw
            kn = 0
            kw = 0.0
            k = interval_of(a, start, step, k)
            lower = start + k * step
            upper = lower + step
        while True:
            edge = min(b, upper)
            kn += edge - a
            kw += value * (edge - a)
            if edge >= b:
                break
            known[k] += kn
            weighted[k] += kw
            kn = 0
            kw = 0.0
            a = edge
            k += 1
            lower = upper
            upper += step
    if m > 0:
        known[k] += kn
        weighted[k] += kw
