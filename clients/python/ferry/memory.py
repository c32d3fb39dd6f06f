"""Memory that ferry.mooncake reads and writes: host memory the sidecar maps (the allocator),
values handed out (BufferHandle), and checks of caller memory before any copy touches it."""

import ctypes
import itertools
import mmap
import os
import threading

from ferry_client import MemfdBuffer

from .codes import BUFFER_OVERFLOW, INVALID_PARAMS, OK


def address_of(view):
    """(address, anchor) of a writable bytes-like object; keep the anchor alive while using the address."""
    anchor = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.addressof(anchor), anchor


class _Allocation:
    _serials = itertools.count(1)

    def __init__(self, size):
        self.buffer = MemfdBuffer(size, "ferry-host-mem")
        self.address, self._anchor = address_of(self.buffer.view)
        self.size = size
        self.serial = next(self._serials)  # addresses are reused after free; serials are not
        self.freed = False

    def close(self):
        self.freed = True
        self._anchor = None
        self.buffer.close()


_allocations = {}  # address -> _Allocation, of every MooncakeHostMemAllocator of this process
_allocations_lock = threading.Lock()


def allocation_of(ptr, size):
    with _allocations_lock:
        for a in _allocations.values():
            if a.address <= ptr and ptr + size <= a.address + a.size:
                return a
    return None


class MooncakeHostMemAllocator:
    """Host memory that the sidecar maps: each allocation is a sealed memfd of this process.

    ``alloc(size)`` answers its address (an int, as Mooncake's; 0 when it fails: a size that
    is not a positive int, or no memory), ``free(ptr)`` releases it (0, or INVALID_PARAMS for
    an address alloc did not give). put_from / batch_put_from of this memory reach the store
    with no copy in Python. Thread-safe.
    """

    def alloc(self, size):
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return 0
        try:
            a = _Allocation(size)
        except OSError:
            return 0
        with _allocations_lock:
            _allocations[a.address] = a
        return a.address

    def free(self, ptr):
        with _allocations_lock:
            a = _allocations.pop(ptr, None)
        if a is None:
            return INVALID_PARAMS
        a.close()
        return OK


class BufferHandle(mmap.mmap):
    """A value read by get_buffer: private memory with ``ptr()``, ``size()``, ``len()`` and the
    buffer protocol (``memoryview(handle)``, ``bytes(handle)``)."""

    def __new__(cls, data):
        handle = super().__new__(cls, -1, len(data))
        handle[:] = data
        return handle

    def ptr(self):
        view = (ctypes.c_char * 1).from_buffer(self)
        try:
            return ctypes.addressof(view)
        finally:
            del view

    def size(self):
        return len(self)


def host_memory(ptr, size):
    """Whether [ptr, ptr + size) is mapped readable and writable in this process (/proc/self/maps).

    Device memory (CUDA's unified address ranges are reserved without access) and unmapped
    addresses fail, so that a copy never faults.
    """
    end, at = ptr + size, ptr
    with open("/proc/self/maps") as maps:
        ranges = []
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if hi > ptr and lo < end:
                ranges.append((lo, hi, fields[1]))
    for lo, hi, perms in sorted(ranges):
        if lo > at or not perms.startswith("rw"):
            return False
        at = max(at, hi)
        if at >= end:
            return True
    return at >= end


HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14
_MADV_COLLAPSE = 25  # Linux 6.1 and later


def advise_huge_pages(ptr, size):
    """Backs the whole 2 MiB pages of [ptr, ptr + size) with transparent huge pages: from now on
    (``madvise(MADV_HUGEPAGE)``) and for the pages already there (``MADV_COLLAPSE``, which
    also faults in the untouched ones). Answers the bytes now in huge pages, 0 where the
    kernel refused (THP off, a kernel before 6.1, memory that is pinned, file-backed or
    shared) or ``FERRY_HUGE_PAGES=0`` turns it off; never fails, never changes a byte.

    Why: the sidecar reads and writes private memory with process_vm_readv / writev, which
    pin the memory's pages one by one; in 2 MiB pages the same bytes moved at 1.3-2x the
    rate on the development machine (8 x 4 MiB gets 8.3-8.6 against 4.3-6.6 GB/s).
    """
    if os.environ.get("FERRY_HUGE_PAGES", "1") == "0":
        return 0
    lo = (ptr + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
    hi = (ptr + size) & ~(HUGE_PAGE - 1)
    if hi <= lo:
        return 0
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    if madvise(lo, hi - lo, _MADV_HUGEPAGE) != 0 or madvise(lo, hi - lo, _MADV_COLLAPSE) != 0:
        return 0
    return hi - lo


def copy_out(value, buffer_ptr, size):
    """Copies a value (out of the staging buffer: the one copy) to memory at buffer_ptr; its length or BUFFER_OVERFLOW."""
    if len(value) > size:
        return BUFFER_OVERFLOW
    if len(value):
        memoryview((ctypes.c_char * len(value)).from_address(buffer_ptr)).cast("B")[:] = value
    return len(value)
