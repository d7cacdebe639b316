"""Numba kernels: functions over arrays and scalars only, writing into preallocated outputs, no I/O."""
