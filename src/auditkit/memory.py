"""Memory a finished step freed, handed back to the operating system.

Arrow's pool keeps what it frees for reuse, and so does the C library's malloc under numpy's and
pandas' arrays. Both are right for one step; across the steps of an audit they make the process's
peak the sum of what every step once held, rather than what any step holds at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os


def _libc() -> ctypes.CDLL | None:
    """The C library, where ctypes finds one."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()
# glibc's malloc_trim (Linux); macOS and Windows return memory anyway.
_TRIM = getattr(_LIBC, "malloc_trim", None)


def release_unused_memory() -> None:
    """Return what the last step freed to the OS: Arrow's pool first, then malloc's heap."""
    import pyarrow as pa  # (here, not above: see use_one_malloc_arena)

    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)


# How long jemalloc keeps freed pages. Measured on issue 7's example (1M appointments, 157 MB
# of CSV), five runs each: Arrow's 1000 ms gave a peak of 785-877 MB, 100 ms 700-737 MB in the
# same time; on the generator's 1M bundle (387 MB) the peak fell from 1,394-1,439 MB to
# 1,261-1,288 MB, the run 0.1-0.3 s slower (of 6.3-6.7 s). 0 ms faults every page afresh, and
# was 0.3-0.5 s slower on the example.
JEMALLOC_DECAY_MS = 100
# How Arrow's jemalloc starts, read once as pyarrow loads (JE_ARROW_MALLOC_CONF, for its
# je_arrow_ prefix). One arena for all threads, as malloc keeps (use_one_malloc_arena): with an
# arena per thread, pages one thread freed waited out the decay while another's grew (issue 7's
# example, six runs each: peak 600-641 MB -> 587-598 MB, CPU the same). And the decay for that
# arena too: jemalloc_set_decay_ms sets it only for arenas made later, so the one made at
# start kept Arrow's own 1000 ms; pages past it are handed back at once (muzzy_decay_ms:0)
# rather than marked free for the kernel to take when it likes, still counted meanwhile. Six
# runs each: 592-610 MB -> 557-582 MB, CPU the same (7.7 s).
JEMALLOC_CONF = f"narenas:1,dirty_decay_ms:{JEMALLOC_DECAY_MS},muzzy_decay_ms:0"


def use_jemalloc_for_arrow() -> None:
    """In a process of auditkit's own (the CLI), Arrow allocates with jemalloc, where pyarrow
    has it (its Linux wheels), instead of mimalloc.

    jemalloc keeps freed pages a moment for the next step rather than faulting fresh ones: at a
    million appointments on a 2-core virtual machine, the kernel's share of an audit fell from
    7-12 s to 2-4 s and the peak from 1.42-1.47 GB to 1.31-1.36 GB. The moment is
    JEMALLOC_DECAY_MS, not Arrow's second: for a second, what one table's parse had freed stayed
    the process's while the next tables were read and typed. ARROW_DEFAULT_MEMORY_POOL, when
    set, still decides; a library import leaves the process's choice alone.

    JEMALLOC_CONF applies only where pyarrow is not imported yet (cli.run calls this first), and
    to the processes this one starts (a local Dask cluster's workers); a JE_ARROW_MALLOC_CONF
    already set is left as it is.
    """
    os.environ.setdefault("JE_ARROW_MALLOC_CONF", JEMALLOC_CONF)
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # built without jemalloc (Windows, macOS wheels)
        return
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)


_M_ARENA_MAX = -8  # glibc's mallopt parameter


def use_one_malloc_arena() -> None:
    """In a process of auditkit's own (the CLI), malloc keeps one heap for every thread (glibc;
    elsewhere nothing changes). Called first, before numpy's and Arrow's threads start and
    take heaps of their own: this module imports neither until asked to.

    By default each thread that meets another in malloc gets a heap of its own, and memory one
    thread frees is reused only by threads on that heap. An audit's threads (files typed two at
    a time, rules two at a time, the workbook made ahead) left 80-150 MB free in those heaps at
    its peaks. Measured on issue 7's example, five runs each: the peak's median 654 -> 633 MB,
    in the same time (CPU 6.8 and 6.5 s).
    """
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is not None and _TRIM is not None:  # glibc's: it alone has malloc_trim
        mallopt(_M_ARENA_MAX, 1)
