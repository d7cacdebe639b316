"""Per-interval counts from cumulative counters (people counters' running totals), resets and wraps handled.

People counters report running totals (``people_in_total``); what planners want is people per interval. The
difference of consecutive totals is that count, except where the total went down. That happens for two reasons:

* a **reset** (power loss, re-join, firmware update): the counter starts again at zero, so the new total itself
  is the count since the restart;
* a **wrap**: a counter of fixed width (IMBuildings sends 16-bit totals) passed its largest value and continued
  from zero, so the count is ``new + 2**bits - previous``.

How they are told apart: a drop is a wrap when the counter's width is known and the count a wrap implies,
``new + 2**bits - previous``, is at most ``wrap_window`` of the counter's range (a quarter by default: 16,384
people between two readings of a 16-bit counter). That holds exactly when the previous total was near the top of
the width and the new one near zero. Any other drop (for instance from the middle of the range to a small number)
is a reset. The width of a model's totals is :data:`COUNTER_BITS`; models not listed there (and callers that pass
no width) treat every drop as a reset.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# bits of the cumulative totals each people-counter model sends (its codec's field width)
COUNTER_BITS: dict[str, int] = {
    "imbuildings-people-counter": 16,
    "milesight-vs133": 32,
    "milesight-vs135": 32,
}
WRAP_WINDOW = 0.25  # share of a counter's range a wrap may imply before the drop counts as a reset


def counter_bits(model: str) -> int | None:
    """The width in bits of a model's cumulative totals, or None when it is not known."""
    return COUNTER_BITS.get(model)


def _check_width(width_bits: int | None, wrap_window: float) -> None:
    if width_bits is not None and not 1 <= width_bits <= 63:
        raise ValueError(f"width_bits must be between 1 and 63, got {width_bits}")
    if not 0.0 < wrap_window < 1.0:
        raise ValueError(f"wrap_window must be between 0 and 1 (exclusive), got {wrap_window}")


def _drops(
    current: npt.NDArray[np.float64], previous: npt.NDArray[np.float64], width_bits: int | None, wrap_window: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """(reset, wrap, wrapped count) for consecutive valid readings."""
    down = current < previous
    if width_bits is None:
        return down, np.zeros_like(down), np.zeros_like(current)
    modulus = float(2**width_bits)
    wrapped = current + modulus - previous
    wrap = down & (wrapped <= wrap_window * modulus)
    return down & ~wrap, wrap, wrapped


def counter_deltas(
    totals: npt.ArrayLike, *, width_bits: int | None = None, wrap_window: float = WRAP_WINDOW
) -> npt.NDArray[np.float64]:
    """Counts between consecutive readings of a cumulative counter.

    Args:
        totals: shape (n,), readings in time order; NaN marks a missing reading.
        width_bits: the counter's width (16 for a counter that wraps at 65,536), or None when it does not wrap.
        wrap_window: the largest share of the counter's range a wrap may imply (see the module docstring).

    Returns:
        shape (n,): ``out[i]`` is the count between the previous valid reading and reading ``i``; NaN for the
        first valid reading and for missing readings. Where the total went down, the count is the new total
        (a reset) or the distance across the top of the width (a wrap).

    Raises:
        ValueError: width_bits or wrap_window is out of range.
    """
    _check_width(width_bits, wrap_window)
    values = np.asarray(totals, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size < 2:
        return out
    current, previous = values[valid[1:]], values[valid[:-1]]
    reset, wrap, wrapped = _drops(current, previous, width_bits, wrap_window)
    out[valid[1:]] = np.where(reset, current, np.where(wrap, wrapped, current - previous))
    return out


def counter_resets(
    totals: npt.ArrayLike, *, width_bits: int | None = None, wrap_window: float = WRAP_WINDOW
) -> npt.NDArray[np.bool_]:
    """True where a cumulative counter restarted (went down other than by wrapping) (shape (n,))."""
    _check_width(width_bits, wrap_window)
    values = np.asarray(totals, dtype=np.float64)
    out = np.zeros(values.shape, dtype=bool)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size < 2:
        return out
    reset, _, _ = _drops(values[valid[1:]], values[valid[:-1]], width_bits, wrap_window)
    out[valid[1:]] = reset
    return out


def counter_wraps(
    totals: npt.ArrayLike, *, width_bits: int, wrap_window: float = WRAP_WINDOW
) -> npt.NDArray[np.bool_]:
    """True where a cumulative counter of ``width_bits`` wrapped past its largest value (shape (n,))."""
    _check_width(width_bits, wrap_window)
    values = np.asarray(totals, dtype=np.float64)
    out = np.zeros(values.shape, dtype=bool)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size < 2:
        return out
    _, wrap, _ = _drops(values[valid[1:]], values[valid[:-1]], width_bits, wrap_window)
    out[valid[1:]] = wrap
    return out
