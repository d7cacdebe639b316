"""Numba kernels: ``@njit`` functions over arrays and scalars, writing into preallocated outputs.

No I/O, no logging, no Python objects. Each kernel expects what its wrapper in ``processing/`` guarantees:
C-contiguous arrays of the stated dtypes, timestamps in nanoseconds sorted ascending without duplicates. Every
kernel is compiled once for one explicit signature and cached on disk (``cache=True``), so a warm start does not
compile. A kernel, and numba itself, load on the kernel's first call: a command or a pass that computes nothing
with a kernel does not pay for it. Set ``NUMBA_DISABLE_JIT=1`` to run them as plain Python (the test suite does
so once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., object])


class LazyKernel:
    """A kernel compiled (or loaded from numba's cache) for its one signature on its first call."""

    def __init__(self, function: Callable[..., object], signature: str) -> None:
        self.function = function
        self.signature = signature
        self._compiled: Callable[..., object] | None = None
        self._loading = threading.Lock()  # one load even when two threads call first
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__

    def load(self) -> Callable[..., object]:
        """The compiled kernel; the kernels it calls are loaded first and bound in its module in their place."""
        with self._loading:
            if self._compiled is None:
                namespace = self.function.__globals__
                for name in self.function.__code__.co_names:
                    callee = namespace.get(name)
                    if isinstance(callee, LazyKernel):
                        namespace[name] = callee.load()
                from numba import njit  # numba loads with the first kernel that is called

                self._compiled = njit(self.signature, cache=True, nogil=True)(self.function)
            return self._compiled

    def __call__(self, *args: Any) -> object:
        """Run the kernel (loading it on the first call)."""
        compiled = self._compiled if self._compiled is not None else self.load()
        return compiled(*args)


def kernel(signature: str) -> Callable[[F], F]:
    """Compile a function for exactly one signature, cached on disk, releasing the GIL; on its first call."""

    def wrap(function: F) -> F:
        return cast(F, LazyKernel(function, signature))

    return wrap
