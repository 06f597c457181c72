"""Giving the C heap's freed memory back to the system after a large decode.

glibc serves each thread from its own arena, and once a block as large as Pillow's (16 MB) has
been freed it raises its mmap threshold, so later pixel buffers come from those arenas and stay
there when freed. A pool of worker threads then keeps, each, about the largest picture it ever
decoded: a 64 MB probe's memory is paid again per thread. ``malloc_trim`` returns the free parts
of every arena. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from typing import Any

__all__ = ["give_back_freed_memory"]


@functools.cache
def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def give_back_freed_memory() -> None:
    """Return the C heap's free memory to the system, where the C library can (glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
