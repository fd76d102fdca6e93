"""Keep freed memory in the process: glibc's ``malloc`` without ``mmap`` chunks or trimming.

Every model step allocates its activations afresh and frees them at the end. glibc serves large
blocks with ``mmap`` and gives them back to the system when freed, so the next step faults every
page in again and the kernel zeroes it: at 13,824 Ge atoms (11 GB of activations) a force call
took three times as long per atom as at 512, and at 1,728 atoms a quarter of it was page faults
(``benchmarks/md-speed/md_scaling.json``). With ``mmap`` off and trimming off, freed blocks stay in
the heap and the next step reuses them; the peak memory is the same, but the process keeps it
until it ends. :func:`keep_freed_memory` is what the MD engines call; it affects the whole
process, so a library user decides (``crosstrain md`` and the MD functions do it for you).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Turn off ``mmap`` chunks and heap trimming in glibc's allocator (once per process); returns
    whether it applied (False off Linux or without glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # -1 disables trimming completely (mallopt(3)); 0 mmap chunks serves every block from the heap
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, -1))
