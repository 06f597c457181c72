"""Keeping decoded pixels from lingering in the C heap after a probe.

glibc serves each thread from its own arena, and once a block as large as Pillow's (16 MB) has
been freed it raises its mmap threshold, so later pixel buffers come from those arenas and stay
there when freed: a pool of worker threads then keeps, each, about the largest picture it ever
decoded, and a 64-megapixel probe's memory is paid again per thread.
:func:`map_large_buffers` fixes the threshold (4 MB), so that large buffers are always mapped
and unmapped, whatever was freed before; the composition root calls it once per process.
:func:`give_back_freed_memory` returns what arenas still hold after a decode (``malloc_trim``).
Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from typing import Any

__all__ = ["give_back_freed_memory", "map_large_buffers"]

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_MAPPED_FROM_BYTES = 4 * 1024 * 1024


@functools.cache
def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def map_large_buffers() -> None:
    """Make glibc map (and unmap on free) every allocation from 4 MB, for this process."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, _MAPPED_FROM_BYTES)


def give_back_freed_memory() -> None:
    """Return the C heap's free memory to the system, where the C library can (glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
