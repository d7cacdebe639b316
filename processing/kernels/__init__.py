"""Numba kernels: ``@njit`` functions over arrays and scalars, writing into preallocated outputs.

No I/O, no logging, no Python objects. Each kernel expects what its wrapper in ``processing/`` guarantees:
C-contiguous arrays of the stated dtypes, timestamps in nanoseconds sorted ascending without duplicates. Every
kernel is compiled once for one explicit signature and cached on disk (``cache=True``), so a warm start does not
compile. Set ``NUMBA_DISABLE_JIT=1`` to run them as plain Python (the test suite does so once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from numba import njit

F = TypeVar("F", bound=Callable[..., object])


def kernel(signature: str) -> Callable[[F], F]:
    """Compile a function for exactly one signature, cached on disk, releasing the GIL."""
    return cast(Callable[[F], F], njit(signature, cache=True, nogil=True))
