"""How many threads the controller's own numerical work may use while trials run beside it.

The controller asks the sampler for every trial. The Gaussian process (``sampler: auto`` on small
all-numeric spaces) fits its kernel with torch and BLAS, which by default take every core; the local
workers train on those cores too, and the threads of both wait on each other (bench/controller_threads.py,
figures in docs/benchmarks.md: with two busy workers on 2 cores, one thread asked faster than two and
the workers got more done). So the asks run with the cores the workers leave, at least one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def controller_threads(worker_cores: int) -> int:
    """The cores of this machine that local workers do not use, at least one."""
    return max(1, (os.cpu_count() or 1) - worker_cores)


@contextlib.contextmanager
def numeric_threads(limit: int) -> Iterator[None]:
    """BLAS and OpenMP pools (threadpoolctl) and torch's intra-op threads at most ``limit`` inside the
    block, as they were after it. torch is limited only when something has imported it (the GP sampler
    imports it when it is built), so a study that never needs torch never loads it here."""
    from threadpoolctl import threadpool_limits

    if limit >= (os.cpu_count() or 1):  # nothing to leave to anyone (trials run elsewhere)
        yield
        return
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else 0
    with threadpool_limits(limits=limit):
        if before > limit:
            torch.set_num_threads(limit)  # type: ignore[union-attr]
        try:
            yield
        finally:
            if before > limit:
                torch.set_num_threads(before)  # type: ignore[union-attr]
