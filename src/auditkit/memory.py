"""Memory a finished step freed, handed back to the operating system.

Arrow's pool keeps what it frees for reuse, and so does the C library's malloc under numpy's and
pandas' arrays. Both are right for one step; across the steps of an audit they make the process's
peak the sum of what every step once held, rather than what any step holds at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable

import pyarrow as pa


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one (Linux); macOS and Windows return memory anyway."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_unused_memory() -> None:
    """Return what the last step freed to the OS: Arrow's pool first, then malloc's heap."""
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)


# How long jemalloc keeps freed pages. Measured on issue 7's example (1M appointments, 157 MB
# of CSV), five runs each: Arrow's 1000 ms gave a peak of 785-877 MB, 100 ms 700-737 MB in the
# same time; on the generator's 1M bundle (387 MB) the peak fell from 1,394-1,439 MB to
# 1,261-1,288 MB, the run 0.1-0.3 s slower (of 6.3-6.7 s). 0 ms faults every page afresh, and
# was 0.3-0.5 s slower on the example.
JEMALLOC_DECAY_MS = 100


def use_jemalloc_for_arrow() -> None:
    """In a process of auditkit's own (the CLI), Arrow allocates with jemalloc, where pyarrow
    has it (its Linux wheels), instead of mimalloc.

    jemalloc keeps freed pages a moment for the next step rather than faulting fresh ones: at a
    million appointments on a 2-core virtual machine, the kernel's share of an audit fell from
    7-12 s to 2-4 s and the peak from 1.42-1.47 GB to 1.31-1.36 GB. The moment is
    JEMALLOC_DECAY_MS, not Arrow's second: for a second, what one table's parse had freed stayed
    the process's while the next tables were read and typed. ARROW_DEFAULT_MEMORY_POOL, when
    set, still decides; a library import leaves the process's choice alone.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # built without jemalloc (Windows, macOS wheels)
        return
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)
