"""The rest of Mooncake Store's Python API (MooncakeDistributedStore's methods beyond put, get,
remove and their batches): remove_by_regex, the upserts and puts from registered memory
that Mooncake added later, memory of the pool, and the calls Ferry answers with
UNAVAILABLE_IN_CURRENT_MODE (copy and move tasks, segment mounts, replica descriptors), so
that code written for Mooncake runs and is told, never crashes on a missing attribute.

A mixin of ferry.mooncake.MooncakeDistributedStore (it uses the store's pool and checks);
thread-safe as the store is.
"""

import ctypes
import enum
import logging
import os
import uuid

from ferry_client import FerryError

from .codes import INVALID_PARAMS, OK, UNAVAILABLE_IN_CURRENT_MODE, Failed
from .memory import MooncakeHostMemAllocator

UNKNOWN_OPCODE_STATUS = 5  # sidecar status (docs/protocol.md): a sidecar of an earlier build
_LOG = logging.getLogger("ferry.mooncake")


class ReplicaStatus(enum.IntEnum):
    """Mooncake's states of a replica (ReplicaDescriptor.status)."""
    UNDEFINED = 0
    INITIALIZED = 1
    PROCESSING = 2
    COMPLETE = 3
    REMOVED = 4
    FAILED = 5


class TaskType(enum.IntEnum):
    """Mooncake's kinds of replica tasks."""
    REPLICA_COPY = 0
    REPLICA_MOVE = 1


class TaskStatus(enum.IntEnum):
    """Mooncake's states of a replica task."""
    PENDING = 0
    PROCESSING = 1
    SUCCESS = 2
    FAILED = 3


NO_TASK = uuid.UUID(int=0)  # the task id Mooncake answers with an error code


class Descriptor:
    """Mooncake's buffer descriptor of a memory replica: ``size`` (the value's bytes),
    ``buffer_address`` (the block's offset in its segment) and ``transport_endpoint`` (the
    Ferry segment that holds it)."""

    def __init__(self, size=0, buffer_address=0, transport_endpoint=""):
        self.size, self.buffer_address, self.transport_endpoint = size, buffer_address, transport_endpoint

    def __repr__(self):
        return "<Descriptor size=%d buffer_address=%d transport_endpoint=%s>" % (
            self.size, self.buffer_address, self.transport_endpoint)


class MemoryDescriptor:
    """A memory replica's descriptor: ``buffer_descriptor``."""

    def __init__(self, buffer_descriptor):
        self.buffer_descriptor = buffer_descriptor


class DiskDescriptor:
    """A disk replica's descriptor: ``file_path`` (the segment whose node's SSD tier holds it)
    and ``object_size`` (the value's bytes)."""

    def __init__(self, file_path, object_size):
        self.file_path, self.object_size = file_path, object_size


class ReplicaDescriptor:
    """One copy of a value, as Mooncake's get_replica_desc answers it."""

    def __init__(self, segment, offset, size, on_ssd):
        self.status = ReplicaStatus.COMPLETE
        self._on_ssd = on_ssd
        self._memory = MemoryDescriptor(Descriptor(size, offset, segment))
        self._disk = DiskDescriptor(segment, size)

    def is_memory_replica(self):
        return not self._on_ssd

    def is_disk_replica(self):
        return self._on_ssd

    def get_memory_descriptor(self):
        if self._on_ssd:
            raise RuntimeError("not a memory replica")
        return self._memory

    def get_disk_descriptor(self):
        if not self._on_ssd:
            raise RuntimeError("not a disk replica")
        return self._disk

    def __repr__(self):
        return "ReplicaDescriptor(%s, %s)" % ("disk" if self._on_ssd else "memory",
                                              self._disk.file_path)


class ExtendedMethods:
    """Methods of MooncakeDistributedStore beyond the core (module doc)."""

    # --- remove by pattern ---------------------------------------------------------------

    def remove_by_regex(self, regex_pattern, force=False):
        """Removes every object whose key matches ``regex_pattern`` (found anywhere in the key,
        as std::regex_search does; Java's regular expressions, docs/integration.md) and that no
        reader holds (hard-pinned ones only with ``force``); the number removed, or a negative
        code: INVALID_PARAMS for a pattern that does not compile, UNAVAILABLE_IN_CURRENT_MODE
        from a sidecar or master of an earlier build (they keep no keys to match).

        Acts on the whole store, as remove_all does: every client's keys, of every tenant (a
        tenant's keys are stored behind the prefix U+FFFD, tenant, U+FFFD).
        """
        if not isinstance(regex_pattern, str):
            raise TypeError("a pattern is a str, got %s" % type(regex_pattern).__name__)

        def op(c):
            if not c.named:
                raise Failed(UNAVAILABLE_IN_CURRENT_MODE)
            try:
                return c.client.remove_by_regex(regex_pattern, bool(force))
            except FerryError as e:
                if e.status == UNKNOWN_OPCODE_STATUS:
                    raise Failed(UNAVAILABLE_IN_CURRENT_MODE) from None
                raise
        return self._run(op)

    # --- upserts and puts from registered memory ----------------------------------------

    def upsert_parts(self, key, *parts, config=None):
        """Stores the concatenation of parts under key, replacing a value stored before, as upsert."""
        return self._put(key, list(parts), config, replace=True)

    def upsert_from(self, key, buffer_ptr, size, config=None):
        """upsert of ``size`` bytes at buffer_ptr (registered memory); 0, or a negative code."""
        try:
            self._registered(buffer_ptr, size)
        except Failed as e:
            return e.code
        if size == 0:
            return INVALID_PARAMS
        return self._put(key, [_view(buffer_ptr, size)], config, replace=True, buffered=False)

    def batch_upsert_from(self, keys, buffer_ptrs, sizes, config=None):
        """upsert_from of each triple: a list of codes."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [INVALID_PARAMS] * len(keys)
        return [self.upsert_from(k, p, n, config) for k, p, n in zip(keys, buffer_ptrs, sizes)]

    def put_from_with_metadata(self, key, buffer_ptr, metadata_buffer_ptr, size, metadata_size, config=None):
        """Stores, under key, ``metadata_size`` bytes at metadata_buffer_ptr followed by ``size``
        bytes at buffer_ptr (both registered memory); 0, or a negative code. A ``size`` of 0
        stores nothing and answers 0, as Mooncake's does."""
        if size == 0:
            return OK
        try:
            self._registered(buffer_ptr, size)
            self._registered(metadata_buffer_ptr, metadata_size)
        except Failed as e:
            return e.code
        parts = [_view(metadata_buffer_ptr, metadata_size)] if metadata_size else []
        return self._put(key, parts + [_view(buffer_ptr, size)], config, buffered=False)

    # --- memory -----------------------------------------------------------------------------

    def alloc_from_mem_pool(self, size):
        """Host memory of ``size`` bytes that put_from and get_into take with no registration
        (MooncakeHostMemAllocator's kind); its address, or 0 on failure. Free it with
        ``MooncakeHostMemAllocator().free(address)``."""
        if self._address is None:
            return 0
        try:
            return MooncakeHostMemAllocator().alloc(size) or 0
        except (ValueError, TypeError, OSError):
            return 0

    def init_all(self, protocol, device_name, mount_segment_size=16 << 20):
        """Mooncake's older initialisation; Ferry's is setup(): UNAVAILABLE_IN_CURRENT_MODE."""
        return UNAVAILABLE_IN_CURRENT_MODE

    # --- what Ferry does not offer: told, never a missing attribute ---------------------

    def get_replica_desc(self, key):
        """Where the value's copies lie now: a list of ReplicaDescriptor (COMPLETE, in DRAM, or
        on a node's SSD only: a disk replica), empty when the key is missing or on an error.
        Needs a sidecar of protocol version 3 (earlier ones: empty, and a warning)."""
        self._key(key)  # a non-str key raises TypeError, as Mooncake's binding does
        return self.batch_get_replica_desc([key]).get(key, [])

    def batch_get_replica_desc(self, keys):
        """get_replica_desc of each key: a dict from each key found to its descriptors (keys
        missing, or on an error, are left out)."""
        def op(c):
            if not c.named:
                _LOG.warning("get_replica_desc: the sidecar (protocol version %d) does not tell replicas",
                             c.client.version)
                return {}
            names = [self._key(k) for k in keys]
            lengths, copies = c.client.stat_named([b for b, _ in names], [kb for _, kb in names], replicas=True)
            out = {}
            for k, length, here in zip(keys, lengths, copies):
                if length >= 0:
                    out[k] = [ReplicaDescriptor(segment, offset, length, on_ssd) for segment, offset, _, on_ssd in here]
            return out
        result = self._run(op) if keys else {}
        return result if isinstance(result, dict) else {}

    def create_copy_task(self, key, targets):
        """Not offered (replicas are placed at put time): (UUID 0, UNAVAILABLE_IN_CURRENT_MODE)."""
        return NO_TASK, UNAVAILABLE_IN_CURRENT_MODE

    def create_move_task(self, key, source, target):
        """Not offered: (UUID 0, UNAVAILABLE_IN_CURRENT_MODE)."""
        return NO_TASK, UNAVAILABLE_IN_CURRENT_MODE

    def query_task(self, task_id):
        """Not offered: (None, UNAVAILABLE_IN_CURRENT_MODE)."""
        return None, UNAVAILABLE_IN_CURRENT_MODE

    def mount_segment(self, path, size, offset=0, protocol="tcp", location=""):
        """Not offered (a sidecar's segment is its --capacity): {"ret": UNAVAILABLE_IN_CURRENT_MODE, "segment_ids": []}."""
        return {"ret": UNAVAILABLE_IN_CURRENT_MODE, "segment_ids": []}

    def unmount_segment(self, segment_ids, grace_period_seconds=0):
        """Not offered: UNAVAILABLE_IN_CURRENT_MODE."""
        return UNAVAILABLE_IN_CURRENT_MODE

    def allocate_and_mount_segment(self, size, protocol="tcp", location=""):
        """Not offered: {"ret": UNAVAILABLE_IN_CURRENT_MODE, "segment_ids": [], "allocated_size": 0}."""
        return {"ret": UNAVAILABLE_IN_CURRENT_MODE, "segment_ids": [], "allocated_size": 0}

    def unmount_and_free_segment(self, segment_ids, grace_period_seconds=0):
        """Not offered: UNAVAILABLE_IN_CURRENT_MODE."""
        return UNAVAILABLE_IN_CURRENT_MODE


def _view(ptr, size):
    return memoryview((ctypes.c_char * size).from_address(ptr)).cast("B") if size else memoryview(b"")


def bind_to_numa_node(node):
    """Binds the calling thread to the CPUs of NUMA node ``node`` (Mooncake's module function);
    on a machine without NUMA information, or for an unknown node, logs a warning and leaves
    the thread as it is. Memory placement is the kernel's (first touch)."""
    path = "/sys/devices/system/node/node%d/cpulist" % node if isinstance(node, int) else None
    try:
        with open(path) as f:
            cpus = _cpu_list(f.read())
    except (OSError, TypeError, ValueError):
        _LOG.warning("bind_to_numa_node: NUMA node %r is not known here; binding skipped", node)
        return
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as e:
        _LOG.warning("bind_to_numa_node: cannot run on the CPUs of node %d: %s", node, e)


def _cpu_list(text):
    """The CPUs of a Linux cpulist ("0-3,8,10-11")."""
    cpus = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus
