"""Memory a finished step freed, handed back to the operating system.

Arrow's pool keeps what it frees for reuse, and so does the C library's malloc under numpy's and
pandas' arrays. Both are right for one step; across the steps of an audit they make the process's
peak the sum of what every step once held, rather than what any step holds at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
