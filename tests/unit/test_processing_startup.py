"""What ``stadtpuls process`` loads before it computes: no numba until a kernel runs, no codec ever."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from processing.kernels import LazyKernel
from processing.kernels.spread import spread_counts


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return set(done.stdout.split())


def test_the_service_loads_neither_numba_nor_codecs_before_a_kernel_runs() -> None:
    loaded = _modules_after(
        "import processing.cli, processing.service\n"
        "from devices.catalog import get_model\n"
        "get_model('nwave-nps405')"
    )
    assert "processing.service" in loaded
    assert "numba" not in loaded
    assert "devices.codecs" not in loaded
    assert "devices.jscodec" not in loaded


def test_a_kernel_loads_numba_and_the_kernels_it_calls_on_its_first_call() -> None:
    loaded = _modules_after(
        "import numpy as np\n"
        "from processing.kernels.rollup import bin_stats\n"
        "out = [np.empty(1, dtype=np.int64)] + [np.empty(1) for _ in range(4)]\n"
        "bin_stats(np.array([5], dtype=np.int64), np.array([2.0]), 0, 10, *out)\n"
        "assert out[0][0] == 1 and out[1][0] == 2.0"
    )
    assert "numba" in loaded


def test_a_kernel_that_calls_another_gives_its_results() -> None:
    assert isinstance(spread_counts, LazyKernel)
    count, covered, gap = np.empty(2), np.empty(2, dtype=np.int64), np.empty(2, dtype=np.uint8)
    spread_counts(np.array([0, 20], dtype=np.int64), np.array([np.nan, 4.0]), 0, 0, 10, count, covered, gap)
    assert count.tolist() == [2.0, 2.0]
    assert covered.tolist() == [10, 10]
    assert gap.tolist() == [0, 0]
